#!/usr/bin/python
"""Quote the node's PCRs with its attestation key over the verifier's nonce."""

from __future__ import annotations

DOCUMENTATION = r"""
module: tpm_quote
short_description: A TPM quote of chosen SHA-256 PCRs, signed by the node's AK over the verifier's nonce
description:
  - Reads nothing but the TPM and changes nothing; works the same in check mode.
options:
  tcti: {description: How to reach the TPM (TPM2TOOLS_TCTI)., type: str, required: true}
  nonce: {description: The verifier's nonce (hex)., type: str, required: true}
  pcrs: {description: PCR numbers (0-23) to quote., type: list, elements: int, required: true}
  ak_handle: {description: Persistent handle of the AK., type: str, default: "0x81010002"}
  measurement_log:
    description:
      - The node's measurement log (as M(tpm_measure) writes it), read right after the quote and sent with
        it, so the verifier can replay it against the quoted PCR. Unset, no log is sent.
    type: path
author: edgewright
"""

EXAMPLES = r"""
- name: Quote PCRs 0-7 and 13, with the measurement log
  tpm_quote:
    tcti: "swtpm:host=127.0.0.1,port=2321"
    nonce: "{{ attest_nonce.nonce }}"
    pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 13]
    measurement_log: /var/lib/edgewright/measurements.log
  register: quote
"""

RETURN = r"""
quote:
  description: The quote as the verifier takes it.
  returned: success
  type: dict
  contains:
    message: {description: The signed TPMS_ATTEST (base64)., type: str}
    signature: {description: The RSASSA signature (base64)., type: str}
    pcrs: {description: PCR number to value (hex)., type: dict}
    measurement_log: {description: The measurement log's text (when I(measurement_log) is set)., type: str}
"""

import base64

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.tpm import (
    AK_HANDLE_ARG,
    TCTI_ARG,
    TpmError,
    check_handle,
    check_pcr_index,
    quote,
    read_log_text,
)


def main():
    module = AnsibleModule(
        argument_spec={
            **TCTI_ARG,
            "nonce": {"type": "str", "required": True},
            "pcrs": {"type": "list", "elements": "int", "required": True},
            **AK_HANDLE_ARG,
            "measurement_log": {"type": "path"},
        },
        supports_check_mode=True,
    )
    try:
        ak_handle = check_handle(module.params["ak_handle"])
        pcrs = [check_pcr_index(i) for i in module.params["pcrs"]]
        nonce = bytes.fromhex(module.params["nonce"])
    except ValueError as exc:
        module.fail_json(msg=f"bad input: {exc}")
    if not pcrs:
        module.fail_json(msg="pcrs must name at least one PCR")
    if not 8 <= len(nonce) <= 64:
        module.fail_json(msg="nonce must be 8 to 64 bytes")
    try:
        message, signature, values = quote(module.params["tcti"], ak_handle, pcrs, nonce)
        # Read after the quote: a log that grew in between holds more than the quote, which the verifier
        # finds (the log no longer replays to the quoted value), never less.
        log = read_log_text(module.params["measurement_log"]) if module.params["measurement_log"] else None
    except TpmError as exc:
        module.fail_json(msg=f"quote failed: {exc}")
    except OSError as exc:
        module.fail_json(msg=f"reading the measurement log failed: {exc}")
    result = {
        "message": base64.b64encode(message).decode(),
        "signature": base64.b64encode(signature).decode(),
        "pcrs": {str(i): v.hex() for i, v in values.items()},
    }
    if log is not None:
        result["measurement_log"] = log
    module.exit_json(changed=False, quote=result)


if __name__ == "__main__":
    main()
