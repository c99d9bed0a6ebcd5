"""`edgewright xds serve` feeding a real Envoy over ADS: traffic flows, a new snapshot reroutes it live, and a
broken source edit leaves the running configuration alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import pytest
import yaml
from l7_peers import MutualTls, ca_and_server_cert, http_get, udp_ask, wait_for

from edgewright.xds.model import parse_source
from edgewright.xds.resources import ads_bootstrap
from edgewright.xds.server import SnapshotCache, SourceWatcher, start_server

# The fixtures (envoy_factory, backends) live in l7_fixtures rather than in a conftest.py.
pytest_plugins = ["l7_fixtures"]

REPO = Path(__file__).resolve().parents[3]


def _source(http_cluster: str) -> dict:
    return {
        "clusters": {
            "web-v1": {"endpoints": ["127.0.0.1:18101"]},
            "web-v2": {"endpoints": ["127.0.0.1:18102"]},
            "echo": {"endpoints": ["127.0.0.1:18103"]},
        },
        "nodes": {
            "edge-1": {
                "listeners": [
                    {
                        "name": "web",
                        "address": "127.0.0.1",
                        "port": 18180,
                        "protocol": "http",
                        "routes": [{"prefix": "/", "cluster": http_cluster}],
                    },
                    {
                        "name": "echo",
                        "address": "127.0.0.1",
                        "port": 18181,
                        "protocol": "udp",
                        "cluster": "echo",
                    },
                ]
            }
        },
    }


def test_envoy_takes_listeners_from_ads_and_switches_routing_live(tmp_path, backends, envoy_factory):
    backends("http", 18101, "v1")
    backends("http", 18102, "v2")
    backends("udp", 18103, "echo")
    source_file = tmp_path / "source.yaml"
    source_file.write_text(yaml.safe_dump(_source("web-v1")))
    cache = SnapshotCache()
    errors: list[str] = []
    watcher = SourceWatcher(source_file, cache, on_error=errors.append)
    assert watcher.poll()
    tls = MutualTls(tmp_path)
    server, port = start_server(cache, "127.0.0.1:0", tls=tls.server_tls)
    try:
        envoy = envoy_factory(
            ads_bootstrap("edge-1", ("127.0.0.1", port), 18901, **tls.node_settings("edge-1")), 18901
        )
        assert wait_for(lambda: http_get("http://127.0.0.1:18180/") == "v1", "routing to web-v1")
        assert wait_for(lambda: udp_ask(18181, b"ping") == b"echo:ping", "UDP through the udp listener")
        first_version = cache.get("edge-1").version

        # A new snapshot: the same listener now leads to web-v2, with no restart of Envoy.
        pid = envoy.proc.pid
        source_file.write_text(yaml.safe_dump(_source("web-v2")))
        os.utime(source_file, ns=(time.time_ns(), time.time_ns() + 1))
        assert watcher.poll()
        assert cache.get("edge-1").version != first_version
        assert wait_for(lambda: http_get("http://127.0.0.1:18180/") == "v2", "routing to switch to web-v2")
        assert envoy.proc.pid == pid and envoy.proc.poll() is None

        # A broken edit is refused by the server and the nodes keep the last good snapshot.
        version = cache.get("edge-1").version
        source_file.write_text(
            "nodes:\n  edge-1:\n    listeners:\n      - {name: web, port: 70000, cluster: x}\n"
        )
        assert not watcher.poll()
        assert "port must be an integer from 1 to 65535" in errors[-1]
        assert cache.get("edge-1").version == version
        assert http_get("http://127.0.0.1:18180/") == "v2"
        # Envoy runs the routes of the version the server holds.
        assert version in envoy.admin("config_dump?resource=dynamic_route_configs")
    finally:
        server.stop(grace=0)


def test_serve_command_refuses_a_bad_source_and_serves_a_good_one(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "clusters": {"a": {"endpoints": ["10.0.0.1:80"]}},
                "nodes": {
                    "n": {"listeners": [{"name": "x", "port": 80, "protocol": "sctp", "cluster": "a"}]}
                },
            }
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "edgewright.cli", "xds", "serve", "--source", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert proc.returncode == 1
    assert "unknown protocol 'sctp'" in proc.stderr

    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(_source("web-v1")))
    serve = [sys.executable, "-m", "edgewright.cli", "xds", "serve", "--source", str(good)]
    # Without mutual TLS the server refuses to start unless plaintext is asked for by name.
    tls = MutualTls(tmp_path)
    for missing in ([], ["--tls-cert", str(tls.server_tls.cert), "--tls-key", str(tls.server_tls.key)]):
        proc = subprocess.run([*serve, *missing], capture_output=True, text=True, env=env, timeout=30)
        assert proc.returncode == 64
        assert "mutual TLS needs --tls-cert, --tls-key and --client-ca" in proc.stderr
        assert "--insecure-plaintext" in proc.stderr

    mtls = [
        "--tls-cert",
        str(tls.server_tls.cert),
        "--tls-key",
        str(tls.server_tls.key),
        "--client-ca",
        str(tls.server_tls.client_ca),
    ]
    server = subprocess.Popen(
        [*serve, *mtls, "--listen", "127.0.0.1:18190"], stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        import grpc

        credentials = tls.credentials("edge-1")
        channel = grpc.secure_channel("127.0.0.1:18190", credentials)
        grpc.channel_ready_future(channel).result(timeout=15)
        channel.close()
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(10) == 0


def test_envoy_takes_ads_over_tls_only_from_a_server_its_ca_vouches_for(tmp_path, backends, envoy_factory):
    backends("http", 18101, "v1")
    tls = MutualTls(tmp_path)
    other_ca, _, _ = ca_and_server_cert(tmp_path, "other", "127.0.0.1")
    source = {
        "clusters": {"web-v1": {"endpoints": ["127.0.0.1:18101"]}},
        "nodes": {
            name: {
                "listeners": [
                    {
                        "name": "web",
                        "address": "127.0.0.1",
                        "port": port,
                        "protocol": "http",
                        "routes": [{"prefix": "/", "cluster": "web-v1"}],
                    }
                ]
            }
            for name, port in (("trusting", 18182), ("misled", 18183))
        },
    }
    cache = SnapshotCache(parse_source(source))
    server, port = start_server(cache, "127.0.0.1:0", tls=tls.server_tls)
    try:
        envoy_factory(
            ads_bootstrap("trusting", ("127.0.0.1", port), 18902, **tls.node_settings("trusting")), 18902
        )
        misled = envoy_factory(
            ads_bootstrap(
                "misled",
                ("127.0.0.1", port),
                18903,
                **{**tls.node_settings("misled"), "tls_ca": str(other_ca)},
            ),
            18903,
            ready=False,
        )
        assert wait_for(lambda: http_get("http://127.0.0.1:18182/") == "v1", "routing over TLS ADS")

        # The node given another CA refuses the server's certificate and takes no configuration from it.
        def rejected() -> int:
            stat = misled.admin("stats?filter=^cluster.xds.ssl.fail_verify_error$")
            return int(stat.split(":")[1]) if ":" in stat else 0

        assert wait_for(rejected, "the misled node to reject the server's certificate")
        assert '"dynamic_listeners"' not in misled.admin("config_dump?resource=dynamic_listeners")
        with pytest.raises(urllib.error.HTTPError):  # 503: still waiting for a configuration
            misled.admin("ready")
    finally:
        server.stop(grace=0)
