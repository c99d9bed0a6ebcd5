"""Run vcsim, the vSphere API simulator, for the vSphere stack's tests and for trying the stack locally.

scripts/setup.d/30-vsphere.sh builds it into ~/.cache/edgewright/bin. Its default inventory has datacenter
DC0, cluster DC0_C0, the networks "VM Network" and DC0_DVPG0, and VMs such as DC0_C0_RP0_VM0 to clone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from edgewright.cloudlet.backends.vsphere.providers import Connection
from edgewright.controller.dirs import Directories

START_TIMEOUT_SECONDS = 10.0


class VcsimError(RuntimeError):
    """vcsim is missing or did not start."""


def vcsim_binary() -> str:
    """$EDGEWRIGHT_VCSIM, else the one scripts/setup builds, else vcsim on PATH."""
    for candidate in (
        os.environ.get("EDGEWRIGHT_VCSIM", ""),
        str(Directories.from_environment().home / "bin" / "vcsim"),
        shutil.which("vcsim") or "",
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    raise VcsimError("vcsim is not built: run scripts/setup (scripts/setup.d/30-vsphere.sh builds it)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_vcsim(port: int | None = None) -> Iterator[Connection]:
    """A vcsim on 127.0.0.1 for as long as the block runs; yields how to connect to it."""
    port = port or free_port()
    process = subprocess.Popen(
        [vcsim_binary(), "-l", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise VcsimError(f"vcsim did not listen on 127.0.0.1:{port}") from None
                time.sleep(0.1)
        yield Connection("127.0.0.1", "user", "pass", port=port, insecure=True)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
