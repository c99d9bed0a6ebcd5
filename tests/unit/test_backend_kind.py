"""MOCK tests of the KIND backend (pulumi.runtime.Mocks; kind needs Docker, which this machine lacks)."""

from __future__ import annotations

import pytest
import yaml

from tests.pulumi_mocks import evaluate

DYNAMIC = "pulumi-python:dynamic:Resource"


def settings() -> dict:
    return {
        "orchestrator": "kind",
        "cloudlet": {
            "name": "kind",
            "redundancy": "vip",
            "clusterSize": 3,
            "publicIps": ["127.0.0.1", "127.0.0.2"],
            "apps": [
                {"name": "web", "ports": "tcp:8080"},
                {"name": "api", "ports": "tcp:8080"},
                {"name": "echo", "ports": "udp:9053-9054", "dedicatedLb": True},
            ],
        },
        "kind": {"metallbRange": "172.18.255.200-172.18.255.201", "platformImage": "p:1"},
    }


@pytest.fixture(scope="module")
def kind():
    return evaluate(settings())


def test_the_cluster_is_made_from_the_generated_config(kind):
    mocks, outputs = kind
    cluster = mocks.named("kind-k8s", DYNAMIC).inputs
    config = yaml.safe_load(cluster["config"])
    assert [node["role"] for node in config["nodes"]] == ["control-plane", "worker", "worker"]
    mappings = {
        (m["listenAddress"], m["protocol"], m["hostPort"]) for m in config["nodes"][0]["extraPortMappings"]
    }
    assert mappings == {
        ("127.0.0.1", "TCP", 8080),
        ("127.0.0.1", "TCP", 10000),  # api's 8080, remapped
        ("127.0.0.2", "UDP", 9053),
        ("127.0.0.2", "UDP", 9054),
    }
    assert outputs["kubernetes"]["endpoint"] == "https://127.0.0.1:6443"


def test_metallb_holds_the_vips(kind):
    mocks, outputs = kind
    pool = mocks.named("kind-k8s-pool").inputs
    assert pool["spec"]["addresses"] == ["172.18.255.200/32", "172.18.255.201/32"]
    assert mocks.named("kind-k8s-l2").inputs["spec"] == {"ipAddressPools": ["cloudlet"]}
    assert mocks.named("kind-k8s-metallb").inputs["chart"] == "metallb"
    services = {
        s.name: s.inputs["spec"]["loadBalancerIP"] for s in mocks.of_type("kubernetes:core/v1:Service")
    }
    assert services == {"kind-rootlb-envoy": "172.18.255.200", "kind-echo-lb-envoy": "172.18.255.201"}
    assert outputs["rootLb"]["vip"] == "172.18.255.200"


def test_envoy_binds_the_mapped_ports_on_the_control_plane(kind):
    mocks, _ = kind
    spec = mocks.named("kind-rootlb-envoy", "kubernetes:apps/v1:Deployment").inputs["spec"]
    pod = spec["template"]["spec"]
    assert spec["replicas"] == 1
    assert pod["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}
    host_ports = {int(p["hostPort"]) for p in pod["containers"][0]["ports"]}
    assert host_ports == {8080, 10000}


def test_metallb_range_forms():
    from edgewright.cloudlet.backends.kind import metallb_addresses
    from edgewright.cloudlet.config import CloudletConfigError

    assert metallb_addresses("172.18.0.10-172.18.0.12") == ("172.18.0.10", "172.18.0.11", "172.18.0.12")
    assert metallb_addresses("172.18.0.8/30") == ("172.18.0.9", "172.18.0.10")
    for bad, message in [
        ("172.18.0.12-172.18.0.10", "ends before it starts"),
        ("10.0.0.0-10.1.0.0", "more than 1024"),
        ("metallb", "is not an address range"),
    ]:
        with pytest.raises(CloudletConfigError, match=message):
            metallb_addresses(bad)
