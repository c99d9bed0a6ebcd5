"""The operator's commands: see the quarantine and its reason, release, set a policy, refuse bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from edgewright.attest.__main__ import main
from edgewright.attest.store import Store
from edgewright.attest.verifier import Verifier

ROOT = Path(__file__).resolve().parents[2]


def test_status_release_and_evidence(tmp_path, capsys):
    store = tmp_path / "verifier"
    Verifier(Store(store)).quarantine("att-1", "PCR 16 is off its golden value")
    assert main(["--store", str(store), "status"]) == 0
    assert "att-1" in (out := capsys.readouterr().out) and "quarantined" in out and "PCR 16" in out
    assert main(["--store", str(store), "release", "att-1"]) == 0
    assert "released" in capsys.readouterr().out
    assert Verifier(Store(store)).status("att-1")["status"] == "released"
    assert main(["--store", str(store), "evidence", "att-1"]) == 0
    outcomes = [json.loads(line)["outcome"] for line in capsys.readouterr().out.splitlines()]
    assert outcomes == ["quarantined", "released"]


def test_policy_set_and_bad_policy(tmp_path, capsys):
    store = tmp_path / "verifier"
    assert main(["--store", str(store), "policy", "edge", f"16={'ab' * 32}"]) == 0
    assert main(["--store", str(store), "policy", "edge"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1])["pcrs"] == {"16": "ab" * 32}
    assert main(["--store", str(store), "policy", "edge", "24=00"]) == 1
    assert "PCR 24 is out of range" in capsys.readouterr().err
    assert Store(store).policy("edge")["pcrs"] == {"16": "ab" * 32}


def test_policy_allow_adds_a_digest_of_a_measured_file(tmp_path, capsys):
    store = tmp_path / "verifier"
    learned = {
        "pcrs": {"0": "00" * 32},
        "measurement_pcr": 13,
        "digests": {"/usr/bin/tpm2_quote": ["aa" * 32]},
    }
    verifier_store = Store(store)
    with verifier_store.locked():
        verifier_store.save_policy("edge", learned)
    allow = ["--store", str(store), "policy", "edge", "--allow", f"/usr/bin/tpm2_quote={'bb' * 32}"]
    assert main(allow) == 0 and "edge: updated" in capsys.readouterr().out
    assert main(allow) == 0 and "edge: unchanged" in capsys.readouterr().out
    assert Store(store).policy("edge")["digests"] == {"/usr/bin/tpm2_quote": ["aa" * 32, "bb" * 32]}
    assert main(["--store", str(store), "policy", "edge", "--allow", "/usr/bin/tpm2_quote"]) == 1
    assert "measured path '' must be absolute" in capsys.readouterr().err


def test_release_of_an_unknown_node_is_an_error(tmp_path, capsys):
    assert main(["--store", str(tmp_path), "release", "att-9"]) == 1
    assert "att-9 is not known to the verifier" in capsys.readouterr().err


def test_python_m_edgewright_attest_is_the_same_command(tmp_path):
    Verifier(Store(tmp_path)).quarantine("att-2", "it was never enrolled with the verifier")
    attest = [sys.executable, "-m", "edgewright.attest", "--store", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    status = subprocess.run(
        [*attest, "status", "att-2"], capture_output=True, text=True, env=env, check=False
    )
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["status"] == "quarantined"
    unknown = subprocess.run(
        [*attest, "release", "att-9"], capture_output=True, text=True, env=env, check=False
    )
    assert unknown.returncode == 1
    assert unknown.stderr == "edgewright attest release: error: node att-9 is not known to the verifier\n"


def test_without_a_store_the_inventorys_is_used(tmp_path, capsys, monkeypatch):
    """As after scripts/up: the lab's inventory puts the verifier next to its SSH key, and `attest status`
    finds it there without flags."""
    monkeypatch.delenv("EDGEWRIGHT_VERIFIER_DIR", raising=False)
    lab = tmp_path / "labs" / "edgewright"
    Verifier(Store(lab / "verifier")).quarantine("edge-1", "PCR 16 is off its golden value")
    inventory = tmp_path / "inventory" / "hosts.yml"
    # The lab's own group_vars, as `edgewright lab up` leaves them next to the inventory it writes.
    shutil.copytree(ROOT / "inventories" / "local" / "group_vars", inventory.parent / "group_vars")
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "vars": {"ansible_ssh_private_key_file": str(lab / "id_ed25519")},
                    "children": {"edge_nodes": {"hosts": {"edge-1": {}, "edge-2": {}}}},
                }
            }
        )
    )
    assert main(["--inventory", str(inventory), "status", "edge-1"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "quarantined"
    # A node the inventory does not hold: its edge nodes' store all the same.
    assert main(["--inventory", str(inventory), "status"]) == 0
    assert "edge-1" in capsys.readouterr().out
    # The environment's store, then --store, win over the inventory.
    monkeypatch.setenv("EDGEWRIGHT_VERIFIER_DIR", str(tmp_path / "elsewhere"))
    assert main(["--inventory", str(inventory), "status", "edge-1"]) == 0
    assert capsys.readouterr().out.strip() == "null"
    assert main(["--store", str(lab / "verifier"), "status", "edge-1"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "quarantined"


def test_quarantine_by_the_operator_is_recorded_and_refused_by_every_gate(tmp_path, capsys):
    store = tmp_path / "verifier"
    args = ["--store", str(store), "quarantine", "att-2", "--reason", "stolen", "--verifier-only"]
    assert main(args) == 0
    assert "att-2: quarantined (stolen)" in capsys.readouterr().out
    [entry] = Store(store).evidence("att-2")
    assert (entry["outcome"], entry["reason"]) == ("quarantined", "stolen")
    assert main(["--store", str(store), "quarantine", "bad/name", "--verifier-only"]) == 1
    assert "node name 'bad/name' is not valid" in capsys.readouterr().err
