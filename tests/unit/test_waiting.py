"""The lab tests' waiting helper: a peer that is not there yet is waited for, a broken check fails at once."""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.waiting import changed_count, failed_count, wait_for

RECAP = """
PLAY RECAP *********************************************************************
edge-1                     : ok=12   changed=0    unreachable=0    failed=0    skipped=3
edge-2                     : ok=9    changed=2    unreachable=0    failed=1    skipped=1
edge-3                     : ok=0    changed=0    unreachable=1    failed=0    skipped=0
"""


def test_a_peer_that_is_not_there_yet_is_waited_for():
    calls = []

    def check():
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionRefusedError("not listening yet")
        if len(calls) == 2:
            raise subprocess.CalledProcessError(1, ["systemctl", "is-active", "envoy"])
        return "up"

    assert wait_for(check, "the peer", interval=0) == "up"
    assert len(calls) == 3


def test_a_broken_check_fails_at_once_instead_of_timing_out():
    calls = []

    def broken():
        calls.append(1)
        return None + 1

    with pytest.raises(TypeError):
        wait_for(broken, "a broken check", timeout=30, interval=0)
    assert len(calls) == 1


def test_a_timeout_names_what_and_the_last_error():
    def refused():
        raise ConnectionRefusedError("port 9090")

    with pytest.raises(pytest.fail.Exception, match=r"the metrics port.*port 9090"):
        wait_for(refused, "the metrics port", timeout=0.05, interval=0.01)


def test_the_recap_counts_every_host_not_the_first_match():
    assert changed_count(RECAP) == 2
    # "failed=0" appears in the recap, yet two hosts did not converge.
    assert "failed=0" in RECAP
    assert failed_count(RECAP) == 2


def test_output_without_a_recap_fails_rather_than_counting_zero():
    with pytest.raises(pytest.fail.Exception, match="no play recap"):
        changed_count("ERROR! the playbook could not be parsed")
