"""A non-root operator runs the lifecycle: its controller-side steps (the verifier, bootstrap tokens, CSR
approval, the Node's removal) run as that operator, against its own verifier store, while the plays become
root on the node only. A controller-side step that became root would fail here (the operator has no sudo)
or write to root's store, which the test watches.

One lab node and the lab's control plane. Needs root (to make the operator and the lab), podman and the
Kubernetes build of scripts/setup.d/60-kubernetes.sh; skipped without them.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import edgewright
from operator_account import as_operator, ensure_operator, let_through, restore, snapshot

from edgewright.controller.dirs import Directories
from edgewright.lab.kube import binaries_dir
from edgewright.lab.nodes import state_dir
from edgewright.lab.tpm import trusted_manufacturer

LAB, SUBNET, PORT_BASE = "ctl-op", "10.231.100.0/24", 18100
NODE = f"{LAB}-1"

pytestmark = pytest.mark.skipif(
    shutil.which("podman") is None or not (binaries_dir() / "kubelet").exists() or os.geteuid() != 0,
    reason="needs root, podman and the Kubernetes build (scripts/setup)",
)


@pytest.fixture(scope="module")
def operator_lab(tmp_path_factory):
    """The lab, brought up by root, handed to the operator as a site's operator gets one: an inventory, a
    copy of the SSH key and pinned host keys, and the cluster's admin kubeconfig, all its own to read."""
    account = ensure_operator()
    home = Path(account.pw_dir)
    work = home / "ctl-lab"
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(home / ".local" / "state" / "edgewright", ignore_errors=True)
    root_inventory = tmp_path_factory.mktemp("operator") / "hosts.yml"
    opened = let_through(binaries_dir())
    up = edgewright(
        "lab", "up", "--name", LAB, "--nodes", "1", "--subnet", SUBNET, "--kubernetes",
        "--kube-port-base", str(PORT_BASE), "--inventory", str(root_inventory),
    )  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr
        inventory = yaml.safe_load(root_inventory.read_text())
        lab_vars = inventory["all"]["vars"]
        work.mkdir(parents=True)
        given = {}
        for name, source in (
            ("id", lab_vars["ansible_ssh_private_key_file"]),
            ("known_hosts", state_dir(LAB) / "known_hosts"),
            ("admin.kubeconfig", lab_vars["edgewright_kubeconfig"]),
            ("ca.crt", lab_vars["edgewright_kube_ca_file"]),
        ):
            given[name] = work / name
            shutil.copyfile(source, given[name])
            given[name].chmod(0o600)
        lab_vars["ansible_ssh_private_key_file"] = str(given["id"])
        lab_vars["ansible_ssh_common_args"] = lab_vars["ansible_ssh_common_args"].replace(
            str(state_dir(LAB) / "known_hosts"), str(given["known_hosts"])
        )
        lab_vars["edgewright_kubeconfig"] = str(given["admin.kubeconfig"])
        lab_vars["edgewright_kube_ca_file"] = str(given["ca.crt"])
        # Enrollment and the join only: the site registry (its images pushed by root's podman) stays out.
        for name in ("edgewright_site_registry", "edgewright_site_ca_dir", "edgewright_site_images_file"):
            lab_vars.pop(name, None)
        inventory["all"]["children"].pop("site_registry", None)
        (work / "hosts.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
        (work / "group_vars").mkdir()
        # No verifier or state directory named: the defaults, in the home of whoever runs the playbook.
        (work / "group_vars" / "all.yml").write_text(
            yaml.safe_dump(
                {
                    "attest_learn_policy": True,
                    "attest_policy_reference_node": NODE,
                    "edgewright_zone": "lab-a",
                    "common_time_sync": "none",
                }
            )
        )
        store = Directories.from_environment({}).verifier  # root's default store, which must stay as it is
        operator_store = Path(account.pw_dir) / ".local" / "state" / "edgewright" / "verifier"
        # The operator's verifier trusts the lab's TPM manufacturer, as the lab's own verifier does.
        trusted_manufacturer(state_dir(LAB) / "tpm-manufacturer", operator_store)
        for path in [work, *work.rglob("*"), *(home / ".local").rglob("*"), home / ".local"]:
            os.chown(path, account.pw_uid, account.pw_gid)
        yield {
            "account": account,
            "inventory": work / "hosts.yml",
            "kubeconfig": lab_vars["edgewright_kubeconfig"],
            "operator_store": operator_store,
            "root_store": store,
            "root_store_before": snapshot(store),
        }
    finally:
        edgewright("lab", "down", "--name", LAB, "--inventory", str(root_inventory))
        restore(opened)
        shutil.rmtree(work, ignore_errors=True)


def owned_by_someone_else(directory: Path, uid: int) -> list[str]:
    return [str(path) for path in [directory, *directory.rglob("*")] if path.lstat().st_uid != uid]


def test_a_non_root_operator_enrolls_joins_and_decommissions_against_its_own_store(operator_lab):
    from kubernetes import client, config

    account, inventory = operator_lab["account"], str(operator_lab["inventory"])
    store = operator_lab["operator_store"]
    assert as_operator(account, "id", "-u").stdout.strip() == str(account.pw_uid)
    assert as_operator(account, "sudo", "-n", "true").returncode != 0, "the operator must not have sudo"

    joined = as_operator(
        account, "ansible-playbook", "-i", inventory, "tests/integration/playbooks/enroll-join.yml"
    )
    assert joined.returncode == 0, joined.stdout[-6000:] + joined.stderr[-2000:]
    record = json.loads(
        as_operator(account, "edgewright", "attest", "--store", str(store), "status", NODE).stdout
    )
    assert record["status"] == "attested"
    api = client.CoreV1Api(api_client=config.new_client_from_config(config_file=operator_lab["kubeconfig"]))
    assert api.read_node(NODE).metadata.name == NODE
    # Everything the controller side wrote is the operator's.
    assert owned_by_someone_else(Path(account.pw_dir) / ".local", account.pw_uid) == []

    gone = as_operator(
        account, "ansible-playbook", "-i", inventory, "playbooks/decommission.yml", "-e", f"nodes={NODE}"
    )
    assert gone.returncode == 0, gone.stdout[-6000:] + gone.stderr[-2000:]
    forgotten = as_operator(account, "edgewright", "attest", "--store", str(store), "status", NODE)
    assert forgotten.stdout.strip() == "null", "the node must leave the store that enrolled it"
    assert [n.metadata.name for n in api.list_node().items if n.metadata.name == NODE] == []
    assert owned_by_someone_else(Path(account.pw_dir) / ".local", account.pw_uid) == []

    # Root's own store was never read or written for this operator's run.
    assert snapshot(operator_lab["root_store"]) == operator_lab["root_store_before"]
