"""The pod network's filters: listen addresses, pod CIDR overlaps, and each node's routes from the API's
Nodes, which a kubelet wrote in part and are checked as data."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

_PATH = Path(__file__).resolve().parents[2] / "plugins" / "filter" / "pod_network.py"
_SPEC = importlib.util.spec_from_file_location("pod_network_filter", _PATH)
filters = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(filters)

CLUSTER = "10.244.0.0/16"


def node(name: str, cidr: str | None, address: str = "10.0.0.1") -> dict:
    spec = {"podCIDR": cidr} if cidr else {}
    return {"metadata": {"name": name}, "spec": spec, "status": {"addresses": [
        {"type": "Hostname", "address": name}, {"type": "InternalIP", "address": address}]}}  # fmt: skip


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0.0.0.0:10249", "listens on every address"),
        ("[::]:10249", "listens on every address"),
        ("localhost:10249", "with an IP address"),
        ("127.0.0.1", "with an IP address"),
        ("127.0.0.1:0", "needs a port"),
        ("127.0.0.1:70000", "needs a port"),
    ],
)
def test_a_wildcard_or_unclear_listen_address_is_named(value, problem):
    (found,) = filters.listen_problems({"kube_proxy_metrics_address": value})
    assert "kube_proxy_metrics_address" in found and problem in found


def test_loopback_and_a_single_address_may_be_listened_on():
    assert filters.listen_problems({"a": "127.0.0.1:10249", "b": "[fd00::1]:10256", "c": "10.0.0.5:1"}) == []


def test_a_pod_cidr_overlapping_a_node_network_is_refused_naming_both():
    problems = filters.cidr_overlaps(
        "10.231.0.0/16",
        {
            "the node network of edge-1 (eth0)": "10.231.140.0/255.255.255.0",
            "the Service range": "10.96.0.0/12",
        },
    )
    assert problems == [
        "the pod CIDR 10.231.0.0/16 overlaps the node network of edge-1 (eth0) 10.231.140.0/24"
    ]


def test_a_pod_cidr_clear_of_the_node_networks_passes_and_other_families_do_not_count():
    assert filters.cidr_overlaps(CLUSTER, {"node": "10.231.140.0/24", "mesh": "fd65::/64", "none": ""}) == []


def test_a_pod_cidr_that_is_no_network_is_named():
    (problem,) = filters.cidr_overlaps("10.244.0.0/33", {})
    assert "10.244.0.0/33" in problem


def test_vtep_mac_is_local_unicast_and_differs_per_pod_cidr():
    assert filters.vtep_mac("10.244.1.0/24") == "0a:58:0a:f4:01:00"
    assert filters.vtep_mac("10.244.2.0/24") != filters.vtep_mac("10.244.1.0/24")


def test_routes_give_the_node_its_own_endpoint_and_every_other_node_with_a_pod_cidr():
    nodes = [node("b", "10.244.1.0/24", "fd65::2"), node("a", "10.244.0.0/24", "fd65::1"), node("c", None)]
    routes = filters.pod_routes(nodes, "a", CLUSTER)
    assert routes["own"] == {
        "name": "a",
        "cidr": "10.244.0.0/24",
        "vtep": "10.244.0.0",
        "mac": "0a:58:0a:f4:00:00",
        "address": "fd65::1",
    }
    assert [p["name"] for p in routes["peers"]] == ["b"]
    assert routes["peers"][0]["address"] == "fd65::2"


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        (
            [node("a", "10.244.0.0/24"), node("b", "10.9.0.0/24")],
            "Node b has podCIDR 10.9.0.0/24, outside the cluster's",
        ),
        ([node("a", "10.244.0.0/24"), node("b", "10.244.0.0/25")], "Nodes a and b have overlapping podCIDRs"),
        ([node("a", "10.244.0.0/24"), node("b", "10.244.1.0/24 -j ACCEPT")], "which is not a network"),
        (
            [node("a", "10.244.0.0/24"), node("b", "10.244.1.0/24", "10.0.0.2; reboot")],
            "Node b has no InternalIP",
        ),
        ([node("a", None)], "Node a has no podCIDR yet"),
        ([node("b", "10.244.1.0/24")], "Node a is not in the API"),
    ],
)
def test_what_a_node_object_says_is_checked_before_it_becomes_a_route(nodes, message):
    with pytest.raises(AnsibleFilterError, match=message):
        filters.pod_routes(nodes, "a", CLUSTER)


def test_a_node_is_pending_until_it_has_a_pod_cidr_and_shows_its_kubelets_address():
    nodes = [
        node("a", "10.244.0.0/24", "10.0.0.1"),
        node("b", None, "10.0.0.2"),
        node("c", "10.244.2.0/24", "10.0.0.3"),
    ]
    expected = [{"name": "a", "address": "200::1"}, {"name": "b", "address": ""}, {"name": "c", "address": ""},
                {"name": "gone", "address": "10.0.0.9"}]  # fmt: skip
    assert filters.pending_nodes(nodes, expected) == ["a", "b"]
    assert filters.pending_nodes(nodes, [{"name": "a", "address": "10.0.0.1"}]) == []
