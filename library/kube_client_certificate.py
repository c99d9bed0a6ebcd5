#!/usr/bin/python
"""Get a node component a client certificate from the cluster's signer: an action plugin
(plugins/action/kube_client_certificate.py); this file documents it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_client_certificate
short_description: Give a node component (kube-proxy) a client certificate from the cluster's signer
description:
  - Runs on the controller as an action plugin, in the controller's own process as the operator (whatever
    C(become) the play sets), with the kubernetes Python client.
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
"""

RETURN = r"""
certificate: {description: The certificate the node should hold (PEM)., returned: always, type: str}
reason: {description: Why a new one was issued; empty when the current one stays., returned: always, type: str}
"""
