"""kube_serving_csr: approve a kubelet's serving CSR only for the node's own name and addresses, on the
controller (documented in library/kube_serving_csr.py)."""

from __future__ import annotations

import datetime
import ipaddress
import time
from typing import ClassVar

from edgewright.controller.action import Failed, KubernetesAction
from edgewright.controller.evidence import record_denied_csrs
from edgewright.controller.specs import KUBE_NODE
from edgewright.kube_bootstrap import (
    AskedFor,
    certificates_api,
    csr_outcome,
    decide_csr,
    serving_certificate_current,
    serving_csr_decision,
    serving_csrs,
)

APPROVED_REASON = "EdgewrightNodeServing"
DENIED_REASON = "EdgewrightNotThisNode"


def judge(p: dict, csr):
    return serving_csr_decision(p["node"], p["addresses"], p["dns_names"], AskedFor.of(csr))


def renewal_reason(p: dict) -> str:
    """Why the node needs a new serving certificate; empty when its current one is good."""
    if not p["current_certificate"]:
        return "it has no serving certificate"
    try:
        with open(p["ca_file"], "rb") as ca:
            ca_pem = ca.read()
    except OSError as exc:
        raise Failed(f"cannot read ca_file {p['ca_file']}: {exc.strerror}") from None
    return (
        serving_certificate_current(
            p["node"],
            p["addresses"],
            p["dns_names"],
            p["current_certificate"].encode(),
            ca_pem,
            datetime.datetime.now(datetime.UTC),
        )
        or ""
    )


def run(p: dict, check_mode: bool, warnings: list[str], api) -> dict:
    node = p["node"]
    renew = renewal_reason(p)
    deadline = time.monotonic() + p["timeout"]
    denied: list[dict] = []
    while True:
        pending = [csr for csr in serving_csrs(api, node) if csr_outcome(csr) is None]
        verdicts = {csr.metadata.name: judge(p, csr) for csr in pending}
        refused = [csr for csr in pending if not verdicts[csr.metadata.name].approve]
        acceptable = [csr for csr in pending if verdicts[csr.metadata.name].approve]
        now_denied = [
            {"name": csr.metadata.name, "reason": f"denied: {verdicts[csr.metadata.name].reason}"}
            for csr in refused
        ]
        if now_denied and not check_mode:
            for csr, entry in zip(refused, now_denied, strict=True):
                decide_csr(api, csr, False, DENIED_REASON, entry["reason"])
            record_denied_csrs(
                warnings,
                p["verifier_dir"],
                node,
                now_denied,
                "serving certificate request",
                signer="kubelet-serving",
            )
        denied += now_denied
        refusal = Failed(
            f"serving certificate requests for {node} asked for what is not its own: "
            + "; ".join(f"{e['name']} {e['reason']}" for e in denied),
            changed=bool(denied) and not check_mode,
            approved=[],
            denied=denied,
            renew=renew,
        )
        # A kubelet that needs a certificate may have asked once more under its old address (it was just
        # meshed): that request is denied, and its request for its own names is waited for. Otherwise a
        # request for what is not the node's fails the run at once.
        if denied and (not renew or check_mode):
            raise refusal
        if not renew:
            return {"changed": False, "approved": [], "denied": [], "renew": ""}
        if acceptable:
            # Every one of them: a kubelet that asked twice may wait on either, and each names only the node's
            # own names.
            if not check_mode:
                for csr in acceptable:
                    decide_csr(api, csr, True, APPROVED_REASON, verdicts[csr.metadata.name].reason)
            approved = [csr.metadata.name for csr in acceptable]
            return {"changed": True, "approved": approved, "denied": denied, "renew": renew}
        if check_mode:
            return {"changed": True, "approved": [], "denied": [], "renew": renew}
        if time.monotonic() >= deadline:
            if denied:
                raise refusal
            raise Failed(
                f"no serving certificate request from {node}'s kubelet within {p['timeout']} s ({renew}): "
                "is it running with serverTLSBootstrap?",
                approved=[],
                denied=[],
                renew=renew,
            )
        time.sleep(1)


class ActionModule(KubernetesAction):
    ARGUMENT_SPEC: ClassVar[dict] = {
        **KUBE_NODE,
        "addresses": {"type": "list", "elements": "str", "required": True},
        "dns_names": {"type": "list", "elements": "str", "default": []},
        "current_certificate": {"type": "str"},
        "ca_file": {"type": "path", "required": True},
        "verifier_dir": {"type": "path"},
        "timeout": {"type": "int", "default": 60},
    }

    def act(self, p, dirs):
        if not p["addresses"]:
            raise Failed("addresses must name the node's own IP address")
        for address in p["addresses"]:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise Failed(f"addresses: {address!r} is not an IP address") from None
        if p["timeout"] < 0:
            raise Failed(f"timeout must be 0 or more seconds, not {p['timeout']}")
        return run(p, self.check_mode, self.warnings, certificates_api(p["kubeconfig"]))
