"""The mesh_election module run by real Ansible on the controller (localhost), into a temporary record."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

import pytest
from conftest import ROOT

from edgewright.mesh.identity import yggdrasil_address


def facts(cpus: int = 2, battery: dict | None = None) -> dict:
    return {
        "cpu": {"count": cpus},
        "memory": {"total_mb": 2048},
        "interfaces": [
            {
                "name": "eth0",
                "kind": "wired",
                "state": "up",
                "speed_mbps": 1000,
                "mac": "02:00:00:00:00:01",
                "addresses": ["10.0.0.2/24"],
            }
        ],
        "battery": battery or {"present": False},
    }


def mesh_identity(name: str) -> dict:
    """A yggdrasil identity as a node reports it: a key, and the address yggdrasil derives from it."""
    key = hashlib.sha256(name.encode()).hexdigest()
    return {"public_key": key, "address": str(yggdrasil_address(bytes.fromhex(key)))}


def candidate(name: str, **kw) -> dict:
    return {"name": name, "facts": facts(**kw), **mesh_identity(name), "underlay": f"10.0.0.{name[-1]}"}


GATEWAY = {"name": "gw", **mesh_identity("gw"), "underlay": "10.0.0.9"}


def run_module(args: dict, *extra: str) -> dict:
    proc = subprocess.run(
        ["ansible", "localhost", "-c", "local", "-m", "mesh_election", "-a", json.dumps(args), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "ANSIBLE_STDOUT_CALLBACK": "json",
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "PYTHONPATH": str(ROOT),
        },
        check=False,
    )
    result, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{") :])
    return result["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_elects_records_once_and_honours_check_mode(tmp_path):
    state = tmp_path / "mesh" / "overlay.json"
    args = {
        "candidates": [candidate("n1"), candidate("n2"), candidate("n3")],
        "state": str(state),
        "backend": "yggdrasil",
        "gateway": GATEWAY,
    }
    checked = run_module(args, "--check")
    assert checked["changed"] is True and checked["heads"] == {"default": ["n1"]}
    assert not state.exists(), "check mode must not write"

    first = run_module(args)
    assert first["changed"] is True
    assert first["assignments"] == {"n2": ["n1"], "n3": ["n1"]}
    assert first["links"]["n1"]["dial"] == ["gw"] and first["links"]["gw"]["accept"] == ["n1"]
    record = json.loads(state.read_text())
    assert record["nodes"]["n2"] == {**mesh_identity("n2"), "underlay": "10.0.0.2"}
    assert oct(state.stat().st_mode & 0o777) == "0o640"

    assert run_module(args)["changed"] is False

    # The head is lost: its replacement is the next by name, and the other member moves to it.
    args["candidates"] = [candidate("n2"), candidate("n3")]
    lost = run_module(args)
    assert lost["heads"] == {"default": ["n2"]}
    assert lost["change"] == {
        "promoted": ["n2"],
        "demoted": [],
        "reassigned": ["n3"],
        "joined": [],
        "gone": ["n1"],
    }


def test_more_heads_than_eligible_nodes_is_refused_and_nothing_written(tmp_path):
    state = tmp_path / "overlay.json"
    low = {"present": True, "on_ac": False, "capacity_percent": 5}
    result = run_module(
        {
            "candidates": [candidate("n1"), candidate("n2", battery=low)],
            "state": str(state),
            "backend": "yggdrasil",
            "heads_per_zone": 2,
        }
    )
    assert result.get("failed") is True
    assert "zone 'default' needs 2 cluster head(s) but has 1 eligible node(s) of 2" in result["msg"]
    assert "n2: on battery at 5%, below the 20% minimum" in result["msg"]
    assert not state.exists()


def test_bad_settings_are_named(tmp_path):
    base = {"candidates": [candidate("n1")], "state": str(tmp_path / "o.json"), "backend": "yggdrasil"}
    assert (
        "min_battery_percent must be between 0 and 100"
        in run_module({**base, "min_battery_percent": 150})["msg"]
    )
    assert "unknown part(s) disk" in run_module({**base, "weights": {"disk": 1}})["msg"]
    assert "no attested node" in run_module({**base, "candidates": []})["msg"]
    assert not (tmp_path / "o.json").exists()


def test_partial_runs_add_and_take_out_nodes_touching_only_their_peers(tmp_path):
    state = tmp_path / "overlay.json"
    base = {"state": str(state), "backend": "yggdrasil", "gateway": GATEWAY, "heads_per_zone": 2}
    run_module({**base, "candidates": [candidate(f"n{i}") for i in range(1, 5)]})
    before = json.loads(state.read_text())
    assert before["election"]["heads"] == {"default": ["n1", "n2"]}

    # Scale-out: the new node is the only candidate; the others stand as recorded.
    added = run_module({**base, "candidates": [candidate("n5", cpus=16)], "partial": True})
    assert added["heads"] == {"default": ["n1", "n2"]}, "a partial run keeps the heads"
    assert added["change"]["joined"] == ["n5"] and added["change"]["gone"] == []
    head = added["assignments"]["n5"][0]
    assert added["touched"] == [head]
    assert json.loads(state.read_text())["nodes"]["n1"] == before["nodes"]["n1"]

    # Decommissioning in check mode names what would change and writes nothing.
    written = state.read_text()
    leaving = {**base, "candidates": [], "partial": True, "gateway": {"name": "gw"}, "leaving": ["n1"]}
    checked = run_module(leaving, "--check")
    assert checked["changed"] is True and state.read_text() == written
    # A departing head: the best standing node takes its seat; its members, the other head and the
    # gateway are touched; the gateway keeps its recorded identity.
    gone = run_module(leaving)
    assert gone["change"]["gone"] == ["n1"] and "n1" not in gone["nodes"]
    assert gone["heads"] == {"default": ["n5", "n2"]}  # best first
    assert gone["touched"] == checked["touched"]
    assert {"gw", "n2", "n5"} <= set(gone["touched"]) and "n1" not in gone["touched"]
    assert gone["nodes"]["gw"] == {**mesh_identity("gw"), "underlay": "10.0.0.9"}
    record = json.loads(state.read_text())
    assert "n1" not in json.dumps(record["links"]) and "n1" not in record["nodes"]


def test_partial_run_over_an_overlay_never_formed_changes_nothing(tmp_path):
    state = tmp_path / "overlay.json"
    result = run_module(
        {"state": str(state), "backend": "yggdrasil", "candidates": [], "partial": True, "leaving": ["n1"]}
    )
    assert result["changed"] is False and result["touched"] == []
    assert not state.exists()


def test_a_node_cannot_both_join_and_leave(tmp_path):
    result = run_module(
        {
            "state": str(tmp_path / "o.json"),
            "backend": "yggdrasil",
            "candidates": [candidate("n1")],
            "leaving": ["n1"],
        }
    )
    assert "nodes both candidates and leaving: n1" in result["msg"]


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("address", "$(touch /tmp/x)", "address '$(touch /tmp/x)' is not a single IPv6 address"),
        ("address", "::/0", "address '::/0' is not a single IPv6 address"),
        ("public_key", "$(touch /tmp/x)", "is not a yggdrasil key"),
        (
            "public_key",
            mesh_identity("n1")["public_key"] + "\nPreUp = touch /tmp/x",
            "is not a yggdrasil key",
        ),
        ("underlay", "10.0.0.3; touch /tmp/x", "is neither an IP address nor a DNS name"),
        ("name", "n3\n# x", "is not a plain name"),
        ("zone", 'z"}', "is not a plain name"),
    ],
)
def test_a_bad_report_is_refused_naming_the_node_and_the_record_is_unchanged(tmp_path, field, value, problem):
    state = tmp_path / "overlay.json"
    base = {"state": str(state), "backend": "yggdrasil", "gateway": GATEWAY}
    run_module({**base, "candidates": [candidate("n1"), candidate("n2")]})
    recorded = state.read_bytes()
    result = run_module(
        {**base, "candidates": [candidate("n1"), candidate("n2"), {**candidate("n3"), field: value}]}
    )
    assert result.get("failed") is True
    assert "mesh election: refused:" in result["msg"] and problem in result["msg"]
    if field != "name":
        assert "n3" in result["msg"]
    assert state.read_bytes() == recorded


def test_a_node_claiming_another_s_identity_is_refused_whether_recorded_or_new(tmp_path):
    state = tmp_path / "overlay.json"
    base = {"state": str(state), "backend": "yggdrasil", "gateway": GATEWAY, "heads_per_zone": 1}
    run_module({**base, "candidates": [candidate("n1"), candidate("n2")]})
    recorded = state.read_bytes()
    # A new node reporting n1's key and address (the address its key gives): n1 stands in the record.
    thief = {**candidate("n3"), **mesh_identity("n1")}
    result = run_module({**base, "candidates": [thief], "partial": True})
    assert "n1, n3 report the same public key" in result["msg"]
    assert "n1, n3 report the same address" in result["msg"]
    # The gateway too is data to check.
    result = run_module(
        {**base, "candidates": [candidate("n1")], "gateway": {**GATEWAY, **mesh_identity("n1")}}
    )
    assert "gw, n1 report the same public key" in result["msg"]
    assert state.read_bytes() == recorded


def test_wireguard_keys_and_addresses_are_checked_against_the_site_s_network(tmp_path):
    import base64

    from edgewright.mesh.identity import overlay_network, wireguard_address

    network = "fd65:6467:6577::/64"

    def wg(name: str) -> dict:
        key = base64.b64encode(hashlib.sha256(name.encode()).digest()).decode()
        address = str(wireguard_address(overlay_network("wireguard", network), key))
        return {"name": name, "facts": facts(), "public_key": key, "address": address, "underlay": "10.0.0.5"}

    state = tmp_path / "overlay.json"
    base = {"state": str(state), "backend": "wireguard", "network": network}
    assert run_module({**base, "candidates": [wg("n1"), wg("n2")]})["changed"] is True
    recorded = state.read_bytes()
    injected = {**wg("n3"), "public_key": wg("n3")["public_key"] + "\nPreUp = touch /tmp/x"}
    result = run_module({**base, "candidates": [wg("n1"), wg("n2"), injected]})
    assert "n3: public_key" in result["msg"] and "is not a WireGuard key" in result["msg"]
    outside = {**wg("n3"), "address": "fd00::3"}
    result = run_module({**base, "candidates": [wg("n1"), wg("n2"), outside]})
    assert "n3: address 'fd00::3' is not a host inside the overlay's fd65:6467:6577::/64" in result["msg"]
    assert "needs its network" in run_module({**base, "network": None, "candidates": [wg("n1")]})["msg"]
    assert state.read_bytes() == recorded
