"""Waiting on real peers and reading Ansible's recap: shared by the lab tests of every part."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import pytest

# What a peer that is not there yet makes a check raise: a refused or reset connection, an HTTP error
# status, a command on a node that does not succeed yet. Anything else (a TypeError, a failed assertion,
# a missing key) is a broken check, which fails the test at once instead of after the timeout.
NOT_YET: tuple[type[BaseException], ...] = (OSError, subprocess.SubprocessError)


def wait_for(
    check: Callable[[], object],
    what: str,
    timeout: float = 15.0,
    interval: float = 0.1,
    not_yet: tuple[type[BaseException], ...] = NOT_YET,
):
    """Call CHECK until it returns a truthy value; an exception in NOT_YET counts as not yet, any other
    propagates. Fail naming WHAT, and the last result or exception, when TIMEOUT passes."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
            last = result
        except not_yet as err:  # the peer is not there yet
            last = err
        time.sleep(interval)
    pytest.fail(f"timed out waiting for {what} (last: {last!r})")


def recap_total(output: str, counter: str) -> int:
    """The sum of COUNTER= (changed, failed, unreachable, ...) over every host of the play recap; a run
    without a recap fails the test rather than counting as zero."""
    if "PLAY RECAP" not in output:
        pytest.fail(f"no play recap in the output:\n{output[-2000:]}")
    recap = output.rsplit("PLAY RECAP", 1)[1]
    prefix = f"{counter}="
    return sum(int(part.split("=")[1]) for part in recap.split() if part.startswith(prefix))


def changed_count(output: str) -> int:
    """The sum of changed= over the play recap."""
    return recap_total(output, "changed")


def failed_count(output: str) -> int:
    """Hosts' failed= and unreachable= summed over the play recap."""
    return recap_total(output, "failed") + recap_total(output, "unreachable")
