#!/usr/bin/python
"""Revoke what the Kubernetes API holds of a node's credentials: an action plugin
(plugins/action/kube_node_credentials.py); this file documents it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_node_credentials
short_description: Revoke a departing node's bootstrap tokens and certificate signing requests
description:
  - Runs on the controller as an action plugin, in the controller's own process as the operator (whatever
    C(become) the play sets), with the kubernetes Python client.
  - Deletes every bootstrap token issued for I(node) and every certificate signing request for its identity
    (C(system:node:NODE)), and the binding that let its own client certificate renewals be approved, so
    that nothing in the API can be used to issue it a new certificate. The client
    certificate the node already holds cannot be revoked in Kubernetes; it lapses at its expiry (a day in
    the lab), and decommissioning deletes it from the node and deletes the Node.
options:
  kubeconfig: {description: The controller's kubeconfig., type: path, required: true}
  node: {description: The Node name., type: str, required: true}
  state: {description: Only C(absent) (revoke)., type: str, choices: [absent], default: absent}
author: edgewright
"""

EXAMPLES = r"""
- name: Revoke the departing node's credentials
  kube_node_credentials: {kubeconfig: ~/.kube/config, node: "{{ inventory_hostname }}"}
"""

RETURN = r"""
tokens: {description: Bootstrap token Secrets deleted., returned: always, type: list}
csrs: {description: Certificate signing requests deleted., returned: always, type: list}
renewal_binding: {description: The renewal binding (always absent afterwards) and whether this run deleted it., returned: always, type: dict}
"""
