"""Endorsement key certificates: whether an EK is certified, by a manufacturer the site trusts, to live in a
real TPM.

A TPM's vendor signs a certificate for its EK at the factory and stores it in the TPM's NV index 0x01c00002
(RSA EK). Without that proof, a node with no TPM at all could make an "EK" and an AK in software, decrypt its
own credential and sign any PCR values it likes. The verifier enrolls an EK only when its certificate
chains to a CA in its trust store (or when the operator allowlisted that EK).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import rsa


def load_anchors(directory: Path) -> list[x509.Certificate]:
    """Every certificate in the PEM files of DIRECTORY (manufacturer roots and intermediates)."""
    anchors: list[x509.Certificate] = []
    if not directory.is_dir():
        return anchors
    for path in sorted(directory.glob("*.pem")):
        try:
            anchors += x509.load_pem_x509_certificates(path.read_bytes())
        except ValueError as exc:
            raise ValueError(f"trust store file {path} is not PEM certificates: {exc}") from None
    return anchors


def der_length(data: bytes) -> int:
    """The length of the DER object at the start of DATA (an NV index is often larger than what it holds)."""
    if len(data) < 2 or data[0] != 0x30:
        raise ValueError("not a DER certificate")
    first = data[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if not 1 <= count <= 4 or len(data) < 2 + count:
        raise ValueError("not a DER certificate (bad length)")
    return 2 + count + int.from_bytes(data[2 : 2 + count], "big")


def parse(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der[: der_length(der)])


def _valid_at(cert: x509.Certificate, now: datetime.datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def certificate_problem(
    der: bytes | None,
    ek_public_key: rsa.RSAPublicKey,
    anchors: Iterable[x509.Certificate],
    now: datetime.datetime | None = None,
) -> str | None:
    """Why this EK certificate does not prove the EK (None when it does): it must certify exactly this key,
    be valid now, and be signed by an unexpired CA certificate of the trust store."""
    if not der:
        return "its TPM has no EK certificate (NV index 0x01c00002 is empty or absent)"
    try:
        cert = parse(der)
    except ValueError as exc:
        return f"its EK certificate does not parse: {exc}"
    public = cert.public_key()
    if not isinstance(public, rsa.RSAPublicKey) or public.public_numbers() != ek_public_key.public_numbers():
        return "its EK certificate certifies another key than its EK"
    now = now or datetime.datetime.now(datetime.UTC)
    if not _valid_at(cert, now):
        return (
            f"its EK certificate is not valid now ({cert.not_valid_before_utc} to {cert.not_valid_after_utc})"
        )
    # Every certificate of the trust store is trusted (a vendor's roots and intermediates, as Keylime's
    # certificate store holds them), so the EK certificate must be issued directly by one of them.
    for ca in anchors:
        if ca.subject == cert.issuer and _is_ca(ca) and _valid_at(ca, now) and _issued_by(cert, ca):
            return None
    return (
        f"its EK certificate (issuer {cert.issuer.rfc4514_string()}) is not signed by a manufacturer CA in "
        "the verifier's trust store"
    )


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
