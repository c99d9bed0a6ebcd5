"""Join time of one node, and the time to add one node to an onboarded fleet of 2 and of 10.

Runs on a real lab with the Kubernetes control plane (`edgewright lab up --kubernetes`): onboards nodes with
site.yml (baseline, probe, attestation, mesh, join, sidecars, metrics), then adds one with
`scale.yml -e nodes=NEW` and prints how long it took, when the Node was Ready and which hosts the run touched
(the new node and its mesh head, whatever the fleet's size).
Usage: PYTHONPATH=. python benchmarks/kube_join.py [--fleets 2 10] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SITE, SCALE = "playbooks/site.yml", "playbooks/scale.yml"
# Not the default port base (16400): a developer's own lab may be running its control plane there.
LAB, SUBNET, PORT_BASE = "k8s", "10.231.40.0/24", 16500


def sh(*args: str) -> tuple[float, str]:
    """Run a command in the project; returns how long it took and what it printed."""
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    return time.monotonic() - started, out


def touched(playbook_output: str) -> list[str]:
    """The hosts a playbook run's recap lists: the ones it touched."""
    recap = playbook_output.split("PLAY RECAP")[-1]
    return sorted(line.split(":")[0].strip() for line in recap.splitlines() if "ok=" in line)


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
    # The local lab's group variables (the Envoy artefact site.yml's sidecars install), then the benchmark's.
    shutil.copytree(ROOT / "inventories" / "local" / "group_vars", work / "group_vars")
    (work / "group_vars" / "all" / "benchmark.yml").write_text(
        yaml.safe_dump(
            {
                "edgewright_verifier_dir": str(work / "verifier"),
                "attest_learn_policy": True,
                "common_time_sync": "none",
            }
        )
    )
    kubeconfig = yaml.safe_load(inventory.read_text())["all"]["vars"]["edgewright_kubeconfig"]
    playbook = ["ansible-playbook", "-i", str(inventory)]
    try:
        took, _ = sh(*playbook, SITE, "--limit", f"{LAB}-1")
        ready = wait_ready(kubeconfig, f"{LAB}-1")
        print(f"join of one node (site.yml; empty cluster): {took:.1f} s, Ready {ready:.1f} s later")
        onboarded = 1
        for fleet in fleets:
            if fleet > onboarded:
                # The whole fleet so far: the mesh election counts a node left out of the play as gone.
                fleet_so_far = ",".join(f"{LAB}-{i}" for i in range(1, fleet + 1))
                took, _ = sh(*playbook, SITE, "--limit", fleet_so_far)
                print(f"onboarding {fleet - onboarded} more nodes to a fleet of {fleet}: {took:.1f} s")
                onboarded = fleet
            new = f"{LAB}-{fleet + 1}"
            took, out = sh(*playbook, SCALE, "-e", f"nodes={new}")
            ready = wait_ready(kubeconfig, new)
            print(
                f"adding one node to a fleet of {fleet} (nodes={new}): {took:.1f} s, "
                f"Ready {ready:.1f} s later; hosts touched: {', '.join(touched(out))}"
            )
            # The added node is part of the fleet now; the next step onboards up to the next size.
            onboarded = fleet + 1
    finally:
        if not args.keep:
            sh(*cli, "down", "--name", LAB, "--inventory", str(inventory))
    return 0


if __name__ == "__main__":
    sys.exit(main())
