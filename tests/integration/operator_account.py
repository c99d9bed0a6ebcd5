"""A non-root operator for tests: its account, the way to run a command as it, and what it must be let
through on this machine (which keeps its Python environment under root's home)."""

from __future__ import annotations

import hashlib
import pwd
import stat
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

OPERATOR = "ewoperator"


def ensure_operator() -> pwd.struct_passwd:
    """The operator's account, made once: an ordinary user, no sudo, its own home."""
    try:
        return pwd.getpwnam(OPERATOR)
    except KeyError:
        subprocess.run(
            ["useradd", "--create-home", "--user-group", "--shell", "/bin/sh", OPERATOR], check=True
        )
        return pwd.getpwnam(OPERATOR)


def traversable(paths: list[Path]) -> list[tuple[Path, int]]:
    """Let others pass through (not list) the directories above PATHS that stop them (root's home, where
    this machine keeps its Python environment and build caches); returns what to restore."""
    changed = []
    for path in paths:
        for directory in [*reversed(path.resolve().parents), path.resolve()]:
            mode = directory.stat().st_mode
            if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
                directory.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
                changed.append((directory, stat.S_IMODE(mode)))
    return changed


def snapshot(directory: Path) -> dict[str, str] | None:
    """Every file under DIRECTORY with a digest of its content; None when there is no DIRECTORY."""
    if not directory.exists():
        return None
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def as_operator(account: pwd.struct_passwd, *argv: str) -> subprocess.CompletedProcess:
    """ARGV run as the operator with a clean environment: its own HOME, this tree's code and Python."""
    env = {
        "HOME": account.pw_dir,
        "USER": account.pw_name,
        "LOGNAME": account.pw_name,
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "LANG": "C.UTF-8",
    }
    return subprocess.run(
        ["runuser", "-u", account.pw_name, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )


def let_through(*paths: Path) -> list[tuple[Path, int]]:
    """traversable() for what the operator runs: this Python, this tree, and PATHS."""
    python = Path(sys.executable)
    return traversable([python.parent, python.resolve().parent, ROOT, *paths])


def restore(changed: list[tuple[Path, int]]) -> None:
    for directory, mode in reversed(changed):
        directory.chmod(mode)
