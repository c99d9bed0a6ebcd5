"""Kubelet serving CSRs: approved only when a node asks for its own name and addresses, and when the node's
current serving certificate is still good (so a rerun approves nothing)."""

from __future__ import annotations

import datetime
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edgewright.kube_bootstrap import AskedFor, serving_certificate_current, serving_csr_decision
from edgewright.lab.kube import issue_cert, make_ca

NODE, ADDRESS = "k8s-1", "10.231.40.11"
NOW = datetime.datetime.now(datetime.UTC)


def _request(
    common_names=("system:node:k8s-1",),
    organizations=("system:nodes",),
    dns=("k8s-1",),
    ips=(ADDRESS,),
    emails=(),
):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        + [x509.NameAttribute(NameOID.COMMON_NAME, c) for c in common_names]
    )
    names = (
        [x509.DNSName(d) for d in dns]
        + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        + [x509.RFC822Name(e) for e in emails]
    )
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


KUBELET_ASKS = {
    "username": "system:node:k8s-1",
    "groups": ["system:nodes", "system:authenticated"],
    "signer_name": "kubernetes.io/kubelet-serving",
    "usages": ["digital signature", "server auth"],
}


def _decide(request_pem=None, **changes):
    asked = {**KUBELET_ASKS, **changes}
    return serving_csr_decision(
        NODE,
        [ADDRESS],
        [NODE],
        AskedFor(**asked, request_pem=request_pem if request_pem is not None else _request()),
    )


@pytest.mark.parametrize(
    "request_args",
    [{}, {"dns": ()}, {"ips": ()}],
)
def test_the_kubelets_request_for_its_own_names_is_approved(request_args):
    decision = _decide(_request(**request_args))
    assert decision.approve, decision.reason


@pytest.mark.parametrize(
    "request_args,changes,reason",
    [
        # Another node's name, asked for by this node's kubelet.
        ({"common_names": ["system:node:k8s-2"]}, {}, "asks for system:node:k8s-2, not system:node:k8s-1"),
        ({"dns": ["k8s-2"]}, {}, "DNS names that are not k8s-1's (k8s-2)"),
        ({"dns": ["k8s-1", "kubernetes.default"]}, {}, "(kubernetes.default)"),
        # An address the node does not have: another node's, or the API server's service address.
        ({"ips": [ADDRESS, "10.231.40.99"]}, {}, "addresses that are not k8s-1's (10.231.40.99)"),
        ({"ips": ["10.96.0.1"]}, {}, "(10.96.0.1)"),
        ({"emails": ["a@b"]}, {}, "subject alternative names of kind RFC822Name"),
        ({"dns": (), "ips": ()}, {}, "names no address or DNS name"),
        ({"organizations": ["system:masters"]}, {}, "organizations system:masters, not system:nodes"),
        # Another node's kubelet asking for this node's name.
        ({}, {"username": "system:node:k8s-2"}, "asked for by system:node:k8s-2, not by system:node:k8s-1"),
        ({}, {"groups": ["system:authenticated"]}, "not in system:nodes"),
        ({}, {"usages": ["digital signature", "server auth", "client auth"]}, "usages client auth"),
        ({}, {"usages": ["digital signature"]}, "does not ask for server auth"),
        ({}, {"signer_name": "kubernetes.io/kube-apiserver-client-kubelet"}, "names the signer"),
    ],
)
def test_anything_but_the_nodes_own_names_is_denied_saying_why(request_args, changes, reason):
    decision = _decide(_request(**request_args), **changes)
    assert not decision.approve
    assert reason in decision.reason


def test_a_request_that_is_not_a_csr_is_denied():
    decision = _decide(b"junk")
    assert not decision.approve and "not a PEM certificate request" in decision.reason


@pytest.fixture(scope="module")
def ca():
    return make_ca("test cluster CA")


def _serving(ca, common_name="system:node:k8s-1", dns=("k8s-1",), ips=(ADDRESS,)):
    return issue_cert(
        *ca, common_name, organizations=("system:nodes",), dns_names=dns, ip_addresses=ips, server=True
    )[0]


def test_a_current_certificate_of_the_nodes_own_names_needs_no_new_one(ca):
    assert serving_certificate_current(NODE, [ADDRESS], [NODE], _serving(ca), ca[0], NOW) is None


@pytest.mark.parametrize(
    "changes,reason",
    [
        ({"ips": ("10.231.40.12",)}, "not only k8s-1's own names"),
        # The node moved to its mesh address: the old certificate does not name it.
        ({"ips": ()}, "does not name k8s-1's address 10.231.40.11"),
        ({"common_name": "system:node:k8s-2"}, "it is for system:node:k8s-2"),
    ],
)
def test_a_certificate_for_other_names_needs_a_new_one(ca, changes, reason):
    found = serving_certificate_current(NODE, [ADDRESS], [NODE], _serving(ca, **changes), ca[0], NOW)
    assert found is not None and reason in found


def test_a_certificate_of_another_ca_or_near_expiry_needs_a_new_one(ca):
    other = make_ca("another CA")
    assert serving_certificate_current(NODE, [ADDRESS], [NODE], _serving(other), ca[0], NOW) == (
        "the cluster CA did not sign it"
    )
    later = NOW + datetime.timedelta(days=400)
    assert "expires" in serving_certificate_current(NODE, [ADDRESS], [NODE], _serving(ca), ca[0], later)
    assert (
        serving_certificate_current(NODE, [ADDRESS], [NODE], b"", ca[0], NOW) == "it is not a PEM certificate"
    )
