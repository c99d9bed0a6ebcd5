"""The controller's overlay record: written from an election, read back, compared without the scores, and
what a change of it touches."""

from __future__ import annotations

import json

import pytest

from edgewright.mesh.election import Election, ElectionError
from edgewright.mesh.overlay import overlay_record, read_overlay, recorded_election, same_overlay, touched


def election(heads, assignments):
    names = set(assignments) | {h for hs in heads.values() for h in hs}
    return Election(
        heads=heads, assignments=assignments, scores=dict.fromkeys(sorted(names), 50.0), ineligible={}
    )


def test_the_record_holds_the_backend_the_election_the_links_and_the_identities():
    e = election({"z": ["h1"]}, {"m1": ["h1"]})
    record = overlay_record("wireguard", e, "gw", {"m1": {"public_key": "k1"}, "h1": {"public_key": "k0"}})
    assert record["backend"] == "wireguard"
    assert record["election"]["heads"] == {"z": ["h1"]} and record["election"]["assignments"] == {
        "m1": ["h1"]
    }
    assert record["links"]["m1"] == {"role": "member", "dial": ["h1"], "accept": [], "heads": ["h1"]}
    assert record["links"]["gw"]["accept"] == ["h1"]
    assert list(record["nodes"]) == ["h1", "m1"]


def test_a_record_read_back_is_the_one_written_and_holds_its_election(tmp_path):
    e = election({"z": ["h1"]}, {"m1": ["h1"]})
    path = tmp_path / "overlay.json"
    assert read_overlay(path) is None and recorded_election(None) is None
    path.write_text(json.dumps(record(e)))
    assert read_overlay(path) == record(e)
    assert recorded_election(read_overlay(path)) == e


def test_a_record_that_is_not_json_is_named(tmp_path):
    path = tmp_path / "overlay.json"
    path.write_text("{half")
    with pytest.raises(ElectionError, match=r"overlay\.json is not valid JSON"):
        read_overlay(path)


def test_new_scores_alone_leave_the_overlay_the_same():
    e = election({"z": ["h1"]}, {"m1": ["h1"]})
    rescored = Election(e.heads, e.assignments, {"h1": 90.0, "m1": 10.0}, e.ineligible)
    assert same_overlay(record(e), record(rescored))
    assert not same_overlay(record(e), record(e, keys={"m1": "rekeyed"}))
    assert not same_overlay(None, record(e)) and same_overlay(None, None)


def record(e: Election, gateway: str | None = "gw", keys: dict | None = None) -> dict:
    names = [*e.scores, *([gateway] if gateway else [])]
    return overlay_record(
        "yggdrasil", e, gateway, {n: {"public_key": (keys or {}).get(n, f"key-{n}")} for n in names}
    )


def test_a_new_member_touches_only_its_head():
    before = election({"z": ["h1", "h2"]}, {"m1": ["h1"], "m2": ["h2"]})
    after = election({"z": ["h1", "h2"]}, {"m1": ["h1"], "m2": ["h2"], "m3": ["h1"]})
    assert touched(record(before), record(after), "yggdrasil") == ["h1"]
    # WireGuard heads and the gateway route to every member: they all learn the new address.
    assert touched(record(before), record(after), "wireguard") == ["gw", "h1", "h2"]


def test_a_departing_head_touches_its_members_the_other_heads_and_the_gateway():
    before = election({"z": ["h1", "h2"]}, {"m1": ["h1"], "m2": ["h2"], "m3": ["h1"]})
    after = election({"z": ["h2", "m3"]}, {"m1": ["m3"], "m2": ["h2"]})
    assert touched(record(before), record(after), "yggdrasil") == ["gw", "h2", "m1", "m3"]


def test_a_new_key_touches_the_node_s_peers():
    e = election({"z": ["h1"]}, {"m1": ["h1"], "m2": ["h1"]})
    assert touched(record(e), record(e), "yggdrasil") == []
    assert touched(record(e), record(e, keys={"m1": "rekeyed"}), "yggdrasil") == ["h1"]
    assert touched(None, record(e), "yggdrasil") == []
