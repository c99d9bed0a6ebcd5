"""Node identity on the control plane: the site's xDS client CA and the client certificates it issues.

Each node makes its own key and sends only a certificate signing request; the controller signs it with the
site's xDS client CA, whose key never leaves the controller. The certificate names its node twice, as the
subject's CN and as the SAN URI ``edgewright://node/NAME``; the server takes the node from the URI, so what
the node wrote into its CSR (subject, extensions) is never copied: only the CSR's public key is used, after
its signature proved the node holds the matching private key.
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edgewright.errors import EdgewrightError
from edgewright.pki import BACKDATE, self_signed_ca

NODE_URI_PREFIX = "edgewright://node/"
# A node name as the verifier and the inventory know it; it becomes part of a URI, so nothing else.
_NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
CA_CERT, CA_KEY = "ca.pem", "ca-key.pem"


class IdentityError(EdgewrightError, ValueError):
    """A CSR, certificate or CA that cannot be used; the message names what is wrong."""


def check_node_name(node: str) -> str:
    if not isinstance(node, str) or not _NODE_NAME.match(node):
        raise IdentityError(
            f"node name {node!r} must be 1-63 letters, digits, '.', '_' or '-' (starting with a letter or digit)"
        )
    return node


def node_uri(node: str) -> str:
    return NODE_URI_PREFIX + check_node_name(node)


def node_of_certificate(cert: x509.Certificate) -> str | None:
    """The node a client certificate names (its one edgewright://node/ SAN URI), or None."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    nodes = [
        uri[len(NODE_URI_PREFIX) :]
        for uri in sans.get_values_for_type(x509.UniformResourceIdentifier)
        if uri.startswith(NODE_URI_PREFIX)
    ]
    if len(nodes) != 1 or not _NODE_NAME.match(nodes[0]):
        return None
    return nodes[0]


@dataclass(frozen=True)
class PeerIdentity:
    """The node a client certificate names, and when the certificate lapses."""

    node: str
    not_after: datetime.datetime


def identity_of_pem(pem: bytes) -> PeerIdentity | None:
    """Who a PEM client certificate (as gRPC hands the peer's over) names, or None when it names no node."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return None
    node = node_of_certificate(cert)
    return PeerIdentity(node, cert.not_valid_after_utc) if node else None


@dataclass(frozen=True)
class ClientCa:
    """The site's xDS client CA: its certificate (given to the server) and its key (kept on the controller)."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def ensure_client_ca(directory: str | os.PathLike[str], now: datetime.datetime | None = None) -> ClientCa:
    """The client CA in DIRECTORY, made there first if it has none (ca.pem, and ca-key.pem readable by the
    operator only). A directory holding only one of the two is refused rather than overwritten."""
    path = Path(directory).expanduser()
    cert_path, key_path = path / CA_CERT, path / CA_KEY
    if cert_path.exists() != key_path.exists():
        raise IdentityError(
            f"{path}: has only one of {CA_CERT} and {CA_KEY}; restore the other or remove both"
        )
    if not cert_path.exists():
        now = now or datetime.datetime.now(datetime.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self_signed_ca(key, "edgewright xDS client CA", 3650, path_length=0, now=now)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        key_bytes = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key_bytes)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return load_client_ca(path)


def load_client_ca(directory: str | os.PathLike[str]) -> ClientCa:
    path = Path(directory).expanduser()
    try:
        cert = x509.load_pem_x509_certificate((path / CA_CERT).read_bytes())
        key = serialization.load_pem_private_key((path / CA_KEY).read_bytes(), password=None)
    except OSError as err:
        raise IdentityError(f"{path}: cannot read the client CA: {err.strerror}") from None
    except ValueError as err:
        raise IdentityError(f"{path}: not a usable client CA: {err}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise IdentityError(f"{path}: {CA_KEY} is not the key of {CA_CERT}")
    return ClientCa(cert, key)


def load_csr(pem: str | bytes, node: str) -> x509.CertificateSigningRequest:
    """NODE's CSR when it parses, its signature holds (the node has the key) and its key is strong enough."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError:
        raise IdentityError(f"node {node}: the certificate signing request is not a PEM CSR") from None
    if not csr.is_signature_valid:
        raise IdentityError(f"node {node}: the CSR's signature does not match its key")
    key = csr.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size < 256:
            raise IdentityError(
                f"node {node}: the CSR's EC key is {key.curve.name}; P-256 or larger is needed"
            )
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise IdentityError(
                f"node {node}: the CSR's RSA key has {key.key_size} bits; 2048 or more needed"
            )
    else:
        raise IdentityError(f"node {node}: the CSR's key is {type(key).__name__}; EC or RSA is needed")
    return csr


def issue_client_certificate(
    ca: ClientCa,
    csr: x509.CertificateSigningRequest,
    node: str,
    lifetime: datetime.timedelta,
    now: datetime.datetime | None = None,
) -> x509.Certificate:
    """A client certificate for NODE over the CSR's key, valid for LIFETIME, naming NODE and nothing the CSR
    asked for."""
    now = now or datetime.datetime.now(datetime.UTC)
    if lifetime <= datetime.timedelta(0):
        raise IdentityError(f"the certificate lifetime must be positive, got {lifetime}")
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, check_node_name(node))]))
        .issuer_name(ca.cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(node_uri(node))]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )


def renewal_reason(
    current_pem: str | bytes | None,
    ca: ClientCa,
    csr: x509.CertificateSigningRequest,
    node: str,
    renew_before: datetime.timedelta,
    now: datetime.datetime | None = None,
) -> str | None:
    """Why NODE's current certificate must be replaced (None when it can stay): missing, unreadable, not
    from this CA, for another node or key, or expiring within RENEW_BEFORE."""
    now = now or datetime.datetime.now(datetime.UTC)
    if not current_pem:
        return "it has no certificate"
    data = current_pem.encode() if isinstance(current_pem, str) else current_pem
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        return "its certificate does not parse"
    if cert.issuer != ca.cert.subject:
        return "its certificate is from another CA"
    try:
        cert.verify_directly_issued_by(ca.cert)
    except (ValueError, TypeError, InvalidSignature):
        return "its certificate is not signed by the client CA"
    if node_of_certificate(cert) != node:
        return f"its certificate names {node_of_certificate(cert)!r}"
    if cert.public_key() != csr.public_key():
        return "its certificate is for another key"
    if cert.not_valid_after_utc - now < renew_before:
        return f"its certificate expires at {cert.not_valid_after_utc.isoformat()}"
    return None


@dataclass(frozen=True)
class Issued:
    """The certificate a node should hold now, and why it is new (None when its current one stays)."""

    certificate_pem: str
    reason: str | None
    not_after: datetime.datetime


def current_client_certificate(
    ca: ClientCa,
    node: str,
    csr_pem: str | bytes,
    current_pem: str | bytes | None,
    lifetime: datetime.timedelta,
    renew_before: datetime.timedelta,
    now: datetime.datetime | None = None,
) -> Issued:
    """NODE's current certificate when it can stay, else a new one over the CSR's key. The caller has
    checked that NODE is attested."""
    now = now or datetime.datetime.now(datetime.UTC)
    csr = check_request(node, csr_pem, lifetime, renew_before)
    reason = renewal_reason(current_pem, ca, csr, node, renew_before, now)
    if reason is None:
        data = current_pem.encode() if isinstance(current_pem, str) else current_pem
        cert = x509.load_pem_x509_certificate(data)  # type: ignore[arg-type]
    else:
        cert = issue_client_certificate(ca, csr, node, lifetime, now)
    return Issued(cert.public_bytes(serialization.Encoding.PEM).decode(), reason, cert.not_valid_after_utc)


def check_request(
    node: str, csr_pem: str | bytes, lifetime: datetime.timedelta, renew_before: datetime.timedelta
) -> x509.CertificateSigningRequest:
    """NODE's CSR when the node name, the CSR and the renewal window are usable; IdentityError otherwise."""
    if not datetime.timedelta(0) < renew_before < lifetime:
        raise IdentityError(
            f"renew_before ({renew_before}) must be positive and shorter than lifetime ({lifetime})"
        )
    return load_csr(csr_pem, check_node_name(node))
