"""kube_bootstrap_csr against a real control plane on loopback (etcd, kube-apiserver and
kube-controller-manager built from source, with its real csrapproving controller and signer): a bootstrap
token's CSR is approved only for the node the token was issued to; any other name is denied, recorded in
the verifier's evidence log, and never signed. No podman: the requests are made with the tokens' own
credentials, as the node holding the token would make them. The lab test (test_kubernetes.py) covers the
kubelet's own join.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from edgewright.attest.store import Store
from edgewright.kube_bootstrap import KUBELET_CLIENT_SIGNER, issue

GROUPS = ["system:bootstrappers:edgewright"]
RBAC = ROOT / "roles" / "kubelet" / "templates" / "bootstrap-rbac.yaml.j2"


@pytest.fixture(scope="module")
def kubeconfig(loopback_kubeconfig):
    return loopback_kubeconfig


@pytest.fixture(scope="module")
def apis(kubeconfig):
    """The admin's clients, with the kubelet role's bootstrap RBAC applied as the role applies it."""
    from kubernetes import client, config, utils

    admin = config.new_client_from_config(config_file=kubeconfig)
    for document in yaml.safe_load_all(RBAC.read_text()):
        utils.create_from_dict(admin, document)
    return {"admin": admin, "core": client.CoreV1Api(admin), "certificates": client.CertificatesV1Api(admin)}


def as_token(apis, token: str):
    from kubernetes import client

    admin = apis["admin"].configuration
    conf = client.Configuration()
    conf.host, conf.ssl_ca_cert = admin.host, admin.ssl_ca_cert
    conf.api_key = {"authorization": f"Bearer {token}"}
    return client.CertificatesV1Api(client.ApiClient(conf))


def kubelet_request(common_name: str, organizations=("system:nodes",)) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    subject = x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        + [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    )
    request = x509.CertificateSigningRequestBuilder().subject_name(subject)
    pem = request.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    return base64.b64encode(pem.public_bytes(serialization.Encoding.PEM)).decode()


def submit(apis, token: str, common_name: str, organizations=("system:nodes",)) -> str:
    """A CSR made with the token's credentials, as the kubelet makes its first one; returns its name."""
    from kubernetes import client

    created = as_token(apis, token).create_certificate_signing_request(
        client.V1CertificateSigningRequest(
            metadata=client.V1ObjectMeta(generate_name="csr-"),
            spec=client.V1CertificateSigningRequestSpec(
                request=kubelet_request(common_name, organizations),
                signer_name=KUBELET_CLIENT_SIGNER,
                usages=["digital signature", "client auth"],
            ),
        )
    )
    return created.metadata.name


def new_token(apis, node: str) -> dict:
    return issue(apis["core"], node, 600, GROUPS, datetime.datetime.now(datetime.UTC))


def approval(
    kubeconfig: str, node: str, token_id: str, verifier: Path, timeout: int = 30
) -> tuple[int, dict]:
    run = subprocess.run(
        [
            "ansible", "localhost", "-m", "kube_bootstrap_csr", "-a",
            f"kubeconfig={kubeconfig} node={node} token_id={token_id} verifier_dir={verifier} timeout={timeout}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"},
        check=False,
    )  # fmt: skip
    return run.returncode, json.JSONDecoder().raw_decode(run.stdout[run.stdout.index("=> ") + 3 :])[0]


def conditions(apis, name: str) -> list[tuple[str, str]]:
    csr = apis["certificates"].read_certificate_signing_request(name)
    return [(c.type, c.reason) for c in (csr.status.conditions or [])]


def certificate(apis, name: str, wait_s: float) -> bytes | None:
    """The signed certificate once the controller manager's signer issued it, waiting up to wait_s."""
    deadline = time.monotonic() + wait_s
    while True:
        issued = apis["certificates"].read_certificate_signing_request(name).status.certificate
        if issued or time.monotonic() > deadline:
            return base64.b64decode(issued) if issued else None
        time.sleep(0.5)


def test_the_nodes_own_request_waits_for_the_controller_then_is_approved_and_signed(
    kubeconfig, apis, tmp_path
):
    from cryptography import x509

    token = new_token(apis, "edge-a")
    name = submit(apis, token["token"], "system:node:edge-a")
    # Nothing approves a bootstrap token's CSR by itself: the controller manager leaves it pending.
    assert certificate(apis, name, wait_s=5) is None
    assert conditions(apis, name) == []
    rc, result = approval(kubeconfig, "edge-a", token["token_id"], tmp_path / "verifier")
    assert rc == 0, result
    assert result["approved"] == [name] and result["denied"] == [] and result["changed"] is True
    assert conditions(apis, name) == [("Approved", "EdgewrightNodeBootstrap")]
    signed = x509.load_pem_x509_certificate(certificate(apis, name, wait_s=30))
    assert signed.subject.rfc4514_string() == "CN=system:node:edge-a,O=system:nodes"
    # Once approved, a second run has nothing to do.
    rc, again = approval(kubeconfig, "edge-a", token["token_id"], tmp_path / "verifier")
    assert (rc, again["changed"], again["approved"]) == (0, False, [])
    assert Store(tmp_path / "verifier").evidence("edge-a") == []


@pytest.mark.parametrize(
    "common_name,organizations,asked",
    [
        (
            "system:node:edge-a",
            ["system:nodes"],
            "asks for system:node:edge-a but the token was issued to edge-b",
        ),
        (
            "system:node:edge-b",
            ["system:nodes", "system:masters"],
            "organizations system:nodes, system:masters",
        ),
    ],
)
def test_a_request_for_what_is_not_the_nodes_own_is_denied_recorded_and_never_signed(
    kubeconfig, apis, tmp_path, common_name, organizations, asked
):
    token = new_token(apis, "edge-b")
    name = submit(apis, token["token"], common_name, organizations)
    rc, result = approval(kubeconfig, "edge-b", token["token_id"], tmp_path / "verifier")
    assert rc != 0
    assert result["msg"].startswith(
        f"no client certificate for edge-b: its bootstrap token {token['token_id']}"
    )
    assert asked in result["msg"]
    assert [(d["name"], asked in d["reason"]) for d in result["denied"]] == [(name, True)]
    assert conditions(apis, name) == [("Denied", "EdgewrightNotThisNode")]
    denial = apis["certificates"].read_certificate_signing_request(name).status.conditions[0]
    assert asked in denial.message
    assert certificate(apis, name, wait_s=3) is None
    [entry] = Store(tmp_path / "verifier").evidence("edge-b")
    assert (entry["outcome"], entry["csr"], entry["token_id"]) == ("csr-denied", name, token["token_id"])
    assert asked in entry["reason"]


def test_a_token_that_also_asked_for_another_name_gets_its_node_no_certificate(kubeconfig, apis, tmp_path):
    token = new_token(apis, "edge-c")
    own = submit(apis, token["token"], "system:node:edge-c")
    other = submit(apis, token["token"], "system:node:edge-a")
    rc, result = approval(kubeconfig, "edge-c", token["token_id"], tmp_path / "verifier")
    assert rc != 0
    assert sorted(d["name"] for d in result["denied"]) == sorted([own, other])
    assert conditions(apis, own) == [("Denied", "EdgewrightNotThisNode")]
    assert conditions(apis, other) == [("Denied", "EdgewrightNotThisNode")]
    assert certificate(apis, own, wait_s=3) is None
    # A later run for the same token still refuses: the token is spent on a lie.
    rc, again = approval(kubeconfig, "edge-c", token["token_id"], tmp_path / "verifier", timeout=1)
    assert rc != 0 and "already denied" in again["msg"]


def test_another_tokens_request_is_left_alone(kubeconfig, apis, tmp_path):
    mine, theirs = new_token(apis, "edge-d"), new_token(apis, "edge-e")
    name = submit(apis, theirs["token"], "system:node:edge-e")
    rc, result = approval(kubeconfig, "edge-d", mine["token_id"], tmp_path / "verifier", timeout=2)
    assert rc != 0
    assert "no certificate signing request from edge-d's bootstrap token" in result["msg"]
    assert conditions(apis, name) == []  # edge-e's own join decides on it
