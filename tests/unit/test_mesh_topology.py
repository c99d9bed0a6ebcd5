"""Overlay links and WireGuard routes from an election."""

from __future__ import annotations

import pytest

from edgewright.mesh.election import Election
from edgewright.mesh.topology import endpoints, host, links, wireguard_routes

NET = "fd65:6467:6577::/64"


def election(heads, assignments):
    names = set(assignments) | {h for hs in heads.values() for h in hs}
    return Election(
        heads=heads, assignments=assignments, scores=dict.fromkeys(sorted(names), 50.0), ineligible={}
    )


def test_members_dial_heads_heads_link_once_and_dial_the_gateway():
    e = election({"z": ["h1", "h2"]}, {"m1": ["h1"], "m2": ["h2", "h1"]})
    t = links(e, "gw")
    assert t["m1"].dial == ["h1"] and t["m1"].accept == []
    assert t["m2"].dial == ["h2", "h1"]
    assert t["h1"].dial == ["h2", "gw"] and t["h1"].accept == ["m1", "m2"]
    assert t["h2"].dial == ["gw"] and t["h2"].accept == ["h1", "m2"]
    assert t["gw"].role == "gateway" and t["gw"].dial == [] and t["gw"].accept == ["h1", "h2"]


def test_without_a_gateway_heads_only_link_to_each_other():
    t = links(election({"z": ["h"]}, {"m": ["h"]}), None)
    assert t["h"].dial == [] and "gw" not in t


def addresses(names):
    return {n: f"fd65:6467:6577::{i + 1:x}" for i, n in enumerate(sorted(names))}


def test_wireguard_routes_carry_each_address_under_one_peer():
    e = election({"a": ["h1"], "b": ["h2"]}, {"m1": ["h1"], "m2": ["h2"], "m3": ["h2", "h1"]})
    t = links(e, "gw")
    addr = addresses(t)
    gw = wireguard_routes(t, "gw", addr, NET)
    assert gw == {
        "h1": sorted([host(addr["h1"]), host(addr["m1"])]),
        "h2": sorted([host(addr["h2"]), host(addr["m2"]), host(addr["m3"])]),
    }
    h1 = wireguard_routes(t, "h1", addr, NET)
    # m3 is h1's direct peer (its second head), so h2's entry must not carry it too.
    assert h1["m3"] == [host(addr["m3"])]
    assert host(addr["m3"]) not in h1["h2"] and host(addr["m2"]) in h1["h2"]
    for routes in (gw, h1, wireguard_routes(t, "h2", addr, NET)):
        carried = [a for allowed in routes.values() for a in allowed]
        assert len(carried) == len(set(carried))


def test_a_member_sends_the_network_through_its_primary_head():
    e = election({"z": ["h1", "h2"]}, {"m": ["h2", "h1"]})
    t = links(e, "gw")
    addr = addresses(t)
    assert wireguard_routes(t, "m", addr, NET) == {"h2": [NET], "h1": [host(addr["h1"])]}


def test_a_missing_address_is_named():
    t = links(election({"z": ["h"]}, {"m": ["h"]}), None)
    with pytest.raises(ValueError, match="no mesh address for m"):
        wireguard_routes(t, "h", {"h": "fd00::1"}, NET)


def test_endpoints_bracket_ipv6():
    assert endpoints(["a", "b"], {"a": "10.0.0.1", "b": "fd00::2"}, 7701) == [
        "10.0.0.1:7701",
        "[fd00::2]:7701",
    ]


@pytest.mark.parametrize(
    "address", ["::/0", "0.0.0.0/0", "fd65:6467:6577::/64", "fd65::1/127", "$(touch /tmp/x)", ""]
)
def test_host_refuses_anything_wider_than_one_host(address):
    with pytest.raises(ValueError, match=r"mesh address .* is (not one host|a network)"):
        host(address)


def test_host_gives_single_host_prefixes():
    assert host("FD65::1") == "fd65::1/128"
    assert host("fd65::1/128") == "fd65::1/128"
    assert host("10.0.0.1") == "10.0.0.1/32"


def test_a_peer_address_wider_than_a_host_is_refused_in_routes():
    t = links(election({"z": ["h1"]}, {"m1": ["h1"]}), None)
    with pytest.raises(ValueError, match="is a network"):
        wireguard_routes(t, "h1", {"h1": "fd65:6467:6577::1", "m1": "::/0"}, NET)
