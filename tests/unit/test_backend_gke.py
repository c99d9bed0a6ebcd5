"""MOCK tests of the GKE backend (pulumi.runtime.Mocks; Google Cloud cannot run here)."""

from __future__ import annotations

import json

import pytest

from edgewright.loadbalancer.portmap import PortMap
from tests.pulumi_mocks import evaluate

SERVICE = "kubernetes:core/v1:Service"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def settings(redundancy: str = "vip") -> dict:
    return {
        "orchestrator": "gke",
        "cloudlet": {
            "name": "gke",
            "redundancy": redundancy,
            "clusterSize": 4,
            "publicIps": ["203.0.113.40", "203.0.113.41"],
            "apps": [
                {"name": "web", "ports": "tcp:80,tcp:443"},
                {"name": "api", "ports": "tcp:80", "namespace": "api"},
                {"name": "game", "ports": "udp:7777,tcp:7777", "dedicatedLb": True},
            ],
        },
        "gke": {
            "project": "edge",
            "region": "europe-west3",
            "location": "europe-west3-a",
            "platformImage": "p:1",
        },
    }


@pytest.fixture(scope="module")
def gke():
    return evaluate(settings())


def test_cluster_and_node_pool(gke):
    mocks, outputs = gke
    cluster = mocks.named("gke-k8s", "gcp:container/cluster:Cluster").inputs
    assert cluster["location"] == "europe-west3-a" and cluster["removeDefaultNodePool"] is True
    pool = mocks.named("gke-k8s-nodes").inputs
    assert pool["nodeCount"] == 4 and pool["nodeConfig"]["machineType"] == "e2-standard-4"
    assert outputs["kubernetes"] == {"endpoint": "https://203.0.113.200", "nodes": []}


def test_each_lb_has_a_reserved_static_ip_on_its_service(gke):
    mocks, outputs = gke
    addresses = {a.name: a.inputs for a in mocks.of_type("gcp:compute/address:Address")}
    assert {name: a["address"] for name, a in addresses.items()} == {
        "gke-rootlb-ip": "203.0.113.40",
        "gke-game-lb-ip": "203.0.113.41",
    }
    assert all(a["addressType"] == "EXTERNAL" and a["region"] == "europe-west3" for a in addresses.values())
    services = {s.name: s.inputs["spec"] for s in mocks.of_type(SERVICE)}
    assert services["gke-rootlb-envoy"]["loadBalancerIP"] == "203.0.113.40"
    assert services["gke-game-lb-envoy"]["loadBalancerIP"] == "203.0.113.41"
    assert all(spec["type"] == "LoadBalancer" for spec in services.values())
    assert outputs["rootLb"]["publicIp"] == "203.0.113.40"


def test_service_ports_equal_the_port_map(gke):
    mocks, outputs = gke
    for lb in [outputs["rootLb"], *outputs["dedicatedLbs"]]:
        spec = mocks.named(f"{lb['name']}-envoy", SERVICE).inputs["spec"]
        ports = {(p["protocol"].lower(), int(p["port"])) for p in spec["ports"]}
        port_map = PortMap.from_dict(lb["portMap"])
        assert ports == {(m.protocol.value, public) for m in port_map.mappings for public, _ in m.pairs()}


def test_envoy_carries_remapped_ports_to_the_app_services(gke):
    mocks, _ = gke
    config = json.loads(
        mocks.named("gke-rootlb-envoy", "kubernetes:core/v1:ConfigMap").inputs["data"]["envoy.yaml"]
    )
    endpoints = {}
    for cluster in config["static_resources"]["clusters"]:
        address = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
        endpoints[cluster["name"]] = (
            address["socket_address"]["address"],
            address["socket_address"]["port_value"],
        )
    # Where a client reaching each public port ends up: listener -> its cluster -> the app's Service.
    routes = {}
    for listener in config["static_resources"]["listeners"]:
        proxy = listener["filter_chains"][0]["filters"][0]["typed_config"]
        routes[listener["name"]] = endpoints[proxy["cluster"]]
    assert routes["api-tcp-10000"] == ("api.api.svc.cluster.local", 80)
    assert routes["web-tcp-80"] == ("web.default.svc.cluster.local", 80)


def test_a_redundant_lb_runs_two_envoys_and_a_single_one():
    mocks, _ = evaluate(settings("vip"))
    assert mocks.named("gke-rootlb-envoy", DEPLOYMENT).inputs["spec"]["replicas"] == 2
    mocks, _ = evaluate(settings("single"))
    assert mocks.named("gke-rootlb-envoy", DEPLOYMENT).inputs["spec"]["replicas"] == 1


def test_the_platform_has_no_service(gke):
    mocks, _ = gke
    platform = mocks.named("gke-platform", DEPLOYMENT).inputs
    assert platform["metadata"]["namespace"] == "edgewright-platform"
    assert not [
        s for s in mocks.of_type(SERVICE) if s.inputs["metadata"]["namespace"] == "edgewright-platform"
    ]
