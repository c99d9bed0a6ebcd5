"""Certificate authorities the controller makes for itself: the lab's Kubernetes CA, the xDS client CA, the
lab's TPM manufacturer. One builder, so every CA edgewright makes has the same shape."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

# A new certificate is valid from a little before now, so a peer whose clock runs a bit behind accepts it.
BACKDATE = datetime.timedelta(minutes=5)


def self_signed_ca(
    key: CertificateIssuerPrivateKeyTypes,
    common_name: str,
    days: int,
    *,
    path_length: int | None = None,
    now: datetime.datetime | None = None,
) -> x509.Certificate:
    """A self-signed CA certificate for KEY: it signs certificates (and CRLs) only, and carries its key
    identifiers, which some signers (swtpm_localca) copy into what they issue."""
    now = now or datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    usage = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
