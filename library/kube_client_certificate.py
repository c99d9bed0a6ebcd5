#!/usr/bin/python
"""Get a node component a client certificate from the cluster's signer (run on the controller)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_client_certificate
short_description: Give a node component (kube-proxy) a client certificate from the cluster's signer
description:
  - Runs on the controller (C(delegate_to=localhost)) with the kubernetes Python client.
  - Takes the node's certificate request I(csr), made over a key that stays on the node, and refuses it
    unless it is signed by that key and asks for exactly I(common_name) and I(organizations), without
    extensions.
  - Keeps the node's I(current) certificate while it is from the cluster CA I(ca_file), for the request's
    key and identity, and has more than I(renew_hours) left. Otherwise creates a CertificateSigningRequest
    for the C(kubernetes.io/kube-apiserver-client) signer, approves it, waits for the certificate, and
    deletes the request.
options:
  kubeconfig: {description: The controller's kubeconfig., type: path, required: true}
  ca_file: {description: The cluster CA certificate on the controller., type: path, required: true}
  name: {description: Prefix of the CertificateSigningRequest's name (a DNS subdomain)., type: str, required: true}
  common_name: {description: The identity (user name) the certificate gives., type: str, required: true}
  organizations: {description: The groups the certificate gives., type: list, elements: str, default: []}
  csr: {description: The node's certificate request (PEM)., type: str, required: true}
  current: {description: The node's current certificate (PEM); empty when it has none., type: str, default: ""}
  lifetime_hours: {description: Hours a new certificate is valid., type: int, default: 24}
  renew_hours: {description: Renew when fewer hours than this remain; less than I(lifetime_hours)., type: int, default: 8}
  timeout: {description: Seconds to wait for the signer., type: int, default: 60}
author: edgewright
"""

EXAMPLES = r"""
- name: Ensure kube-proxy holds a current client certificate
  kube_client_certificate:
    kubeconfig: ~/.kube/config
    ca_file: /etc/kubernetes/pki/ca.crt
    name: edgewright-kube-proxy-edge-1
    common_name: "edgewright:kube-proxy:edge-1"
    organizations: ["edgewright:kube-proxies"]
    csr: "{{ kube_proxy_csr.stdout }}"
  delegate_to: localhost
"""

RETURN = r"""
certificate: {description: The certificate the node should hold (PEM)., returned: always, type: str}
reason: {description: Why a new one was issued; empty when the current one stays., returned: always, type: str}
"""

import datetime
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.kube_client_certificate import csr_name, issue, renewal_reason, request_problems


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kubeconfig=dict(type="path", required=True),
            ca_file=dict(type="path", required=True),
            name=dict(type="str", required=True),
            common_name=dict(type="str", required=True),
            organizations=dict(type="list", elements="str", default=[]),
            csr=dict(type="str", required=True),
            current=dict(type="str", default=""),
            lifetime_hours=dict(type="int", default=24),
            renew_hours=dict(type="int", default=8),
            timeout=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not 0 < p["renew_hours"] < p["lifetime_hours"]:
        module.fail_json(
            msg=f"renew_hours ({p['renew_hours']}) must be above 0 and below lifetime_hours ({p['lifetime_hours']})"
        )
    request = p["csr"].encode()
    try:
        problems = request_problems(request, p["common_name"], p["organizations"])
        if problems:
            module.fail_json(
                msg=f"the certificate request for {p['common_name']} is refused: {'; '.join(problems)}"
            )
        name = csr_name(p["name"], request)
        with open(p["ca_file"], "rb") as f:
            ca = f.read()
        now = datetime.datetime.now(datetime.timezone.utc)
        reason = renewal_reason(
            p["current"], request, ca, p["common_name"], p["organizations"], now, p["renew_hours"]
        )
    except ImportError as exc:
        module.fail_json(msg=f"the controller needs cryptography and the kubernetes Python client: {exc}")
    except (OSError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    if not reason or module.check_mode:
        module.exit_json(changed=bool(reason), certificate=p["current"], reason=reason)
    try:
        from ansible.module_utils.kube_bootstrap import certificates_api

        certificate = issue(
            certificates_api(p["kubeconfig"]),
            name,
            request,
            p["lifetime_hours"] * 3600,
            p["timeout"],
            time.sleep,
            time.monotonic,
        )
    except Exception as exc:  # the API's own errors (unreachable, refused) name the problem
        module.fail_json(msg=f"Kubernetes API at {p['kubeconfig']}: {exc}")
    module.exit_json(changed=True, certificate=certificate, reason=reason)


if __name__ == "__main__":
    main()
