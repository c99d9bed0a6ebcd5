"""kube_bootstrap_csr: approve a joining node's own kubelet client CSR and deny anything else its token asked
for, on the controller (documented in library/kube_bootstrap_csr.py)."""

from __future__ import annotations

import time
from typing import ClassVar

from edgewright.controller.action import Failed, KubernetesAction
from edgewright.controller.evidence import record_denied_csrs
from edgewright.controller.specs import KUBE_NODE
from edgewright.kube_bootstrap import (
    TOKEN_ID,
    AskedFor,
    TokenError,
    bootstrap_csr_decision,
    certificates_api,
    csr_outcome,
    decide_csr,
    token_csrs,
)

APPROVED_REASON = "EdgewrightNodeBootstrap"
DENIED_REASON = "EdgewrightNotThisNode"


def run(p: dict, check_mode: bool, warnings: list[str], api) -> dict:
    node, token_id = p["node"], p["token_id"]
    deadline = time.monotonic() + p["timeout"]
    approved: list[str] = []
    while True:
        csrs = token_csrs(api, token_id)
        pending = [csr for csr in csrs if csr_outcome(csr) is None]
        verdicts = {
            csr.metadata.name: bootstrap_csr_decision(node, token_id, AskedFor.of(csr)) for csr in pending
        }
        refused = [csr for csr in pending if not verdicts[csr.metadata.name].approve]
        denied_before = [csr.metadata.name for csr in csrs if csr_outcome(csr) == "Denied"]
        if refused or denied_before:
            denied = []
            for csr in pending:
                verdict = verdicts[csr.metadata.name]
                reason = (
                    f"denied: {verdict.reason}"
                    if not verdict.approve
                    else f"denied: the bootstrap token issued to {node} also asked for what is not {node}'s"
                )
                denied.append({"name": csr.metadata.name, "reason": reason, "token_id": token_id})
            if not check_mode:
                for csr, entry in zip(pending, denied, strict=True):
                    decide_csr(api, csr, False, DENIED_REASON, entry["reason"])
                record_denied_csrs(warnings, p["verifier_dir"], node, denied, "certificate signing request")
            reasons = "; ".join(f"{e['name']} {e['reason']}" for e in denied) or (
                f"{', '.join(denied_before)} already denied"
            )
            raise Failed(
                f"no client certificate for {node}: its bootstrap token {token_id} asked for what is not "
                f"its own ({reasons})",
                changed=bool(denied) and not check_mode,
                approved=approved,
                denied=denied,
            )
        if check_mode:
            return {"changed": bool(pending), "approved": [c.metadata.name for c in pending], "denied": []}
        for csr in pending:
            decide_csr(api, csr, True, APPROVED_REASON, verdicts[csr.metadata.name].reason)
            approved.append(csr.metadata.name)
        if approved or any(csr_outcome(csr) == "Approved" for csr in csrs):
            return {"changed": bool(approved), "approved": approved, "denied": []}
        if time.monotonic() >= deadline:
            raise Failed(
                f"no certificate signing request from {node}'s bootstrap token {token_id} within "
                f"{p['timeout']} s: is its kubelet running with the bootstrap kubeconfig?",
                approved=[],
                denied=[],
            )
        time.sleep(1)


class ActionModule(KubernetesAction):
    ARGUMENT_SPEC: ClassVar[dict] = {
        **KUBE_NODE,
        "token_id": {"type": "str", "required": True},
        "verifier_dir": {"type": "path"},
        "timeout": {"type": "int", "default": 120},
    }

    def act(self, p, dirs):
        if not TOKEN_ID.match(p["token_id"]):
            raise TokenError(f"token_id {p['token_id']!r} is not a bootstrap token id (six of [a-z0-9])")
        if p["timeout"] < 0:
            raise TokenError(f"timeout must be 0 or more seconds, not {p['timeout']}")
        return run(p, self.check_mode, self.warnings, certificates_api(p["kubeconfig"]))
