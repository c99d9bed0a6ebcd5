"""The mesh_election module run by real Ansible on the controller (localhost), into a temporary record."""

from __future__ import annotations

import json
import os
import subprocess

from conftest import ROOT


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


def candidate(name: str, **kw) -> dict:
    return {
        "name": name,
        "facts": facts(**kw),
        "public_key": f"pub-{name}",
        "address": f"200::{name[-1]}",
        "underlay": f"10.0.0.{name[-1]}",
    }


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
        "gateway": {"name": "gw", "public_key": "pub-gw", "address": "200::9", "underlay": "10.0.0.9"},
    }
    checked = run_module(args, "--check")
    assert checked["changed"] is True and checked["heads"] == {"default": ["n1"]}
    assert not state.exists(), "check mode must not write"

    first = run_module(args)
    assert first["changed"] is True
    assert first["assignments"] == {"n2": ["n1"], "n3": ["n1"]}
    assert first["links"]["n1"]["dial"] == ["gw"] and first["links"]["gw"]["accept"] == ["n1"]
    record = json.loads(state.read_text())
    assert record["nodes"]["n2"] == {"public_key": "pub-n2", "address": "200::2", "underlay": "10.0.0.2"}
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
    gateway = {"name": "gw", "public_key": "pub-gw", "address": "200::9", "underlay": "10.0.0.9"}
    base = {"state": str(state), "backend": "yggdrasil", "gateway": gateway, "heads_per_zone": 2}
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
    assert gone["nodes"]["gw"] == {"public_key": "pub-gw", "address": "200::9", "underlay": "10.0.0.9"}
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
