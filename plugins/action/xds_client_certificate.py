"""xds_client_certificate: give an attested node a short-lived xDS client certificate from the site's client
CA, on the controller (documented in library/xds_client_certificate.py)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import ClassVar

from edgewright.attest.store import Store
from edgewright.attest.verifier import Verifier
from edgewright.controller.action import ControllerAction
from edgewright.controller.specs import VERIFIER_STORE
from edgewright.xds.identity import CA_CERT, check_request, current_client_certificate, ensure_client_ca


class ActionModule(ControllerAction):
    ARGUMENT_SPEC: ClassVar[dict] = {
        "ca_dir": {"type": "path", "required": True},
        "verifier_dir": VERIFIER_STORE,
        "node": {"type": "str", "required": True},
        "csr": {"type": "str", "required": True},
        "current": {"type": "str", "default": ""},
        "lifetime_hours": {"type": "int", "default": 24},
        "renew_hours": {"type": "int", "default": 8},
    }

    def service_errors(self):
        return (OSError,)

    def describe(self, error, params):
        return f"no xDS client certificate for {params['node']}: {error}"

    def act(self, p, dirs):
        node = p["node"]
        lifetime = datetime.timedelta(hours=p["lifetime_hours"])
        renew_before = datetime.timedelta(hours=p["renew_hours"])
        Verifier(Store(p["verifier_dir"] or dirs.verifier)).require_attested(node)
        check_request(node, p["csr"], lifetime, renew_before)  # before the CA is made, if it is to be
        if self.check_mode and not (Path(p["ca_dir"]) / CA_CERT).exists():
            return {
                "changed": True,
                "certificate": p["current"],
                "reason": "the client CA would be made",
                "not_after": "",
                "ca_certificate": "",
            }
        ca = ensure_client_ca(p["ca_dir"])
        issued = current_client_certificate(ca, node, p["csr"], p["current"] or None, lifetime, renew_before)
        changed = issued.reason is not None
        return {
            "changed": changed,
            "certificate": p["current"] if changed and self.check_mode else issued.certificate_pem,
            "reason": issued.reason or "",
            "not_after": issued.not_after.isoformat(),
            "ca_certificate": ca.cert_pem.decode(),
        }
