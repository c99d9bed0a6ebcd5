"""The measurement plan and log: what to extend so reruns change nothing and a changed artefact shows."""

from __future__ import annotations

import hashlib
import os

import pytest
from tpm import (
    ZERO_PCR,
    event_hash,
    load_log,
    log_replay,
    measurement_plan,
    parse_log_line,
    read_log_text,
    replay,
    save_log,
)

from edgewright.attest import measurements

A, B, C = (hashlib.sha256(x).digest() for x in (b"a", b"b", b"c"))
PCR = 13


def value(log):
    return replay(ZERO_PCR, [event_hash(path, digest) for _, path, digest in log])


def test_a_replay_extends_each_measurement_in_order():
    extended = hashlib.sha256(hashlib.sha256(ZERO_PCR + A).digest() + B).digest()
    assert replay(ZERO_PCR, [A, B]) == extended != replay(ZERO_PCR, [B, A])


def test_fresh_pcr_measures_every_artefact():
    to_extend, log = measurement_plan(ZERO_PCR, None, [("/a", A), ("/b", B)], PCR)
    assert to_extend == [("/a", A), ("/b", B)]
    assert log == [(PCR, "/a", A), (PCR, "/b", B)]


def test_rerun_with_the_same_artefacts_measures_nothing():
    _, log = measurement_plan(ZERO_PCR, None, [("/a", A), ("/b", B)], PCR)
    assert measurement_plan(value(log), log, [("/a", A), ("/b", B)], PCR) == ([], log)


def test_only_the_changed_artefact_is_measured_again():
    _, log = measurement_plan(ZERO_PCR, None, [("/a", A), ("/b", B)], PCR)
    to_extend, log2 = measurement_plan(value(log), log, [("/a", A), ("/b", C)], PCR)
    assert to_extend == [("/b", C)] and log2[-1] == (PCR, "/b", C)
    # and then it is stable again: no growth on every run
    assert measurement_plan(value(log2), log2, [("/a", A), ("/b", C)], PCR)[0] == []


def test_a_tpm_restart_starts_the_log_again():
    _, log = measurement_plan(ZERO_PCR, None, [("/a", A)], PCR)
    assert measurement_plan(ZERO_PCR, log, [("/a", A)], PCR) == ([("/a", A)], [(PCR, "/a", A)])


def test_node_and_verifier_agree_on_event_hashes_and_the_log(tmp_path):
    path = str(tmp_path / "log" / "measurements.log")
    events = [(PCR, "/etc/with space", A), (PCR, "/usr/bin/x", B)]
    save_log(path, events)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_log(path) == events
    text = read_log_text(path)
    entries = measurements.parse_log(text)
    assert [(e.pcr, e.path, e.digest) for e in entries] == events
    assert measurements.replay(entries) == log_replay(events, PCR) == value(events)
    assert [parse_log_line(line) for line in text.splitlines()] == events


@pytest.mark.parametrize("path", ["etc/x", "/etc/x\nforged line", "/etc/\x1b[2J"])
def test_a_path_that_cannot_be_one_log_field_is_refused(path, tmp_path):
    with pytest.raises(ValueError, match="absolute and free of control characters"):
        save_log(str(tmp_path / "measurements.log"), [(PCR, path, A)])
    assert list(tmp_path.iterdir()) == []
