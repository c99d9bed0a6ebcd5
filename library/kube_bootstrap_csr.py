#!/usr/bin/python
"""Approve a joining kubelet's client CSR, or deny it, for the node its bootstrap token was issued to
(run on the controller: delegate_to localhost)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_bootstrap_csr
short_description: Approve a joining node's kubelet client CSR only when it names that node
description:
  - Runs on the controller (C(delegate_to=localhost)) with the kubernetes Python client and the
    controller's kubeconfig, while the node's kubelet waits for its first client certificate.
  - Looks at every certificate signing request made with the bootstrap token I(token_id) (requester
    C(system:bootstrap:TOKEN_ID)). A request is approved only when it is the node's own kubelet client
    request, C(CN=system:node:NODE, O=system:nodes) for the signer
    C(kubernetes.io/kube-apiserver-client-kubelet), client auth usages and no subject alternative names.
  - Any other request made with the token (another node's name, other organizations, usages or names) is
    denied with a reason that says what it asked for, and so is every pending request of that token (a
    token that asked for what is not its node's gets that node no certificate). The denial is written to
    the verifier's evidence log when I(verifier_dir) is given, and the module fails naming it.
  - Waits up to I(timeout) seconds for the kubelet's request to arrive.
options:
  kubeconfig: {description: The controller's kubeconfig., type: path, required: true}
  node: {description: The Node name the bootstrap token was issued to., type: str, required: true}
  token_id: {description: The public id of the bootstrap token issued to I(node)., type: str, required: true}
  verifier_dir:
    description: The attestation verifier's directory; denials are recorded in its evidence log.
    type: path
  timeout: {description: Seconds to wait for the kubelet's request., type: int, default: 120}
author: edgewright
"""

EXAMPLES = r"""
- name: Approve the node's own client certificate request, nothing else its token asked for
  kube_bootstrap_csr:
    kubeconfig: ~/.kube/config
    node: "{{ inventory_hostname }}"
    token_id: "{{ join_token.token_id }}"
    verifier_dir: ~/.local/state/edgewright/verifier
  delegate_to: localhost
"""

RETURN = r"""
approved: {description: Names of the requests approved by this run., returned: always, type: list}
denied:
  description: The requests denied by this run, each with its name and the reason.
  returned: always
  type: list
  elements: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.kube_bootstrap import (
    TOKEN_ID,
    bootstrap_csr_decision,
    certificates_api,
    csr_outcome,
    decide_csr,
    token_csrs,
)

APPROVED_REASON = "EdgewrightNodeBootstrap"
DENIED_REASON = "EdgewrightNotThisNode"


def judge(node: str, token_id: str, csr):
    import base64

    return bootstrap_csr_decision(
        node,
        token_id,
        csr.spec.username,
        csr.spec.groups or [],
        csr.spec.signer_name,
        csr.spec.usages or [],
        base64.b64decode(csr.spec.request),
    )


def record(module, node: str, denied: list[dict]) -> None:
    """Write the denials to the verifier's evidence log; a warning says so when that cannot be done."""
    for entry in denied:
        module.warn(f"denied certificate signing request {entry['name']} of {node}: {entry['reason']}")
    if not module.params["verifier_dir"]:
        return
    try:
        from edgewright.attest.store import Store
        from edgewright.attest.verifier import Verifier

        verifier = Verifier(Store(module.params["verifier_dir"]))
        for entry in denied:
            verifier.record_denied_csr(node, entry["reason"], csr=entry["name"], token_id=entry["token_id"])
    except Exception as exc:  # the denial stands; only its record failed, and the result still carries it
        module.warn(f"could not record the denial in the verifier's evidence log: {exc}")


def run(module, api) -> dict:
    p = module.params
    node, token_id = p["node"], p["token_id"]
    deadline = time.monotonic() + p["timeout"]
    approved: list[str] = []
    while True:
        csrs = token_csrs(api, token_id)
        pending = [csr for csr in csrs if csr_outcome(csr) is None]
        verdicts = {csr.metadata.name: judge(node, token_id, csr) for csr in pending}
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
            if not module.check_mode:
                for csr, entry in zip(pending, denied, strict=True):
                    decide_csr(api, csr, False, DENIED_REASON, entry["reason"])
                record(module, node, denied)
            reasons = "; ".join(f"{e['name']} {e['reason']}" for e in denied) or (
                f"{', '.join(denied_before)} already denied"
            )
            module.fail_json(
                msg=f"no client certificate for {node}: its bootstrap token {token_id} asked for what is not "
                f"its own ({reasons})",
                changed=bool(denied) and not module.check_mode,
                approved=approved,
                denied=denied,
            )
        if module.check_mode:
            return {"changed": bool(pending), "approved": [c.metadata.name for c in pending], "denied": []}
        for csr in pending:
            decide_csr(api, csr, True, APPROVED_REASON, verdicts[csr.metadata.name].reason)
            approved.append(csr.metadata.name)
        if approved or any(csr_outcome(csr) == "Approved" for csr in csrs):
            return {"changed": bool(approved), "approved": approved, "denied": []}
        if time.monotonic() >= deadline:
            module.fail_json(
                msg=f"no certificate signing request from {node}'s bootstrap token {token_id} within "
                f"{p['timeout']} s: is its kubelet running with the bootstrap kubeconfig?",
                approved=[],
                denied=[],
            )
        time.sleep(1)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kubeconfig=dict(type="path", required=True),
            node=dict(type="str", required=True),
            token_id=dict(type="str", required=True),
            verifier_dir=dict(type="path"),
            timeout=dict(type="int", default=120),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not TOKEN_ID.match(p["token_id"]):
        module.fail_json(msg=f"token_id {p['token_id']!r} is not a bootstrap token id (six of [a-z0-9])")
    if p["timeout"] < 0:
        module.fail_json(msg=f"timeout must be 0 or more seconds, not {p['timeout']}")
    try:
        api = certificates_api(p["kubeconfig"])
        result = run(module, api)
    except ImportError as exc:
        module.fail_json(msg=f"the controller needs the kubernetes Python client: {exc}")
    except Exception as exc:  # the API's own errors (unreachable, refused) name the problem
        module.fail_json(msg=f"Kubernetes API at {p['kubeconfig']}: {exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
