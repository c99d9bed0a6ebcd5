"""Client certificates for node components other than the kubelet (kube-proxy), through the Kubernetes
certificates API: the key is made on the node, the controller checks the node's request, asks the cluster's
kube-apiserver-client signer for it, approves it and hands the node the signed certificate.

Runs on the controller (modules using it are delegated to localhost) with the kubernetes Python client and
cryptography.
"""

from __future__ import annotations

import datetime
import hashlib
import re

from edgewright.kube_bootstrap import decide_csr, other_subject_attributes, subject_of

CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"
CLIENT_USAGES = ["digital signature", "client auth"]
# What a Kubernetes object name may be (a DNS subdomain), so the CSR's name is one the API accepts.
_CSR_NAME_PREFIX = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,180}[a-z0-9])?$")


def _load_request(request_pem: bytes):
    from cryptography import x509

    return x509.load_pem_x509_csr(request_pem)


def request_problems(request_pem: bytes, common_name: str, organizations: list[str]) -> list[str]:
    """Why the node's certificate request is not exactly the identity it is to get: a valid signature by
    the key it carries, subject CN=common_name and O=organizations and nothing else, no extensions (a name
    the node asks for itself is not trusted)."""
    try:
        request = _load_request(request_pem)
    except ValueError:
        return ["the request is not a PEM certificate request"]
    problems = []
    if not request.is_signature_valid:
        problems.append("the request is not signed by the key it carries")
    names, orgs = subject_of(request.subject)
    if names != [common_name]:
        problems.append(f"it asks for CN {', '.join(names) or 'none'}, not {common_name}")
    if sorted(orgs) != sorted(organizations):
        problems.append(
            f"it asks for organizations {', '.join(orgs) or 'none'}, not {', '.join(organizations)}"
        )
    others = other_subject_attributes(request.subject)
    if others:
        problems.append(f"its subject has other attributes ({', '.join(others)})")
    problems.extend(f"it asks for the extension {e.oid.dotted_string}" for e in request.extensions)
    return problems


def _public_key_der(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def csr_name(prefix: str, request_pem: bytes) -> str:
    """The CSR object's name: the prefix and a digest of the requested public key, so a new key is a new
    request and the same key finds its earlier one."""
    if not _CSR_NAME_PREFIX.match(prefix):
        raise ValueError(f"CSR name prefix {prefix!r} is not a DNS subdomain")
    digest = hashlib.sha256(_public_key_der(_load_request(request_pem).public_key())).hexdigest()
    return f"{prefix}-{digest[:16]}"


def renewal_reason(
    current_pem: str,
    request_pem: bytes,
    ca_pem: bytes,
    common_name: str,
    organizations: list[str],
    now: datetime.datetime,
    renew_hours: int,
) -> str:
    """Why the node needs a new certificate; empty when its current one stays: issued by the cluster CA,
    for the request's key and the identity asked for, with more than renew_hours left."""
    from cryptography import x509

    if not current_pem.strip():
        return "the node has no certificate"
    try:
        current = x509.load_pem_x509_certificate(current_pem.encode())
    except ValueError:
        return "the node's certificate cannot be read"
    ca = x509.load_pem_x509_certificate(ca_pem)
    try:
        current.verify_directly_issued_by(ca)
    except Exception:  # InvalidSignature, or a key type that cannot have signed it
        return "the node's certificate is not from the cluster CA"
    if _public_key_der(current.public_key()) != _public_key_der(_load_request(request_pem).public_key()):
        return "the node's certificate is for another key"
    names, orgs = subject_of(current.subject)
    if names != [common_name] or sorted(orgs) != sorted(organizations):
        return "the node's certificate names another identity"
    left = current.not_valid_after_utc - now
    if left <= datetime.timedelta(hours=renew_hours):
        return f"the node's certificate expires in {max(left.total_seconds(), 0) / 3600:.1f} h"
    return ""


def issue(api, name: str, request_pem: bytes, lifetime_seconds: int, timeout: float, sleep, clock) -> str:
    """Ask the cluster's client signer for the request under `name`, approve it and wait for the certificate
    (PEM). The CSR object is deleted afterwards: the node holds what it issued."""
    import base64

    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        api.delete_certificate_signing_request(name)  # one left by a run that stopped half way
    except ApiException as exc:
        if exc.status != 404:
            raise
    body = client.V1CertificateSigningRequest(
        metadata=client.V1ObjectMeta(name=name, labels={"app.kubernetes.io/managed-by": "edgewright"}),
        spec=client.V1CertificateSigningRequestSpec(
            request=base64.b64encode(request_pem).decode(),
            signer_name=CLIENT_SIGNER,
            usages=CLIENT_USAGES,
            expiration_seconds=lifetime_seconds,
        ),
    )
    csr = api.create_certificate_signing_request(body)
    decide_csr(api, csr, True, "EdgewrightNodeComponent", "the controller checked the node's request")
    deadline = clock() + timeout
    try:
        while True:
            csr = api.read_certificate_signing_request(name)
            if csr.status and csr.status.certificate:
                return base64.b64decode(csr.status.certificate).decode()
            if clock() > deadline:
                raise TimeoutError(f"the cluster's signer did not sign {name} within {timeout:.0f} s")
            sleep(1)
    finally:
        api.delete_certificate_signing_request(name)
