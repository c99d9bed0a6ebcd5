"""Cluster-head election at fleet scale: how long an election takes, and how much one head's loss moves.

    PYTHONPATH=. python benchmarks/mesh_election.py [--nodes 1000 10000] [--zones 10] [--heads 3]

Synthetic nodes with varied CPU, memory, links and batteries, spread over zones. For each size it prints
the time of a first election, of a rerun against it (the steady state), and of the election after the
strongest head of the largest zone is lost, with the number of assignments that changed. A second table
gives the partial elections of scale-out and decommissioning: one node added, and that head decommissioned,
with how many existing nodes each touches (must be reconfigured) under yggdrasil and WireGuard.
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import replace

from edgewright.mesh.election import Candidate, Election, Policy, compare, elect
from edgewright.mesh.overlay import overlay_record, touched


def fleet(size: int, zones: int, seed: int = 7) -> list[Candidate]:
    rng = random.Random(seed)
    nodes = []
    for i in range(size):
        battery = rng.random() < 0.3
        nodes.append(
            Candidate(
                name=f"node-{i:05d}",
                zone=f"zone-{i % zones:02d}",
                cpus=rng.choice([1, 2, 4, 8, 16]),
                memory_mb=rng.choice([512, 1024, 2048, 4096, 8192]),
                wired=rng.random() < 0.6,
                link_speed_mbps=rng.choice([None, 100, 1000, 10000]),
                latency_ms=round(rng.uniform(0.2, 60), 1),
                loss_percent=rng.choice([0.0, 0.0, 0.0, 1.0, 5.0]),
                battery_present=battery,
                on_ac=not battery or rng.random() < 0.5,
                battery_percent=rng.randint(0, 100) if battery else None,
            )
        )
    return nodes


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def record(election: Election) -> dict:
    """The controller's overlay record of ELECTION, each node's key its name."""
    return overlay_record(
        "yggdrasil", election, "gateway", {n: {"key": n} for n in [*election.zones(), "gateway"]}
    )


def touched_counts(before: Election, after: Election) -> str:
    return "/".join(str(len(touched(record(before), record(after), b))) for b in ("yggdrasil", "wireguard"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--zones", type=int, default=10)
    parser.add_argument("--heads", type=int, default=3, help="heads per zone (K)")
    parser.add_argument("--heads-per-member", type=int, default=2)
    args = parser.parse_args()
    policy = Policy(heads_per_zone=args.heads, heads_per_member=args.heads_per_member)
    partial_rows = []
    print(
        f"{'nodes':>7} {'zones':>5} {'K':>2} {'first s':>8} {'rerun s':>8} {'loss s':>8} "
        f"{'members of lost':>15} {'reassigned':>10} {'promoted':>8} {'others reassigned':>17}"
    )
    for size in args.nodes:
        nodes = fleet(size, args.zones)
        first, t_first = timed(lambda n=nodes: elect(n, policy))
        _, t_rerun = timed(lambda n=nodes, f=first: elect(n, policy, f))
        zone = max(first.heads, key=lambda z: sum(1 for c in nodes if c.zone == z))
        lost = first.heads[zone][0]
        survivors = [c for c in nodes if c.name != lost]
        after, t_loss = timed(lambda s=survivors, f=first: elect(s, policy, f))
        change = compare(first, after)
        members_of_lost = {m for m, hs in first.assignments.items() if lost in hs}
        reassigned = set(change.reassigned)
        print(
            f"{size:>7} {args.zones:>5} {args.heads:>2} {t_first:>8.3f} {t_rerun:>8.3f} {t_loss:>8.3f} "
            f"{len(members_of_lost):>15} {len(reassigned):>10} {len(change.promoted):>8} "
            f"{len(reassigned - members_of_lost):>17}"
        )
        new = replace(nodes[0], name="node-new")
        added, t_add = timed(lambda f=first, n=new: elect([n], policy, f, f.standing()))
        left, t_leave = timed(lambda f=first, h=lost: elect([], policy, f, f.standing(excluding={h})))
        partial_rows.append(
            f"{size:>7} {t_add:>8.4f} {touched_counts(first, added):>18} "
            f"{t_leave:>8.4f} {touched_counts(first, left):>20}"
        )
    print(
        f"\n{'nodes':>7} {'add s':>8} {'add touches ygg/wg':>18} {'leave s':>8} {'head leaving ygg/wg':>20}"
    )
    print("\n".join(partial_rows))


if __name__ == "__main__":
    main()
