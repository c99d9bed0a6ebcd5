#!/usr/bin/python
"""Measure the artefacts edgewright installed into a PCR, so attestation covers what is installed."""

from __future__ import annotations

DOCUMENTATION = r"""
module: tpm_measure
short_description: Extend the SHA-256 of each edgewright artefact into a PCR, once per TPM start
description:
  - Each artefact's SHA-256 (an absent file has a measurement of its own) is extended into I(pcr) in
    the order given. A log on the node (I(log)) records what was extended since the PCR was last reset,
    so a rerun with unchanged artefacts extends nothing and reports no change.
  - A changed artefact is extended anew, so the PCR moves away from its golden value and the node fails
    attestation until its TPM restarts (PCRs reset) with the artefacts the policy expects.
  - Check mode reports whether it would extend, without extending.
options:
  tcti: {description: How to reach the TPM (TPM2TOOLS_TCTI)., type: str, required: true}
  pcr: {description: The PCR (0-23) to extend., type: int, default: 16}
  artefacts: {description: Absolute paths of the files to measure, in a fixed order., type: list, elements: path, required: true}
  log: {description: Where the node keeps its measurement log., type: path, default: /var/lib/edgewright/measurements.json}
author: edgewright
"""

EXAMPLES = r"""
- name: Measure edgewright's artefacts into PCR 16
  tpm_measure:
    tcti: "swtpm:host=127.0.0.1,port=2321"
    artefacts: [/etc/systemd/system/swtpm.service]
"""

RETURN = r"""
pcr_value: {description: The PCR's value after this run (hex)., returned: always, type: str}
measurements: {description: Each artefact with its SHA-256 (hex)., returned: always, type: list}
clean: {description: Whether the PCR holds exactly these measurements from reset (what a golden policy expects)., returned: always, type: bool}
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.tpm import (
    ZERO_PCR,
    TpmError,
    check_pcr_index,
    measure_artefacts,
    replay,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "tcti": {"type": "str", "required": True},
            "pcr": {"type": "int", "default": 16},
            "artefacts": {"type": "list", "elements": "path", "required": True},
            "log": {"type": "path", "default": "/var/lib/edgewright/measurements.json"},
        },
        supports_check_mode=True,
    )
    tcti, artefacts = module.params["tcti"], module.params["artefacts"]
    try:
        pcr = check_pcr_index(module.params["pcr"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    relative = [a for a in artefacts if not os.path.isabs(a)]
    if relative:
        module.fail_json(msg=f"artefacts must be absolute paths: {', '.join(relative)}")
    try:
        to_extend, current, new_log, desired = measure_artefacts(
            tcti, pcr, artefacts, module.params["log"], module.check_mode
        )
    except TpmError as exc:
        module.fail_json(msg=f"measuring into PCR {pcr} failed: {exc}")
    clean = new_log["base"] == ZERO_PCR.hex() and new_log["measurements"] == [d.hex() for d in desired]
    module.exit_json(
        changed=bool(to_extend),
        pcr_value=current.hex(),
        expected_clean_value=replay(ZERO_PCR, desired).hex(),
        clean=clean,
        measurements=[{"path": a, "sha256": d.hex()} for a, d in zip(artefacts, desired, strict=True)],
    )


if __name__ == "__main__":
    main()
