#!/usr/bin/python
"""Approve a kubelet's serving CSR, or deny it, only for the node's own names and addresses (run on the
controller: delegate_to localhost)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_serving_csr
short_description: Approve a node's kubelet serving CSR only when it names that node and its own addresses
description:
  - Runs on the controller (C(delegate_to=localhost)) with the kubernetes Python client and the
    controller's kubeconfig. A kubelet with C(serverTLSBootstrap) asks, with its node credential, for the
    certificate it serves its API under (C(kubectl logs), C(exec)); nothing in Kubernetes approves those.
  - Looks at every pending request for the signer C(kubernetes.io/kubelet-serving) that is the node's
    (requester C(system:node:NODE)) or claims to be (C(CN=system:node:NODE)). A request is approved only
    when the node asks for itself, C(CN=system:node:NODE, O=system:nodes), server auth usages, and subject
    alternative names among I(addresses) and I(dns_names) alone (the inventory's word, not the node's).
  - Anything else (another node's name, an address or DNS name the node does not have) is denied with a
    reason that says what it asked for, written to the verifier's evidence log when I(verifier_dir) is
    given, and the module fails naming it.
  - When I(current_certificate) is still good (signed by I(ca_file), valid another hour, naming only the
    node's own names) nothing is approved, so a rerun approves no second certificate. Otherwise waits up
    to I(timeout) seconds for the kubelet's request and approves the newest.
options:
  kubeconfig: {description: The controller's kubeconfig., type: path, required: true}
  node: {description: The Node name., type: str, required: true}
  addresses: {description: The node's own IP addresses (its InternalIP)., type: list, elements: str, required: true}
  dns_names: {description: The node's own DNS names (its hostname)., type: list, elements: str, default: []}
  current_certificate: {description: The node's current serving certificate (PEM), when it has one., type: str}
  ca_file: {description: The cluster CA certificate that signs serving certificates., type: path, required: true}
  verifier_dir:
    description: The attestation verifier's directory; denials are recorded in its evidence log.
    type: path
  timeout: {description: Seconds to wait for the kubelet's request., type: int, default: 60}
author: edgewright
"""

EXAMPLES = r"""
- name: Approve the kubelet's serving certificate for the node's own name and address only
  kube_serving_csr:
    kubeconfig: ~/.kube/config
    node: "{{ inventory_hostname }}"
    addresses: ["{{ kubelet_node_ip }}"]
    dns_names: ["{{ inventory_hostname }}"]
    ca_file: ~/.local/state/edgewright/ca.crt
  delegate_to: localhost
"""

RETURN = r"""
approved: {description: Names of the requests approved by this run., returned: always, type: list}
denied:
  description: The requests denied by this run, each with its name and the reason.
  returned: always
  type: list
  elements: dict
renew:
  description: Why the node needs a new serving certificate (empty when its current one is good).
  returned: always
  type: str
"""

import base64
import datetime
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.kube_bootstrap import (
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
    return serving_csr_decision(
        p["node"],
        p["addresses"],
        p["dns_names"],
        csr.spec.username,
        csr.spec.groups or [],
        csr.spec.signer_name,
        csr.spec.usages or [],
        base64.b64decode(csr.spec.request),
    )


def record(module, node: str, denied: list[dict]) -> None:
    """Write the denials to the verifier's evidence log; a warning says so when that cannot be done."""
    for entry in denied:
        module.warn(f"denied serving certificate request {entry['name']} for {node}: {entry['reason']}")
    if not module.params["verifier_dir"]:
        return
    try:
        from edgewright.attest.store import Store
        from edgewright.attest.verifier import Verifier

        verifier = Verifier(Store(module.params["verifier_dir"]))
        for entry in denied:
            verifier.record_denied_csr(node, entry["reason"], csr=entry["name"], signer="kubelet-serving")
    except Exception as exc:  # the denial stands; only its record failed, and the result still carries it
        module.warn(f"could not record the denial in the verifier's evidence log: {exc}")


def renewal_reason(p: dict) -> str:
    """Why the node needs a new serving certificate; empty when its current one is good."""
    if not p["current_certificate"]:
        return "it has no serving certificate"
    with open(p["ca_file"], "rb") as ca:
        ca_pem = ca.read()
    return (
        serving_certificate_current(
            p["node"],
            p["addresses"],
            p["dns_names"],
            p["current_certificate"].encode(),
            ca_pem,
            datetime.datetime.now(datetime.timezone.utc),
        )
        or ""
    )


def run(module, api) -> dict:
    p = module.params
    node = p["node"]
    renew = renewal_reason(p)
    deadline = time.monotonic() + p["timeout"]
    while True:
        pending = [csr for csr in serving_csrs(api, node) if csr_outcome(csr) is None]
        verdicts = {csr.metadata.name: judge(p, csr) for csr in pending}
        refused = [csr for csr in pending if not verdicts[csr.metadata.name].approve]
        if refused:
            denied = [
                {"name": csr.metadata.name, "reason": f"denied: {verdicts[csr.metadata.name].reason}"}
                for csr in refused
            ]
            if not module.check_mode:
                for csr, entry in zip(refused, denied, strict=True):
                    decide_csr(api, csr, False, DENIED_REASON, entry["reason"])
                record(module, node, denied)
            module.fail_json(
                msg=f"serving certificate requests for {node} asked for what is not its own: "
                + "; ".join(f"{e['name']} {e['reason']}" for e in denied),
                changed=not module.check_mode,
                approved=[],
                denied=denied,
                renew=renew,
            )
        if not renew:
            return {"changed": False, "approved": [], "denied": [], "renew": ""}
        if pending:
            # The newest is the one the kubelet waits on; an older one it gave up on stays unapproved.
            newest = pending[-1]
            if not module.check_mode:
                decide_csr(api, newest, True, APPROVED_REASON, verdicts[newest.metadata.name].reason)
            return {"changed": True, "approved": [newest.metadata.name], "denied": [], "renew": renew}
        if module.check_mode or time.monotonic() >= deadline:
            if module.check_mode:
                return {"changed": True, "approved": [], "denied": [], "renew": renew}
            module.fail_json(
                msg=f"no serving certificate request from {node}'s kubelet within {p['timeout']} s ({renew}): "
                "is it running with serverTLSBootstrap?",
                approved=[],
                denied=[],
                renew=renew,
            )
        time.sleep(1)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kubeconfig=dict(type="path", required=True),
            node=dict(type="str", required=True),
            addresses=dict(type="list", elements="str", required=True),
            dns_names=dict(type="list", elements="str", default=[]),
            current_certificate=dict(type="str"),
            ca_file=dict(type="path", required=True),
            verifier_dir=dict(type="path"),
            timeout=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    p = module.params
    import ipaddress

    for address in p["addresses"]:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            module.fail_json(msg=f"addresses: {address!r} is not an IP address")
    if not p["addresses"]:
        module.fail_json(msg="addresses must name the node's own IP address")
    if p["timeout"] < 0:
        module.fail_json(msg=f"timeout must be 0 or more seconds, not {p['timeout']}")
    try:
        api = certificates_api(p["kubeconfig"])
        result = run(module, api)
    except ImportError as exc:
        module.fail_json(msg=f"the controller needs the kubernetes Python client: {exc}")
    except OSError as exc:
        module.fail_json(msg=f"cannot read ca_file {p['ca_file']}: {exc}")
    except Exception as exc:  # the API's own errors (unreachable, refused) name the problem
        module.fail_json(msg=f"Kubernetes API at {p['kubeconfig']}: {exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
