#!/usr/bin/python
"""Recover the secret of the verifier's credential challenge with the node's TPM."""

from __future__ import annotations

DOCUMENTATION = r"""
module: tpm_activate_credential
short_description: Prove the AK lives in the same TPM as the EK by activating the verifier's credential
description:
  - TPM2_ActivateCredential with the persistent EK and AK. Only the TPM holding that EK can unwrap the
    credential, and only when it also holds the AK the credential names.
  - Changes nothing on the node; the secret is returned for the verifier (use C(no_log) on the task).
options:
  tcti: {description: How to reach the TPM (TPM2TOOLS_TCTI)., type: str, required: true}
  credential: {description: The credential (base64) from the verifier., type: str, required: true}
  ek_handle: {description: Persistent handle of the EK., type: str, default: "0x81010001"}
  ak_handle: {description: Persistent handle of the AK., type: str, default: "0x81010002"}
author: edgewright
"""

EXAMPLES = r"""
- name: Activate the enrollment credential
  tpm_activate_credential:
    tcti: "swtpm:host=127.0.0.1,port=2321"
    credential: "{{ challenge.credential }}"
  no_log: true
  register: activation
"""

RETURN = r"""
secret: {description: The recovered secret (base64)., returned: success, type: str}
"""

import base64
import binascii

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.tpm import (
    AK_HANDLE_ARG,
    EK_HANDLE_ARG,
    TCTI_ARG,
    TpmError,
    activate_credential,
    check_key_handles,
)


def main():
    module = AnsibleModule(
        argument_spec={
            **TCTI_ARG,
            "credential": {"type": "str", "required": True},
            **EK_HANDLE_ARG,
            **AK_HANDLE_ARG,
        },
        supports_check_mode=True,
    )
    try:
        ek_handle, ak_handle = check_key_handles(module.params["ek_handle"], module.params["ak_handle"])
        credential = base64.b64decode(module.params["credential"], validate=True)
    except (ValueError, binascii.Error) as exc:
        module.fail_json(msg=f"bad input: {exc}")
    try:
        secret = activate_credential(module.params["tcti"], ek_handle, ak_handle, credential)
    except TpmError as exc:
        module.fail_json(msg=f"credential activation failed: {exc}")
    module.exit_json(changed=False, secret=base64.b64encode(secret).decode())


if __name__ == "__main__":
    main()
