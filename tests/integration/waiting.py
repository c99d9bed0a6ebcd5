"""Waiting on real peers and reading Ansible's recap: shared by the lab tests of every part."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def wait_for(check: Callable[[], object], what: str, timeout: float = 15.0, interval: float = 0.1):
    """Call CHECK until it returns a truthy value (exceptions count as not yet); fail naming WHAT."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
            last = result
        except Exception as err:  # the peer is not there yet
            last = err
        time.sleep(interval)
    pytest.fail(f"timed out waiting for {what} (last: {last!r})")


def changed_count(output: str) -> int:
    """The sum of changed= over the play recap."""
    recap = output.split("PLAY RECAP", 1)[1]
    return sum(int(part.split("=")[1]) for part in recap.split() if part.startswith("changed="))
