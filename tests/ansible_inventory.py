"""Run ansible-inventory through the project's ansible.cfg, as an operator's run would, and read its listing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def plain(value):
    """ansible-inventory marks values read from outside as unsafe (never templated): unwrap them."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def ansible_inventory(inventory: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``ansible-inventory -i INVENTORY --list`` in the repository, with ``env`` added to the environment."""
    env = {**os.environ, **(env or {}), "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    binary = shutil.which("ansible-inventory") or str(Path(sys.executable).parent / "ansible-inventory")
    return subprocess.run(
        [binary, "-i", str(inventory), "--list"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
