"""Files edgewright writes, on a node and on the controller: whole or not at all (stdlib only: runs on the
node). The controller imports this same file as edgewright.controller.files (a link to it), so the node's
records, its mesh keys and the controller's records are all written the one way."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import Any


def write_atomic(
    path: str | os.PathLike,
    data: str | bytes,
    mode: int = 0o640,
    dir_mode: int = 0o750,
    group: int | None = None,
) -> bool:
    """Make PATH hold DATA (text, as UTF-8, or bytes) with MODE, and GROUP (a gid) when given, by a rename:
    a reader sees the old file or the new one, never half of one. The new file has MODE and GROUP before
    any byte is written, so a key is never readable by others, not even half written.

    Creates missing directories with DIR_MODE. Returns False (and writes nothing) when PATH holds DATA
    already with MODE and GROUP, so callers report `changed` truthfully.
    """
    path = os.fspath(path)
    content = data.encode("utf-8") if isinstance(data, str) else data
    if _holds(path, content, mode, group):
        return False
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=dir_mode, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.")
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            if group is not None:
                os.fchown(out.fileno(), -1, group)
            out.write(content)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return True


def _holds(path: str, content: bytes, mode: int, group: int | None) -> bool:
    """Whether the file at PATH has CONTENT, MODE and (unless None) GROUP."""
    try:
        with open(path, "rb") as f:
            if f.read() != content:
                return False
            status = os.fstat(f.fileno())
    except FileNotFoundError:
        return False
    return (status.st_mode & 0o7777) == mode and (group is None or status.st_gid == group)


def json_text(record: Any) -> str:
    """RECORD as edgewright's JSON records are written: sorted, indented, one trailing newline."""
    return json.dumps(record, indent=2, sort_keys=True) + "\n"


def write_json(path: str | os.PathLike, record: Any, mode: int = 0o640) -> bool:
    """write_atomic of RECORD as JSON; False when the file holds it already."""
    return write_atomic(path, json_text(record), mode=mode)
