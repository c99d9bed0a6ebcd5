"""The mesh role's filters as Ansible calls them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

_PATH = Path(__file__).resolve().parents[2] / "plugins" / "filter" / "mesh.py"
_SPEC = importlib.util.spec_from_file_location("mesh_filter", _PATH)
filters = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(filters)

HEAD = {"role": "head", "dial": ["h2", "gw"], "accept": ["h0", "m1"], "heads": []}
NODES = {n: {"address": f"200::{i}"} for i, n in enumerate(["h0", "h2", "gw", "m1"], 1)}


def test_peer_addresses_list_dialled_nodes_first_as_data():
    assert filters.mesh_peer_addresses(HEAD, NODES) == [
        {"name": "h2", "address": "200::2"},
        {"name": "gw", "address": "200::3"},
        {"name": "h0", "address": "200::1"},
        {"name": "m1", "address": "200::4"},
    ]


def test_a_peer_without_an_address_is_named():
    with pytest.raises(AnsibleFilterError, match="no mesh address for 'm1'"):
        filters.mesh_peer_addresses(HEAD, {n: v for n, v in NODES.items() if n != "m1"})


def test_wireguard_routes_refuse_a_peer_address_wider_than_a_host():
    links = {"h1": {"role": "head", "dial": [], "accept": ["m1"], "heads": []},
             "m1": {"role": "member", "dial": ["h1"], "accept": [], "heads": ["h1"]}}  # fmt: skip
    nodes = {"h1": {"address": "fd65::1"}, "m1": {"address": "::/0"}}
    with pytest.raises(AnsibleFilterError, match="mesh_wireguard_routes: mesh address '::/0' is a network"):
        filters.mesh_wireguard_routes(links, "h1", nodes, "fd65::/64")
