#!/usr/bin/python
"""Approve a joining kubelet's client CSR, or deny it, for the node its bootstrap token was issued to: an action plugin
(plugins/action/kube_bootstrap_csr.py); this file documents it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_bootstrap_csr
short_description: Approve a joining node's kubelet client CSR only when it names that node
description:
  - Runs on the controller as an action plugin, in the controller's own process as the operator (whatever
    C(become) the play sets), with the kubernetes Python client and the
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
"""

RETURN = r"""
approved: {description: Names of the requests approved by this run., returned: always, type: list}
denied:
  description: The requests denied by this run, each with its name and the reason.
  returned: always
  type: list
  elements: dict
"""
