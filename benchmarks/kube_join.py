"""Join time of one node, and the time to add one node to an onboarded fleet of 2 and of 10.

Runs on a real lab with the Kubernetes control plane (`edgewright lab up --kubernetes`): onboards nodes with
site.yml, then adds one with scale.yml --limit NEW and prints how long it took and when the Node was Ready.
Usage: PYTHONPATH=. python benchmarks/kube_join.py [--fleets 2 10] [--keep]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LAB, SUBNET, PORT_BASE = "k8s", "10.231.40.0/24", 16400


def sh(*args: str, inventory: Path | None = None) -> float:
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(args, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def wait_ready(kubeconfig: str, node: str, timeout: float = 180) -> float:
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            conditions = api.read_node(node).status.conditions or []
            if any(c.type == "Ready" and c.status == "True" for c in conditions):
                return time.monotonic() - started
        except client.exceptions.ApiException:
            pass
        time.sleep(1)
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fleets", type=int, nargs="+", default=[2, 10])
    parser.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    args = parser.parse_args()
    fleets = sorted(args.fleets)
    work = Path(tempfile.mkdtemp(prefix="kube-join-"))
    inventory = work / "hosts.yml"
    nodes = fleets[-1] + 1
    cli = [sys.executable, "-m", "edgewright.cli", "lab"]
    sh(*cli, "up", "--name", LAB, "--nodes", str(nodes), "--subnet", SUBNET, "--kubernetes",
       "--kube-port-base", str(PORT_BASE), "--inventory", str(inventory))  # fmt: skip
    (work / "group_vars").mkdir()
    (work / "group_vars" / "all.yml").write_text(
        yaml.safe_dump({"edgewright_verifier_dir": str(work / "verifier"), "attest_learn_policy": True,
                        "common_time_sync": "none"})  # fmt: skip
    )
    kubeconfig = yaml.safe_load(inventory.read_text())["all"]["vars"]["edgewright_kubeconfig"]
    playbook = ["ansible-playbook", "-i", str(inventory)]
    try:
        took = sh(*playbook, "playbooks/site.yml", "--limit", f"{LAB}-1")
        ready = wait_ready(kubeconfig, f"{LAB}-1")
        print(f"join of one node (baseline, attestation, join; empty cluster): {took:.1f} s, Ready {ready:.1f} s later")
        onboarded = 1
        for fleet in fleets:
            if fleet > onboarded:
                batch = ",".join(f"{LAB}-{i}" for i in range(onboarded + 1, fleet + 1))
                took = sh(*playbook, "playbooks/site.yml", "--limit", batch)
                print(f"onboarding {fleet - onboarded} more nodes to a fleet of {fleet}: {took:.1f} s")
                onboarded = fleet
            new = f"{LAB}-{fleet + 1}"
            took = sh(*playbook, "playbooks/scale.yml", "--limit", new)
            ready = wait_ready(kubeconfig, new)
            print(f"adding one node to a fleet of {fleet} (scale.yml --limit {new}): {took:.1f} s, Ready {ready:.1f} s later")
            # The added node is part of the fleet now; the next step onboards up to the next size.
            onboarded = fleet + 1
    finally:
        if not args.keep:
            sh(*cli, "down", "--name", LAB, "--inventory", str(inventory))
    return 0


if __name__ == "__main__":
    sys.exit(main())
