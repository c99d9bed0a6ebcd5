"""Envoy resources built from a node's configuration, checked by Envoy itself where it matters."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from edgewright.xds.model import parse_source
from edgewright.xds.resources import CLUSTER, ENDPOINT, LISTENER, ROUTE, snapshot, static_resources

SOURCE = {
    "clusters": {"web": {"endpoints": ["10.0.0.1:8080"]}, "dns": {"endpoints": ["resolver.local:53"]}},
    "nodes": {
        "edge-1": {
            "listeners": [
                {
                    "name": "web",
                    "port": 8080,
                    "protocol": "http",
                    "routes": [{"prefix": "/", "cluster": "web"}],
                },
                {"name": "dns", "port": 5353, "protocol": "udp", "cluster": "dns"},
            ]
        }
    },
}


def test_snapshot_version_follows_content_only():
    source = parse_source(SOURCE)
    first, again = snapshot(source.node_config("edge-1")), snapshot(source.node_config("edge-1"))
    assert first.version == again.version
    assert sorted(first.resources[ROUTE]) == ["web"]
    assert [a.cluster_name for a in first.of_type(ENDPOINT, ["web"])] == ["web"]
    assert [c.name for c in first.of_type(CLUSTER)] == ["dns", "web"]
    changed = dict(SOURCE, clusters={**SOURCE["clusters"], "web": {"endpoints": ["10.0.0.2:8080"]}})
    assert snapshot(parse_source(changed).node_config("edge-1")).version != first.version
    assert first.of_type(LISTENER, ["web"])[0].name == "web"


def test_static_resources_are_a_config_envoy_accepts(tmp_path):
    envoy = shutil.which("envoy")
    if envoy is None:
        pytest.skip("envoy is not on PATH")
    resources = static_resources(parse_source(SOURCE).node_config("edge-1"))
    assert [c["type"] for c in resources["clusters"]] == ["STATIC", "STRICT_DNS"]
    config = tmp_path / "envoy.json"
    config.write_text(json.dumps({"static_resources": resources}))
    proc = subprocess.run([envoy, "--mode", "validate", "-c", str(config)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
