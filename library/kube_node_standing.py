#!/usr/bin/python
"""Give a node's Kubernetes side its attestation standing: quarantined (revoked) or attested (restored): an
action plugin (plugins/action/kube_node_standing.py); this file documents it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_node_standing
short_description: Revoke (or restore) what Kubernetes gives a node, by its attestation standing
description:
  - Runs on the controller as an action plugin, in the controller's own process as the operator (whatever
    C(become) the play sets), with the kubernetes Python client and the edgewright package.
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
"""

RETURN = r"""
node: {description: Whether the Node was registered, and the patch applied to it (null when none was needed)., returned: always, type: dict}
renewal_binding: {description: present or absent, and whether this run changed it., returned: always, type: dict}
denied: {description: Pending certificate signing requests denied by this run., returned: always, type: list}
tokens: {description: Bootstrap token Secrets deleted., returned: always, type: list}
"""
