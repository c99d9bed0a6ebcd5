"""kube_node_standing against a real control plane on loopback (etcd, kube-apiserver with NodeRestriction
and the roles' admission policy, kube-controller-manager with its real renewal approver, signer and taint
eviction): a quarantined node's Node gets the protected label and the NoExecute taint, its pod is evicted,
its kubelet's renewal is not approved but denied and recorded, and its kubelet cannot undo any of it;
restored after a passing quote, it renews again. The node's requests are made with a node client
certificate signed by the cluster's CA, as its kubelet makes them. No podman.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from kube_loopback import control_plane
from test_kube_bootstrap_csr_module import conditions, kubelet_request

from edgewright.attest import revocation
from edgewright.attest.store import Store
from edgewright.kube_bootstrap import KUBELET_CLIENT_SIGNER
from edgewright.lab.kube import issue_cert, render_kubeconfig

TEMPLATES = ROOT / "roles" / "kubelet" / "templates"
NODE = "rev-a"


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory):
    with control_plane("rev", tmp_path_factory.mktemp("rev-kube"), 18800) as admin_kubeconfig:
        yield admin_kubeconfig


def node_kubeconfig(kubeconfig: str, node: str, directory: Path) -> str:
    """A kubeconfig with the node's own client certificate (what its kubelet holds after joining)."""
    pki = Path(kubeconfig).parent / "pki"
    ca, ca_key = (pki / "ca.crt").read_bytes(), (pki / "ca.key").read_bytes()
    cert, key = issue_cert(ca, ca_key, f"system:node:{node}", organizations=("system:nodes",), client=True)
    server = yaml.safe_load(Path(kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    path = directory / f"{node}.kubeconfig"
    path.write_text(yaml.safe_dump(render_kubeconfig(server, ca, cert, key, f"system:node:{node}")))
    return str(path)


@pytest.fixture(scope="module")
def apis(kubeconfig, tmp_path_factory):
    """The admin's and the node's clients; the kubelet role's RBAC and node policy applied as it applies them,
    and the node registered by its own kubelet."""
    from kubernetes import client, config, utils

    admin = config.new_client_from_config(config_file=kubeconfig)
    for template in ("bootstrap-rbac.yaml.j2", "node-labels-policy.yaml.j2"):
        for document in yaml.safe_load_all((TEMPLATES / template).read_text()):
            utils.create_from_dict(admin, document)
    node = config.new_client_from_config(
        config_file=node_kubeconfig(kubeconfig, NODE, tmp_path_factory.mktemp("rev"))
    )
    client.CoreV1Api(node).create_node(
        {"metadata": {"name": NODE, "labels": {"edgewright.io/cluster-role": "member"}}}
    )
    return {
        "core": client.CoreV1Api(admin),
        "certificates": client.CertificatesV1Api(admin),
        "node": client.CoreV1Api(node),
        "node_certificates": client.CertificatesV1Api(node),
    }


def standing(kubeconfig: str, state: str, verifier: Path) -> tuple[int, dict]:
    run = subprocess.run(
        [
            "ansible", "localhost", "-m", "kube_node_standing", "-a",
            f"kubeconfig={kubeconfig} node={NODE} state={state} verifier_dir={verifier} reason='tampered'",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"},
        check=False,
    )  # fmt: skip
    return run.returncode, json.JSONDecoder().raw_decode(run.stdout[run.stdout.index("=> ") + 3 :])[0]


def renewal(apis) -> str:
    """A client certificate renewal request made by the node's kubelet, with its current certificate."""
    from kubernetes import client

    created = apis["node_certificates"].create_certificate_signing_request(
        client.V1CertificateSigningRequest(
            metadata=client.V1ObjectMeta(generate_name="csr-"),
            spec=client.V1CertificateSigningRequestSpec(
                request=kubelet_request(f"system:node:{NODE}"),
                signer_name=KUBELET_CLIENT_SIGNER,
                usages=["digital signature", "client auth"],
            ),
        )
    )
    return created.metadata.name


def decided(apis, name: str, wait_s: float) -> list[tuple[str, str]]:
    deadline = time.monotonic() + wait_s
    while not (found := conditions(apis, name)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return found


def refused_to_the_node(call) -> str:
    from kubernetes.client.exceptions import ApiException

    with pytest.raises(ApiException) as raised:
        call()
    assert raised.value.status in (403, 422), raised.value
    return raised.value.body


def until(condition, what: str, wait_s: float = 60):
    deadline = time.monotonic() + wait_s
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
    return value


def test_a_quarantined_node_loses_its_standing_and_its_kubelet_cannot_win_it_back(kubeconfig, apis, tmp_path):
    from kubernetes.client.exceptions import ApiException

    verifier = tmp_path / "verifier"
    rc, attested = standing(kubeconfig, "attested", verifier)
    assert rc == 0 and attested["changed"], attested
    node = apis["core"].read_node(NODE)
    assert node.metadata.labels[revocation.ATTESTED_LABEL] == "true"
    # Attested, its renewal is approved by the controller manager itself.
    assert ("Approved", "AutoApproved") in decided(apis, renewal(apis), wait_s=30)

    until(
        lambda: apis["core"].list_namespaced_service_account("default").items, "the default service account"
    )
    pod = {
        "metadata": {"name": "on-rev-a"},
        "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "site.invalid/app:1"}]},
    }
    apis["core"].create_namespaced_pod("default", pod)
    time.sleep(2)
    assert apis["core"].read_namespaced_pod("on-rev-a", "default").metadata.deletion_timestamp is None

    rc, revoked = standing(kubeconfig, "quarantined", verifier)
    assert rc == 0 and revoked["changed"], revoked
    assert revoked["renewal_binding"] == {"state": "absent", "changed": True}
    node = apis["core"].read_node(NODE)
    assert node.metadata.labels[revocation.QUARANTINED_LABEL] == "true"
    assert node.metadata.labels[revocation.ATTESTED_LABEL] == "false"
    assert [(t.key, t.effect) for t in node.spec.taints] == [("edgewright.io/quarantined", "NoExecute")]

    def evicted():
        # Evicted is deleted by the taint eviction controller; with no kubelet here to confirm the pod
        # stopped, it stays terminating.
        try:
            return apis["core"].read_namespaced_pod("on-rev-a", "default").metadata.deletion_timestamp
        except ApiException as exc:
            return exc.status == 404

    until(evicted, "the quarantined node's pod to be evicted")

    # Its next renewal is not approved; the revocation step denies it and records why.
    pending = renewal(apis)
    assert decided(apis, pending, wait_s=10) == []
    rc, again = standing(kubeconfig, "quarantined", verifier)
    assert rc == 0 and again["denied"] == [pending] and again["node"]["patch"] is None
    assert conditions(apis, pending) == [("Denied", "EdgewrightNodeQuarantined")]
    [entry] = Store(verifier).evidence(NODE)
    assert (entry["outcome"], entry["csr"], entry["requester"]) == (
        "csr-denied",
        pending,
        f"system:node:{NODE}",
    )
    rc, third = standing(kubeconfig, "quarantined", verifier)
    assert (rc, third["changed"]) == (0, False)

    # The kubelet cannot undo it: NodeRestriction keeps the taint and node-restriction labels from it, and
    # the node policy keeps edgewright.io/ labels and the Node itself.
    refused_to_the_node(lambda: apis["node"].patch_node(NODE, {"spec": {"taints": []}}))
    refused_to_the_node(
        lambda: apis["node"].patch_node(NODE, {"metadata": {"labels": {revocation.QUARANTINED_LABEL: None}}})
    )
    refused_to_the_node(
        lambda: apis["node"].patch_node(NODE, {"metadata": {"labels": {revocation.ATTESTED_LABEL: "true"}}})
    )
    body = refused_to_the_node(
        lambda: apis["node"].patch_node(
            NODE, {"metadata": {"labels": {"edgewright.io/cluster-role": "head"}}}
        )
    )
    assert "edgewright.io/ labels" in body
    refused_to_the_node(lambda: apis["node"].delete_node(NODE))
    assert apis["core"].read_node(NODE).spec.taints[0].key == "edgewright.io/quarantined"

    # Restored (behind a fresh, passing quote): the taint goes, the label says attested, renewals resume.
    rc, restored = standing(kubeconfig, "attested", verifier)
    assert rc == 0 and restored["changed"], restored
    node = apis["core"].read_node(NODE)
    assert not node.spec.taints and revocation.QUARANTINED_LABEL not in node.metadata.labels
    assert node.metadata.labels[revocation.ATTESTED_LABEL] == "true"
    assert ("Approved", "AutoApproved") in decided(apis, renewal(apis), wait_s=30)


def test_the_operators_quarantine_runs_the_revocation_playbook_without_reaching_the_node(
    kubeconfig, apis, tmp_path
):
    """`edgewright attest quarantine` on a node that does not answer (its address goes nowhere): the
    verifier, the Node and its renewal are revoked all the same, from the controller alone."""
    from kubernetes import client, config

    node = "rev-b"
    own = config.new_client_from_config(config_file=node_kubeconfig(kubeconfig, node, tmp_path))
    client.CoreV1Api(own).create_node({"metadata": {"name": node}})
    verifier = tmp_path / "verifier"
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "vars": {
                        "edgewright_kubeconfig": kubeconfig,
                        "edgewright_state_dir": str(tmp_path / "state"),
                    },
                    "children": {"edge_nodes": {"hosts": {node: {"ansible_host": "192.0.2.1"}}}},
                }
            }
        )
    )
    assert standing_of(kubeconfig, node, "attested", verifier) == 0
    run = subprocess.run(
        [
            "edgewright", "attest", "--store", str(verifier), "--inventory", str(inventory),
            "quarantine", node, "--reason", "stolen from its site",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    record = Store(verifier).node(node)
    assert (record["status"], record["reason"]) == ("quarantined", "stolen from its site")
    revoked = apis["core"].read_node(node)
    assert revoked.metadata.labels[revocation.QUARANTINED_LABEL] == "true"
    assert [t.key for t in revoked.spec.taints] == ["edgewright.io/quarantined"]
    from kubernetes.client.exceptions import ApiException

    rbac = client.RbacAuthorizationV1Api(config.new_client_from_config(config_file=kubeconfig))
    with pytest.raises(ApiException) as gone:
        rbac.read_cluster_role_binding(revocation.renewal_binding_name(node))
    assert gone.value.status == 404


def standing_of(kubeconfig: str, node: str, state: str, verifier: Path) -> int:
    run = subprocess.run(
        ["ansible", "localhost", "-m", "kube_node_standing", "-a",
         f"kubeconfig={kubeconfig} node={node} state={state} verifier_dir={verifier}"],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False,
    )  # fmt: skip
    return run.returncode
