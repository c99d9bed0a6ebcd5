#!/usr/bin/python
"""Sign an attested node's xDS client certificate with the site's client CA (run on the controller)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: xds_client_certificate
short_description: Give an attested node a short-lived xDS client certificate from the site's client CA
description:
  - Runs on the controller (C(delegate_to=localhost), without C(become)), where the site's xDS client CA
    lives; the CA is made in I(ca_dir) on first use and its key never leaves it.
  - Refuses a node the attestation verifier in I(verifier_dir) does not hold attested.
  - Takes only the public key from the node's I(csr), after checking the CSR's signature; the certificate
    names I(node) as its CN and as the SAN URI C(edgewright://node/NODE), which the xDS server serves by.
  - Keeps the node's I(current) certificate while it is from this CA, for this node and key, and has more
    than I(renew_hours) left; otherwise issues a new one valid for I(lifetime_hours).
  - Needs the C(edgewright) Python package on the controller.
options:
  ca_dir: {description: The client CA's directory on the controller., type: path, required: true}
  verifier_dir: {description: The attestation verifier's directory on the controller., type: path, required: true}
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
  delegate_to: localhost
  become: false
"""

RETURN = r"""
certificate: {description: The certificate the node should hold (PEM)., returned: always, type: str}
reason: {description: Why a new one was issued; empty when the current one stays., returned: always, type: str}
not_after: {description: When the certificate expires (ISO 8601)., returned: always, type: str}
ca_certificate: {description: The client CA's certificate (PEM), for the xDS server's --client-ca., returned: always, type: str}
"""

import datetime
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule

try:
    from edgewright.attest.store import Store, StoreError
    from edgewright.attest.verifier import Refused, Verifier, VerifierError
    from edgewright.xds.identity import (
        CA_CERT,
        IdentityError,
        check_request,
        current_client_certificate,
        ensure_client_ca,
    )

    IMPORT_ERROR = None
except ImportError as exc:  # the controller lacks the package: say so rather than a traceback
    IMPORT_ERROR = str(exc)


def main():
    module = AnsibleModule(
        argument_spec={
            "ca_dir": {"type": "path", "required": True},
            "verifier_dir": {"type": "path", "required": True},
            "node": {"type": "str", "required": True},
            "csr": {"type": "str", "required": True},
            "current": {"type": "str", "default": ""},
            "lifetime_hours": {"type": "int", "default": 24},
            "renew_hours": {"type": "int", "default": 8},
        },
        supports_check_mode=True,
    )
    if IMPORT_ERROR:
        module.fail_json(msg=f"the controller needs the edgewright package: {IMPORT_ERROR}")
    p = module.params
    node = p["node"]
    lifetime = datetime.timedelta(hours=p["lifetime_hours"])
    renew_before = datetime.timedelta(hours=p["renew_hours"])
    try:
        Verifier(Store(p["verifier_dir"])).require_attested(node)
        check_request(node, p["csr"], lifetime, renew_before)  # before the CA is made, if it is to be
        if module.check_mode and not (Path(p["ca_dir"]).expanduser() / CA_CERT).exists():
            module.exit_json(
                changed=True,
                certificate=p["current"],
                reason="the client CA would be made",
                not_after="",
                ca_certificate="",
            )
        ca = ensure_client_ca(p["ca_dir"])
        issued = current_client_certificate(ca, node, p["csr"], p["current"] or None, lifetime, renew_before)
    except (Refused, IdentityError, StoreError, VerifierError, OSError) as err:
        module.fail_json(msg=f"no xDS client certificate for {node}: {err}")
    changed = issued.reason is not None
    module.exit_json(
        changed=changed,
        certificate=p["current"] if changed and module.check_mode else issued.certificate_pem,
        reason=issued.reason or "",
        not_after=issued.not_after.isoformat(),
        ca_certificate=ca.cert_pem.decode(),
    )


if __name__ == "__main__":
    main()
