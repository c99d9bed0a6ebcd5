"""Bootstrap tokens: the format the API server accepts, expiry, and the Secret that carries them."""

from __future__ import annotations

import datetime
import re

import pytest

from edgewright.kube_bootstrap import (
    MAX_TTL,
    TokenError,
    check_groups,
    expiration,
    new_token,
    secret_manifest,
)

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def test_new_token_has_the_bootstrap_format_and_differs_each_time():
    tokens = {new_token() for _ in range(20)}
    assert len(tokens) == 20
    for token_id, token_secret in tokens:
        assert re.fullmatch(r"[a-z0-9]{6}", token_id)
        assert re.fullmatch(r"[a-z0-9]{16}", token_secret)


def test_expiration_is_rfc3339_ttl_seconds_later():
    assert expiration(NOW, 600) == "2026-01-02T03:14:05Z"


@pytest.mark.parametrize("ttl", [0, -5, MAX_TTL + 1])
def test_expiration_refuses_ttls_out_of_range(ttl):
    with pytest.raises(TokenError, match="ttl must be between 1 and 86400"):
        expiration(NOW, ttl)


def test_secret_manifest_is_a_labelled_authentication_token():
    secret = secret_manifest(
        "k8s-1", "abcdef", "0123456789abcdef", "2026-01-02T03:14:05Z", ["system:bootstrappers:edgewright"]
    )
    assert secret["type"] == "bootstrap.kubernetes.io/token"
    assert secret["metadata"] == {
        "name": "bootstrap-token-abcdef",
        "namespace": "kube-system",
        "labels": {"edgewright.io/node": "k8s-1"},
    }
    data = secret["stringData"]
    assert data["usage-bootstrap-authentication"] == "true"
    assert "usage-bootstrap-signing" not in data  # it signs nothing: it only authenticates the CSR
    assert data["expiration"] == "2026-01-02T03:14:05Z"
    assert data["auth-extra-groups"] == "system:bootstrappers:edgewright"


@pytest.mark.parametrize(
    "token_id,token_secret",
    [("ABCDEF", "0123456789abcdef"), ("abcde", "0123456789abcdef"), ("abcdef", "short")],
)
def test_secret_manifest_refuses_malformed_tokens(token_id, token_secret):
    with pytest.raises(TokenError, match="six then sixteen"):
        secret_manifest("n", token_id, token_secret, "2026-01-02T03:14:05Z", [])


@pytest.mark.parametrize("group", ["system:masters", "system:bootstrappers:", "system:bootstrappers:Edge"])
def test_groups_outside_the_bootstrappers_are_refused(group):
    with pytest.raises(TokenError, match="system:bootstrappers:NAME"):
        check_groups([group])


def test_csr_common_name_reads_the_subject_of_a_request():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from edgewright.kube_bootstrap import csr_common_name

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
            x509.NameAttribute(NameOID.COMMON_NAME, "system:node:k8s-2"),
        ]
    )
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    assert csr_common_name(request.public_bytes(serialization.Encoding.PEM)) == "system:node:k8s-2"
    assert csr_common_name(b"not a request") is None


def _request(
    common_names=("system:node:k8s-2",),
    organizations=("system:nodes",),
    units=(),
    sans=(),
    key=None,
) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        + [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, u) for u in units]
        + [x509.NameAttribute(NameOID.COMMON_NAME, c) for c in common_names]
    )
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


KUBELET_ASKS = {
    "username": "system:bootstrap:abc123",
    "groups": ["system:bootstrappers", "system:bootstrappers:edgewright", "system:authenticated"],
    "signer_name": "kubernetes.io/kube-apiserver-client-kubelet",
    "usages": ["digital signature", "client auth"],
}


def _decide(request_pem=None, node="k8s-2", token_id="abc123", **changes):
    from edgewright.kube_bootstrap import AskedFor, bootstrap_csr_decision

    asked = {**KUBELET_ASKS, **changes}
    request_pem = request_pem if request_pem is not None else _request()
    return bootstrap_csr_decision(node, token_id, AskedFor(**asked, request_pem=request_pem))


@pytest.mark.parametrize(
    "usages",
    [
        ["digital signature", "client auth"],
        ["digital signature", "key encipherment", "client auth"],
        ["client auth"],
    ],
)
def test_the_kubelets_own_request_from_its_own_token_is_approved(usages):
    decision = _decide(usages=usages)
    assert decision.approve, decision.reason
    assert decision.reason == "system:node:k8s-2 asked for by the bootstrap token issued to k8s-2"


@pytest.mark.parametrize(
    "request_args,changes,reason",
    [
        # The case this guards against: a node's token asking for another node's name.
        (
            {"common_names": ["system:node:k8s-1"]},
            {},
            "asks for system:node:k8s-1 but the token was issued to k8s-2",
        ),
        ({"common_names": []}, {}, "asks for no common name but the token was issued to k8s-2"),
        (
            {"common_names": ["system:node:k8s-2", "system:node:k8s-1"]},
            {},
            "asks for system:node:k8s-2, system:node:k8s-1",
        ),
        (
            {"organizations": ["system:nodes", "system:masters"]},
            {},
            "organizations system:nodes, system:masters, not system:nodes alone",
        ),
        ({"organizations": []}, {}, "organizations none, not system:nodes alone"),
        ({"units": ["ops"]}, {}, "its subject has other attributes (2.5.4.11)"),
        ({"sans": ["k8s-1"]}, {}, "subject alternative names (k8s-1)"),
        ({}, {"usages": ["client auth", "server auth"]}, "it asks for usages server auth"),
        ({}, {"usages": ["digital signature"]}, "it does not ask for client auth"),
        (
            {},
            {"signer_name": "kubernetes.io/kube-apiserver-client"},
            "names the signer kubernetes.io/kube-apiserver-client,",
        ),
        # Another token's request (another node's join) is not this token's to approve.
        ({}, {"username": "system:bootstrap:zzz999"}, "asked for by system:bootstrap:zzz999, not by k8s-2's"),
        ({}, {"username": "system:node:k8s-2"}, "asked for by system:node:k8s-2"),
        ({}, {"groups": ["system:authenticated"]}, "its requester is not in system:bootstrappers"),
    ],
)
def test_anything_but_the_nodes_own_request_from_its_token_is_denied_saying_why(
    request_args, changes, reason
):
    decision = _decide(_request(**request_args), **changes)
    assert not decision.approve
    assert reason in decision.reason


def test_a_request_that_is_not_a_csr_is_denied():
    decision = _decide(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")
    assert not decision.approve
    assert "not a PEM certificate request" in decision.reason


def test_every_problem_is_named():
    decision = _decide(_request(common_names=["system:node:k8s-1"], sans=["k8s-1"]), usages=["server auth"])
    assert not decision.approve
    for part in (
        "system:node:k8s-1",
        "subject alternative names",
        "does not ask for client auth",
        "server auth",
    ):
        assert part in decision.reason
