"""The measurement plan: what to extend into the PCR so reruns change nothing and changes show."""

from __future__ import annotations

import hashlib

from tpm import ZERO_PCR, measurement_plan, replay

A, B, C = (hashlib.sha256(x).digest() for x in (b"a", b"b", b"c"))


def test_fresh_pcr_extends_every_measurement():
    to_extend, log = measurement_plan(ZERO_PCR, None, [A, B])
    assert to_extend == [A, B]
    assert log == {"base": ZERO_PCR.hex(), "measurements": [A.hex(), B.hex()]}


def test_rerun_with_the_same_artefacts_extends_nothing():
    _, log = measurement_plan(ZERO_PCR, None, [A, B])
    assert measurement_plan(replay(ZERO_PCR, [A, B]), log, [A, B]) == ([], log)


def test_changed_artefact_is_extended_again_and_pcr_leaves_golden():
    _, log = measurement_plan(ZERO_PCR, None, [A, B])
    to_extend, log2 = measurement_plan(replay(ZERO_PCR, [A, B]), log, [A, C])
    assert to_extend == [A, C]
    assert replay(ZERO_PCR, [A, B, A, C]) != replay(ZERO_PCR, [A, C])
    # and then it is stable again: no growth on every run
    assert measurement_plan(replay(ZERO_PCR, [A, B, A, C]), log2, [A, C])[0] == []


def test_reset_pcr_starts_the_log_again():
    _, log = measurement_plan(ZERO_PCR, None, [A, B])
    assert measurement_plan(ZERO_PCR, log, [A, B])[0] == [A, B]


def test_foreign_extension_restarts_from_the_current_value():
    _, log = measurement_plan(ZERO_PCR, None, [A])
    tampered = replay(ZERO_PCR, [A, C])
    to_extend, log2 = measurement_plan(tampered, log, [A])
    assert to_extend == [A] and log2["base"] == tampered.hex()
    assert measurement_plan(replay(tampered, [A]), log2, [A])[0] == []
