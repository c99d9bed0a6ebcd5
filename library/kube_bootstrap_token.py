#!/usr/bin/python
"""Issue or revoke a node's Kubernetes bootstrap tokens (run on the controller: delegate_to localhost)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_bootstrap_token
short_description: Issue or revoke short-lived Kubernetes bootstrap tokens for a joining node
description:
  - Runs on the controller (C(delegate_to=localhost)) and talks to the Kubernetes API with the kubernetes
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
  delegate_to: localhost
  register: join_token
  no_log: true

- name: Revoke the node's bootstrap tokens
  kube_bootstrap_token: {kubeconfig: ~/.kube/config, node: "{{ inventory_hostname }}", state: absent}
  delegate_to: localhost
"""

RETURN = r"""
token: {description: The new token (id.secret); a secret., returned: state is present, type: str}
token_id: {description: The public part of the token., returned: state is present, type: str}
expiration: {description: When the token stops working (RFC 3339, UTC)., returned: state is present, type: str}
revoked: {description: Names of the Secrets deleted., returned: state is absent, type: list}
"""

import datetime

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.kube_bootstrap import (
    TokenError,
    check_groups,
    core_api,
    expiration,
    issue,
    node_tokens,
    revoke,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kubeconfig=dict(type="path", required=True),
            node=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            ttl=dict(type="int", default=600),
            groups=dict(type="list", elements="str", default=["system:bootstrappers:edgewright"]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        expiration(now, p["ttl"])
        check_groups(p["groups"])
    except TokenError as exc:
        module.fail_json(msg=str(exc))
    try:
        api = core_api(p["kubeconfig"])
        if p["state"] == "absent":
            existing = node_tokens(api, p["node"])
            if module.check_mode:
                module.exit_json(changed=bool(existing), revoked=existing)
            module.exit_json(changed=bool(existing), revoked=revoke(api, p["node"]))
        if module.check_mode:
            module.exit_json(changed=True, token=None, token_id=None, expiration=expiration(now, p["ttl"]))
        issued = issue(api, p["node"], p["ttl"], p["groups"], now)
    except ImportError as exc:
        module.fail_json(msg=f"the controller needs the kubernetes Python client: {exc}")
    except Exception as exc:  # the API's own errors (unreachable, refused) name the problem
        module.fail_json(msg=f"Kubernetes API at {p['kubeconfig']}: {exc}")
    module.exit_json(changed=True, **issued)


if __name__ == "__main__":
    main()
