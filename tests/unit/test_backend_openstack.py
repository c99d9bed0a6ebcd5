"""MOCK tests of the OpenStack backend (pulumi.runtime.Mocks; no OpenStack runs here): the resources the
program registers carry the port map, the VIP pairing, the public addresses and the data-path variant."""

from __future__ import annotations

import json

import pytest

from edgewright.loadbalancer.portmap import PortMap
from tests.pulumi_mocks import evaluate

PORT = "openstack:networking/port:Port"
RULE = "openstack:networking/secGroupRule:SecGroupRule"
INSTANCE = "openstack:compute/instance:Instance"
FIP = "openstack:networking/floatingIp:FloatingIp"
EXTERNAL_NET = "external-net-id"  # what the mock answers for the external network look-up


def settings(data_path: str = "router", redundancy: str = "vip") -> dict:
    return {
        "orchestrator": "openstack",
        "cloudlet": {
            "name": "site",
            "dataPath": data_path,
            "redundancy": redundancy,
            "clusterSize": 2,
            "publicIps": ["198.51.100.10", "198.51.100.11", "198.51.100.12"],
            "apps": [
                {"name": "web", "ports": "tcp:80,tcp:443"},
                {"name": "api", "ports": "tcp:80,udp:5000-5002"},
                {"name": "game", "ports": "udp:7000-7010", "dedicatedLb": True},
                {"name": "video", "ports": "tcp:443", "dedicatedLb": True},
            ],
        },
        "openstack": {
            "externalNetwork": "public",
            "image": "debian-12",
            "flavor": "m1.large",
            "lbFlavor": "m1.small",
        },
    }


def public_rules(mocks, group: str) -> set[tuple[str, int]]:
    """Every (protocol, port) the group opens to the internet."""
    return {
        (rule.inputs["protocol"], port)
        for rule in mocks.of_type(RULE)
        if rule.inputs["securityGroupId"] == f"{group}-id"
        and rule.inputs.get("remoteIpPrefix") == "0.0.0.0/0"
        for port in range(int(rule.inputs["portRangeMin"]), int(rule.inputs["portRangeMax"]) + 1)
    }


def port_map_ranges(output: dict) -> set[tuple[str, int]]:
    """Every (protocol, public port) of an LB's port map."""
    port_map = PortMap.from_dict(output["portMap"])
    return {(r.protocol.value, port) for r in port_map.public_ranges() for port in range(r.start, r.end + 1)}


def instance_ports(mocks, name: str) -> list:
    ids = [network["port"] for network in mocks.named(name, INSTANCE).inputs["networks"]]
    return [next(port for port in mocks.of_type(PORT) if f"{port.name}-id" == port_id) for port_id in ids]


@pytest.fixture(scope="module")
def router_vip():
    return evaluate(settings("router", "vip"))


def test_security_group_rules_equal_the_port_maps(router_vip):
    mocks, outputs = router_vip
    assert public_rules(mocks, "site-rootlb-sg") == port_map_ranges(outputs["rootLb"])
    assert public_rules(mocks, "site-rootlb-sg") == {
        ("tcp", 80),
        ("tcp", 443),
        ("tcp", 10000),  # api's tcp:80, remapped
        ("udp", 5000),
        ("udp", 5001),
        ("udp", 5002),
    }
    for lb in outputs["dedicatedLbs"]:
        assert public_rules(mocks, f"{lb['name']}-sg") == port_map_ranges(lb)
    assert public_rules(mocks, "site-game-lb-sg") == {("udp", port) for port in range(7000, 7011)}
    # Nothing from the internet reaches the cluster or the platform host.
    assert public_rules(mocks, "site-k8s-sg") == set()
    assert [r for r in mocks.of_type(RULE) if r.inputs["securityGroupId"] == "site-platform-sg-id"] == []


def test_vip_pair_shares_the_address_and_speaks_vrrp(router_vip):
    mocks, outputs = router_vip
    vip = mocks.named("site-rootlb-vip", PORT).inputs
    assert vip["fixedIps"][0]["ipAddress"] == "198.51.100.10"
    for host in ("site-rootlb-1", "site-rootlb-2"):
        external, internal = instance_ports(mocks, host)
        assert external.inputs["allowedAddressPairs"] == [{"ipAddress": "198.51.100.10"}]
        assert internal.inputs["allowedAddressPairs"] == [{"ipAddress": "10.20.0.10"}]
        assert "ipAddress" not in external.inputs["fixedIps"][0]  # each host has its own address
    vrrp = [r.inputs for r in mocks.of_type(RULE) if r.inputs["protocol"] == "vrrp"]
    assert vrrp == [
        {
            "securityGroupId": "site-rootlb-sg-id",
            "direction": "ingress",
            "ethertype": "IPv4",
            "protocol": "vrrp",
            "remoteGroupId": "site-rootlb-sg-id",
        }
    ]
    assert outputs["rootLb"]["vip"] == "198.51.100.10"


def test_only_load_balancers_get_public_addresses(router_vip):
    mocks, outputs = router_vip
    external = {port.name for port in mocks.of_type(PORT) if port.inputs["networkId"] == EXTERNAL_NET}
    assert external == {
        "site-rootlb-vip",
        "site-rootlb-1-ext",
        "site-rootlb-2-ext",
        "site-game-lb-ext",
        "site-video-lb-ext",
    }
    for name in ("site-k8s-1", "site-k8s-2", "site-platform"):
        assert all(port.inputs["networkId"] == "site-net-id" for port in instance_ports(mocks, name))
    assert all(node["publicIp"] is None for node in outputs["kubernetes"]["nodes"])


def test_each_dedicated_lb_has_its_own_public_ip(router_vip):
    mocks, outputs = router_vip
    addresses = {lb["app"]: lb["publicIp"] for lb in outputs["dedicatedLbs"]}
    assert addresses == {"game": "198.51.100.11", "video": "198.51.100.12"}
    assert mocks.named("site-game-lb-ext", PORT).inputs["fixedIps"][0]["ipAddress"] == "198.51.100.11"
    assert mocks.named("site-video-lb-ext", PORT).inputs["fixedIps"][0]["ipAddress"] == "198.51.100.12"
    # video keeps its port 443 on its own LB, although web holds 443 on the root LB.
    assert port_map_ranges(outputs["dedicatedLbs"][1]) == {("tcp", 443)}


def test_lb_hosts_use_the_lb_flavor_and_nodes_the_node_flavor(router_vip):
    mocks, _ = router_vip
    flavors = {i.name: i.inputs["flavorName"] for i in mocks.of_type(INSTANCE)}
    assert flavors["site-rootlb-1"] == flavors["site-game-lb"] == "m1.small"
    assert flavors["site-k8s-1"] == flavors["site-platform"] == "m1.large"


def test_data_path_none_has_no_router_and_the_root_lb_is_the_gateway():
    mocks, _ = evaluate(settings("none", "vip"))
    assert mocks.of_type("openstack:networking/router:Router") == []
    assert mocks.of_type(FIP) == []
    assert mocks.named("site-subnet").inputs["gatewayIp"] == "10.20.0.10"  # the root LB pair's internal VIP


def test_data_path_router_routes_the_internal_network():
    mocks, _ = evaluate(settings("router", "single"))
    assert mocks.named("site-router").inputs["externalNetworkId"] == EXTERNAL_NET
    interface = mocks.named("site-router-if").inputs
    assert interface == {"routerId": "site-router-id", "subnetId": "site-subnet-id"}
    assert mocks.of_type(FIP) == []
    assert mocks.named("site-rootlb-1-ext", PORT).inputs["fixedIps"][0]["ipAddress"] == "198.51.100.10"


def test_data_path_floating_ip_keeps_every_port_internal():
    mocks, outputs = evaluate(settings("floating_ip", "vip"))
    assert all(port.inputs["networkId"] == "site-net-id" for port in mocks.of_type(PORT))
    floating = {f.inputs["address"]: f.inputs["portId"] for f in mocks.of_type(FIP)}
    assert floating == {
        "198.51.100.10": "site-rootlb-vip-id",  # the pair's internal VIP carries the root LB's address
        "198.51.100.11": "site-game-lb-int-id",
        "198.51.100.12": "site-video-lb-int-id",
    }
    assert all(f.inputs["pool"] == "public" for f in mocks.of_type(FIP))
    assert mocks.named("site-rootlb-vip", PORT).inputs["fixedIps"][0]["ipAddress"] == "10.20.0.10"
    assert outputs["rootLb"]["vip"] == "10.20.0.10"
    assert mocks.named("site-router").inputs["externalNetworkId"] == EXTERNAL_NET


def test_single_root_lb_has_no_vip():
    mocks, outputs = evaluate(settings("router", "single"))
    assert [p.name for p in mocks.of_type(PORT) if p.name.endswith("-vip")] == []
    assert mocks.of_type("edgewright:cloudlet:VirtualIp") == []
    assert [r for r in mocks.of_type(RULE) if r.inputs["protocol"] == "vrrp"] == []
    assert outputs["rootLb"]["vip"] is None
    assert [h["name"] for h in outputs["rootLb"]["hosts"]] == ["site-rootlb-1"]


def test_components_nest_under_the_cloudlet(router_vip):
    mocks, _ = router_vip
    types = [r.type for r in mocks.resources if r.type.startswith("edgewright:")]
    assert sorted(set(types)) == [
        "edgewright:cloudlet:Cloudlet",
        "edgewright:cloudlet:DedicatedLoadBalancer",
        "edgewright:cloudlet:KubernetesCluster",
        "edgewright:cloudlet:PlatformHost",
        "edgewright:cloudlet:RootLoadBalancer",
        "edgewright:cloudlet:VirtualIp",
    ]


def test_outputs_are_plain_json_for_ansible(router_vip):
    _, outputs = router_vip
    assert json.loads(json.dumps(outputs)) == outputs
    assert outputs["kubernetes"]["endpoint"] == "https://10.20.0.160:6443"


def test_side_by_side_ports_share_one_rule():
    many = settings()
    many["cloudlet"]["apps"] = [{"name": f"app{i}", "ports": "tcp:80"} for i in range(150)]
    mocks, outputs = evaluate(many)
    rules = [r.inputs for r in mocks.of_type(RULE) if r.inputs.get("remoteIpPrefix") == "0.0.0.0/0"]
    # app0 keeps 80; the other 149 are remapped to 10000-10148: two rules, under Neutron's quota of 100.
    assert sorted((int(r["portRangeMin"]), int(r["portRangeMax"])) for r in rules) == [
        (80, 80),
        (10000, 10148),
    ]
    assert public_rules(mocks, "site-rootlb-sg") == port_map_ranges(outputs["rootLb"])
