#!/usr/bin/python
"""Approve a kubelet's serving CSR, or deny it, only for the node's own names and addresses: an action plugin
(plugins/action/kube_serving_csr.py); this file documents it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_serving_csr
short_description: Approve a node's kubelet serving CSR only when it names that node and its own addresses
description:
  - Runs on the controller as an action plugin, in the controller's own process as the operator (whatever
    C(become) the play sets), with the kubernetes Python client and the
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
