"""The site's xDS client CA and the client certificates it issues: what a certificate names, what is taken
from a node's CSR (its key, nothing else), and when a certificate is renewed."""

from __future__ import annotations

import datetime
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edgewright.xds.identity import (
    CA_CERT,
    CA_KEY,
    IdentityError,
    ensure_client_ca,
    identity_of_pem,
    issue_client_certificate,
    load_csr,
    node_of_certificate,
    renewal_reason,
)

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(hours=24)


def _csr(key=None, cn: str = "edge-1", sans: list[x509.GeneralName] | None = None) -> tuple[str, object]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode(), key


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def ca(tmp_path):
    return ensure_client_ca(tmp_path / "ca", now=NOW)


def test_the_ca_is_made_once_and_its_key_is_the_operators_alone(tmp_path):
    first = ensure_client_ca(tmp_path / "ca", now=NOW)
    again = ensure_client_ca(tmp_path / "ca")
    assert again.cert == first.cert
    assert stat.S_IMODE((tmp_path / "ca" / CA_KEY).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "ca").stat().st_mode) == 0o700
    assert first.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_a_ca_directory_missing_its_key_is_refused_not_replaced(tmp_path, ca):
    (tmp_path / "ca" / CA_KEY).unlink()
    before = (tmp_path / "ca" / CA_CERT).read_bytes()
    with pytest.raises(IdentityError, match=r"has only one of ca\.pem and ca-key\.pem"):
        ensure_client_ca(tmp_path / "ca")
    assert (tmp_path / "ca" / CA_CERT).read_bytes() == before


def test_the_certificate_names_the_node_and_takes_only_the_key_from_the_csr(ca):
    # The node asks for another name, a CA certificate and a SAN of another node: none of it is copied.
    pem, key = _csr(cn="edge-2", sans=[x509.UniformResourceIdentifier("edgewright://node/edge-2")])
    cert = issue_client_certificate(ca, load_csr(pem, "edge-1"), "edge-1", DAY, now=NOW)
    assert node_of_certificate(cert) == "edge-1"
    assert identity_of_pem(_pem(cert).encode()).node == "edge-1"
    assert identity_of_pem(_pem(cert).encode()).not_after == NOW + DAY
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "edge-1"
    assert cert.public_key() == key.public_key()
    assert cert.issuer == ca.cert.subject
    cert.verify_directly_issued_by(ca.cert)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    assert cert.not_valid_after_utc == NOW + DAY


@pytest.mark.parametrize(
    "sans",
    [
        [],
        [x509.UniformResourceIdentifier("spiffe://site/edge-1")],
        [
            x509.UniformResourceIdentifier("edgewright://node/a"),
            x509.UniformResourceIdentifier("edgewright://node/b"),
        ],
        [x509.UniformResourceIdentifier("edgewright://node/a/../b")],
    ],
)
def test_a_certificate_without_exactly_one_node_uri_names_no_node(sans):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edge-1")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + DAY)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    assert node_of_certificate(builder.sign(key, hashes.SHA256())) is None


def test_identity_of_pem_is_none_for_what_is_not_a_certificate():
    assert identity_of_pem(b"not a certificate") is None


def test_bad_csrs_are_refused_naming_the_node():
    with pytest.raises(IdentityError, match="node edge-1: the certificate signing request is not a PEM CSR"):
        load_csr("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", "edge-1")
    weak, _ = _csr(key=rsa.generate_private_key(public_exponent=65537, key_size=1024))
    with pytest.raises(IdentityError, match="node edge-1: the CSR's RSA key has 1024 bits"):
        load_csr(weak, "edge-1")


def test_a_csr_whose_signature_does_not_match_its_key_is_refused():
    pem, _ = _csr()
    csr = x509.load_pem_x509_csr(pem.encode())
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01  # the signature's last byte
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(IdentityError, match="signature does not match its key"):
        load_csr(tampered, "edge-1")


@pytest.mark.parametrize("node", ["", "edge 1", "../edge", "a/b", "x" * 64])
def test_a_bad_node_name_is_refused(ca, node):
    pem, _ = _csr()
    with pytest.raises(IdentityError, match="node name"):
        issue_client_certificate(ca, load_csr(pem, "edge-1"), node, DAY, now=NOW)


def test_renewal_only_when_needed(ca, tmp_path):
    pem, _ = _csr()
    csr = load_csr(pem, "edge-1")
    cert = _pem(issue_client_certificate(ca, csr, "edge-1", DAY, now=NOW))
    renew_before = datetime.timedelta(hours=8)
    assert renewal_reason(cert, ca, csr, "edge-1", renew_before, now=NOW) is None
    assert (
        renewal_reason(cert, ca, csr, "edge-1", renew_before, now=NOW + datetime.timedelta(hours=15)) is None
    )
    assert "expires at" in renewal_reason(
        cert, ca, csr, "edge-1", renew_before, now=NOW + datetime.timedelta(hours=17)
    )
    assert renewal_reason(None, ca, csr, "edge-1", renew_before, now=NOW) == "it has no certificate"
    assert (
        renewal_reason("garbage", ca, csr, "edge-1", renew_before, now=NOW)
        == "its certificate does not parse"
    )
    assert renewal_reason(cert, ca, csr, "edge-2", renew_before, now=NOW) == "its certificate names 'edge-1'"
    new_key_csr = load_csr(_csr()[0], "edge-1")
    assert (
        renewal_reason(cert, ca, new_key_csr, "edge-1", renew_before, now=NOW)
        == "its certificate is for another key"
    )
    other = ensure_client_ca(tmp_path / "other", now=NOW)
    assert (
        renewal_reason(cert, other, csr, "edge-1", renew_before, now=NOW)
        == "its certificate is not signed by the client CA"
    )
    foreign = _pem(issue_client_certificate(other, csr, "edge-1", DAY, now=NOW))
    assert (
        renewal_reason(foreign, ca, csr, "edge-1", renew_before, now=NOW)
        == "its certificate is not signed by the client CA"
    )
