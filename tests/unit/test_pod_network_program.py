"""The pod network's node program (roles/pod_network/files/pod-network): the rules it writes."""

from __future__ import annotations

from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path

_PATH = Path(__file__).resolve().parents[2] / "roles" / "pod_network" / "files" / "pod-network"
_LOADER = SourceFileLoader("pod_network_program", str(_PATH))
program = module_from_spec(spec_from_loader("pod_network_program", _LOADER))
_LOADER.exec_module(program)

PEERS = [{"address": "10.0.0.2"}, {"address": "fd65::3"}]


def test_vxlan_is_accepted_from_the_peers_of_each_family_and_dropped_from_anyone_else():
    assert program.filter_rules(8472, PEERS, 4) == [["-s", "10.0.0.2", "-j", "ACCEPT"], ["-j", "DROP"]]
    assert program.filter_rules(8472, PEERS, 6) == [["-s", "fd65::3", "-j", "ACCEPT"], ["-j", "DROP"]]
    assert program.filter_rules(8472, [], 4) == [["-j", "DROP"]]


def test_pods_keep_their_addresses_inside_the_pod_network_and_are_masqueraded_outside():
    rules = program.masquerade_rules("10.244.1.0/24", "10.244.0.0/16")
    assert rules[0] == ["-s", "10.244.1.0/24", "-d", "10.244.0.0/16", "-j", "RETURN"]
    assert rules[1][-1] == "MASQUERADE" and rules[1][:2] == ["-s", "10.244.1.0/24"]


def test_usage_is_named_for_a_wrong_call(capsys):
    assert program.main(["pod-network", "settings.json", "sideways"]) == 2
    assert "Usage" in capsys.readouterr().err
