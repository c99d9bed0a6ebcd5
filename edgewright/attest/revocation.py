"""What a node's attestation standing means in Kubernetes, as data: its Node's labels and taint, and the
binding that lets the controller manager renew its kubelet client certificate.

A quarantined node's Node carries labels the kubelet cannot set or clear (under
`node-restriction.kubernetes.io/`, which the NodeRestriction admission plugin keeps from kubelets) and a
NoExecute taint (kubelets cannot change taints either), so its pods and device twins move off it. Its
kubelet's renewals stop being approved: the controller manager approves a node's renewal only while the
node's own ClusterRoleBinding to `selfnodeclient` exists, one binding per attested node, so revoking one
node is deleting one object, never editing a list shared with the rest of the fleet.

Pure functions here; library/kube_node_standing.py applies them through the Kubernetes API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from edgewright.kube_bootstrap import node_identity

ATTESTED = "attested"
QUARANTINED = "quarantined"
STANDINGS = (ATTESTED, QUARANTINED)

# Under node-restriction.kubernetes.io/: the NodeRestriction admission plugin refuses a kubelet that sets,
# changes or removes these on its own Node, so only the controller speaks for the verifier.
ATTESTED_LABEL = "node-restriction.kubernetes.io/edgewright-attested"
QUARANTINED_LABEL = "node-restriction.kubernetes.io/edgewright-quarantined"
# Where earlier releases kept the verifier's word; a kubelet can set it, so the controller removes it.
LEGACY_ATTESTED_LABEL = "edgewright.io/attested"
QUARANTINE_TAINT = {"key": "edgewright.io/quarantined", "value": "true", "effect": "NoExecute"}

RENEWAL_ROLE = "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"
RENEWAL_BINDING_PREFIX = "edgewright:node-renewal:"


def check_standing(standing: str) -> str:
    if standing not in STANDINGS:
        raise ValueError(f"standing {standing!r} is not one of {', '.join(STANDINGS)}")
    return standing


def node_labels(standing: str) -> dict[str, str | None]:
    """The labels (None: removed) a Node of this standing carries, as a merge patch's labels."""
    quarantined = check_standing(standing) == QUARANTINED
    return {
        ATTESTED_LABEL: "false" if quarantined else "true",
        QUARANTINED_LABEL: "true" if quarantined else None,
        LEGACY_ATTESTED_LABEL: None,
    }


def _is_quarantine_taint(taint: Mapping[str, Any]) -> bool:
    return taint.get("key") == QUARANTINE_TAINT["key"] and taint.get("effect") == QUARANTINE_TAINT["effect"]


def node_taints(standing: str, current: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The Node's taints for this standing: the ones it has, with the quarantine taint added or removed.
    Other taints (an operator's, the battery taint, Kubernetes' own) are kept as they are."""
    others = [dict(t) for t in current if not _is_quarantine_taint(t)]
    return [*others, dict(QUARANTINE_TAINT)] if check_standing(standing) == QUARANTINED else others


def node_patch(standing: str, node: Mapping[str, Any]) -> dict[str, Any] | None:
    """The merge patch that gives NODE (a Node as a dict) this standing; None when it already has it."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    current_taints = (node.get("spec") or {}).get("taints") or []
    wanted_labels = {k: v for k, v in node_labels(standing).items() if labels.get(k) != v}
    wanted_taints = node_taints(standing, current_taints)
    patch: dict[str, Any] = {}
    if wanted_labels:
        patch["metadata"] = {"labels": wanted_labels}
    if _taint_keys(wanted_taints) != _taint_keys(current_taints):
        # A merge patch replaces the list whole: the kept taints are sent back with it.
        patch["spec"] = {"taints": wanted_taints}
    return patch or None


def _taint_keys(taints: Iterable[Mapping[str, Any]]) -> list[tuple[Any, Any, Any]]:
    return sorted((t.get("key"), t.get("value"), t.get("effect")) for t in taints)


def renewal_binding_name(node: str) -> str:
    return f"{RENEWAL_BINDING_PREFIX}{node}"


def renewal_binding(node: str) -> dict[str, Any]:
    """The ClusterRoleBinding that lets the controller manager approve NODE's own client certificate
    renewals (for its own name only: the selfnodeclient approver checks the CSR names its requester)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": renewal_binding_name(node)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": RENEWAL_ROLE},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": node_identity(node)}],
    }
