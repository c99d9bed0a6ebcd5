"""Cluster-head election: scores, eligibility, stability, zones, assignments, bad input."""

from __future__ import annotations

import pytest

from edgewright.mesh.election import (
    Candidate,
    ElectionError,
    Policy,
    Weights,
    candidate_from_probe,
    compare,
    disqualification,
    elect,
    election_from_record,
    score,
)


def node(name: str, **kw) -> Candidate:
    return Candidate(name=name, **{"cpus": 2, "memory_mb": 2048, **kw})


def test_equal_hardware_ties_fall_to_the_name():
    result = elect([node("c"), node("a"), node("b")], Policy(heads_per_zone=1))
    assert result.heads == {"default": ["a"]}
    assert result.assignments == {"b": ["a"], "c": ["a"]}


def test_the_better_node_is_head():
    result = elect([node("a"), node("b", cpus=8, memory_mb=8192)], Policy())
    assert result.heads["default"] == ["b"]


def test_each_part_of_the_score_counts():
    w = Weights()
    base = score(node("x"), w)
    assert score(node("x", cpus=8), w) > base
    assert score(node("x", memory_mb=8192), w) > base
    assert score(node("x", link_speed_mbps=1000), w) > score(node("x", link_speed_mbps=100), w)
    assert score(node("x", wired=False), w) < base
    assert score(node("x", latency_ms=80), w) < base
    assert score(node("x", loss_percent=20), w) < base
    assert score(node("x", battery_present=True, on_ac=False, battery_percent=90), w) < base
    assert score(node("x", battery_present=True, on_ac=True, battery_percent=10), w) == base


def test_sub_millisecond_jitter_does_not_change_a_score():
    w = Weights()
    assert score(node("x", latency_ms=0.05), w) == score(node("x", latency_ms=1.7), w) == score(node("x"), w)


def test_battery_below_threshold_disqualifies_only_off_ac():
    policy = Policy(min_battery_percent=30)
    low = node("a", cpus=16, battery_present=True, on_ac=False, battery_percent=29)
    assert "below the 30% minimum" in disqualification(low, policy)
    assert disqualification(node("a", battery_present=True, on_ac=False, battery_percent=30), policy) is None
    assert disqualification(node("a", battery_present=True, on_ac=True, battery_percent=5), policy) is None
    result = elect([low, node("b")], policy)
    assert result.heads["default"] == ["b"]
    assert "a" in result.ineligible and result.assignments == {"a": ["b"]}


def test_unknown_charge_off_ac_disqualifies():
    assert "unknown charge" in disqualification(node("a", battery_present=True, on_ac=False), Policy())


def test_operator_exclusion_and_unreachable_gateway_disqualify():
    assert "operator" in disqualification(node("a", head_eligible=False), Policy())
    assert "100% loss" in disqualification(node("a", loss_percent=100), Policy())


def test_k_heads_per_zone():
    nodes = [node(f"{z}{i}", zone=z) for z in "xy" for i in range(4)]
    result = elect(nodes, Policy(heads_per_zone=2))
    assert result.heads == {"x": ["x0", "x1"], "y": ["y0", "y1"]}
    # Members stay in their zone.
    assert all(result.assignments[m][0][0] == m[0] for m in result.assignments)


def test_k_above_eligible_nodes_is_a_clear_error():
    nodes = [node("a"), node("b", battery_present=True, on_ac=False, battery_percent=5)]
    with pytest.raises(ElectionError) as err:
        elect(nodes, Policy(heads_per_zone=2))
    message = str(err.value)
    assert "zone 'default' needs 2 cluster head(s) but has 1 eligible node(s) of 2" in message
    assert "b: on battery at 5%" in message


def test_k_above_eligible_names_every_short_zone():
    with pytest.raises(ElectionError, match=r"zone 'x'.*zone 'y'"):
        elect([node("a", zone="x"), node("b", zone="y")], Policy(heads_per_zone=2))


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        (Policy(heads_per_zone=0), "heads_per_zone must be at least 1"),
        (Policy(heads_per_member=3), "heads_per_member must be 1 or 2"),
        (Policy(min_battery_percent=101), "min_battery_percent must be between 0 and 100"),
        (Policy(min_battery_percent=-1), "min_battery_percent must be between 0 and 100"),
        (Policy(stability_margin=-5), "stability_margin"),
        (Policy(weights=Weights(0, 0, 0, 0)), "weights"),
        (Policy(weights=Weights(cpu=-1)), "weights"),
    ],
)
def test_bad_policy_is_refused(policy, problem):
    with pytest.raises(ElectionError, match=problem):
        elect([node("a")], policy)


def test_duplicate_names_are_refused():
    with pytest.raises(ElectionError, match="more than once: a"):
        elect([node("a"), node("a")], Policy())


def test_deterministic_whatever_the_order():
    nodes = [node(f"n{i}", cpus=1 + i % 3, zone=f"z{i % 2}") for i in range(20)]
    first = elect(nodes, Policy(heads_per_zone=2, heads_per_member=2))
    assert elect(list(reversed(nodes)), Policy(heads_per_zone=2, heads_per_member=2)) == first


def test_incumbent_stays_unless_beaten_by_the_margin():
    policy = Policy(stability_margin=10)
    before = elect([node("a"), node("b")], policy)
    assert before.heads["default"] == ["a"]
    slightly_better = [node("a"), node("b", cpus=4)]
    assert score(slightly_better[1], policy.weights) - score(slightly_better[0], policy.weights) < 10
    assert elect(slightly_better, policy, before).heads["default"] == ["a"]
    # Without the previous election, the better node wins: the margin is what keeps a.
    assert elect(slightly_better, policy).heads["default"] == ["b"]
    much_better = [node("a"), node("b", cpus=16, memory_mb=16384)]
    assert elect(much_better, policy, before).heads["default"] == ["b"]


def test_an_incumbent_that_loses_eligibility_is_replaced():
    policy = Policy()
    before = elect([node("a"), node("b")], policy)
    after = elect(
        [node("a", battery_present=True, on_ac=False, battery_percent=3), node("b")], policy, before
    )
    assert after.heads["default"] == ["b"]
    assert compare(before, after).demoted == ["a"]


def test_a_rerun_with_nothing_changed_changes_nothing():
    nodes = [node(f"n{i}") for i in range(6)]
    policy = Policy(heads_per_zone=2, heads_per_member=2)
    first = elect(nodes, policy)
    again = elect(nodes, policy, first)
    assert again == first
    change = compare(first, again)
    assert change.promoted == change.demoted == change.reassigned == change.gone == change.joined == []


def test_losing_a_head_reassigns_only_its_members():
    nodes = [node(f"n{i}") for i in range(1, 8)]
    policy = Policy(heads_per_zone=2)
    before = elect(nodes, policy)
    assert before.heads["default"] == ["n1", "n2"]
    lost = "n1"
    survivors = [n for n in nodes if n.name != lost]
    after = elect(survivors, policy, before)
    change = compare(before, after)
    assert change.gone == [lost]
    assert "n2" in after.heads["default"]
    members_of_lost = {m for m, hs in before.assignments.items() if lost in hs}
    promoted = set(change.promoted)
    assert promoted <= members_of_lost
    assert set(change.reassigned) == members_of_lost - promoted
    for member, heads in before.assignments.items():
        if lost not in heads:
            assert after.assignments[member] == heads


def test_new_members_go_to_the_least_loaded_head():
    policy = Policy(heads_per_zone=2)
    before = elect([node("h1", cpus=8), node("h2", cpus=8), node("m1"), node("m2"), node("m3")], policy)
    assert sorted(before.assignments.values()) == [["h1"], ["h1"], ["h2"]]
    after = elect(
        [node("h1", cpus=8), node("h2", cpus=8), node("m1"), node("m2"), node("m3"), node("m4")],
        policy,
        before,
    )
    assert after.assignments["m4"] == ["h2"]
    assert {m: after.assignments[m] for m in before.assignments} == before.assignments


def test_two_heads_per_member_when_the_zone_has_them():
    result = elect([node("a"), node("b"), node("c"), node("d", zone="solo")], Policy(heads_per_member=2))
    # One head per zone: a member cannot have two.
    assert result.assignments == {"b": ["a"], "c": ["a"]}
    result = elect([node("a"), node("b"), node("c"), node("d")], Policy(heads_per_zone=2, heads_per_member=2))
    assert result.assignments == {"c": ["a", "b"], "d": ["b", "a"]}


def test_the_record_round_trips():
    result = elect(
        [node("a"), node("b"), node("c", battery_present=True, on_ac=False, battery_percent=1)], Policy()
    )
    assert election_from_record(result.as_record()) == result
    with pytest.raises(ElectionError, match="not usable"):
        election_from_record({"heads": []})


def test_candidate_from_probe_facts():
    facts = {
        "cpu": {"count": 4},
        "memory": {"total_mb": 4096, "available_mb": 3000},
        "interfaces": [
            {
                "name": "wlan0",
                "kind": "wireless",
                "state": "up",
                "speed_mbps": None,
                "mac": "02:00:00:00:00:01",
                "addresses": ["10.0.0.2/24"],
            },
            {
                "name": "eth0",
                "kind": "wired",
                "state": "up",
                "speed_mbps": 1000,
                "mac": "02:00:00:00:00:02",
                "addresses": ["10.0.1.2/24"],
            },
            {
                "name": "eth1",
                "kind": "wired",
                "state": "down",
                "speed_mbps": 10000,
                "mac": "02:00:00:00:00:03",
                "addresses": [],
            },
            # The mesh's own tunnel: no link-layer address, never the uplink, however fast it claims to be.
            {
                "name": "ygg0",
                "kind": "wired",
                "state": "unknown",
                "speed_mbps": 100000,
                "mac": "",
                "addresses": ["200::1/7"],
            },
        ],
        "battery": {"present": True, "capacity_percent": 55, "charging": False, "on_ac": False},
    }
    c = candidate_from_probe("n1", facts, zone="rack-2", latency_ms=3.5, loss_percent=0.0)
    assert c == Candidate(
        name="n1",
        zone="rack-2",
        cpus=4,
        memory_mb=4096,
        wired=True,
        link_speed_mbps=1000,
        latency_ms=3.5,
        loss_percent=0.0,
        battery_present=True,
        on_ac=False,
        battery_percent=55,
    )
    wireless_only = candidate_from_probe(
        "n2", {**facts, "interfaces": [facts["interfaces"][0], facts["interfaces"][3]]}
    )
    assert not wireless_only.wired


def test_a_partial_election_counts_the_others_as_they_stand_and_keeps_heads():
    policy = Policy(heads_per_zone=1)
    before = elect([node("h", cpus=2), node("m1"), node("m2", zone="b")], policy)
    assert before.heads == {"default": ["h"], "b": ["m2"]}
    # A far better node joins: a full election would make it head, a partial one only adds it.
    strong = node("new", cpus=16, memory_mb=16384)
    assert elect([strong, node("h"), node("m1"), node("m2", zone="b")], policy, before).heads["default"] == [
        "new"
    ]
    after = elect([strong], policy, before, before.standing())
    assert after.heads == before.heads
    assert after.assignments == {"m1": ["h"], "new": ["h"]}
    assert after.scores["h"] == before.scores["h"]
    assert compare(before, after).joined == ["new"] and compare(before, after).gone == []


def test_a_departing_head_is_replaced_from_the_standing_nodes():
    policy = Policy(heads_per_zone=2)
    nodes = [
        node("a", cpus=8),
        node("b", cpus=6),
        node("c", cpus=4),
        node("d"),
        node("e", head_eligible=False),
    ]
    before = elect(nodes, policy)
    assert before.heads["default"] == ["a", "b"]
    after = elect([], policy, before, before.standing(excluding={"a"}))
    assert after.heads["default"] == ["b", "c"]
    assert "a" not in after.scores and after.ineligible == {"e": "excluded from head duty by the operator"}
    assert {m for m, hs in after.assignments.items() if "a" in hs} == set()


def test_a_departure_that_empties_a_zone_of_eligible_nodes_is_refused():
    policy = Policy(heads_per_zone=1)
    before = elect([node("a"), node("b", head_eligible=False)], policy)
    with pytest.raises(ElectionError, match="zone 'default' needs 1 cluster head"):
        elect([], policy, before, before.standing(excluding={"a"}))


def test_the_standing_nodes_keep_their_zones():
    before = elect([node("a"), node("b"), node("c", zone="z2"), node("d", zone="z2")], Policy())
    assert before.zones() == {"a": "default", "b": "default", "c": "z2", "d": "z2"}
    assert [(s.name, s.zone) for s in before.standing(excluding=["b"])] == [
        ("a", "default"),
        ("c", "z2"),
        ("d", "z2"),
    ]
