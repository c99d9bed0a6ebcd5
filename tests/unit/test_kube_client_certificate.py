"""Node components' client certificates: the node's request is taken only for the identity it is to get,
and a current certificate stays until it is near its end, is for another key or is from another CA."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edgewright.kube_client_certificate import csr_name, renewal_reason, request_problems
from edgewright.pki import self_signed_ca

CN, ORG = "edgewright:kube-proxy:edge-1", "edgewright:kube-proxies"
NOW = datetime.datetime(2026, 6, 1, 12, tzinfo=datetime.UTC)


def request(key, attributes, extension=None) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attributes))
    if extension is not None:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def subject(cn=CN, org=ORG):
    return [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)]


@pytest.fixture(scope="module")
def ca():
    key = ec.generate_private_key(ec.SECP256R1())
    return key, self_signed_ca(key, "cluster-ca", 10, now=NOW)


def issued(ca, key, cn=CN, hours=24) -> str:
    ca_key, ca_cert = ca
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject(cn)))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(hours=1))
        .not_valid_after(NOW + datetime.timedelta(hours=hours))
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def ca_pem(ca) -> bytes:
    return ca[1].public_bytes(serialization.Encoding.PEM)


def test_the_request_for_exactly_the_identity_is_taken():
    key = ec.generate_private_key(ec.SECP256R1())
    assert request_problems(request(key, subject()), CN, [ORG]) == []


@pytest.mark.parametrize(
    ("attributes", "extension", "problem"),
    [
        (subject(cn="system:node:edge-1"), None, "asks for CN system:node:edge-1"),
        (subject(org="system:masters"), None, "organizations system:masters"),
        (
            [*subject(), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters")],
            None,
            "organizations",
        ),
        ([*subject(), x509.NameAttribute(NameOID.COUNTRY_NAME, "NL")], None, "other attributes"),
        (subject(), x509.SubjectAlternativeName([x509.DNSName("kubernetes")]), "extension"),
    ],
)
def test_a_request_for_more_or_another_identity_is_refused_by_name(attributes, extension, problem):
    key = ec.generate_private_key(ec.SECP256R1())
    problems = request_problems(request(key, attributes, extension), CN, [ORG])
    assert any(problem in p for p in problems), problems


def test_garbage_is_not_a_request():
    assert request_problems(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", CN, [ORG]) != []


def test_csr_name_follows_the_key():
    one, two = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    assert csr_name("p", request(one, subject())) == csr_name("p", request(one, subject(cn="x")))
    assert csr_name("p", request(one, subject())) != csr_name("p", request(two, subject()))
    with pytest.raises(ValueError, match="not a DNS subdomain"):
        csr_name("Bad_Prefix", request(one, subject()))


def test_a_current_certificate_stays_and_is_renewed_for_each_reason(ca):
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    req = request(key, subject())
    assert renewal_reason(issued(ca, key), req, ca_pem(ca), CN, [ORG], NOW, 8) == ""
    assert "no certificate" in renewal_reason("", req, ca_pem(ca), CN, [ORG], NOW, 8)
    assert "expires in" in renewal_reason(issued(ca, key, hours=2), req, ca_pem(ca), CN, [ORG], NOW, 8)
    assert "another key" in renewal_reason(issued(ca, other), req, ca_pem(ca), CN, [ORG], NOW, 8)
    assert "another identity" in renewal_reason(issued(ca, key, cn="x"), req, ca_pem(ca), CN, [ORG], NOW, 8)
    stranger = ec.generate_private_key(ec.SECP256R1()), ca[1]
    forged = issued(stranger, key)  # the same issuer name, another CA's key
    assert "not from the cluster CA" in renewal_reason(forged, req, ca_pem(ca), CN, [ORG], NOW, 8)
