"""The attest role as Ansible runs it, on nodes whose TPMs are real swtpm processes on loopback: the nodes
are local connections (no containers), each with its own TPM, measurement log and
lifecycle record under the test's directory. What a lab node adds (the tpm role, systemd) is the attest
Molecule scenario's; this covers policy learning across forks, which needs several nodes at once."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import tpm
from conftest import ansible_playbook

from edgewright.attest.manufacturer import Manufacturer
from edgewright.attest.store import Store
from edgewright.attest.verifier import QUARANTINED, Verifier
from tests import swtpm

NODES = ["mea-1", "mea-2", "mea-3", "mea-4"]
REFERENCE = "mea-3"  # not the first in the inventory: the designation decides, not the order
EK, AK = 0x81010001, 0x81010002


class Site:
    def __init__(self, work: Path, tpms: dict[str, swtpm.SoftwareTpm]) -> None:
        self.work, self.tpms = work, tpms
        self.store = Store(work / "verifier")
        self.artefacts = [work / "artefacts" / "edgewright.conf", work / "artefacts" / "edgewright-agent"]
        self.inventory = work / "hosts.json"
        self.playbook = work / "attest.yml"

    def log(self, node: str) -> Path:
        return self.work / node / "measurements.log"

    def run(self, *, limit: str | None = None, extra: dict | None = None, check: bool = True):
        return ansible_playbook(
            str(self.playbook), [self.inventory], self.work, limit=limit, extra=extra or {}, check=check
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    work = tmp_path_factory.mktemp("attest-role")
    vendor = Manufacturer(work / "vendor")
    store = Store(work / "verifier")
    store.ek_trust_dir.mkdir(parents=True)
    (store.ek_trust_dir / "vendor.pem").write_bytes(vendor.ensure_ca())
    verifier = Verifier(store)
    tpms: dict[str, swtpm.SoftwareTpm] = {}
    try:
        hosts = {}
        for node in NODES:
            t = tpms[node] = swtpm.start(work / f"tpm-{node}", vendor)
            ek, ak, _ = tpm.ensure_identity(t.tcti, EK, AK)
            challenge = verifier.enroll_challenge(node, ek, ak, tpm.read_ek_certificate(t.tcti))
            assert verifier.enroll_complete(
                node, tpm.activate_credential(t.tcti, EK, AK, challenge.credential)
            ).ok
            (work / node).mkdir()
            hosts[node] = {
                "edgewright_node": {
                    "tpm": {"mode": "virtual", "tcti": t.tcti, "ek_handle": hex(EK), "ak_handle": hex(AK)}
                },
                "attest_measurement_log": str(work / node / "measurements.log"),
            }
        s = Site(work, tpms)
        for artefact in s.artefacts:
            artefact.parent.mkdir(exist_ok=True)
            artefact.write_text(f"{artefact.name} as installed\n")
        group_vars = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "edgewright_verifier_dir": str(store.root),
            "attest_learn_policy": True,
            "attest_policy_reference_node": REFERENCE,
            "attest_measured_artefacts": [str(a) for a in s.artefacts],
        }
        s.inventory.write_text(
            json.dumps({"all": {"vars": group_vars, "children": {"edge_nodes": {"hosts": hosts}}}})
        )
        # The lifecycle record, on a real node under /var/lib/edgewright, stays in each node's directory.
        s.playbook.write_text(
            "- hosts: edge_nodes\n  gather_facts: false\n"
            f"  module_defaults:\n    edge_stage: {{path: '{work}/{{{{ inventory_hostname }}}}/lifecycle.json'}}\n"
            "  roles: [attest]\n"
        )
        yield s
    finally:
        for t in tpms.values():
            t.stop()


def recap(stdout: str) -> dict[str, dict[str, int]]:
    return {
        host: {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
        for host, counts in re.findall(r"^(\S+)\s+: (ok=.*)$", stdout, re.M)
    }


def test_every_node_attests_against_the_policy_only_the_reference_node_taught(site):
    run = site.run()  # ansible.cfg runs 25 forks: the four nodes verify at once
    assert all(counts["failed"] == 0 for counts in recap(run.stdout).values()), run.stdout[-3000:]
    policy = site.store.policy("edge")
    assert policy["learned_from"] == REFERENCE and policy["measurement_pcr"] == 13
    assert sorted(policy["digests"]) == sorted(str(a) for a in site.artefacts)
    assert all(site.store.node(n)["status"] == "attested" for n in NODES)
    again = recap(site.run().stdout)
    assert all(counts["changed"] == 0 for counts in again.values()), again


def test_learning_without_a_reference_node_is_refused_before_any_change(site):
    before = site.log("mea-4").read_text()
    run = site.run(limit="mea-4", extra={"attest_policy_reference_node": ""}, check=False)
    assert run.returncode != 0
    assert "attest_learn_policy needs attest_policy_reference_node" in run.stdout
    assert site.log("mea-4").read_text() == before


def test_a_node_other_than_the_reference_never_learns(site):
    run = site.run(limit="mea-1", extra={"attest_node_class": "fresh"}, check=False)
    assert run.returncode != 0
    record = site.store.node("mea-1")
    assert record["status"] == QUARANTINED and f"learned only from {REFERENCE}" in record["reason"]
    assert site.store.policy("fresh") is None
    Verifier(site.store).release("mea-1", by="test")
    assert site.run(limit="mea-1").returncode == 0


def test_a_changed_measured_file_quarantines_the_node_naming_the_file(site):
    original = site.artefacts[1].read_text()
    site.artefacts[1].write_text("an agent root replaced\n")
    try:
        run = site.run(limit="mea-2", check=False)
    finally:
        site.artefacts[1].write_text(original)
    assert run.returncode != 0
    reason = site.store.node("mea-2")["reason"]
    assert reason.startswith(f"entry 3 ({site.artefacts[1]}, sha256 ") and "the policy allows" in reason
    assert f"mea-2 is quarantined: entry 3 ({site.artefacts[1]}" in run.stdout
