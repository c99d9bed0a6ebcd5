#!/usr/bin/python
"""Ensure the node's TPM holds a persistent endorsement key and attestation key."""

from __future__ import annotations

DOCUMENTATION = r"""
module: tpm_identity
short_description: Ensure a persistent EK and AK in the node's TPM and return their public parts
description:
  - Creates the endorsement key (RSA 2048, the standard EK template) and an attestation key (RSA, RSASSA
    with SHA-256, a restricted signing key under the EK) as persistent objects, once. A rerun finds them
    and changes nothing. Private parts never leave the TPM; only the public areas are returned, with the
    EK certificate the TPM's manufacturer stored in NV index 0x01c00002 (the verifier enrolls a certified EK only).
  - Check mode reports whether they would be created, without creating them.
options:
  tcti: {description: How to reach the TPM (TPM2TOOLS_TCTI), e.g. C(swtpm:host=127.0.0.1,port=2321)., type: str, required: true}
  ek_handle: {description: Persistent handle of the EK., type: str, default: "0x81010001"}
  ak_handle: {description: Persistent handle of the AK., type: str, default: "0x81010002"}
author: edgewright
"""

EXAMPLES = r"""
- name: Ensure the TPM's endorsement and attestation keys exist
  tpm_identity:
    tcti: "swtpm:host=127.0.0.1,port=2321"
  register: tpm_keys
"""

RETURN = r"""
ek_public: {description: The EK's TPM2B_PUBLIC (base64)., returned: unless in check mode before creation, type: str}
ak_public: {description: The AK's TPM2B_PUBLIC (base64)., returned: unless in check mode before creation, type: str}
ek_certificate: {description: The manufacturer's EK certificate (DER, base64); null when the TPM has none., returned: always, type: str}
created: {description: Which keys were made by this run (ek, ak)., returned: always, type: list}
"""

import base64

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.tpm import (
    AK_HANDLE_ARG,
    EK_HANDLE_ARG,
    TCTI_ARG,
    TpmError,
    check_key_handles,
    ensure_identity,
    read_ek_certificate,
)


def main():
    module = AnsibleModule(
        argument_spec={**TCTI_ARG, **EK_HANDLE_ARG, **AK_HANDLE_ARG},
        supports_check_mode=True,
    )
    try:
        ek_handle, ak_handle = check_key_handles(module.params["ek_handle"], module.params["ak_handle"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    try:
        ek, ak, created = ensure_identity(
            module.params["tcti"], ek_handle, ak_handle, create=not module.check_mode
        )
        ek_certificate = read_ek_certificate(module.params["tcti"])
    except TpmError as exc:
        module.fail_json(msg=f"no usable TPM: {exc}")

    def encode(blob):
        return base64.b64encode(blob).decode() if blob else None

    module.exit_json(
        changed=bool(created),
        created=created,
        ek_public=encode(ek),
        ak_public=encode(ak),
        ek_certificate=encode(ek_certificate),
    )


if __name__ == "__main__":
    main()
