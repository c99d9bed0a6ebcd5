"""Software TPMs on this host for tests: real swtpm processes on loopback, each with its own state."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from edgewright.attest.manufacturer import Manufacturer

# The range these tests may use; each TPM takes two ports (commands, control).
PORT_RANGE = range(23200, 23300, 2)


@dataclass
class SoftwareTpm:
    port: int
    state: Path
    process: subprocess.Popen

    @property
    def tcti(self) -> str:
        return f"swtpm:host=127.0.0.1,port={self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _free(port: int) -> bool:
    with socket.socket() as s:
        return (
            s.connect_ex(("127.0.0.1", port)) != 0
            and socket.socket().connect_ex(("127.0.0.1", port + 1)) != 0
        )


def start(state: Path, manufacturer: Manufacturer | None = None) -> SoftwareTpm:
    """Start a swtpm on the first free port pair of PORT_RANGE, ready for commands. With MANUFACTURER, a new
    TPM is first made by it (an EK certificate in its NV index); without, the TPM has no EK certificate."""
    if shutil.which("swtpm") is None:
        raise RuntimeError("swtpm is not installed (scripts/setup.d/20-tpm.sh installs it)")
    if manufacturer is not None and not (state.exists() and any(state.iterdir())):
        manufacturer.manufacture(state)
    state.mkdir(parents=True, exist_ok=True)
    for port in PORT_RANGE:
        if not _free(port):
            continue
        proc = subprocess.Popen(
            [
                "swtpm",
                "socket",
                "--tpm2",
                "--server",
                f"type=tcp,port={port},bindaddr=127.0.0.1",
                "--ctrl",
                f"type=tcp,port={port + 1},bindaddr=127.0.0.1",
                "--tpmstate",
                f"dir={state.resolve()}",
                "--flags",
                "not-need-init,startup-clear",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(100):
            if proc.poll() is not None:
                break
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return SoftwareTpm(port, state, proc)
            time.sleep(0.02)
        if proc.poll() is None:
            proc.terminate()
            proc.wait()
    raise RuntimeError("no free port pair for swtpm in 23200-23299")
