"""The node's lifecycle record: stages recorded once, the furthest one is the node's stage."""

import json

import pytest
from edgewright_lifecycle import BARE, STAGES, apply, current_stage, load, save


def test_a_new_node_is_bare():
    assert current_stage({}) == BARE


def test_recording_a_stage_changes_the_record_once():
    record, changed = apply({}, "baseline", True, "t1")
    assert changed
    assert record == {"stages": {"baseline": "t1"}, "stage": "baseline"}
    again, changed = apply(record, "baseline", True, "t2")
    assert not changed
    assert again["stages"]["baseline"] == "t1", "the first time a stage was reached is kept"


def test_the_furthest_stage_wins_whatever_the_order_of_recording():
    record, _ = apply({}, "attested", True, "t1")
    record, _ = apply(record, "baseline", True, "t2")
    assert record["stage"] == "attested"


def test_taking_a_stage_back_falls_back_to_the_one_before():
    record, _ = apply({}, "baseline", True, "t1")
    record, _ = apply(record, "attested", True, "t2")
    record, changed = apply(record, "attested", False, "t3")
    assert changed
    assert record["stage"] == "baseline"
    _, changed = apply(record, "attested", False, "t4")
    assert not changed


def test_an_unknown_stage_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown stage 'atested'.*baseline, probed, attested"):
        apply({}, "atested", True, "t1")


def test_stages_are_in_lifecycle_order():
    assert STAGES.index("baseline") < STAGES.index("attested") < STAGES.index("joined")


def test_save_and_load_round_trip(tmp_path):
    path = tmp_path / "state" / "lifecycle.json"
    assert load(str(path)) == {}
    record, _ = apply({}, "probed", True, "t1")
    save(str(path), record)
    assert load(str(path)) == record
    assert json.loads(path.read_text())["stage"] == "probed"
    assert oct(path.stat().st_mode & 0o777) == "0o644"
