"""Bootstrap tokens: the format the API server accepts, expiry, and the Secret that carries them."""

from __future__ import annotations

import datetime
import re

import pytest

from plugins.module_utils.kube_bootstrap import (
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

    from plugins.module_utils.kube_bootstrap import csr_common_name

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
