"""Argument specs several action plugins share (as kubernetes.core's args_common)."""

from __future__ import annotations

# The Kubernetes API as the controller reaches it, and the node a call is about.
KUBE_NODE = {
    "kubeconfig": {"type": "path", "required": True},
    "node": {"type": "str", "required": True},
}

# The attestation verifier's store; without it, the inventory's edgewright_verifier_dir or the default.
VERIFIER_STORE = {"type": "path"}
