"""A node's reported mesh identity, checked on the controller: the injection payloads a compromised node
could report are refused with the node named; real identities pass in canonical form."""

from __future__ import annotations

import base64
import hashlib
import ipaddress

import pytest
from edgewright_mesh import wireguard_address as node_wireguard_address

from edgewright.mesh.identity import (
    IdentityError,
    check_identity,
    check_name,
    check_reported,
    check_unique,
    cjdns_address,
    cjdns_key_bytes,
    overlay_network,
    wireguard_address,
    yggdrasil_address,
)

YGG = overlay_network("yggdrasil")
WG_NET = "fd65:6467:6577::/64"
WG = overlay_network("wireguard", WG_NET)
CJDNS = overlay_network("cjdns")

# Real yggdrasil 0.4.7 identities (`yggdrasil -genconf -json`, then `yggdrasil -useconffile -address`).
YGGDRASIL_PAIRS = [
    (
        "a371adcb182e73f0e424f6497ee2b51058d42253337311c762486db7aac15bbb",
        "200:b91c:a469:cfa3:181e:37b6:136d:23a",
    ),
    (
        "1e6bc71544350f099ed129b4db975de19b8fdc120b6dd42c65e985933289820e",
        "203:1943:8eab:bcaf:f66:12ed:64b2:468a",
    ),
    (
        "5403e08f501909fa528bcecf64ccb7ef9525d29f28467d0b9abe3316b98b557d",
        "201:aff0:7dc2:bf9b:d816:b5d0:c4c2:6ccd",
    ),
]
# cjdns's own documented example (doc/configure.md).
CJDNS_KEY = "u2jf87mgqlxfzdnywp60z3tx6tkulvgh2nyc2jk1zc69zzt2s8u0.k"
CJDNS_ADDRESS = "fcff:a215:1e7b:a4e9:c00d:813:93b3:7c87"


def wg_key(seed: str) -> str:
    return base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode()


def ygg(seed: str) -> dict:
    key = hashlib.sha256(seed.encode()).hexdigest()
    return {"public_key": key, "address": str(yggdrasil_address(bytes.fromhex(key))), "underlay": "10.0.0.2"}


def wg(seed: str) -> dict:
    key = wg_key(seed)
    return {"public_key": key, "address": str(wireguard_address(WG, key)), "underlay": "10.0.0.2"}


@pytest.mark.parametrize(("key", "address"), YGGDRASIL_PAIRS)
def test_yggdrasil_addresses_are_derived_as_yggdrasil_does(key, address):
    assert str(yggdrasil_address(bytes.fromhex(key))) == address
    assert check_identity("n1", {"public_key": key, "address": address}, "yggdrasil", YGG).address == address


def test_cjdns_addresses_are_derived_as_cjdns_does():
    assert str(cjdns_address(cjdns_key_bytes(CJDNS_KEY))) == CJDNS_ADDRESS
    found = check_identity("n1", {"public_key": CJDNS_KEY, "address": CJDNS_ADDRESS}, "cjdns", CJDNS)
    assert found.as_record() == {"public_key": CJDNS_KEY, "address": CJDNS_ADDRESS}


@pytest.mark.parametrize("seed", ["a", "b", "edge-1", "edge-2"])
def test_the_controller_derives_wireguard_addresses_as_the_node_does(seed):
    key = wg_key(seed)
    assert str(wireguard_address(WG, key)) == node_wireguard_address(WG_NET, key)


def test_a_wireguard_identity_passes_and_is_recorded_canonically():
    reported = wg("n1") | {"address": wg("n1")["address"].upper()}
    found = check_identity("n1", reported, "wireguard", WG)
    assert found.as_record() == wg("n1")


INJECTED_KEYS = {
    "yggdrasil": [
        "",
        "$(touch /tmp/x)",
        "a" * 63,
        "a" * 65,
        "g" * 64,
        "a" * 64 + "\n",
        '"], "Listen": ["tcp://0.0.0.0:1"',
    ],
    "wireguard": [
        wg_key("n1") + "\nPreUp = touch /tmp/x",
        wg_key("n1")[:-1] + "\n",
        "$(touch /tmp/x)",
        base64.b64encode(b"\0" * 31).decode(),
        base64.b64encode(b"\0" * 33).decode(),
        # Valid base64 characters but not the canonical encoding of 32 bytes (non-zero padding bits).
        wg_key("n1")[:-2] + "B=",
        " " + wg_key("n1"),
    ],
    "cjdns": [
        CJDNS_KEY[:-2],
        CJDNS_KEY.replace(".k", ".k\n"),
        "a" * 52 + ".k",  # 'a' is not in cjdns's alphabet
        "z" * 52 + ".k",  # the trailing bits are not zero
        "$(touch /tmp/x).k",
    ],
}


@pytest.mark.parametrize(("backend", "key"), [(b, k) for b, keys in INJECTED_KEYS.items() for k in keys])
def test_a_key_not_in_the_backend_s_format_is_refused_with_the_node_named(backend, key):
    network = {"yggdrasil": YGG, "wireguard": WG, "cjdns": CJDNS}[backend]
    good = {"yggdrasil": ygg("n1"), "wireguard": wg("n1")}.get(backend, {"address": CJDNS_ADDRESS})
    with pytest.raises(IdentityError, match=r"^edge-7: public_key .* is not a"):
        check_identity("edge-7", {**good, "public_key": key}, backend, network)


@pytest.mark.parametrize(
    "address",
    [
        "$(touch /tmp/x)",
        "::/0",
        "200::/7",
        "0200::1/128",
        "::",
        "10.0.0.1",
        "fe80::1%eth0",
        "200::1\nPostUp = touch /tmp/x",
        "300::1",  # yggdrasil's routed subnets, never a node
        "fd00::1",
        "",
    ],
)
def test_an_address_that_is_not_one_host_in_the_overlay_is_refused(address):
    with pytest.raises(IdentityError, match=r"^edge-7: address .*"):
        check_identity("edge-7", {**ygg("n1"), "address": address}, "yggdrasil", YGG)


def test_an_address_its_key_does_not_give_is_refused():
    # Inside the range, well formed, but another node's: yggdrasil would never route it to this key.
    stolen = ygg("other")["address"]
    with pytest.raises(IdentityError, match=r"^edge-7: address .* is not the one its public key gives"):
        check_identity("edge-7", {**ygg("n1"), "address": stolen}, "yggdrasil", YGG)
    with pytest.raises(IdentityError, match="is not the one its public key gives"):
        check_identity("edge-7", {**wg("n1"), "address": "fd65:6467:6577::1"}, "wireguard", WG)
    with pytest.raises(IdentityError, match="is not a host inside the overlay's fd65:6467:6577::/64"):
        check_identity("edge-7", {**wg("n1"), "address": "fd65:6467:6578::1"}, "wireguard", WG)


@pytest.mark.parametrize("underlay", ["$(touch /tmp/x)", "10.0.0.1:22", "a b", "-host", "h\n", "x" * 300])
def test_an_underlay_that_is_neither_an_address_nor_a_name_is_refused(underlay):
    with pytest.raises(IdentityError, match=r"^edge-7: underlay .* is neither"):
        check_identity("edge-7", {**ygg("n1"), "underlay": underlay}, "yggdrasil", YGG)
    with pytest.raises(IdentityError, match=r"^edge-7: underlay"):
        check_reported("edge-7", {"underlay": underlay}, "yggdrasil", YGG)


def test_non_strings_are_refused():
    with pytest.raises(IdentityError, match="public_key must be a string, not list"):
        check_identity("edge-7", {**ygg("n1"), "public_key": ["a"]}, "yggdrasil", YGG)
    with pytest.raises(IdentityError, match="reports no public_key or no address"):
        check_identity("edge-7", {"public_key": ygg("n1")["public_key"]}, "yggdrasil", YGG)


def test_a_dry_run_candidate_reports_only_its_underlay():
    assert check_reported("n1", {"name": "n1", "underlay": "edge-1.example"}, "yggdrasil", YGG) == {
        "underlay": "edge-1.example"
    }
    assert check_reported("n1", {"name": "n1"}, "yggdrasil", YGG) == {}
    # Half an identity is not a dry run: it is refused.
    with pytest.raises(IdentityError, match="reports no public_key or no address"):
        check_reported("n1", {"address": ygg("n1")["address"]}, "yggdrasil", YGG)


def test_no_two_nodes_share_a_key_or_an_address():
    check_unique({"n1": ygg("n1"), "n2": ygg("n2"), "gw": {}})
    with pytest.raises(
        IdentityError, match=r"n1, n2 report the same public key .*; n1, n2 report the same address"
    ):
        check_unique({"n1": ygg("n1"), "n2": ygg("n1")})


@pytest.mark.parametrize("name", ["", "a b", "n1\n# x", "$(x)", "-n", "n" * 64, None, 3])
def test_names_rendered_into_peers_configs_are_plain(name):
    with pytest.raises(IdentityError, match="is not a plain name"):
        check_name("node", name)
    assert check_name("node", "edge-1.zone_a") == "edge-1.zone_a"


def test_the_overlay_range_is_known_per_backend():
    assert overlay_network("yggdrasil") == ipaddress.IPv6Network("200::/8")
    assert overlay_network("cjdns") == ipaddress.IPv6Network("fc00::/8")
    for network, problem in [
        (None, "needs its network"),
        ("::/0 x", "not an IPv6 network"),
        ("fd00::/120", "smaller than a /112"),
    ]:
        with pytest.raises(IdentityError, match=problem):
            overlay_network("wireguard", network)
    with pytest.raises(IdentityError, match="unknown mesh backend 'tinc'"):
        overlay_network("tinc")
