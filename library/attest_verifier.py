#!/usr/bin/python
"""Talk to edgewright's attestation verifier (run on the controller: delegate_to localhost)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: attest_verifier
short_description: Enroll, attest, quarantine and release edge nodes with edgewright's TPM verifier
description:
  - Runs on the controller (delegated to localhost) against the verifier's directory, where it keeps a
    registry of enrolled nodes, golden PCR policies per node class and an evidence log (JSON lines).
  - Each I(action) is one step of a node's enrollment or attestation; the node-side steps are the
    M(tpm_identity), M(tpm_activate_credential) and M(tpm_quote) modules.
  - Needs the C(edgewright) Python package on the controller.
options:
  store: {description: The verifier's directory on the controller., type: path, required: true}
  node: {description: The node's name (its inventory hostname)., type: str, required: true}
  action:
    description:
      - C(enroll) issues a credential challenge unless the node is enrolled with these keys;
        C(complete) checks the secret the node's TPM recovered; C(nonce) issues a fresh nonce;
        C(verify) checks a quote; C(quarantine) quarantines the node with I(reason);
        C(release) lifts a quarantine; C(require_attested) fails unless the node is attested;
        C(policy) sets the golden PCR values of I(node_class); C(deregister) forgets a decommissioned node
        and its keys.
    type: str
    required: true
    choices: [enroll, complete, nonce, verify, quarantine, release, require_attested, policy, deregister]
  ek_public: {description: The EK's TPM2B_PUBLIC (base64) for C(enroll)., type: str}
  ak_public: {description: The AK's TPM2B_PUBLIC (base64) for C(enroll)., type: str}
  ek_certificate:
    description:
      - For C(enroll), the EK certificate the TPM's manufacturer stored in it (DER, base64), as
        M(tpm_identity) returns it. The EK is enrolled only when this certificate is signed by a
        manufacturer CA in the store's C(ek-ca/) directory, or the EK is in C(ek-allowlist.txt).
    type: str
  insecure_trust_any_ek:
    description:
      - Enroll any EK, certified or not (trust on first use). A node without a TPM passes then, with keys
        made in software; for a test bench only.
    type: bool
    default: false
  secret: {description: The activated credential secret (base64) for C(complete)., type: str}
  node_class: {description: The node's class; its golden policy applies (C(verify), C(policy))., type: str}
  quote:
    description: The node's quote for C(verify), as M(tpm_quote) returns it (message, signature, pcrs).
    type: dict
  learn_policy:
    description:
      - With C(verify), make this node's PCR values and measurement log the golden policy of a class that
        has none, when this node is I(policy_reference_node) (required with it). Any other node never
        learns; it fails until the reference node has attested.
      - Refused (and the node quarantined) when the quote does not cover exactly I(expected_pcrs), or its
        measurement log is empty or does not replay.
    type: bool
    default: false
  policy_reference_node:
    description: With I(learn_policy), the one node a class's policy is learned from.
    type: str
  expected_pcrs:
    description: With C(verify), the PCRs every node of the class quotes; a policy is learned only from a quote of exactly these.
    type: list
    elements: int
  pcrs: {description: Golden PCR values for C(policy) (PCR number to SHA-256 hex)., type: dict}
  reason: {description: Why the node is quarantined (C(quarantine))., type: str}
  forget_keys: {description: With C(release), make the node enroll again., type: bool, default: false}
  max_age:
    description:
      - With C(require_attested), the oldest attestation (seconds) that lets the node through; older, the
        node is refused (not quarantined) until it attests again. Unset, the verifier's default (3600 s).
    type: float
  nonce_ttl: {description: Seconds a nonce stays valid., type: float, default: 300}
author: edgewright
"""

EXAMPLES = r"""
- name: Issue a fresh nonce for this node's quote
  attest_verifier: {store: /var/lib/edgewright-verifier, node: "{{ inventory_hostname }}", action: nonce}
  delegate_to: localhost
  register: attest_nonce

- name: Refuse a node that is not attested
  attest_verifier: {store: /var/lib/edgewright-verifier, node: "{{ inventory_hostname }}", action: require_attested}
  delegate_to: localhost
"""

RETURN = r"""
status: {description: The node's status after this step (enrolling, enrolled, attested, quarantined, released)., returned: always, type: str}
reason: {description: Why, in words (the failure reason when quarantined)., returned: always, type: str}
credential: {description: The credential challenge (base64) from C(enroll); null when already enrolled., returned: when action is enroll, type: str}
nonce: {description: The nonce (hex) from C(nonce)., returned: when action is nonce, type: str}
details: {description: What the verdict was based on (class, nonce, PCR values)., returned: when action is verify, type: dict}
"""

import base64
import binascii

from ansible.module_utils.basic import AnsibleModule

try:
    from edgewright.attest.store import Store, StoreError
    from edgewright.attest.verifier import Refused, Verifier, VerifierError

    IMPORT_ERROR = None
except ImportError as exc:  # the controller lacks the package: say so rather than a traceback
    IMPORT_ERROR = str(exc)


def b64(module, name, value):
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError):
        module.fail_json(msg=f"{name} is not valid base64")


REQUIRED = {
    "enroll": ("ek_public", "ak_public"),
    "complete": ("secret",),
    "verify": ("node_class", "quote"),
    "quarantine": ("reason",),
    "policy": ("node_class", "pcrs"),
}


def run(module, verifier):
    p = module.params
    node, action = p["node"], p["action"]
    missing = [k for k in REQUIRED.get(action, ()) if p[k] in (None, "", {})]
    if missing:
        module.fail_json(msg=f"action {action} needs {', '.join(missing)}")
    record = verifier.status(node) or {}
    current = record.get("status", "unknown")
    if action == "require_attested":
        if p["max_age"] is None:
            verifier.require_attested(node)
        else:
            verifier.require_attested(node, max_age=p["max_age"])
        return {"changed": False, "status": current, "reason": "attested"}
    if action == "deregister":
        known = verifier.status(node) is not None
        if module.check_mode:
            return {"changed": known, "status": current, "reason": "check mode"}
        return {"changed": verifier.deregister(node), "status": "unknown", "reason": "deregistered"}
    if action == "policy":
        if module.check_mode:
            from edgewright.attest.verifier import validate_golden

            validate_golden(p["pcrs"])
            return {
                "changed": verifier.store.policy(p["node_class"]) is None,
                "status": current,
                "reason": "",
            }
        return {"changed": verifier.set_policy(p["node_class"], p["pcrs"]), "status": current, "reason": ""}
    if module.check_mode:
        if action == "enroll":
            would = not record.get("enrolled_at")
            return {"changed": would, "status": current, "reason": "check mode", "credential": None}
        return {"changed": False, "status": current, "reason": "check mode: verifier not contacted"}
    if action == "enroll":
        ek_certificate = b64(module, "ek_certificate", p["ek_certificate"]) if p["ek_certificate"] else None
        challenge = verifier.enroll_challenge(
            node,
            b64(module, "ek_public", p["ek_public"]),
            b64(module, "ak_public", p["ak_public"]),
            ek_certificate,
        )
        credential = base64.b64encode(challenge.credential).decode() if challenge.credential else None
        status = (verifier.status(node) or {}).get("status", current)
        return {"changed": challenge.changed, "status": status, "reason": "", "credential": credential}
    if action == "complete":
        verdict = verifier.enroll_complete(node, b64(module, "secret", p["secret"]))
    elif action == "nonce":
        return {"changed": False, "status": current, "reason": "", "nonce": verifier.issue_nonce(node).hex()}
    elif action == "verify":
        q = p["quote"]
        if p["learn_policy"] and not p["policy_reference_node"]:
            module.fail_json(
                msg="learn_policy needs policy_reference_node: the one node a policy is learned from"
            )
        log = q.get("measurement_log")
        if log is not None and not isinstance(log, str):
            module.fail_json(msg="quote.measurement_log must be the log's text")
        try:
            pcrs = {int(i): bytes.fromhex(v) for i, v in q["pcrs"].items()}
        except (KeyError, TypeError, ValueError, AttributeError):
            module.fail_json(msg="quote.pcrs must map PCR numbers to hex values")
        verdict = verifier.verify(
            node,
            p["node_class"],
            b64(module, "quote.message", q.get("message")),
            b64(module, "quote.signature", q.get("signature")),
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
        module.fail_json(msg=f"node {node} is quarantined: {verdict.reason}", **result)
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "store": {"type": "path", "required": True},
            "node": {"type": "str", "required": True},
            "action": {
                "type": "str",
                "required": True,
                "choices": [
                    "enroll",
                    "complete",
                    "nonce",
                    "verify",
                    "quarantine",
                    "release",
                    "require_attested",
                    "policy",
                    "deregister",
                ],
            },
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
        },
        supports_check_mode=True,
    )
    if IMPORT_ERROR:
        module.fail_json(
            msg=f"the edgewright package is not importable on the controller ({IMPORT_ERROR}): "
            "install it, or run from the project with PYTHONPATH set to its root"
        )
    verifier = Verifier(
        Store(module.params["store"]),
        nonce_ttl=module.params["nonce_ttl"],
        insecure_trust_any_ek=module.params["insecure_trust_any_ek"],
    )
    if module.params["insecure_trust_any_ek"]:
        module.warn("insecure_trust_any_ek: EKs are enrolled without a manufacturer's certificate")
    try:
        module.exit_json(**run(module, verifier))
    except Refused as exc:
        record = verifier.status(module.params["node"]) or {}
        module.fail_json(msg=str(exc), status=record.get("status", "unknown"), reason=str(exc))
    except (StoreError, VerifierError) as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
