"""kube_node_credentials: revoke what the Kubernetes API holds of a departing node's credentials, on the
controller (documented in library/kube_node_credentials.py)."""

from __future__ import annotations

from typing import ClassVar

from edgewright.controller.action import KubernetesAction
from edgewright.controller.specs import KUBE_NODE
from edgewright.kube_bootstrap import (
    apply_renewal_binding,
    core_api,
    delete_csrs,
    node_csrs,
    node_tokens,
    revoke,
)


class ActionModule(KubernetesAction):
    ARGUMENT_SPEC: ClassVar[dict] = {
        **KUBE_NODE,
        "state": {"type": "str", "choices": ["absent"], "default": "absent"},
    }

    def act(self, p, dirs):
        kubeconfig, node = p["kubeconfig"], p["node"]
        api = core_api(kubeconfig)
        tokens, csrs = node_tokens(api, node), node_csrs(kubeconfig, node)
        if not self.check_mode:
            revoke(api, node)
            delete_csrs(kubeconfig, csrs)
        # A node of the same name later must earn its renewals again, through its own attestation.
        binding = apply_renewal_binding(kubeconfig, node, False, self.check_mode)
        return {
            "changed": bool(tokens or csrs or binding["changed"]),
            "tokens": tokens,
            "csrs": csrs,
            "renewal_binding": binding,
        }
