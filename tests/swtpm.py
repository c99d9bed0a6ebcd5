"""Software TPMs on this host for tests: real swtpm processes on loopback, each with its own state."""

from __future__ import annotations

import shutil
import socket
import struct
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


def quote_of_no_pcrs(tpm: SoftwareTpm, ak_handle: int, nonce: bytes) -> tuple[bytes, bytes]:
    """A real TPM2_Quote signed by the AK at AK_HANDLE over NONCE and an empty PCR selection (which
    tpm2-tools will not ask for, but a node's own code can): (message, RSASSA signature)."""
    password_session = struct.pack(
        ">IHBH", 0x40000009, 0, 0, 0
    )  # TPM_RS_PW, no nonce, no attributes, no hmac
    parameters = struct.pack(">H", len(nonce)) + nonce + struct.pack(">H", 0x0010) + struct.pack(">I", 0)
    body = (
        struct.pack(">I", ak_handle)
        + struct.pack(">I", len(password_session))
        + password_session
        + parameters
    )
    command = struct.pack(">HII", 0x8002, 10 + len(body), 0x00000158) + body  # TPM_ST_SESSIONS, TPM2_Quote
    with socket.create_connection(("127.0.0.1", tpm.port)) as s:
        s.sendall(command)
        response = b""
        while len(response) < 10 or len(response) < struct.unpack(">I", response[2:6])[0]:
            chunk = s.recv(65536)
            if not chunk:
                break
            response += chunk
    _, _, code = struct.unpack(">HII", response[:10])
    if code != 0:
        raise RuntimeError(f"TPM2_Quote of no PCRs failed: 0x{code:x}")
    at = 14  # header, parameterSize
    (size,) = struct.unpack(">H", response[at : at + 2])
    message = response[at + 2 : at + 2 + size]
    at += 2 + size + 4  # sigAlg, hash
    (size,) = struct.unpack(">H", response[at : at + 2])
    return message, response[at + 2 : at + 2 + size]
