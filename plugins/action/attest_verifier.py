"""attest_verifier: enroll, attest, quarantine and release nodes with edgewright's verifier, on the controller
(documented in library/attest_verifier.py)."""

from __future__ import annotations

import base64
import binascii
from typing import ClassVar

from edgewright.attest.store import Store
from edgewright.attest.verifier import Refused, Verifier, validate_golden
from edgewright.controller.action import ControllerAction, Failed
from edgewright.controller.specs import VERIFIER_STORE

ACTIONS = [
    "enroll",
    "complete",
    "nonce",
    "verify",
    "quarantine",
    "release",
    "require_attested",
    "policy",
    "deregister",
]

# What each step cannot do without.
REQUIRED = {
    "enroll": ("ek_public", "ak_public"),
    "complete": ("secret",),
    "verify": ("node_class", "quote"),
    "quarantine": ("reason",),
    "policy": ("node_class", "pcrs"),
}


def b64(name: str, value) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise Failed(f"{name} is not valid base64") from None


class ActionModule(ControllerAction):
    ARGUMENT_SPEC: ClassVar[dict] = {
        "store": VERIFIER_STORE,
        "node": {"type": "str", "required": True},
        "action": {"type": "str", "required": True, "choices": ACTIONS},
        "ek_public": {"type": "str"},
        "ak_public": {"type": "str"},
        "ek_certificate": {"type": "str"},
        "insecure_trust_any_ek": {"type": "bool", "default": False},
        "secret": {"type": "str", "no_log": True},
        "node_class": {"type": "str"},
        "quote": {"type": "dict"},
        "learn_policy": {"type": "bool", "default": False},
        "policy_reference_node": {"type": "str"},
        "expected_pcrs": {"type": "list", "elements": "int"},
        "pcrs": {"type": "dict"},
        "reason": {"type": "str"},
        "forget_keys": {"type": "bool", "default": False, "no_log": False},
        "max_age": {"type": "float"},
        "nonce_ttl": {"type": "float", "default": 300},
    }

    def act(self, p, dirs):
        if p["insecure_trust_any_ek"]:
            self.warnings.append(
                "insecure_trust_any_ek: EKs are enrolled without a manufacturer's certificate"
            )
        verifier = Verifier(
            Store(p["store"] or dirs.verifier),
            nonce_ttl=p["nonce_ttl"],
            insecure_trust_any_ek=p["insecure_trust_any_ek"],
        )
        try:
            return self.step(p, verifier)
        except Refused as exc:
            record = verifier.status(p["node"]) or {}
            raise Failed(str(exc), status=record.get("status", "unknown"), reason=str(exc)) from None

    def step(self, p, verifier):
        node, action = p["node"], p["action"]
        missing = [k for k in REQUIRED.get(action, ()) if p[k] in (None, "", {})]
        if missing:
            raise Failed(f"action {action} needs {', '.join(missing)}")
        record = verifier.status(node) or {}
        current = record.get("status", "unknown")
        if action == "require_attested":
            if p["max_age"] is None:
                verifier.require_attested(node)
            else:
                verifier.require_attested(node, max_age=p["max_age"])
            return {"changed": False, "status": current, "reason": "attested"}
        if action == "deregister":
            if self.check_mode:
                return {"changed": bool(record), "status": current, "reason": "check mode"}
            return {"changed": verifier.deregister(node), "status": "unknown", "reason": "deregistered"}
        if action == "policy":
            if self.check_mode:
                validate_golden(p["pcrs"])
                changed = verifier.store.policy(p["node_class"]) is None
                return {"changed": changed, "status": current, "reason": ""}
            return {
                "changed": verifier.set_policy(p["node_class"], p["pcrs"]),
                "status": current,
                "reason": "",
            }
        if self.check_mode:
            if action == "enroll":
                would = not record.get("enrolled_at")
                return {"changed": would, "status": current, "reason": "check mode", "credential": None}
            return {"changed": False, "status": current, "reason": "check mode: verifier not contacted"}
        if action == "enroll":
            ek_certificate = b64("ek_certificate", p["ek_certificate"]) if p["ek_certificate"] else None
            challenge = verifier.enroll_challenge(
                node, b64("ek_public", p["ek_public"]), b64("ak_public", p["ak_public"]), ek_certificate
            )
            credential = base64.b64encode(challenge.credential).decode() if challenge.credential else None
            status = (verifier.status(node) or {}).get("status", current)
            return {"changed": challenge.changed, "status": status, "reason": "", "credential": credential}
        if action == "nonce":
            return {
                "changed": False,
                "status": current,
                "reason": "",
                "nonce": verifier.issue_nonce(node).hex(),
            }
        if action == "complete":
            verdict = verifier.enroll_complete(node, b64("secret", p["secret"]))
        elif action == "verify":
            q = p["quote"]
            if p["learn_policy"] and not p["policy_reference_node"]:
                raise Failed(
                    "learn_policy needs policy_reference_node: the one node a policy is learned from"
                )
            log = q.get("measurement_log")
            if log is not None and not isinstance(log, str):
                raise Failed("quote.measurement_log must be the log's text")
            try:
                pcrs = {int(i): bytes.fromhex(v) for i, v in q["pcrs"].items()}
            except (KeyError, TypeError, ValueError, AttributeError):
                raise Failed("quote.pcrs must map PCR numbers to hex values") from None
            verdict = verifier.verify(
                node,
                p["node_class"],
                b64("quote.message", q.get("message")),
                b64("quote.signature", q.get("signature")),
                pcrs,
                learn_policy=p["learn_policy"],
                measurement_log=log,
                expected_pcrs=p["expected_pcrs"],
                policy_reference_node=p["policy_reference_node"],
            )
        elif action == "quarantine":
            verdict = verifier.quarantine(node, p["reason"])
        else:
            verdict = verifier.release(node, by="ansible", forget_keys=p["forget_keys"])
        result = {
            "changed": verdict.changed,
            "status": verdict.status,
            "reason": verdict.reason,
            "details": dict(verdict.details),
        }
        if not verdict.ok and action != "quarantine":
            raise Failed(f"node {node} is quarantined: {verdict.reason}", **result)
        return result
