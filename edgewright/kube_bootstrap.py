"""Bootstrap tokens for TLS bootstrap: short-lived credentials a joining kubelet uses for its first CSR.

Runs on the controller (edgewright's action plugins, in Ansible's own process) against the Kubernetes API with the
kubernetes Python client. The token format and the Secret that carries it are described in
https://kubernetes.io/docs/reference/access-authn-authz/bootstrap-tokens/.
"""

from __future__ import annotations

import datetime
import re
import secrets
from dataclasses import dataclass

from edgewright.errors import EdgewrightError

TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
TOKEN_ID = re.compile(r"^[a-z0-9]{6}$")
TOKEN_SECRET = re.compile(r"^[a-z0-9]{16}$")
EXTRA_GROUP = re.compile(r"^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$")
NODE_LABEL = "edgewright.io/node"
SECRET_TYPE = "bootstrap.kubernetes.io/token"
NAMESPACE = "kube-system"
MAX_TTL = 24 * 3600

# What a kubelet's first client CSR is (https://kubernetes.io/docs/reference/access-authn-authz/kubelet-tls-bootstrapping/).
KUBELET_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_CLIENT_USAGES = frozenset({"client auth", "digital signature", "key encipherment"})
NODES_GROUP = "system:nodes"
BOOTSTRAPPERS_GROUP = "system:bootstrappers"
# What a kubelet's serving CSR is (serverTLSBootstrap): the kubelet asks, with its own node credential, for
# a certificate to serve its API (logs, exec) under the node's names.
KUBELET_SERVING_SIGNER = "kubernetes.io/kubelet-serving"
KUBELET_SERVING_USAGES = frozenset({"server auth", "digital signature", "key encipherment"})


class TokenError(EdgewrightError, ValueError):
    """Bad input for a bootstrap token; nothing was created."""


def new_token(randbelow=secrets.randbelow) -> tuple[str, str]:
    """A fresh (token id, token secret) pair from a cryptographic random source."""

    def draw(n: int) -> str:
        return "".join(TOKEN_ALPHABET[randbelow(len(TOKEN_ALPHABET))] for _ in range(n))

    return draw(6), draw(16)


def expiration(now: datetime.datetime, ttl_seconds: int) -> str:
    """The RFC 3339 expiry the API server checks on every use of the token."""
    if not 1 <= ttl_seconds <= MAX_TTL:
        raise TokenError(f"ttl must be between 1 and {MAX_TTL} seconds, not {ttl_seconds}")
    return (now + datetime.timedelta(seconds=ttl_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_groups(groups: list[str]) -> None:
    bad = [g for g in groups if not EXTRA_GROUP.match(g)]
    if bad:
        raise TokenError(
            f"extra groups must look like system:bootstrappers:NAME (lowercase, digits, ':' and '-'): {bad}"
        )


def secret_manifest(node: str, token_id: str, token_secret: str, expires: str, groups: list[str]) -> dict:
    """The kube-system Secret that makes a bootstrap token valid, labelled with the node it is for."""
    if not TOKEN_ID.match(token_id) or not TOKEN_SECRET.match(token_secret):
        raise TokenError("a bootstrap token is six then sixteen characters of [a-z0-9]")
    check_groups(groups)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": SECRET_TYPE,
        "metadata": {
            "name": f"bootstrap-token-{token_id}",
            "namespace": NAMESPACE,
            "labels": {NODE_LABEL: node},
        },
        "stringData": {
            "description": f"edgewright join of {node}",
            "token-id": token_id,
            "token-secret": token_secret,
            "expiration": expires,
            "usage-bootstrap-authentication": "true",
            "auth-extra-groups": ",".join(groups),
        },
    }


def node_selector(node: str) -> str:
    return f"{NODE_LABEL}={node}"


def core_api(kubeconfig: str):
    """A CoreV1Api client for the cluster the kubeconfig names."""
    from kubernetes import client, config

    return client.CoreV1Api(api_client=config.new_client_from_config(config_file=kubeconfig))


def certificates_api(kubeconfig: str):
    """A CertificatesV1Api client for the cluster the kubeconfig names."""
    from kubernetes import client, config

    return client.CertificatesV1Api(api_client=config.new_client_from_config(config_file=kubeconfig))


def node_tokens(api, node: str) -> list[str]:
    """Names of the bootstrap token Secrets issued for a node."""
    secrets_ = api.list_namespaced_secret(NAMESPACE, label_selector=node_selector(node))
    return [s.metadata.name for s in secrets_.items if s.type == SECRET_TYPE]


def issue(api, node: str, ttl_seconds: int, groups: list[str], now: datetime.datetime) -> dict:
    """Create a new token for the node; returns token (id.secret), id and expiration."""
    token_id, token_secret = new_token()
    expires = expiration(now, ttl_seconds)
    api.create_namespaced_secret(NAMESPACE, secret_manifest(node, token_id, token_secret, expires, groups))
    return {"token": f"{token_id}.{token_secret}", "token_id": token_id, "expiration": expires}


def revoke(api, node: str) -> list[str]:
    """Delete every bootstrap token issued for the node; returns the deleted Secrets' names."""
    names = node_tokens(api, node)
    for name in names:
        api.delete_namespaced_secret(name, NAMESPACE)
    return names


def apply_renewal_binding(kubeconfig: str, node: str, present: bool, check_mode: bool) -> dict:
    """Ensure the binding that lets the controller manager approve NODE's own client certificate renewals
    is PRESENT or absent."""
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    from edgewright.attest import revocation

    rbac = client.RbacAuthorizationV1Api(api_client=config.new_client_from_config(config_file=kubeconfig))
    name = revocation.renewal_binding_name(node)
    try:
        rbac.read_cluster_role_binding(name)
        exists = True
    except ApiException as exc:
        if exc.status != 404:
            raise
        exists = False
    changed = exists != present
    if changed and not check_mode:
        if present:
            rbac.create_cluster_role_binding(revocation.renewal_binding(node))
        else:
            rbac.delete_cluster_role_binding(name)
    return {"state": "present" if present else "absent", "changed": changed}


def subject_of(name) -> tuple[list[str], list[str]]:
    """The common names and organizations of an x509 Name."""
    from cryptography.x509.oid import NameOID

    return (
        [str(a.value) for a in name.get_attributes_for_oid(NameOID.COMMON_NAME)],
        [str(a.value) for a in name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)],
    )


def other_subject_attributes(name) -> list[str]:
    """The dotted OIDs of an x509 Name's attributes other than its common names and organizations: a
    Kubernetes identity is those two alone, so anything else is a name nobody gave the node."""
    from cryptography.x509.oid import NameOID

    return sorted(
        {a.oid.dotted_string for a in name if a.oid not in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME)}
    )


def csr_common_name(request_pem: bytes) -> str | None:
    """The subject CN of a PEM certificate signing request (None when it cannot be read)."""
    from cryptography import x509

    try:
        names, _ = subject_of(x509.load_pem_x509_csr(request_pem).subject)
    except ValueError:
        return None
    return names[0] if names else None


def node_identity(node: str) -> str:
    """The user name (and certificate CN) of a node's kubelet."""
    return f"system:node:{node}"


def node_csrs(kubeconfig: str, node: str) -> list[str]:
    """Names of the certificate signing requests for the node's identity (system:node:NODE)."""
    import base64

    api = certificates_api(kubeconfig)
    identity = node_identity(node)
    return [
        csr.metadata.name
        for csr in api.list_certificate_signing_request().items
        if csr.spec.username == identity or csr_common_name(base64.b64decode(csr.spec.request)) == identity
    ]


def delete_csrs(kubeconfig: str, names: list[str]) -> None:
    api = certificates_api(kubeconfig)
    for name in names:
        api.delete_certificate_signing_request(name)


def bootstrap_requester(token_id: str) -> str:
    """The user name the API server gives whoever authenticates with this bootstrap token."""
    return f"system:bootstrap:{token_id}"


@dataclass(frozen=True)
class CsrDecision:
    """Whether a bootstrap CSR may be approved; reason says why not (or what was approved)."""

    approve: bool
    reason: str


@dataclass(frozen=True)
class KubeletRequest:
    """What one kind of kubelet certificate request must be: for SIGNER, for USAGE (and no usage outside
    USAGES), asked for by a user in REQUESTER_GROUP, with subject alternative names only when NAMES_ALLOWED."""

    signer: str
    usage: str
    usages: frozenset[str]
    requester_group: str
    names_allowed: bool


KUBELET_CLIENT_REQUEST = KubeletRequest(
    KUBELET_CLIENT_SIGNER, "client auth", KUBELET_CLIENT_USAGES, BOOTSTRAPPERS_GROUP, names_allowed=False
)
KUBELET_SERVING_REQUEST = KubeletRequest(
    KUBELET_SERVING_SIGNER, "server auth", KUBELET_SERVING_USAGES, NODES_GROUP, names_allowed=True
)


@dataclass(frozen=True)
class AskedFor:
    """A certificate signing request as the API server reports it: who asked (USERNAME, GROUPS), for which
    signer and usages, and the request itself (PEM)."""

    username: str
    groups: list[str]
    signer_name: str
    usages: list[str]
    request_pem: bytes

    @classmethod
    def of(cls, csr) -> AskedFor:
        """What a CertificateSigningRequest object of the Kubernetes API asks for."""
        import base64

        spec = csr.spec
        return cls(
            spec.username,
            spec.groups or [],
            spec.signer_name,
            spec.usages or [],
            base64.b64decode(spec.request),
        )


def _kubelet_request_problems(
    kind: KubeletRequest,
    asked: AskedFor,
    requester: str,
    requester_name: str,
    identity: str,
    not_identity: str,
):
    """Why ASKED is not a request of KIND by REQUESTER (REQUESTER_NAME in the messages) for the kubelet
    identity IDENTITY: the requester and its group, the signer, the usage it needs and no other, a valid PEM
    request signed by its key, the subject CN=IDENTITY, O=system:nodes and nothing else, no extension but
    subject alternative names where KIND allows them (NOT_IDENTITY follows a wrong CN in its message).
    Returns (problems, the parsed request or None when it cannot be parsed)."""
    from cryptography import x509

    problems = []
    if asked.username != requester:
        problems.append(f"it was asked for by {asked.username}, not by {requester_name}")
    if kind.requester_group not in (asked.groups or []):
        problems.append(f"its requester is not in {kind.requester_group}")
    if asked.signer_name != kind.signer:
        problems.append(f"it names the signer {asked.signer_name}, not {kind.signer}")
    usages = list(asked.usages or [])
    if kind.usage not in usages:
        problems.append(f"it does not ask for {kind.usage}")
    extra_usages = sorted(set(usages) - kind.usages)
    if extra_usages:
        problems.append(f"it asks for usages {', '.join(extra_usages)}")
    try:
        request = x509.load_pem_x509_csr(asked.request_pem)
    except ValueError:
        problems.append("its request is not a PEM certificate request")
        return problems, None
    if not request.is_signature_valid:
        problems.append("its request is not signed by the key it carries")
    names, organizations = subject_of(request.subject)
    if names != [identity]:
        problems.append(f"it asks for {', '.join(names) or 'no common name'}{not_identity}")
    if organizations != [NODES_GROUP]:
        problems.append(
            f"it asks for organizations {', '.join(organizations) or 'none'}, not {NODES_GROUP} alone"
        )
    others = other_subject_attributes(request.subject)
    if others:
        problems.append(f"its subject has other attributes ({', '.join(others)})")
    for extension in request.extensions:
        if not isinstance(extension.value, x509.SubjectAlternativeName):
            problems.append(f"it asks for the extension {extension.oid.dotted_string}")
        elif not kind.names_allowed:
            sans = ", ".join(str(getattr(n, "value", n)) for n in extension.value)
            problems.append(f"it asks for subject alternative names ({sans})")
    return problems, request


def bootstrap_csr_decision(node: str, token_id: str, asked: AskedFor) -> CsrDecision:
    """Approve a CSR only when it is exactly the node's own kubelet client request, made with the bootstrap
    token issued to that node: requester system:bootstrap:TOKEN_ID, subject CN=system:node:NODE,
    O=system:nodes and nothing else, the kubelet client signer, client auth usages, no extensions (a
    kubelet asks for none; a SAN would be a name the node was not given)."""
    identity = node_identity(node)
    problems, _ = _kubelet_request_problems(
        KUBELET_CLIENT_REQUEST,
        asked,
        bootstrap_requester(token_id),
        f"{node}'s bootstrap token {token_id}",
        identity,
        f" but the token was issued to {node} ({identity})",
    )
    if problems:
        return CsrDecision(False, "; ".join(problems))
    return CsrDecision(True, f"{identity} asked for by the bootstrap token issued to {node}")


def csr_outcome(csr) -> str | None:
    """Approved, Denied or Failed once someone decided on the CSR; None while it is pending."""
    for condition in (csr.status.conditions if csr.status else None) or []:
        if condition.type in ("Approved", "Denied", "Failed") and condition.status == "True":
            return condition.type
    return None


def token_csrs(api, token_id: str) -> list:
    """The certificate signing requests made with one bootstrap token, oldest first."""
    requester = bootstrap_requester(token_id)
    found = [csr for csr in api.list_certificate_signing_request().items if csr.spec.username == requester]
    return sorted(found, key=lambda csr: (csr.metadata.creation_timestamp, csr.metadata.name))


def decide_csr(api, csr, approve: bool, reason: str, message: str) -> None:
    """Add the Approved or Denied condition to a pending CSR (the signer acts only on Approved)."""
    from kubernetes import client

    condition = client.V1CertificateSigningRequestCondition(
        type="Approved" if approve else "Denied",
        status="True",
        reason=reason,
        message=message,
        last_update_time=datetime.datetime.now(datetime.UTC).replace(microsecond=0),
    )
    csr.api_version, csr.kind = "certificates.k8s.io/v1", "CertificateSigningRequest"
    csr.status = csr.status or client.V1CertificateSigningRequestStatus()
    csr.status.conditions = [*(csr.status.conditions or []), condition]
    api.replace_certificate_signing_request_approval(csr.metadata.name, csr)


def _sans(request) -> tuple[list[str], list[str], list[str]]:
    """The DNS names, IP addresses and other kinds of subject alternative name of a CSR or certificate."""
    import ipaddress

    from cryptography import x509

    try:
        names = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], [], []
    dns = [str(n.value) for n in names if isinstance(n, x509.DNSName)]
    ips = [str(ipaddress.ip_address(n.value)) for n in names if isinstance(n, x509.IPAddress)]
    others = [type(n).__name__ for n in names if not isinstance(n, (x509.DNSName, x509.IPAddress))]
    return dns, ips, others


def _canonical_ips(addresses: list[str]) -> set[str]:
    import ipaddress

    return {str(ipaddress.ip_address(a)) for a in addresses}


def serving_csr_decision(
    node: str, addresses: list[str], dns_names: list[str], asked: AskedFor
) -> CsrDecision:
    """Approve a kubelet serving CSR only when the node asks for itself: requester system:node:NODE in
    system:nodes, subject CN=system:node:NODE, O=system:nodes and nothing else, the kubelet-serving signer,
    server auth usages, and subject alternative names that are only the node's own ADDRESSES and DNS_NAMES
    (what the inventory says the node is, never what the node reports about itself)."""
    identity = node_identity(node)
    problems, request = _kubelet_request_problems(
        KUBELET_SERVING_REQUEST,
        asked,
        identity,
        identity,
        identity,
        f", not {identity}",
    )
    if request is None:
        return CsrDecision(False, "; ".join(problems))
    dns, ips, other_sans = _sans(request)
    if other_sans:
        problems.append(f"it asks for subject alternative names of kind {', '.join(sorted(set(other_sans)))}")
    foreign_dns = sorted(set(dns) - set(dns_names))
    if foreign_dns:
        problems.append(f"it asks for DNS names that are not {node}'s ({', '.join(foreign_dns)})")
    foreign_ips = sorted(set(ips) - _canonical_ips(addresses))
    if foreign_ips:
        problems.append(f"it asks for addresses that are not {node}'s ({', '.join(foreign_ips)})")
    if not dns and not ips:
        problems.append("it names no address or DNS name to serve under")
    if problems:
        return CsrDecision(False, "; ".join(problems))
    return CsrDecision(True, f"{identity} serving as {', '.join([*dns, *ips])}, all its own")


def serving_certificate_current(
    node: str,
    addresses: list[str],
    dns_names: list[str],
    certificate_pem: bytes,
    ca_pem: bytes,
    now,
    min_remaining_seconds: int = 3600,
) -> str | None:
    """None when CERTIFICATE_PEM is a serving certificate of NODE the cluster CA signed, valid for at
    least MIN_REMAINING_SECONDS more and naming only the node's own addresses and DNS names; otherwise why
    it is not (so the node needs a new one)."""
    import datetime

    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    try:
        cert = x509.load_pem_x509_certificate(certificate_pem)
        ca = x509.load_pem_x509_certificate(ca_pem)
    except ValueError:
        return "it is not a PEM certificate"
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return "the cluster CA did not sign it"
    if cert.not_valid_after_utc - now < datetime.timedelta(seconds=min_remaining_seconds):
        return f"it expires at {cert.not_valid_after_utc.isoformat()}"
    names, _ = subject_of(cert.subject)
    if names != [node_identity(node)]:
        return f"it is for {', '.join(names) or 'no common name'}"
    dns, ips, _ = _sans(cert)
    if not (dns or ips) or set(dns) - set(dns_names) or set(ips) - _canonical_ips(addresses):
        return f"it names {', '.join([*dns, *ips]) or 'nothing'}, not only {node}'s own names"
    if set(ips) != _canonical_ips(addresses):
        return f"it does not name {node}'s address {', '.join(sorted(_canonical_ips(addresses) - set(ips)))}"
    return None


def serving_csrs(api, node: str) -> list:
    """The kubelet-serving requests that are the node's or claim to be (by requester or CN), oldest first."""
    import base64

    identity = node_identity(node)
    found = [
        csr
        for csr in api.list_certificate_signing_request().items
        if csr.spec.signer_name == KUBELET_SERVING_SIGNER
        and (csr.spec.username == identity or csr_common_name(base64.b64decode(csr.spec.request)) == identity)
    ]
    return sorted(found, key=lambda csr: (csr.metadata.creation_timestamp, csr.metadata.name))
