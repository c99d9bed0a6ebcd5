#!/usr/bin/python
"""Probe an edge node's capabilities and report how far along the lifecycle it is ready to go."""

from __future__ import annotations

DOCUMENTATION = r"""
module: edge_probe
short_description: Probe an edge node (CPU, memory, disks, network, battery, TPM, artefacts) and its readiness
description:
  - Gathers the node's architecture, CPUs, memory, disks, network interfaces (addresses, state, MTU, wired
    or wireless, speed), battery (present, capacity, charging, on AC), TPM (hardware device or configured
    virtual TPM) and required artefacts (binaries with minimum versions).
  - Reports a readiness level, one of probed, mesh-ready, attestable, kube-ready, and for every level not
    reached the reasons, e.g. "kubelet missing" or "battery at 8% below the 20% minimum, not on AC".
  - With O(provided), also the level the node reaches once a later step installs what is missing of those
    (reachable_level), so that a play that probes before it installs holds a node back only for what it
    cannot fix.
  - Reads only; changes nothing, also in check mode.
options:
  artefacts:
    description: Required binaries; each needs name, command, level (mesh-ready, attestable or kube-ready),
      optional min_version (dotted numbers) and version_args (default ["--version"]).
    type: list
    elements: dict
    default: []
  tpm_tcti: {description: The TCTI of a virtual TPM to look for when the node has no TPM device., type: str}
  power_supply_dir:
    description: Where the node's power supplies (batteries, mains) are, sysfs's power_supply class.
    type: path
    default: /sys/class/power_supply
  provided:
    description: Names of artefacts a later step installs, and C(TPM) for a virtual TPM a later step starts;
      missing, they do not lower reachable_level (an installed one below its minimum version does).
    type: list
    elements: str
    default: []
  min_battery_percent: {description: Below this charge and not on AC the node is not mesh-ready., type: int, default: 20}
  min_memory_available_mb: {description: Available memory mesh-ready needs., type: int, default: 64}
  min_memory_total_mb: {description: Total memory kube-ready needs., type: int, default: 512}
  min_cpus: {description: CPUs kube-ready needs., type: int, default: 1}
  min_disk_free_mb: {description: Free space on / kube-ready needs., type: int, default: 1024}
author: edgewright
"""

EXAMPLES = r"""
- name: Probe the node
  edge_probe:
    tpm_tcti: "swtpm:host=127.0.0.1,port=2321"
    artefacts:
      - {name: kubelet, command: kubelet, min_version: "1.29", level: kube-ready}
  register: probe
"""

RETURN = r"""
level: {description: The readiness level reached., returned: always, type: str}
reachable_level: {description: The level reached once what O(provided) names is there (level without it)., returned: always, type: str}
reachable_missing: {description: For each level reachable_level does not reach, its reasons., returned: always, type: dict}
missing: {description: For each level not reached, its reasons., returned: always, type: dict}
facts: {description: Everything probed., returned: always, type: dict}
record: {description: The report without momentary values (free memory, charge), for the controller's record., returned: always, type: dict}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.edge_probe import LEVELS, VERSION_PATTERN, gather, readiness, record


def artefact_problems(artefacts):
    problems = []
    for n, a in enumerate(artefacts):
        label = a.get("name") or f"artefacts[{n}]"
        if not a.get("name") or not a.get("command"):
            problems.append(f"{label}: needs a name and a command")
        if a.get("level") not in LEVELS[1:]:
            problems.append(f"{label}: level {a.get('level')!r} is not one of {', '.join(LEVELS[1:])}")
        minimum = a.get("min_version")
        if minimum is not None and VERSION_PATTERN.fullmatch(str(minimum)) is None:
            problems.append(f"{label}: min_version {minimum!r} is not a dotted version number")
        if a.get("version_args") is not None and not isinstance(a["version_args"], list):
            problems.append(f"{label}: version_args must be a list")
    return problems


def main():
    module = AnsibleModule(
        argument_spec={
            "artefacts": {"type": "list", "elements": "dict", "default": []},
            "tpm_tcti": {"type": "str"},
            "power_supply_dir": {"type": "path", "default": "/sys/class/power_supply"},
            "provided": {"type": "list", "elements": "str", "default": []},
            "min_battery_percent": {"type": "int", "default": 20},
            "min_memory_available_mb": {"type": "int", "default": 64},
            "min_memory_total_mb": {"type": "int", "default": 512},
            "min_cpus": {"type": "int", "default": 1},
            "min_disk_free_mb": {"type": "int", "default": 1024},
        },
        supports_check_mode=True,
    )
    p = module.params
    problems = artefact_problems(p["artefacts"])
    if not 0 <= p["min_battery_percent"] <= 100:
        problems.append(f"min_battery_percent {p['min_battery_percent']} is not a percentage")
    problems += [
        f"{k} must not be negative"
        for k in ("min_memory_available_mb", "min_memory_total_mb", "min_cpus", "min_disk_free_mb")
        if p[k] < 0
    ]
    if problems:
        module.fail_json(msg="bad input: " + "; ".join(problems))
    facts = gather(p["artefacts"], p["tpm_tcti"], power_supply_dir=p["power_supply_dir"])
    requirements = {
        k: p[k]
        for k in (
            "min_battery_percent",
            "min_memory_available_mb",
            "min_memory_total_mb",
            "min_cpus",
            "min_disk_free_mb",
        )
    }
    level, missing = readiness(facts, requirements)
    reachable_level, reachable_missing = readiness(facts, requirements, provided=p["provided"])
    module.exit_json(
        changed=False,
        level=level,
        reachable_level=reachable_level,
        reachable_missing=reachable_missing,
        missing=missing,
        facts=facts,
        record=record(facts, level, missing),
    )


if __name__ == "__main__":
    main()
