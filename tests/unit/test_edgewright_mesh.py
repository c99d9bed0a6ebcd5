"""Node-side mesh helpers: ping parsing, settings merge that never touches keys, addresses from keys."""

from __future__ import annotations

import ipaddress
import json

import pytest
from edgewright_mesh import (
    merge_settings,
    parse_ping,
    public_view,
    strip_json_comments,
    wireguard_address,
)

PING_OK = """PING 10.231.50.10 (10.231.50.10) 56(84) bytes of data.

--- 10.231.50.10 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 404ms
rtt min/avg/max/mdev = 0.046/0.061/0.081/0.014 ms
"""
PING_LOST = """--- 10.231.50.99 ping statistics ---
3 packets transmitted, 0 received, 100% packet loss, time 2041ms
"""


def test_parse_ping():
    assert parse_ping(PING_OK) == (0.061, 0.0)
    assert parse_ping(PING_LOST) == (None, 100.0)
    assert parse_ping("") == (None, 100.0)


def test_merge_keeps_the_key_and_reports_change_honestly():
    config = {"PrivateKey": "secret", "PublicKey": "pub", "Peers": []}
    merged, changed = merge_settings(config, {"Peers": ["tcp://h:7701"]})
    assert changed and merged["PrivateKey"] == "secret" and merged["Peers"] == ["tcp://h:7701"]
    assert merge_settings(merged, {"Peers": ["tcp://h:7701"]}) == (merged, False)
    with pytest.raises(ValueError, match="PrivateKey"):
        merge_settings(config, {"PrivateKey": "other"})
    assert "PrivateKey" not in public_view(merged)


def test_wireguard_address_is_stable_and_inside_the_network():
    a = wireguard_address("fd65:6467:6577::/64", "key-a")
    assert a == wireguard_address("fd65:6467:6577::/64", "key-a")
    assert a != wireguard_address("fd65:6467:6577::/64", "key-b")
    net = ipaddress.ip_network("fd65:6467:6577::/64")
    assert ipaddress.ip_address(a) in net and ipaddress.ip_address(a) != net.network_address
    with pytest.raises(ValueError, match="too small"):
        wireguard_address("10.0.0.0/24", "key-a")


def test_cjdns_genconf_comments_are_stripped():
    text = '{\n // a comment "with quotes"\n "publicKey": "x.k", /* block */ "ipv6": "fc00::1",\n "url": "http://a//b"\n}'
    assert json.loads(strip_json_comments(text)) == {
        "publicKey": "x.k",
        "ipv6": "fc00::1",
        "url": "http://a//b",
    }
