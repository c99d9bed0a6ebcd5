"""Metrics figures: one scrape of the verifier's metrics for a fleet (store records plus evidence log), the
scrape jobs generated for a large inventory, and promtool's checks of the rendered rules and a configuration.

Run from the checkout: `python benchmarks/metrics_bench.py [--nodes 2000] [--evidence 20000]`.
Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml
from prometheus_client import generate_latest

from edgewright.attest.store import Store
from edgewright.controller.dirs import Directories
from edgewright.metrics.scrape import hosts_from_inventory, scrape_configs
from edgewright.metrics.verifier import verifier_registry

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def bench_verifier(nodes: int, evidence: int, workdir: Path) -> None:
    store = Store(workdir / "verifier")
    (store.root / "nodes").mkdir(parents=True)
    statuses = ["attested"] * 8 + ["quarantined", "enrolled"]
    for i in range(nodes):
        (store.root / "nodes" / f"edge-{i}.json").write_text(
            json.dumps(
                {
                    "node": f"edge-{i}",
                    "status": statuses[i % len(statuses)],
                    "since": "2026-01-01T00:00:00Z",
                    "last_attested_at": "2026-01-01T00:00:00Z",
                }
            )
        )
    with open(store.root / "evidence.jsonl", "w") as log:
        for i in range(evidence):
            log.write(json.dumps({"node": f"edge-{i % nodes}", "outcome": "attested", "reason": "ok"}) + "\n")
    registry = verifier_registry(store)
    seconds, text = timed(lambda: generate_latest(registry))
    print(
        f"verifier scrape, {nodes} nodes and {evidence} evidence lines: {seconds * 1000:.1f} ms, "
        f"{len(text) / 1024:.0f} KiB"
    )


def bench_scrape_jobs(hosts: int) -> list:
    names = [f"edge-{i}" for i in range(hosts)]
    lbs = names[: hosts // 10]
    groups = {"edge_nodes": names, "loadbalancers": lbs, "lb_vrrp_pairs": lbs, "platform": ["platform"]}
    hostvars = {
        n: {
            "ansible_host": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
            "keepalived_vip": f"10.255.{i // 2 // 256}.{i // 2 % 256}/16",
        }
        for i, n in enumerate(names)
    }
    seconds, jobs = timed(lambda: scrape_configs(hosts_from_inventory(groups, hostvars)))
    targets = sum(len(c["targets"]) for job in jobs for c in job["static_configs"])
    print(f"scrape jobs for {hosts} hosts ({len(lbs)} LBs): {seconds * 1000:.1f} ms, {targets} targets")
    return jobs


def bench_promtool(jobs: list, workdir: Path) -> None:
    home = Directories.from_environment().home
    promtool = os.environ.get("EDGEWRIGHT_PROMTOOL") or str(home / "prometheus" / "bin" / "promtool")
    if not Path(promtool).exists():
        print("promtool: missing (run scripts/setup)")
        return
    sys.path.insert(0, str(ROOT / "tests" / "unit"))
    from test_prometheus_rules import render_rules

    rules = workdir / "edgewright.rules.yml"
    rules.write_text(render_rules())
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump({"rule_files": [str(rules)], "scrape_configs": jobs}))
    for what, args in (
        ("check rules", ["check", "rules", str(rules)]),
        ("check config", ["check", "config", str(config)]),
    ):
        seconds, proc = timed(lambda a=args: subprocess.run([promtool, *a], capture_output=True), repeat=3)
        print(f"promtool {what}: {seconds * 1000:.0f} ms (exit {proc.returncode})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--evidence", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgewright-metrics-bench-") as tmp:
        bench_verifier(args.nodes, args.evidence, Path(tmp))
        jobs = bench_scrape_jobs(args.nodes)
        bench_promtool(jobs, Path(tmp))


if __name__ == "__main__":
    main()
