"""The node's side of push-mode attestation (stdlib only): measure edgewright's artefacts, take a fresh
nonce from the controller, quote over it and push the quote; outbound HTTPS with the node's client
certificate, nothing listening. The controller's side is edgewright.attest.push."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request

try:
    from ansible.module_utils.tpm import measure_artefacts, quote, read_log_text
except ImportError:  # run as a plain script on the node, next to tpm.py
    from tpm import measure_artefacts, quote, read_log_text


def client_context(ca_file, cert_file, key_file):
    """TLS that trusts only the controller's CA and presents the node's own certificate."""
    context = ssl.create_default_context(cafile=ca_file)
    context.load_cert_chain(cert_file, key_file)
    return context


def _post(url, body, context, timeout):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.load(exc)
        except ValueError:
            return exc.code, {"error": exc.reason}


def push_once(base_url, node, tcti, ak_handle, pcrs, context, measure=None, timeout=30):
    """One attestation: MEASURE ((pcr, artefacts, log path), or None) into the TPM, then nonce, quote,
    push with the measurement log. Returns (http status, the controller's answer)."""
    if measure is not None:
        measure_artefacts(tcti, *measure)
    status, answer = _post(f"{base_url}/v1/nodes/{node}/nonce", {}, context, timeout)
    if status != 200:
        return status, answer
    message, signature, values = quote(tcti, ak_handle, pcrs, bytes.fromhex(answer["nonce"]))
    body = {
        "message": base64.b64encode(message).decode(),
        "signature": base64.b64encode(signature).decode(),
        "pcrs": {str(i): v.hex() for i, v in values.items()},
    }
    if measure is not None:
        body["measurement_log"] = read_log_text(measure[2])
    return _post(f"{base_url}/v1/nodes/{node}/quote", body, context, timeout)
