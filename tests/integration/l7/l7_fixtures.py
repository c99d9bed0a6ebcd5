"""Fixtures of the L7 tests (loaded with `pytest_plugins = ["l7_fixtures"]`): Envoy processes and backends,
stopped when the test ends."""

from __future__ import annotations

import socketserver
from collections.abc import Iterator

import pytest
from l7_peers import LocalEnvoy, start_http, start_udp


@pytest.fixture
def envoy_factory(tmp_path) -> Iterator:
    started: list[LocalEnvoy] = []

    def start(bootstrap: dict, admin_port: int, ready: bool = True) -> LocalEnvoy:
        workdir = tmp_path / f"envoy-{admin_port}"
        workdir.mkdir()
        envoy = LocalEnvoy(workdir, bootstrap, admin_port, ready)
        started.append(envoy)
        return envoy

    yield start
    for envoy in started:
        envoy.stop()


@pytest.fixture
def backends() -> Iterator:
    servers: list[socketserver.BaseServer] = []

    def start(kind: str, port: int, reply: str, host: str = "127.0.0.1") -> socketserver.BaseServer:
        server = (start_http if kind == "http" else start_udp)(port, reply, host)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
