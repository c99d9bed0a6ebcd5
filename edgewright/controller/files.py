"""Files the controller writes: whole or not at all."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path: str | os.PathLike, text: str, mode: int = 0o640, dir_mode: int = 0o750) -> bool:
    """Make PATH hold TEXT, by a rename so a reader sees the old file or the new one, never half of one.

    Creates missing directories with DIR_MODE. Returns False (and writes nothing) when PATH holds TEXT
    already with MODE, so callers report `changed` truthfully.
    """
    target = Path(path)
    try:
        if target.read_text() == text and (target.stat().st_mode & 0o7777) == mode:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    target.parent.mkdir(mode=dir_mode, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def json_text(record: Any) -> str:
    """RECORD as the controller's records are written: sorted, indented, one trailing newline."""
    return json.dumps(record, indent=2, sort_keys=True) + "\n"


def write_json(path: str | os.PathLike, record: Any, mode: int = 0o640) -> bool:
    """write_atomic of RECORD as JSON; False when the file holds it already."""
    return write_atomic(path, json_text(record), mode=mode)
