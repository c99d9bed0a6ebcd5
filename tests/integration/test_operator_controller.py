"""edgewright's controller-side steps never become root: a play that becomes root on its nodes, run by an
operator without sudo, holds the election, writes the verifier, the probe reports and the overlay record,
and issues and revokes bootstrap tokens against a real API server, all in the operator's own home.

Its nodes are this machine's local connection, where any task that became root would fail (no sudo); no
lab, so no podman. Needs root (to make the operator) and the Kubernetes build of scripts/setup.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from kube_loopback import control_plane
from operator_account import as_operator, ensure_operator, let_through, restore, snapshot
from test_mesh_election_module import candidate

from edgewright.controller.dirs import Directories
from edgewright.lab.kube import binaries_dir

PORT_BASE = 18150
NODES = ("ctl-n1", "ctl-n2")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make the operator's account")

PLAY = """
- name: Controller-side steps of a play that becomes root on its nodes
  hosts: edge_nodes
  gather_facts: false
  become: true
  tasks:
    - name: Set a golden policy in the operator's verifier
      attest_verifier: {node: "{{ inventory_hostname }}", action: policy, node_class: lab, pcrs: {"16": "%s"}}
      run_once: true
    - name: Keep the node's probe report
      edge_probe_report: {node: "{{ inventory_hostname }}", record: {cpu: {count: 2}}}
    - name: Elect the heads
      mesh_election:
        candidates: "{{ candidates }}"
        state: "{{ lookup('env', 'HOME') }}/.local/state/edgewright/mesh/overlay.json"
        backend: yggdrasil
      run_once: true
    - name: Issue a bootstrap token
      kube_bootstrap_token: {kubeconfig: "{{ kubeconfig }}", node: "{{ inventory_hostname }}", ttl: 60}
      no_log: true
      register: token
    - name: Revoke what the API holds of the node
      kube_node_credentials: {kubeconfig: "{{ kubeconfig }}", node: "{{ inventory_hostname }}"}
      register: revoked
    - name: Ensure the token that was issued is the one revoked
      ansible.builtin.assert:
        that: revoked.tokens == ["bootstrap-token-" ~ token.token_id]
""" % ("ab" * 32)


@pytest.fixture(scope="module")
def operator(tmp_path_factory):
    account = ensure_operator()
    home = Path(account.pw_dir)
    work = home / "ctl-controller"
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(home / ".local" / "state" / "edgewright", ignore_errors=True)
    opened = let_through(binaries_dir())
    try:
        with control_plane("ctl-operator", tmp_path_factory.mktemp("ctl-kube"), PORT_BASE) as admin:
            work.mkdir()
            kubeconfig = work / "admin.kubeconfig"
            shutil.copyfile(admin, kubeconfig)
            hosts = {n: {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
                     for n in NODES}  # fmt: skip
            (work / "hosts.yml").write_text(
                json.dumps({"all": {"children": {"edge_nodes": {"hosts": hosts}}}})
            )
            (work / "play.yml").write_text(PLAY)
            extra = {"kubeconfig": str(kubeconfig), "candidates": [candidate(f"n{i}") | {"name": n}
                     for i, n in enumerate(NODES, 1)]}  # fmt: skip
            (work / "extra.json").write_text(json.dumps(extra))
            for path in [work, *work.iterdir()]:
                os.chown(path, account.pw_uid, account.pw_gid)
            yield {"account": account, "work": work, "kubeconfig": admin}
    finally:
        restore(opened)
        shutil.rmtree(work, ignore_errors=True)


def test_controller_steps_run_as_the_operator_in_its_own_home(operator):
    from kubernetes import client, config

    account, work = operator["account"], operator["work"]
    root_state = Directories.from_environment({}).state
    before = snapshot(root_state)
    assert as_operator(account, "sudo", "-n", "true").returncode != 0, "the operator must not have sudo"

    run = as_operator(
        account,
        "ansible-playbook",
        "-i",
        str(work / "hosts.yml"),
        str(work / "play.yml"),
        "-e",
        f"@{work / 'extra.json'}",
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]

    state = Path(account.pw_dir) / ".local" / "state" / "edgewright"
    policy = as_operator(account, "edgewright", "attest", "--store", str(state / "verifier"), "policy", "lab")
    assert json.loads(policy.stdout)["pcrs"] == {"16": "ab" * 32}
    assert {p.name for p in (state / "devices").iterdir()} == {f"{n}.json" for n in NODES}
    assert set(json.loads((state / "mesh" / "overlay.json").read_text())["nodes"]) == set(NODES)
    assert [str(p) for p in [state, *state.rglob("*")] if p.lstat().st_uid != account.pw_uid] == []
    # The tokens were issued and revoked in the API, as the operator's kubeconfig allows.
    api = client.CoreV1Api(api_client=config.new_client_from_config(config_file=operator["kubeconfig"]))
    secrets = api.list_namespaced_secret("kube-system", label_selector="edgewright.io/node").items
    assert [s.metadata.name for s in secrets] == []
    # Root's own state directory was neither read for the operator nor written.
    assert snapshot(root_state) == before
