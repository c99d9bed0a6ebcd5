#!/usr/bin/python
"""Sign an attested node's xDS client certificate with the site's client CA: an action plugin
(plugins/action/xds_client_certificate.py); this file documents it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: xds_client_certificate
short_description: Give an attested node a short-lived xDS client certificate from the site's client CA
description:
  - Runs on the controller as an action plugin, in the controller's own process as the operator (whatever
    C(become) the play sets), where the site's xDS client CA
    lives; the CA is made in I(ca_dir) on first use and its key never leaves it.
  - Refuses a node the attestation verifier in I(verifier_dir) does not hold attested.
  - Takes only the public key from the node's I(csr), after checking the CSR's signature; the certificate
    names I(node) as its CN and as the SAN URI C(edgewright://node/NODE), which the xDS server serves by.
  - Keeps the node's I(current) certificate while it is from this CA, for this node and key, and has more
    than I(renew_hours) left; otherwise issues a new one valid for I(lifetime_hours).
  - Needs the C(edgewright) Python package on the controller.
options:
  ca_dir: {description: The client CA's directory on the controller., type: path, required: true}
  verifier_dir:
    description: The attestation verifier's directory on the controller; unset, the inventory's
      C(edgewright_verifier_dir), else C($EDGEWRIGHT_VERIFIER_DIR), else C(~/.local/state/edgewright/verifier).
    type: path
  node: {description: The node's name (its inventory hostname and xDS node id)., type: str, required: true}
  csr: {description: The node's certificate signing request (PEM), made over a key that stays on the node., type: str, required: true}
  current: {description: The node's current certificate (PEM); empty when it has none., type: str, default: ""}
  lifetime_hours: {description: Hours a new certificate is valid., type: int, default: 24}
  renew_hours: {description: Renew when fewer hours than this remain; less than I(lifetime_hours)., type: int, default: 8}
author: edgewright
"""

EXAMPLES = r"""
- name: Ensure the node holds a current xDS client certificate
  xds_client_certificate:
    ca_dir: ~/.local/state/edgewright/xds-ca
    verifier_dir: ~/.local/state/edgewright/verifier
    node: "{{ inventory_hostname }}"
    csr: "{{ envoy_xds_csr.stdout }}"
    current: "{{ envoy_xds_current.content | default('') | b64decode }}"
"""

RETURN = r"""
certificate: {description: The certificate the node should hold (PEM)., returned: always, type: str}
reason: {description: Why a new one was issued; empty when the current one stays., returned: always, type: str}
not_after: {description: When the certificate expires (ISO 8601)., returned: always, type: str}
ca_certificate: {description: The client CA's certificate (PEM), for the xDS server's --client-ca., returned: always, type: str}
"""
