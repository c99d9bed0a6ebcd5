"""kube_node_standing: a node's standing in Kubernetes as the verifier has it (attested or quarantined), on
the controller (documented in library/kube_node_standing.py)."""

from __future__ import annotations

from typing import ClassVar

from edgewright.attest import revocation
from edgewright.attest.store import Store
from edgewright.attest.verifier import Verifier
from edgewright.controller.action import KubernetesAction
from edgewright.controller.specs import KUBE_NODE
from edgewright.kube_bootstrap import (
    apply_renewal_binding,
    certificates_api,
    core_api,
    csr_outcome,
    decide_csr,
    node_csrs,
    node_tokens,
    revoke,
)

DENIED_REASON = "EdgewrightNodeQuarantined"


def apply_node(api, node: str, standing: str, check_mode: bool) -> dict:
    from kubernetes.client.exceptions import ApiException

    try:
        current = api.api_client.sanitize_for_serialization(api.read_node(node))
    except ApiException as exc:
        if exc.status == 404:
            return {"registered": False, "patch": None}
        raise
    patch = revocation.node_patch(standing, current)
    if patch is not None and not check_mode:
        api.patch_node(node, patch)
    return {"registered": True, "patch": patch}


def deny_pending(kubeconfig: str, node: str, reason: str, verifier_dir, check_mode: bool) -> list[str]:
    """Deny every undecided request for the node's identity, recording each in the evidence log."""
    api = certificates_api(kubeconfig)
    denied = []
    for name in node_csrs(kubeconfig, node):
        csr = api.read_certificate_signing_request(name)
        if csr_outcome(csr) is not None:
            continue
        denied.append(name)
        if check_mode:
            continue
        message = f"node {node} is quarantined: {reason}"
        decide_csr(api, csr, False, DENIED_REASON, message)
        if verifier_dir:
            Verifier(Store(verifier_dir)).record_denied_csr(
                node, message, csr=name, requester=csr.spec.username, signer=csr.spec.signer_name
            )
    return denied


class ActionModule(KubernetesAction):
    ARGUMENT_SPEC: ClassVar[dict] = {
        **KUBE_NODE,
        "state": {"type": "str", "choices": ["attested", "quarantined"], "required": True},
        "verifier_dir": {"type": "path"},
        "reason": {"type": "str", "default": "quarantined"},
    }

    def act(self, p, dirs):
        kubeconfig, node, standing = p["kubeconfig"], p["node"], p["state"]
        quarantined = standing == revocation.QUARANTINED
        result = {"denied": [], "tokens": []}
        api = core_api(kubeconfig)
        # Renewals stop first: the taint below makes the node's pods leave, and nothing may renew meanwhile.
        result["renewal_binding"] = apply_renewal_binding(kubeconfig, node, not quarantined, self.check_mode)
        if quarantined:
            result["denied"] = deny_pending(kubeconfig, node, p["reason"], p["verifier_dir"], self.check_mode)
            result["tokens"] = node_tokens(api, node) if self.check_mode else revoke(api, node)
        result["node"] = apply_node(api, node, standing, self.check_mode)
        result["changed"] = bool(
            result["renewal_binding"]["changed"]
            or result["denied"]
            or result["tokens"]
            or result["node"]["patch"]
        )
        return result
