"""kube_serving_csr against a real control plane on loopback (etcd, kube-apiserver and
kube-controller-manager built from source, with its real signer): a kubelet's serving CSR is approved only
for the node's own name and address, once; anything else is denied, recorded in the verifier's evidence
log, and never signed. No podman: the requests are made with a node's own client credential, as its kubelet
makes them. The lab test (test_kubernetes.py) covers the real kubelet, logs and exec.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import ROOT

from edgewright.attest.store import Store
from edgewright.kube_bootstrap import KUBELET_SERVING_SIGNER
from edgewright.lab.kube import issue_cert

ADDRESSES = {"edge-a": "10.231.150.11", "edge-b": "10.231.150.12"}


@pytest.fixture(scope="module")
def plane(loopback_kubeconfig):
    """The shared loopback control plane (tests/integration/conftest.py) and its CA."""
    return {"kubeconfig": loopback_kubeconfig, "pki": Path(loopback_kubeconfig).parent / "pki"}


def as_node(plane, node: str):
    """The certificates API as NODE's kubelet: a client certificate of system:node:NODE from the cluster CA."""
    from kubernetes import client, config

    pki = plane["pki"]
    cert, key = issue_cert(
        (pki / "ca.crt").read_bytes(),
        (pki / "ca.key").read_bytes(),
        f"system:node:{node}",
        organizations=("system:nodes",),
        client=True,
    )
    credential = pki.parent / f"{node}-client.pem"
    credential.write_bytes(cert + key)
    credential.chmod(0o600)
    admin = config.new_client_from_config(config_file=plane["kubeconfig"]).configuration
    conf = client.Configuration()
    conf.host, conf.ssl_ca_cert = admin.host, admin.ssl_ca_cert
    conf.cert_file = conf.key_file = str(credential)
    return client.CertificatesV1Api(client.ApiClient(conf))


def admin(plane):
    from kubernetes import client, config

    return client.CertificatesV1Api(config.new_client_from_config(config_file=plane["kubeconfig"]))


def submit(plane, node: str | None, common_name: str, dns_names: list[str], ips: list[str]) -> str:
    """A serving CSR made with NODE's credential, as its kubelet makes it (with the admin's when NODE is
    None); returns its name."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from kubernetes import client

    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    names = [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    )
    api = as_node(plane, node) if node else admin(plane)
    created = api.create_certificate_signing_request(
        client.V1CertificateSigningRequest(
            metadata=client.V1ObjectMeta(generate_name="csr-"),
            spec=client.V1CertificateSigningRequestSpec(
                request=base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode(),
                signer_name=KUBELET_SERVING_SIGNER,
                usages=["digital signature", "server auth"],
            ),
        )
    )
    return created.metadata.name


def approval(
    plane, node: str, verifier: Path | None = None, check: bool = False, **extra
) -> tuple[int, dict]:
    args = {
        "kubeconfig": plane["kubeconfig"],
        "node": node,
        "addresses": [ADDRESSES.get(node, "10.231.150.99")],
        "dns_names": [node],
        "ca_file": str(plane["pki"] / "ca.crt"),
        "timeout": 10,
        **({"verifier_dir": str(verifier)} if verifier else {}),
        **extra,
    }
    run = subprocess.run(
        [
            "ansible",
            "localhost",
            "-m",
            "kube_serving_csr",
            "-a",
            json.dumps(args),
            *(["--check"] if check else []),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"},
        check=False,
    )
    return run.returncode, json.JSONDecoder().raw_decode(run.stdout[run.stdout.index("=> ") + 3 :])[0]


def conditions(plane, name: str) -> list[tuple[str, str]]:
    csr = admin(plane).read_certificate_signing_request(name)
    return [(c.type, c.reason) for c in (csr.status.conditions or [])]


def certificate(plane, name: str, wait_s: float) -> str | None:
    deadline = time.monotonic() + wait_s
    while True:
        issued = admin(plane).read_certificate_signing_request(name).status.certificate
        if issued or time.monotonic() > deadline:
            return base64.b64decode(issued).decode() if issued else None
        time.sleep(0.5)


def test_the_nodes_own_request_is_approved_once_and_a_rerun_approves_no_second(plane, tmp_path):
    from cryptography import x509

    name = submit(plane, "edge-a", "system:node:edge-a", ["edge-a"], [ADDRESSES["edge-a"]])
    # Nothing in Kubernetes approves a serving CSR by itself.
    assert certificate(plane, name, wait_s=3) is None
    # Check mode says it would, and does not.
    rc, dry = approval(plane, "edge-a", check=True)
    assert (rc, dry["changed"], conditions(plane, name)) == (0, True, [])
    rc, result = approval(plane, "edge-a", tmp_path / "verifier")
    assert rc == 0, result
    assert (result["approved"], result["changed"], result["renew"]) == (
        [name],
        True,
        "it has no serving certificate",
    )
    assert conditions(plane, name) == [("Approved", "EdgewrightNodeServing")]
    signed = certificate(plane, name, wait_s=30)
    assert signed is not None
    cert = x509.load_pem_x509_certificate(signed.encode())
    assert cert.subject.rfc4514_string() == "CN=system:node:edge-a,O=system:nodes"
    # The kubelet asks again (a restart, say) while its certificate is still good: nothing is approved.
    again_name = submit(plane, "edge-a", "system:node:edge-a", ["edge-a"], [ADDRESSES["edge-a"]])
    rc, again = approval(plane, "edge-a", current_certificate=signed)
    assert (rc, again["changed"], again["approved"], again["renew"]) == (0, False, [], ""), again
    assert conditions(plane, again_name) == []
    admin(plane).delete_certificate_signing_request(again_name)
    # Its address changed (it joined the mesh): the certificate no longer names it, so a new one is due.
    rc, moved = approval(plane, "edge-a", current_certificate=signed, addresses=["10.231.150.51"], timeout=0)
    assert rc != 0 and moved["renew"] == "it names edge-a, 10.231.150.11, not only edge-a's own names", moved
    assert "no serving certificate request from edge-a's kubelet within 0 s" in moved["msg"]
    assert Store(tmp_path / "verifier").evidence("edge-a") == []


@pytest.mark.parametrize(
    "requester,common_name,dns_names,ips,asked",
    [
        # Its own name with another node's address, or a name that is not its own.
        ("edge-b", "system:node:edge-b", ["edge-b"], ["10.231.150.12", "10.231.150.11"], "addresses that are not edge-b's (10.231.150.11)"),
        ("edge-b", "system:node:edge-b", ["edge-b", "kubernetes.default"], ["10.231.150.12"], "DNS names that are not edge-b's (kubernetes.default)"),
    ],
)  # fmt: skip
def test_a_request_for_what_is_not_the_nodes_own_is_denied_recorded_and_never_signed(
    plane, tmp_path, requester, common_name, dns_names, ips, asked
):
    name = submit(plane, requester, common_name, dns_names, ips)
    rc, result = approval(plane, "edge-b", tmp_path / "verifier")
    assert rc != 0
    assert result["msg"].startswith(
        "serving certificate requests for edge-b asked for what is not its own"
    ), result
    assert [(d["name"], asked in d["reason"]) for d in result["denied"]] == [(name, True)], result
    assert conditions(plane, name) == [("Denied", "EdgewrightNotThisNode")]
    assert certificate(plane, name, wait_s=3) is None
    [entry] = Store(tmp_path / "verifier").evidence("edge-b")
    assert (entry["outcome"], entry["csr"], asked in entry["reason"]) == ("csr-denied", name, True)
    admin(plane).delete_certificate_signing_request(name)


def test_the_api_server_refuses_a_node_a_request_in_another_nodes_name(plane):
    from kubernetes.client.exceptions import ApiException

    # NodeRestriction stops edge-b's kubelet before the controller sees anything.
    with pytest.raises(ApiException) as refused:
        submit(plane, "edge-b", "system:node:edge-a", ["edge-a"], [ADDRESSES["edge-a"]])
    assert (
        refused.value.status == 403
        and "can only create a node CSR with CN=system:node:edge-b" in refused.value.body
    )


def test_anyone_else_asking_in_the_nodes_name_is_denied_when_the_node_is_approved(plane, tmp_path):
    # Whoever else may create CSRs (here the controller's own identity) asks for edge-a's name: the approval
    # run for edge-a finds the request by its CN and denies it.
    name = submit(plane, None, "system:node:edge-a", ["edge-a"], [ADDRESSES["edge-a"]])
    rc, result = approval(plane, "edge-a", tmp_path / "verifier")
    assert rc != 0 and "asked for by edgewright-controller, not by system:node:edge-a" in result["msg"], (
        result
    )
    assert conditions(plane, name) == [("Denied", "EdgewrightNotThisNode")]
    assert certificate(plane, name, wait_s=3) is None
    admin(plane).delete_certificate_signing_request(name)


@pytest.mark.parametrize(
    "extra,message",
    [
        ({"addresses": ["edge-a"]}, "addresses: 'edge-a' is not an IP address"),
        ({"addresses": []}, "addresses must name the node's own IP address"),
        ({"timeout": -1}, "timeout must be 0 or more seconds, not -1"),
    ],
)
def test_bad_input_is_refused_and_decides_nothing(plane, extra, message):
    name = submit(plane, "edge-c", "system:node:edge-c", ["edge-c"], ["10.231.150.99"])
    rc, result = approval(plane, "edge-c", **extra)
    assert rc != 0 and message in result["msg"], result
    assert conditions(plane, name) == []
    admin(plane).delete_certificate_signing_request(name)
