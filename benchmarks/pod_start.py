"""Pod start latency across a running lab, and the memory each node's Kubernetes data plane holds.

Runs against a lab that site.yml has converged with `lab up --kubernetes` (its site registry holds the hello
image): creates PODS pods of the hello image by digest, spread over the Ready nodes by the scheduler
(a nodeSelector per pod, round-robin), and watches the API until each is Running. A pod's start latency is
from its creation (as the API returned it) to the watch event that shows it Running, as a client sees it.
Prints p50/p99/max, then removes the pods. With --ssh-key it also prints each node's resident memory of
kubelet, containerd and the containerd shims, kube-proxy, and Envoy where it runs (ps RSS over SSH).
Usage: PYTHONPATH=. python benchmarks/pod_start.py --lab NAME [--pods 100] [--ssh-key KEY]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

import yaml
from kubernetes import client, config, watch

from edgewright.lab.nodes import state_dir

NAMESPACE = "edgewright-bench"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def pod(name: str, node: str, image: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": node},
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "tolerations": [{"operator": "Exists"}],
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65534},
            "containers": [{"name": "hello", "image": image, "resources": {"requests": {"cpu": "1m"}}}],
        },
    }


def start_latencies(api: client.CoreV1Api, image: str, count: int, timeout: float) -> list[float]:
    nodes = [
        n.metadata.name
        for n in api.list_node().items
        if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions)
    ]
    created: dict[str, float] = {}
    started: dict[str, float] = {}
    stream = watch.Watch()
    for i in range(count):
        name = f"bench-{i}"
        api.create_namespaced_pod(NAMESPACE, pod(name, nodes[i % len(nodes)], image))
        created[name] = time.monotonic()
    deadline = time.monotonic() + timeout
    for event in stream.stream(
        api.list_namespaced_pod, NAMESPACE, label_selector="app=bench", timeout_seconds=int(timeout)
    ):
        item = event["object"]
        if item.status.phase == "Running" and item.metadata.name not in started:
            started[item.metadata.name] = time.monotonic()
        if len(started) == count or time.monotonic() > deadline:
            stream.stop()
    missing = sorted(set(created) - set(started))
    if missing:
        print(f"{len(missing)} pods did not run within {timeout:.0f} s: {', '.join(missing[:5])}")
    print(f"{count} pods over {len(nodes)} nodes ({', '.join(nodes)})")
    return [started[n] - created[n] for n in started]


# The node's share of the cluster: what KubeEdge's edgecore (about 70 MB) stands for.
DATA_PLANE = ("kubelet", "containerd", "kube-proxy", "envoy")


def data_plane_rss(ps_output: str) -> dict[str, int]:
    """KiB resident per data-plane program from `ps -e -o rss=,comm=` (the shims summed as one)."""
    rss: dict[str, int] = {}
    for line in ps_output.splitlines():
        kib, _, command = line.strip().partition(" ")
        command = command.strip()
        if command in DATA_PLANE or command.startswith("containerd-shim"):
            name = "containerd-shim" if command.startswith("containerd-shim") else command
            rss[name] = rss.get(name, 0) + int(kib)
    return rss


def node_memory(inventory: dict, key: Path) -> None:
    hosts = inventory["all"]["children"]["edge_nodes"]["hosts"]
    for name, host in hosts.items():
        out = subprocess.run(
            [
                "ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", f"root@{host['ansible_host']}",
                "ps -e -o rss=,comm=",
            ],
            capture_output=True, text=True, check=False, timeout=30,
        ).stdout  # fmt: skip
        rss = data_plane_rss(out)
        total = sum(rss.values())
        parts = ", ".join(f"{k} {v / 1024:.1f} MiB" for k, v in sorted(rss.items()))
        print(f"{name}: {parts}; together {total / 1024:.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lab", required=True, help="the lab's name (its kubeconfig and digests are found by it)"
    )
    parser.add_argument("--inventory", type=Path, help="the lab's inventory (for --ssh-key's node addresses)")
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--ssh-key", type=Path, help="the lab's SSH key: also print node memory")
    args = parser.parse_args()
    state = state_dir(args.lab)
    api = client.CoreV1Api(config.new_client_from_config(str(state / "kubernetes" / "admin.kubeconfig")))
    image = json.loads((state / "images" / "digests.json").read_text())["hello"]["pinned"]
    if args.ssh_key and args.inventory:
        print("before the pods:")
        node_memory(yaml.safe_load(args.inventory.read_text()), args.ssh_key)
    api.create_namespace({"metadata": {"name": NAMESPACE}})
    try:
        latencies = start_latencies(api, image, args.pods, args.timeout)
        if latencies:
            print(
                f"pod start latency: p50 {percentile(latencies, 0.5):.2f} s, p99 {percentile(latencies, 0.99):.2f} s, "
                f"max {max(latencies):.2f} s, mean {statistics.mean(latencies):.2f} s ({len(latencies)} pods)"
            )
        if args.ssh_key and args.inventory:
            print(f"with {args.pods} more pods:")
            node_memory(yaml.safe_load(args.inventory.read_text()), args.ssh_key)
    finally:
        api.delete_namespace(NAMESPACE)


if __name__ == "__main__":
    main()
