#!/usr/bin/python
"""Revoke what the Kubernetes API holds of a node's credentials (run on the controller: delegate_to localhost)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_node_credentials
short_description: Revoke a departing node's bootstrap tokens and certificate signing requests
description:
  - Runs on the controller (C(delegate_to=localhost)) with the kubernetes Python client.
  - Deletes every bootstrap token issued for I(node) and every certificate signing request for its identity
    (C(system:node:NODE)), so that nothing in the API can be used to issue it a new certificate. The client
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
  delegate_to: localhost
"""

RETURN = r"""
tokens: {description: Bootstrap token Secrets deleted., returned: always, type: list}
csrs: {description: Certificate signing requests deleted., returned: always, type: list}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.kube_bootstrap import core_api, delete_csrs, node_csrs, node_tokens, revoke


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kubeconfig=dict(type="path", required=True),
            node=dict(type="str", required=True),
            state=dict(type="str", choices=["absent"], default="absent"),
        ),
        supports_check_mode=True,
    )
    kubeconfig, node = module.params["kubeconfig"], module.params["node"]
    try:
        api = core_api(kubeconfig)
        tokens, csrs = node_tokens(api, node), node_csrs(kubeconfig, node)
        if not module.check_mode:
            revoke(api, node)
            delete_csrs(kubeconfig, csrs)
    except ImportError as exc:
        module.fail_json(msg=f"the controller needs the kubernetes Python client: {exc}")
    except Exception as exc:  # the API's own errors (unreachable, refused) name the problem
        module.fail_json(msg=f"Kubernetes API at {kubeconfig}: {exc}")
    module.exit_json(changed=bool(tokens or csrs), tokens=tokens, csrs=csrs)


if __name__ == "__main__":
    main()
