"""The controller adapter's pieces: where the operator's directories are, and whole-file writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from edgewright.controller.dirs import Directories
from edgewright.controller.files import write_atomic, write_json


def test_the_defaults_are_under_the_operators_home():
    dirs = Directories.from_environment({})
    assert dirs.home == Path.home() / ".cache" / "edgewright"
    assert dirs.state == Path.home() / ".local" / "state" / "edgewright"
    assert dirs.verifier == dirs.state / "verifier"


def test_the_environment_names_the_cache_and_the_verifier():
    dirs = Directories.from_environment({"EDGEWRIGHT_HOME": "/h", "EDGEWRIGHT_VERIFIER_DIR": "/v"})
    assert dirs == Directories(Path("/h"), Path.home() / ".local" / "state" / "edgewright", Path("/v"))


def test_the_inventory_overrides_the_environment():
    env = {"EDGEWRIGHT_VERIFIER_DIR": "/v"}
    assert Directories.from_vars({"edgewright_verifier_dir": "/inv/v"}, env).verifier == Path("/inv/v")
    # As the roles' defaults take it: a state directory alone does not move the verifier.
    assert Directories.from_vars({"edgewright_state_dir": "/inv/s"}, env).verifier == Path("/v")
    assert Directories.from_vars({}, env).verifier == Path("/v")
    assert Directories.from_vars({"edgewright_state_dir": "~/s"}, {}).state == Path.home() / "s"


def test_a_write_is_whole_reports_change_and_keeps_the_mode(tmp_path):
    path = tmp_path / "a" / "b" / "record.json"
    assert write_json(path, {"b": 1, "a": [1]}) is True
    assert path.read_text() == '{\n  "a": [\n    1\n  ],\n  "b": 1\n}\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750
    assert write_json(path, {"a": [1], "b": 1}) is False
    path.chmod(0o644)
    assert write_atomic(path, path.read_text()) is True and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in path.parent.iterdir()] == ["record.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "record.json"
    write_atomic(path, "old\n")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, "new\n")
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["record.json"]
