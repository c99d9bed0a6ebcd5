"""Clusters that follow Kubernetes Services: the source names a Service port, the endpoints come from its
EndpointSlices (only ready ones, only IP addresses, only the matching port), and a change wakes exactly the
nodes whose clusters follow that Service."""

from __future__ import annotations

import queue

import pytest

from edgewright.xds.kube import ClusterView, ready_endpoints
from edgewright.xds.model import Endpoint, ServiceRef, SourceError, parse_source
from edgewright.xds.resources import CLUSTER, ENDPOINT, static_resources
from edgewright.xds.server import SnapshotCache

WEB = ServiceRef("default", "web", 80)


def service(name="web", namespace="default", ports=({"name": "http", "port": 80, "targetPort": 8080},)):
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {"ports": list(ports)}}


def endpoint_slice(
    name, addresses, *, ready=True, port_name="http", port=8080, service_name="web", family="IPv4"
):
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": family,
        "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": [a], "conditions": {"ready": ready}} for a in addresses],
    }


def test_ready_endpoints_take_the_target_port_of_the_named_service_port():
    slices = [endpoint_slice("web-a", ["10.244.1.5", "10.244.2.7"]), endpoint_slice("web-b", ["10.244.3.2"])]
    assert ready_endpoints(service(), slices, 80) == (
        Endpoint("10.244.1.5", 8080),
        Endpoint("10.244.2.7", 8080),
        Endpoint("10.244.3.2", 8080),
    )
    assert ready_endpoints(service(), slices, "http") == ready_endpoints(service(), slices, 80)


def test_what_is_not_ready_or_not_an_address_or_another_port_does_not_count():
    slices = [
        endpoint_slice("a", ["10.244.1.5"], ready=False),
        endpoint_slice("b", ["web.example.com"], family="FQDN"),
        endpoint_slice("c", ["10.244.1.9"], port_name="metrics", port=9100),
        endpoint_slice("d", ["not an address"]),
        endpoint_slice("e", ["10.244.1.6"], port=0),
    ]
    assert ready_endpoints(service(), slices, 80) == ()
    # Readiness unknown counts as ready, as kube-proxy counts it.
    unknown = endpoint_slice("f", ["10.244.1.7"])
    del unknown["endpoints"][0]["conditions"]
    assert ready_endpoints(service(), [unknown], 80) == (Endpoint("10.244.1.7", 8080),)


def test_a_missing_service_or_port_has_no_endpoints():
    slices = [endpoint_slice("a", ["10.244.1.5"])]
    assert ready_endpoints(None, slices, 80) == ()
    assert ready_endpoints(service(), slices, 443) == ()


def test_an_unnamed_single_port_matches_the_slice_port_without_a_name():
    svc = service(ports=({"port": 53, "protocol": "UDP"},))
    piece = endpoint_slice("dns", ["10.244.0.10"], port_name="", port=5353)
    piece["ports"][0].update(protocol="UDP")
    piece["ports"][0].pop("name")
    assert ready_endpoints(svc, [piece], 53) == (Endpoint("10.244.0.10", 5353),)


def test_the_view_follows_added_modified_and_deleted_slices():
    view = ClusterView()
    view.replace_services([service()])
    view.replace_slices([endpoint_slice("web-a", ["10.244.1.5"])])
    assert view.endpoints(WEB) == (Endpoint("10.244.1.5", 8080),)
    view.apply_slice("MODIFIED", endpoint_slice("web-a", ["10.244.2.8"]))
    view.apply_slice("ADDED", endpoint_slice("web-b", ["10.244.3.1"]))
    assert view.endpoints(WEB) == (Endpoint("10.244.2.8", 8080), Endpoint("10.244.3.1", 8080))
    view.apply_slice("DELETED", endpoint_slice("web-a", []))
    assert view.endpoints(WEB) == (Endpoint("10.244.3.1", 8080),)
    view.apply_service("DELETED", service())
    assert view.endpoints(WEB) == ()
    # A slice of another Service, or of none, changes nothing for web.
    view.apply_service("ADDED", service())
    view.apply_slice("ADDED", endpoint_slice("api-a", ["10.244.9.9"], service_name="api"))
    assert view.endpoints(WEB) == (Endpoint("10.244.3.1", 8080),)


def _source():
    return parse_source(
        {
            "clusters": {
                "web": {"service": "default/web", "port": 80},
                "db": {"endpoints": ["10.0.0.5:5432"]},
            },
            "nodes": {
                "edge-1": {"listeners": [{"name": "web", "port": 80, "cluster": "web"}]},
                "edge-2": {"listeners": [{"name": "db", "port": 5432, "cluster": "db"}]},
            },
        }
    )


def test_an_endpoint_change_wakes_only_the_nodes_that_follow_the_service():
    cache = SnapshotCache(_source())
    assert cache.services() == {WEB}
    streams = {node: queue.Queue() for node in ("edge-1", "edge-2")}
    for node, stream in streams.items():
        cache.watch(node, stream)
        cache.get(node)
    assert cache.set_service_endpoints(WEB, (Endpoint("10.244.1.5", 8080),)) == ["edge-1"]
    assert streams["edge-1"].qsize() == 1 and streams["edge-2"].empty()
    (assignment,) = cache.get("edge-1").resources[ENDPOINT].values()
    assert assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address == "10.244.1.5"
    # The same endpoints again change nothing and wake nobody.
    assert cache.set_service_endpoints(WEB, (Endpoint("10.244.1.5", 8080),)) == []
    # A new source keeps what the cluster said about the Services it still follows.
    cache.set_source(_source())
    (assignment,) = cache.get("edge-1").resources[ENDPOINT].values()
    assert len(assignment.endpoints[0].lb_endpoints) == 1


@pytest.mark.parametrize(
    ("cluster", "message"),
    [
        ({"service": "web", "port": 80}, "service must be 'NAMESPACE/NAME'"),
        ({"service": "default/Web", "port": 80}, "service must be 'NAMESPACE/NAME'"),
        ({"service": "default/web", "port": 0}, "port must be an integer from 1 to 65535"),
        ({"service": "default/web", "port": "HTTP!"}, "port must be a Service port number or name"),
        ({"service": "default/web", "port": 80, "endpoints": ["1.2.3.4:80"]}, "not both"),
        ({"endpoints": ["1.2.3.4:80"], "port": 80}, "port goes with service"),
    ],
)
def test_a_bad_service_cluster_is_refused_naming_it(cluster, message):
    with pytest.raises(SourceError, match="cluster 'web'") as refused:
        parse_source({"clusters": {"web": cluster}})
    assert message in str(refused.value)


def test_a_file_configured_node_cannot_follow_a_service():
    with pytest.raises(SourceError, match="web take their endpoints from a Kubernetes Service"):
        static_resources(_source().node_config("edge-1"))


@pytest.mark.parametrize(
    ("services", "message"),
    [
        ("default/web:80", "services must be a list"),
        (["default/web"], "must be 'NAMESPACE/NAME:PORT'"),
        (["web:80"], "service must be 'NAMESPACE/NAME'"),
        (["default/web:0"], "port must be an integer from 1 to 65535"),
    ],
)
def test_a_bad_grant_is_refused_naming_the_node(services, message):
    with pytest.raises(SourceError, match="node 'edge-1'") as refused:
        parse_source({"nodes": {"edge-1": {"services": services}}})
    assert message in str(refused.value)


def test_a_granted_service_gives_the_node_its_endpoints_but_no_cluster_of_its_own():
    cache = SnapshotCache(parse_source({"nodes": {"edge-1": {"services": ["default/web:80"]}}}))
    cache.set_service_endpoints(WEB, (Endpoint("10.244.1.5", 8080),))
    held = cache.get("edge-1").resources
    # The cluster is in the node's bootstrap (the cluster_services role); a CDS one would clash with it.
    assert list(held[ENDPOINT]) == ["svc.default.web.80"] and not held[CLUSTER]
    assert not cache.get("edge-2").resources[ENDPOINT]
