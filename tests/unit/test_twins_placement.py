"""Placement rules and the twin lifecycle plan (pure: no cluster involved)."""

import random

import pytest

from edgewright.twins.device import EdgeDevice, Location
from edgewright.twins.placement import (
    Action,
    Assignment,
    EdgeNode,
    Guard,
    NearestNodes,
    PlacementError,
    Taint,
    distance_km,
    place,
    plan,
    tolerations,
)

MUNICH, BERLIN, HAMBURG = Location(48.137, 11.575), Location(52.52, 13.405), Location(53.551, 9.994)
AUGSBURG = Location(48.371, 10.898)  # about 55 km from Munich


def node(name, location=None, memory=4096, ready=True, quarantined=False):
    return EdgeNode(name, ready=ready, quarantined=quarantined, location=location, allocatable_mib=memory)


def device(name, location=None, node=None, link="ethernet", memory=64):
    return EdgeDevice(
        name, "http", f"http://{name}", link=link, node=node, location=location, memory_mib=memory
    )


def where(result):
    return result.placement()


def test_distance_is_great_circle_kilometres():
    assert distance_km(MUNICH, BERLIN) == pytest.approx(504, abs=2)
    assert distance_km(BERLIN, BERLIN) == 0


def test_a_wired_device_runs_on_its_node_even_when_another_is_closer_and_emptier():
    nodes = [node("munich", MUNICH, memory=512), node("berlin", BERLIN, memory=8192)]
    result = place([device("cam", location=BERLIN, node="munich")], nodes)
    assert where(result) == {"cam": "munich"}
    assert result.decisions[0].reason == "wired to munich"


def test_a_network_device_runs_on_the_closest_node():
    nodes = [node("munich", MUNICH), node("berlin", BERLIN, memory=99999), node("hamburg", HAMBURG)]
    result = place(
        [device("meter", location=AUGSBURG), device("valve", location=Location(53.0, 10.0))], nodes
    )
    assert where(result) == {"meter": "munich", "valve": "hamburg"}


def test_a_tie_in_distance_goes_to_the_node_with_most_free_memory():
    nodes = [node("rack-a", MUNICH, memory=1024), node("rack-b", MUNICH, memory=2048), node("far", BERLIN)]
    result = place([device("meter", location=AUGSBURG)], nodes)
    assert where(result) == {"meter": "rack-b"}
    assert "most free memory of 2" in result.decisions[0].reason


def test_devices_without_location_go_to_most_free_memory_and_spread_as_memory_is_taken():
    nodes = [node("a", memory=300), node("b", memory=200)]
    result = place([device(f"d{i}", memory=100) for i in range(4)], nodes)
    # a:300 -> d0 on a (200 left), tie a/b at 200 -> name order a, then b (200) ... and so on.
    assert where(result) == {"d0": "a", "d1": "a", "d2": "b", "d3": "a"}
    assert all(d.action is Action.CREATE for d in result.decisions)


@pytest.mark.parametrize("bad", [{"ready": False}, {"quarantined": True}])
def test_never_on_a_node_not_ready_or_quarantined(bad):
    nodes = [node("best", MUNICH, memory=99999, **bad), node("other", BERLIN, memory=512)]
    result = place([device("near", location=MUNICH), device("anywhere"), device("wired", node="best")], nodes)
    assert set(where(result).values()) == {"other"}
    wired = next(d for d in result.decisions if d.device == "wired")
    assert "best effort" in wired.reason


def test_a_usb_device_waits_for_its_node_instead_of_falling_back():
    nodes = [node("host", quarantined=True), node("other")]
    result = place([device("stick", node="host", link="usb")], nodes)
    (decision,) = result.decisions
    assert decision.action is Action.PENDING
    assert "node host is quarantined" in decision.reason and "usb" in decision.reason


def test_a_full_node_is_skipped_for_the_next_closest():
    nodes = [node("munich", MUNICH, memory=100), node("berlin", BERLIN)]
    result = place([device("a", location=MUNICH, memory=80), device("b", location=MUNICH, memory=80)], nodes)
    assert where(result) == {"a": "munich", "b": "berlin"}


def test_no_room_anywhere_leaves_the_device_pending():
    result = place([device("big", memory=10_000)], [node("small", memory=512)])
    assert result.decisions[0].action is Action.PENDING
    assert "10000 MiB" in result.decisions[0].reason


def test_a_device_wired_to_an_unknown_node_is_invalid_and_gets_no_twin():
    result = plan([device("cam", node="ghost")], [node("a")], current={}, now=0)
    (decision,) = result.decisions
    assert decision.action is Action.INVALID
    assert "'ghost', which is not in the cluster" in decision.reason
    assert where(result) == {}


def test_a_wired_node_that_left_the_cluster_is_node_loss_not_bad_input():
    current = {"cam": Assignment("cam", "gone"), "stick": Assignment("stick", "gone")}
    devices = [device("cam", node="gone"), device("stick", node="gone", link="usb")]
    result = plan(devices, [node("a")], current, now=0)
    decisions = {d.device: d for d in result.decisions}
    assert (decisions["cam"].action, decisions["cam"].node) == (Action.MOVE, "a")
    assert "node gone is gone; best effort" in decisions["cam"].reason
    assert decisions["stick"].action is Action.PENDING
    # Once moved, the ethernet twin stays on its fallback node until its node is back.
    moved = {"cam": Assignment("cam", "a")}
    assert plan(devices[:1], [node("a")], moved, now=1e9).decisions[0].action is Action.KEEP


def test_an_unreadable_device_keeps_its_twin():
    result = plan(
        [], [node("a")], current={"cam": Assignment("cam", "a")}, now=0, invalid={"cam": "bad spec"}
    )
    assert [(d.action, d.node) for d in result.decisions] == [(Action.INVALID, "a")]


def test_a_disconnected_device_loses_its_twin():
    result = plan([], [node("a")], current={"gone": Assignment("gone", "a")}, now=0)
    assert [(d.device, d.action) for d in result.decisions] == [("gone", Action.DELETE)]


def test_losing_a_node_moves_its_twins_and_nothing_else():
    nodes = [node("munich", MUNICH), node("berlin", BERLIN), node("hamburg", HAMBURG)]
    devices = [device(f"m{i}", location=MUNICH) for i in range(3)] + [
        device("b", location=BERLIN),
        device("x"),
    ]
    first = place(devices, nodes)
    current = {d: Assignment(d, n, placed_at=1000) for d, n in first.placement().items()}
    on_munich = {d for d, twin in current.items() if twin.node == "munich"}
    assert on_munich == {"m0", "m1", "m2"}
    survivors = [n for n in nodes if n.name != "munich"]
    after = plan(devices, survivors, current, now=1010)
    moved = {d.device for d in after.moves}
    assert moved == on_munich
    assert all(after.placement()[d] == "berlin" for d in on_munich)  # closest remaining to Munich
    assert all("node munich is gone" in d.reason for d in after.moves)
    # Node loss is not subject to the dwell time: the twins moved 10 s after placement.


def test_a_node_not_ready_moves_its_twins():
    current = {"d": Assignment("d", "a", placed_at=0)}
    result = plan([device("d")], [node("a", ready=False), node("b")], current, now=1)
    assert [(d.action, d.node, d.previous) for d in result.decisions] == [(Action.MOVE, "b", "a")]
    assert "node a is not Ready" in result.decisions[0].reason


def test_a_lost_node_with_nowhere_to_go_leaves_the_twin_pending():
    current = {"d": Assignment("d", "a")}
    result = plan([device("d")], [node("a", quarantined=True)], current, now=1)
    assert result.decisions[0].action is Action.PENDING
    assert result.decisions[0].previous == "a"


def test_a_closer_node_moves_a_twin_only_after_the_dwell_time():
    devices = [device("meter", location=AUGSBURG)]
    current = {"meter": Assignment("meter", "berlin", placed_at=1000)}
    nodes = [node("berlin", BERLIN), node("munich", MUNICH)]
    guard = Guard(min_dwell_s=300)
    assert plan(devices, nodes, current, now=1200, guard=guard).decisions[0].action is Action.KEEP
    moved = plan(devices, nodes, current, now=1300, guard=guard).decisions[0]
    assert (moved.action, moved.node, moved.previous) == (Action.MOVE, "munich", "berlin")
    assert moved.reason.startswith("better placement: munich is closer")


def test_a_slightly_closer_node_does_not_move_a_twin():
    devices = [device("meter", location=MUNICH)]
    near = Location(48.2, 11.6)  # about 7.2 km from the device
    nearer = Location(48.17, 11.59)  # about 3.8 km: 3.4 km (47 %) better
    current = {"meter": Assignment("meter", "near", placed_at=0)}
    nodes = [node("near", near), node("nearer", nearer)]
    assert (
        plan(devices, nodes, current, now=1e6, guard=Guard(min_gain_km=5)).decisions[0].action is Action.KEEP
    )
    assert (
        plan(devices, nodes, current, now=1e6, guard=Guard(min_gain_ratio=0.9)).decisions[0].action
        is Action.KEEP
    )
    assert plan(devices, nodes, current, now=1e6, guard=Guard()).decisions[0].action is Action.MOVE


def test_free_memory_alone_never_moves_a_twin():
    current = {"d": Assignment("d", "a", placed_at=0)}
    result = plan([device("d")], [node("a", memory=100), node("b", memory=99999)], current, now=1e9)
    assert result.decisions[0].action is Action.KEEP


def test_a_wired_twin_returns_to_its_node_when_it_is_back():
    current = {"cam": Assignment("cam", "other", placed_at=0)}
    nodes = [node("home"), node("other")]
    result = plan([device("cam", node="home")], nodes, current, now=1e6)
    assert (result.decisions[0].action, result.decisions[0].node) == (Action.MOVE, "home")
    assert "wired node home is back" in result.decisions[0].reason


def test_a_twin_does_not_flap_between_two_nodes():
    """Repeated plans with a node going away and coming back: each move waits the dwell time."""
    devices = [device("meter", location=AUGSBURG)]
    munich, berlin = node("munich", MUNICH), node("berlin", BERLIN)
    guard = Guard(min_dwell_s=300)
    twin = Assignment("meter", "munich", placed_at=0)
    history = []
    for now, nodes in (
        (10, [berlin]),
        (20, [munich, berlin]),
        (30, [munich, berlin]),
        (400, [munich, berlin]),
    ):
        decision = plan(devices, nodes, {"meter": twin}, now=now, guard=guard).decisions[0]
        if decision.action is Action.MOVE:
            twin = Assignment("meter", decision.node, placed_at=now)
        history.append(twin.node)
    assert history == ["berlin", "berlin", "berlin", "munich"]


def test_plans_are_deterministic_whatever_the_input_order():
    nodes = [node(f"n{i}", Location(i, i), memory=1000) for i in range(5)] + [node("z", memory=5000)]
    devices = [device(f"d{i}", location=Location(i % 5 + 0.1, i % 5)) for i in range(10)] + [device("free")]
    assert place(devices, nodes).placement() == place(devices[::-1], nodes[::-1]).placement()


def test_duplicate_names_are_refused():
    with pytest.raises(PlacementError, match="node a is listed twice"):
        place([], [node("a"), node("a")])
    with pytest.raises(PlacementError, match="device d is listed twice"):
        place([device("d"), device("d")], [node("a")])


def test_the_nearest_index_agrees_with_trying_every_node():
    rng = random.Random(7)
    nodes = [node(f"n{i}", Location(rng.uniform(-90, 90), rng.uniform(-180, 180))) for i in range(300)]
    nodes += [node("twin-a", Location(10, 10)), node("twin-b", Location(10, 10))]
    index = NearestNodes(nodes)
    for _ in range(300):
        here = Location(rng.uniform(-90, 90), rng.uniform(-180, 180))
        km, found = index.closest(here, lambda n: True)
        brute = min(distance_km(here, n.location) for n in nodes)
        assert km == pytest.approx(brute)
        assert all(distance_km(here, n.location) == pytest.approx(brute, abs=0.01) for n in found)
    km, found = index.closest(Location(10.001, 10), lambda n: True)
    assert {n.name for n in found} == {"twin-a", "twin-b"}
    assert index.closest(Location(0, 0), lambda n: False) == (float("inf"), [])


BATTERY = Taint("edgewright.io/battery-powered", "true", "NoSchedule")


def test_a_tainted_node_takes_only_the_twins_wired_to_it_and_they_tolerate_its_taints():
    tainted = EdgeNode("n-batt", location=MUNICH, allocatable_mib=8192, taints=(BATTERY,))
    mains = node("n-mains", location=BERLIN, memory=1024)
    devices = [device("near", location=MUNICH), device("wired", node="n-batt", link="usb"), device("any")]
    result = place(devices, [tainted, mains])
    # The closest node and the one with most free memory are tainted: both go to the untainted node.
    assert where(result) == {"near": "n-mains", "wired": "n-batt", "any": "n-mains"}
    assert tolerations(devices[1], tainted) == [
        {"key": "edgewright.io/battery-powered", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    assert tolerations(devices[0], mains) == [] and tolerations(devices[0], tainted) == []


def test_only_repelling_taints_count():
    soft = EdgeNode("n-soft", allocatable_mib=8192, taints=(Taint("k", "", "PreferNoSchedule"),))
    assert where(place([device("d")], [soft])) == {"d": "n-soft"}
    keyed = EdgeNode("n-ex", allocatable_mib=8192, taints=(Taint("dedicated", "", "NoExecute"),))
    assert tolerations(device("w", node="n-ex"), keyed) == [
        {"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}
    ]
    # The lifecycle controller's condition taints: placement reads the conditions themselves.
    unready = EdgeNode(
        "n-cond", allocatable_mib=8192, taints=(Taint("node.kubernetes.io/not-ready", "", "NoSchedule"),)
    )
    assert unready.repelling == ()
    result = place([device("d")], [keyed])
    assert result.by_action(Action.PENDING)[0].reason.endswith(
        "no Ready, unquarantined, untainted node has 64 MiB free"
    )


def test_a_twin_moves_off_a_node_that_became_tainted():
    tainted = EdgeNode("n-1", allocatable_mib=4096, taints=(BATTERY,))
    result = plan([device("d")], [tainted, node("n-2")], {"d": Assignment("d", "n-1", 0.0)}, now=10.0)
    (decision,) = result.moves
    assert decision.node == "n-2"
    assert decision.reason.startswith("node n-1 is tainted edgewright.io/battery-powered=true:NoSchedule")
