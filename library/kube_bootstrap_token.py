#!/usr/bin/python
"""Issue or revoke a node's Kubernetes bootstrap tokens: an action plugin
(plugins/action/kube_bootstrap_token.py); this file documents it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_bootstrap_token
short_description: Issue or revoke short-lived Kubernetes bootstrap tokens for a joining node
description:
  - Runs on the controller as an action plugin, in the controller's own process as the operator (whatever
    C(become) the play sets), and talks to the Kubernetes API with the kubernetes
    Python client and the controller's kubeconfig.
  - C(state=present) creates a new bootstrap token for I(node) that expires after I(ttl) seconds; the API
    server refuses it after that, and the controller manager's token cleaner deletes it.
  - C(state=absent) deletes every bootstrap token issued for I(node) (after its join, or when it leaves).
options:
  kubeconfig: {description: The controller's kubeconfig., type: path, required: true}
  node: {description: The Node name the token is for., type: str, required: true}
  state: {description: Whether a new token should exist or none should., type: str, choices: [present, absent], default: present}
  ttl: {description: Seconds the token stays valid (1-86400)., type: int, default: 600}
  groups:
    description: Extra groups the token authenticates as (each C(system:bootstrappers:NAME)).
    type: list
    elements: str
    default: [system:bootstrappers:edgewright]
author: edgewright
"""

EXAMPLES = r"""
- name: Issue a ten-minute bootstrap token for the node
  kube_bootstrap_token: {kubeconfig: ~/.kube/config, node: "{{ inventory_hostname }}", ttl: 600}
  register: join_token
  no_log: true

- name: Revoke the node's bootstrap tokens
  kube_bootstrap_token: {kubeconfig: ~/.kube/config, node: "{{ inventory_hostname }}", state: absent}
"""

RETURN = r"""
token: {description: The new token (id.secret); a secret., returned: state is present, type: str}
token_id: {description: The public part of the token., returned: state is present, type: str}
expiration: {description: When the token stops working (RFC 3339, UTC)., returned: state is present, type: str}
revoked: {description: Names of the Secrets deleted., returned: state is absent, type: list}
"""
