"""A thin, typed wrapper around the podman CLI: the lab's only way to touch containers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from importlib import resources
from typing import IO, Any

from edgewright.errors import EdgewrightError


class PodmanError(EdgewrightError, RuntimeError):
    """podman is missing, unusable, or a podman command failed; the message says which."""


def podman_env() -> dict[str, str]:
    """The environment podman runs in: the lab's containers.conf unless the operator chose their own."""
    env = dict(os.environ)
    if "CONTAINERS_CONF" not in env:
        env["CONTAINERS_CONF"] = str(resources.files("edgewright.lab") / "containers.conf")
    return env


def run(
    args: Sequence[str], *, check: bool = True, stdin: IO[bytes] | None = None
) -> subprocess.CompletedProcess:
    """Run `podman ARGS`, raising PodmanError with podman's own message when it fails."""
    exe = shutil.which("podman")
    if exe is None:
        raise PodmanError("podman is not installed (on Debian: apt-get install podman runc)")
    proc = subprocess.run([exe, *args], capture_output=True, stdin=stdin, env=podman_env(), check=False)
    if check and proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip() or proc.stdout.decode(errors="replace").strip()
        raise PodmanError(f"podman {' '.join(args[:2])} failed: {msg}")
    return proc


def text(args: Sequence[str]) -> str:
    return run(args).stdout.decode().strip()


def as_json(args: Sequence[str]) -> Any:
    out = text(args)
    return json.loads(out) if out else []


def ensure_usable() -> None:
    """Fail clearly unless podman runs here with root privileges (the lab needs rootful podman)."""
    info = run(["info", "--format", "json"], check=False)
    if info.returncode != 0:
        raise PodmanError(
            f"podman is installed but not usable: {info.stderr.decode(errors='replace').strip()}"
        )
    if json.loads(info.stdout).get("host", {}).get("security", {}).get("rootless"):
        raise PodmanError(
            "the lab needs rootful podman (static addresses, TUN devices, NET_ADMIN): run as root"
        )


def exists(kind: str, name: str) -> bool:
    """Whether a container, network or image called NAME exists."""
    return run([kind, "exists", name], check=False).returncode == 0


def labels(kind: str, name: str) -> dict[str, str]:
    """The labels of a container or network (empty when it has none)."""
    data = as_json([kind, "inspect", name])
    item = data[0] if isinstance(data, list) else data
    if kind == "container":
        return item.get("Config", {}).get("Labels") or {}
    return item.get("labels") or {}
