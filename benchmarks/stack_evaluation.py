"""Program evaluation time of the cloudlet stack under Pulumi mocks, for 10, 100 and 1,000 apps.

Prints, per orchestrator and cloudlet size: the time to plan (config, port map, layout; pure Python),
the time to run the whole program under mocks (every resource registered), and the resources made.
Run from the repository root:  PYTHONPATH=$PWD python benchmarks/stack_evaluation.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from edgewright.cloudlet.config import parse_cloudlet
from edgewright.cloudlet.plan import plan_cloudlet
from tests.pulumi_mocks import evaluate

SIZES = (10, 100, 1000)
DEDICATED = 2  # apps with their own LB (each takes a public IP)

BACKENDS = {
    "openstack": {"externalNetwork": "public", "image": "debian-12", "flavor": "m1.large"},
    "vsphere": {
        "host": "vcenter.example.net",
        "user": "u",
        "datacenter": "DC0",
        "template": "t",
        "resourcePool": "DC0_C0",
        "externalNetwork": "ext",
        "internalNetwork": "int",
    },
    "gke": {"project": "p", "region": "europe-west3", "platformImage": "p:1"},
    "kind": {"metallbRange": "172.18.255.200-172.18.255.210", "platformImage": "p:1"},
}


def cloudlet(apps: int) -> dict:
    """``apps`` apps, each with a TCP port and a small UDP range; many share ports, so many are remapped."""
    return {
        "name": "bench",
        "clusterSize": 3,
        "publicIps": [f"198.51.100.{10 + i}" for i in range(1 + DEDICATED)],
        "apps": [
            {
                "name": f"app{i}",
                "ports": f"tcp:{8000 + i % 50},udp:{20000 + 3 * (i % 20)}-{20001 + 3 * (i % 20)}",
                "dedicatedLb": i < DEDICATED,
            }
            for i in range(apps)
        ],
    }


def measure(orchestrator: str, apps: int, repeat: int) -> tuple[float, float, int]:
    settings = {
        "orchestrator": orchestrator,
        "cloudlet": cloudlet(apps),
        orchestrator: BACKENDS[orchestrator],
    }
    plan_times, run_times, resources = [], [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        plan_cloudlet(parse_cloudlet(orchestrator, settings["cloudlet"]))
        plan_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        mocks, _ = evaluate(settings, secrets={"vspherePassword": "x"})
        run_times.append(time.perf_counter() - start)
        resources = len(mocks.resources)
    return statistics.median(plan_times), statistics.median(run_times), resources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the median is printed")
    parser.add_argument("--orchestrators", nargs="*", default=list(BACKENDS), choices=list(BACKENDS))
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    for orchestrator in args.orchestrators:
        evaluate(
            {"orchestrator": orchestrator, "cloudlet": cloudlet(10), orchestrator: BACKENDS[orchestrator]},
            secrets={"vspherePassword": "x"},
        )  # warm up: provider SDK imports are not part of a run
    print(f"{'orchestrator':<12} {'apps':>5} {'plan s':>8} {'program s':>10} {'resources':>10} {'ms/app':>8}")
    for orchestrator in args.orchestrators:
        for apps in SIZES:
            plan_s, run_s, resources = measure(orchestrator, apps, args.repeat)
            per_app_ms = 1000 * run_s / apps
            row = f"{orchestrator:<12} {apps:>5} {plan_s:>8.3f} {run_s:>10.3f}"
            print(f"{row} {resources:>10} {per_app_ms:>8.2f}")


if __name__ == "__main__":
    main()
