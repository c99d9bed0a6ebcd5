"""KIND: the generated cluster config, and the dynamic provider's behaviour where kind cannot run (no Docker
here): a missing kind CLI is a clear error, and any change of config means a new cluster."""

from __future__ import annotations

import pytest

from edgewright.cloudlet.backends.kind.provider import KindClusterProvider, KindError, kind_config
from edgewright.cloudlet.config import parse_cloudlet
from edgewright.cloudlet.plan import plan_cloudlet


def plan(cluster_size: int = 2):
    cloudlet = {
        "name": "dev",
        "clusterSize": cluster_size,
        "publicIps": ["127.0.0.1", "127.0.0.2"],
        "apps": [
            {"name": "web", "ports": "tcp:8080-8081"},
            {"name": "dns", "ports": "udp:5353", "dedicatedLb": True},
        ],
    }
    return plan_cloudlet(parse_cloudlet("kind", cloudlet))


def test_config_maps_every_lb_port_on_its_public_address():
    config = kind_config(plan(), "kindest/node:v1.31.2")
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4" and config["name"] == "dev-k8s"
    control_plane, worker = config["nodes"]
    assert (control_plane["role"], worker["role"]) == ("control-plane", "worker")
    assert control_plane["extraPortMappings"] == [
        {"containerPort": 8080, "hostPort": 8080, "listenAddress": "127.0.0.1", "protocol": "TCP"},
        {"containerPort": 8081, "hostPort": 8081, "listenAddress": "127.0.0.1", "protocol": "TCP"},
        {"containerPort": 5353, "hostPort": 5353, "listenAddress": "127.0.0.2", "protocol": "UDP"},
    ]
    assert "extraPortMappings" not in worker
    assert [node["role"] for node in kind_config(plan(1), "img")["nodes"]] == ["control-plane"]


def test_a_missing_kind_cli_is_named():
    props = {"name": "dev-k8s", "config": "kind: Cluster\n", "binary": "/nonexistent/kind"}
    with pytest.raises(KindError, match="the kind CLI '/nonexistent/kind' is not installed"):
        KindClusterProvider().create(props)


def test_a_changed_config_replaces_the_cluster():
    provider = KindClusterProvider()
    old = {"name": "dev-k8s", "config": "a", "binary": "kind", "kubeconfig": "k"}
    assert not provider.diff("dev-k8s", old, {**old}).changes
    changed = provider.diff("dev-k8s", old, {**old, "config": "b"})
    assert changed.replaces == ["config"] and changed.delete_before_replace
