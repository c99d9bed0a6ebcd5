#!/usr/bin/python
"""Measure the artefacts edgewright installed into a PCR root cannot reset, logging every measurement."""

from __future__ import annotations

DOCUMENTATION = r"""
module: tpm_measure
short_description: Extend the SHA-256 of each edgewright artefact into a PCR, logging each measurement
description:
  - Each artefact's SHA-256 (an absent file has a measurement of its own) is measured into I(pcr) in the
    order given. The PCR is extended with the event hash of IMA's ima-ng template (the file's digest and
    its path), and one line is appended to the measurement log on the node (I(log)), in the layout of
    IMA's ascii_runtime_measurements (PCR, event hash, template, sha256:digest, path).
  - The verifier replays the log against the quoted PCR and judges each entry against its policy.
  - An artefact whose last logged measurement is its current digest is not measured again, so a rerun
    changes nothing. A changed artefact is measured anew; the PCR (13 by default, not resettable from
    software) cannot be taken back, so the node fails attestation, naming that artefact, until its TPM
    restarts (a reboot) with the artefacts the policy allows.
  - Check mode reports whether it would extend, without extending.
options:
  tcti: {description: How to reach the TPM (TPM2TOOLS_TCTI)., type: str, required: true}
  pcr: {description: The PCR (0-23) to extend., type: int, default: 13}
  artefacts: {description: Absolute paths of the files to measure, in a fixed order., type: list, elements: path, required: true}
  log: {description: Where the node keeps its measurement log., type: path, default: /var/lib/edgewright/measurements.log}
author: edgewright
"""

EXAMPLES = r"""
- name: Measure edgewright's artefacts into PCR 13
  tpm_measure:
    tcti: "swtpm:host=127.0.0.1,port=2321"
    artefacts: [/etc/systemd/system/swtpm.service]
"""

RETURN = r"""
pcr_value: {description: The PCR's value after this run (hex)., returned: always, type: str}
measurements: {description: Each artefact with its SHA-256 (hex)., returned: always, type: list}
measured: {description: The artefacts measured by this run (a changed or new artefact, or all after a TPM restart)., returned: always, type: list}
log_replays: {description: Whether the log explains every extension of the PCR since the TPM started (what the verifier checks)., returned: always, type: bool}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.tpm import (
    MEASUREMENT_LOG,
    MEASUREMENT_PCR,
    TCTI_ARG,
    TpmError,
    check_measured_path,
    check_pcr_index,
    log_replay,
    measure_artefacts,
)


def main():
    module = AnsibleModule(
        argument_spec={
            **TCTI_ARG,
            "pcr": {"type": "int", "default": MEASUREMENT_PCR},
            "artefacts": {"type": "list", "elements": "path", "required": True},
            "log": {"type": "path", "default": MEASUREMENT_LOG},
        },
        supports_check_mode=True,
    )
    try:
        pcr = check_pcr_index(module.params["pcr"])
        for artefact in module.params["artefacts"]:
            check_measured_path(artefact)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    try:
        measured, current, log, desired = measure_artefacts(
            module.params["tcti"], pcr, module.params["artefacts"], module.params["log"], module.check_mode
        )
    except (TpmError, OSError) as exc:
        module.fail_json(msg=f"measuring into PCR {pcr} failed: {exc}")
    module.exit_json(
        changed=bool(measured),
        pcr_value=current.hex(),
        log_replays=log_replay(log, pcr) == current,
        measured=measured,
        measurements=[{"path": a, "sha256": d.hex()} for a, d in desired],
    )


if __name__ == "__main__":
    main()
