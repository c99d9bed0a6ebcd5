"""Whole-file writes, on a node and on the controller (plugins/module_utils/edgewright_files, which the
controller imports as edgewright.controller.files)."""

from __future__ import annotations

import os
import stat

import pytest
from edgewright_files import write_atomic, write_json

import edgewright.controller.files


def test_the_controller_writes_with_the_nodes_writer():
    assert os.path.samefile(edgewright.controller.files.__file__, write_atomic.__code__.co_filename)


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


def test_a_private_file_has_its_mode_and_group_before_a_byte_is_written(tmp_path, monkeypatch):
    path = tmp_path / "k" / "key"
    seen = []
    write = os.fdopen

    def watching(fd, *args, **kwargs):
        handle = write(fd, *args, **kwargs)
        real = handle.write

        def first_write(data):
            status = os.fstat(handle.fileno())
            seen.append((stat.S_IMODE(status.st_mode), status.st_gid))
            return real(data)

        handle.write = first_write
        return handle

    monkeypatch.setattr(os, "fdopen", watching)
    group = os.getgid()
    # Not 0600, the mode a temporary file starts with: what the writer sets is what a reader could see.
    assert write_atomic(path, b"secret\n", mode=0o640, group=group) is True
    assert seen == [(0o640, group)]
    assert path.read_bytes() == b"secret\n" and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert write_atomic(path, "secret\n", mode=0o640, group=group) is False
