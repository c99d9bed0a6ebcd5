"""kube_bootstrap_token: issue or revoke a joining node's short-lived bootstrap tokens, on the controller
(documented in library/kube_bootstrap_token.py)."""

from __future__ import annotations

import datetime
from typing import ClassVar

from edgewright.controller.action import KubernetesAction
from edgewright.controller.specs import KUBE_NODE
from edgewright.kube_bootstrap import check_groups, core_api, expiration, issue, node_tokens, revoke


class ActionModule(KubernetesAction):
    ARGUMENT_SPEC: ClassVar[dict] = {
        **KUBE_NODE,
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "ttl": {"type": "int", "default": 600},
        "groups": {"type": "list", "elements": "str", "default": ["system:bootstrappers:edgewright"]},
    }

    def act(self, p, dirs):
        now = datetime.datetime.now(datetime.UTC)
        expires = expiration(now, p["ttl"])
        check_groups(p["groups"])
        api = core_api(p["kubeconfig"])
        if p["state"] == "absent":
            existing = node_tokens(api, p["node"])
            revoked = existing if self.check_mode else revoke(api, p["node"])
            return {"changed": bool(existing), "revoked": revoked}
        if self.check_mode:
            return {"changed": True, "token": None, "token_id": None, "expiration": expires}
        return {"changed": True, **issue(api, p["node"], p["ttl"], p["groups"], now)}
