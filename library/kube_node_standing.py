#!/usr/bin/python
"""Give a node's Kubernetes side its attestation standing: quarantined (revoked) or attested (restored).
Runs on the controller: delegate_to localhost."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_node_standing
short_description: Revoke (or restore) what Kubernetes gives a node, by its attestation standing
description:
  - Runs on the controller (C(delegate_to=localhost)) with the kubernetes Python client and the edgewright
    package.
  - I(state=quarantined) revokes. The Node gets the label C(node-restriction.kubernetes.io/edgewright-quarantined=true)
    and C(node-restriction.kubernetes.io/edgewright-attested=false), which the NodeRestriction admission
    plugin keeps its kubelet from changing, and the NoExecute taint C(edgewright.io/quarantined), so its pods
    are evicted and its device twins move. Its renewal binding (the node's own ClusterRoleBinding to
    C(selfnodeclient)) is deleted, so the controller manager no longer approves its kubelet's client
    certificate renewals; every pending request for its identity is denied, each denial recorded in the
    verifier's evidence log; its bootstrap tokens are deleted. A Node that is not registered is skipped
    (the rest still applies).
  - I(state=attested) restores. The renewal binding exists, the Node carries
    C(node-restriction.kubernetes.io/edgewright-attested=true), the quarantine label and taint are gone.
    Run it only behind the attest role's gate (a fresh, passing quote).
  - The client certificate the kubelet holds cannot be revoked in Kubernetes; it lapses at its expiry (the
    cluster's signing duration) and is not renewed; until then the taint keeps workloads off the node.
options:
  kubeconfig: {description: The controller's kubeconfig., type: path, required: true}
  node: {description: The Node name., type: str, required: true}
  state: {description: The standing to give the node., type: str, choices: [attested, quarantined], required: true}
  verifier_dir: {description: The verifier's directory; denied requests are recorded in its evidence log., type: path}
  reason: {description: Why the node is quarantined (the denials' message)., type: str, default: quarantined}
author: edgewright
"""

EXAMPLES = r"""
- name: Take back what Kubernetes gives the quarantined node
  kube_node_standing:
    kubeconfig: ~/.kube/config
    node: "{{ inventory_hostname }}"
    state: quarantined
    verifier_dir: ~/.local/state/edgewright/verifier
  delegate_to: localhost
"""

RETURN = r"""
node: {description: Whether the Node was registered, and the patch applied to it (null when none was needed)., returned: always, type: dict}
renewal_binding: {description: present or absent, and whether this run changed it., returned: always, type: dict}
denied: {description: Pending certificate signing requests denied by this run., returned: always, type: list}
tokens: {description: Bootstrap token Secrets deleted., returned: always, type: list}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.kube_bootstrap import (
    core_api,
    csr_outcome,
    decide_csr,
    node_csrs,
    node_tokens,
    revoke,
)

try:
    from edgewright.attest import revocation

    IMPORT_ERROR = None
except ImportError as exc:  # the controller lacks the package: say so rather than a traceback
    IMPORT_ERROR = str(exc)

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


def apply_binding(kubeconfig: str, node: str, present: bool, check_mode: bool) -> dict:
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    rbac = client.RbacAuthorizationV1Api(api_client=config.new_client_from_config(config_file=kubeconfig))
    name = revocation.renewal_binding_name(node)
    try:
        rbac.read_cluster_role_binding(name)
        exists = True
    except ApiException as exc:
        if exc.status != 404:
            raise
        exists = False
    changed = exists != present
    if changed and not check_mode:
        if present:
            rbac.create_cluster_role_binding(revocation.renewal_binding(node))
        else:
            rbac.delete_cluster_role_binding(name)
    return {"state": "present" if present else "absent", "changed": changed}


def deny_pending(kubeconfig: str, node: str, reason: str, verifier_dir, check_mode: bool) -> list[str]:
    """Deny every undecided request for the node's identity, recording each in the evidence log."""
    from ansible.module_utils.kube_bootstrap import certificates_api

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
            from edgewright.attest.store import Store
            from edgewright.attest.verifier import Verifier

            Verifier(Store(verifier_dir)).record_denied_csr(
                node, message, csr=name, requester=csr.spec.username, signer=csr.spec.signer_name
            )
    return denied


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kubeconfig=dict(type="path", required=True),
            node=dict(type="str", required=True),
            state=dict(type="str", choices=["attested", "quarantined"], required=True),
            verifier_dir=dict(type="path"),
            reason=dict(type="str", default="quarantined"),
        ),
        supports_check_mode=True,
    )
    if IMPORT_ERROR:
        module.fail_json(
            msg=f"the edgewright package is not importable on the controller ({IMPORT_ERROR}): "
            "install it, or run from the project with PYTHONPATH set to its root"
        )
    p = module.params
    kubeconfig, node, standing = p["kubeconfig"], p["node"], p["state"]
    quarantined = standing == revocation.QUARANTINED
    result = {"denied": [], "tokens": []}
    try:
        api = core_api(kubeconfig)
        # Renewals stop first: the taint below makes the node's pods leave, and nothing may renew meanwhile.
        result["renewal_binding"] = apply_binding(kubeconfig, node, not quarantined, module.check_mode)
        if quarantined:
            result["denied"] = deny_pending(
                kubeconfig, node, p["reason"], p["verifier_dir"], module.check_mode
            )
            result["tokens"] = node_tokens(api, node) if module.check_mode else revoke(api, node)
        result["node"] = apply_node(api, node, standing, module.check_mode)
    except ImportError as exc:
        module.fail_json(msg=f"the controller needs the kubernetes Python client: {exc}")
    except Exception as exc:  # the API's own errors (unreachable, refused) name the problem
        module.fail_json(msg=f"Kubernetes API at {kubeconfig}: {exc}")
    changed = bool(
        result["renewal_binding"]["changed"]
        or result["denied"]
        or result["tokens"]
        or result["node"]["patch"]
    )
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
