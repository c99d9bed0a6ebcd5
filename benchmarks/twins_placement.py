"""Benchmark: place 10,000 device twins on 1,000 edge nodes, then lose one node and count what moves.

Prints figures; asserts nothing about time. The fleet is synthetic and seeded (same numbers every run):
nodes spread over Europe with 2-16 GiB allocatable; devices 10 % wired over ethernet, 5 % over USB,
70 % on the network near some node, 15 % without a location.

    PYTHONPATH=. python benchmarks/twins_placement.py [--nodes 1000] [--devices 10000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter

from edgewright.twins.device import EdgeDevice, Location
from edgewright.twins.placement import Action, Assignment, EdgeNode, Guard, place, plan


def fleet(nodes: int, devices: int, seed: int) -> tuple[list[EdgeNode], list[EdgeDevice]]:
    rng = random.Random(seed)
    edge_nodes = [
        EdgeNode(
            f"node-{i:04d}",
            location=Location(rng.uniform(36, 60), rng.uniform(-9, 30)),
            allocatable_mib=rng.choice((2048, 4096, 8192, 16384)),
        )
        for i in range(nodes)
    ]
    edge_devices = []
    for i in range(devices):
        home = rng.choice(edge_nodes)
        roll = rng.random()
        near = Location(
            max(-90, min(90, home.location.latitude + rng.gauss(0, 0.1))),
            home.location.longitude + rng.gauss(0, 0.1),
        )
        kwargs: dict = {"memory_mib": rng.choice((32, 64, 128))}
        if roll < 0.10:
            kwargs.update(link="ethernet", node=home.name, location=near)
        elif roll < 0.15:
            kwargs.update(link="usb", node=home.name)
        elif roll < 0.85:
            kwargs.update(link=rng.choice(("ethernet", "wifi", "mesh")), location=near)
        else:
            kwargs.update(link=rng.choice(("wifi", "mesh")))
        edge_devices.append(
            EdgeDevice(f"dev-{i:05d}", rng.choice(("http", "mqtt", "opcua")), f"10.0.{i}", **kwargs)
        )
    return edge_nodes, edge_devices


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--devices", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    nodes, devices = fleet(args.nodes, args.devices, args.seed)
    guard = Guard(min_dwell_s=300)

    first, seconds = timed(place, devices, nodes)
    placed = first.placement()
    print(
        f"initial placement: {len(placed)} of {len(devices)} twins on {len(set(placed.values()))} of "
        f"{len(nodes)} nodes in {seconds:.2f} s ({Counter(d.action.value for d in first.decisions)})"
    )
    current = {d: Assignment(d, n, placed_at=0) for d, n in placed.items()}

    steady, seconds = timed(plan, devices, nodes, current, now=10_000, guard=guard)
    print(f"re-plan with nothing changed: {len(steady.moves)} moves in {seconds:.2f} s")

    per_node = Counter(placed.values())
    lost = per_node.most_common(1)[0][0]
    survivors = [n for n in nodes if n.name != lost]
    after, seconds = timed(plan, devices, survivors, current, now=10_010, guard=guard)
    moved = {d.device for d in after.moves}
    own = {d for d, n in placed.items() if n == lost}
    pending = [d for d in after.by_action(Action.PENDING) if d.previous == lost]
    others = moved - own
    print(
        f"lose {lost} ({len(own)} twins on it): {len(moved)} twins move, {len(pending)} wait for it "
        f"(USB), {len(others)} other twins move; re-plan in {seconds:.2f} s"
    )

    rng = random.Random(args.seed)
    samples = rng.sample(sorted(per_node), 10)
    own_total = moved_total = waiting_total = 0
    others = []
    for name in samples:
        result = plan(devices, [n for n in nodes if n.name != name], current, now=10_010, guard=guard)
        own_twins = {d for d, n in placed.items() if n == name}
        moved_now = {d.device for d in result.moves}
        own_total += len(own_twins)
        moved_total += len(moved_now & own_twins)
        waiting_total += sum(1 for d in result.by_action(Action.PENDING) if d.previous == name)
        others.append(len(moved_now - own_twins))
    print(
        f"10 more single-node losses ({', '.join(samples[:3])}, ...): {own_total} twins on them, "
        f"{moved_total} moved, {waiting_total} wait (USB); twins of other nodes that moved: {others}"
    )

    current = {**current, **{d.device: Assignment(d.device, d.node, placed_at=10_010) for d in after.moves}}
    back_early, _ = timed(plan, devices, nodes, current, now=10_100, guard=guard)
    back, seconds = timed(plan, devices, nodes, current, now=10_400, guard=guard)
    returning = {d.device for d in back.moves}
    print(
        f"{lost} returns: {len(back_early.moves)} moves within the dwell time, {len(returning)} after it "
        f"({len(returning - own)} of them not its former twins); re-plan in {seconds:.2f} s"
    )


if __name__ == "__main__":
    main()
