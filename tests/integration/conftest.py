"""Helpers for tests against real peers on this machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def edgewright(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the edgewright CLI as a user would, in the project directory."""
    return subprocess.run(
        [sys.executable, "-m", "edgewright.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture
def lab_home(tmp_path, monkeypatch):
    """A private EDGEWRIGHT_HOME, so a test's lab keys never mix with the operator's."""
    home = tmp_path / "home"
    monkeypatch.setenv("EDGEWRIGHT_HOME", str(home))
    return home
