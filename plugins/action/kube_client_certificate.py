"""kube_client_certificate: a node component's client certificate from the cluster's signer, on the
controller (documented in library/kube_client_certificate.py)."""

from __future__ import annotations

import datetime
import time
from typing import ClassVar

from edgewright.controller.action import Failed, KubernetesAction
from edgewright.kube_bootstrap import certificates_api
from edgewright.kube_client_certificate import csr_name, issue, renewal_reason, request_problems


class ActionModule(KubernetesAction):
    ARGUMENT_SPEC: ClassVar[dict] = {
        "kubeconfig": {"type": "path", "required": True},
        "ca_file": {"type": "path", "required": True},
        "name": {"type": "str", "required": True},
        "common_name": {"type": "str", "required": True},
        "organizations": {"type": "list", "elements": "str", "default": []},
        "csr": {"type": "str", "required": True},
        "current": {"type": "str", "default": ""},
        "lifetime_hours": {"type": "int", "default": 24},
        "renew_hours": {"type": "int", "default": 8},
        "timeout": {"type": "int", "default": 60},
    }

    def act(self, p, dirs):
        if not 0 < p["renew_hours"] < p["lifetime_hours"]:
            raise Failed(
                f"renew_hours ({p['renew_hours']}) must be above 0 and below lifetime_hours "
                f"({p['lifetime_hours']})"
            )
        request = p["csr"].encode()
        problems = request_problems(request, p["common_name"], p["organizations"])
        if problems:
            raise Failed(f"the certificate request for {p['common_name']} is refused: {'; '.join(problems)}")
        try:
            name = csr_name(p["name"], request)
            with open(p["ca_file"], "rb") as f:
                ca = f.read()
            now = datetime.datetime.now(datetime.UTC)
            reason = renewal_reason(
                p["current"], request, ca, p["common_name"], p["organizations"], now, p["renew_hours"]
            )
        except (OSError, ValueError) as exc:
            raise Failed(str(exc)) from None
        if not reason or self.check_mode:
            return {"changed": bool(reason), "certificate": p["current"], "reason": reason}
        certificate = issue(
            certificates_api(p["kubeconfig"]),
            name,
            request,
            p["lifetime_hours"] * 3600,
            p["timeout"],
            time.sleep,
            time.monotonic,
        )
        return {"changed": True, "certificate": certificate, "reason": reason}
