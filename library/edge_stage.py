#!/usr/bin/python
"""Record a lifecycle stage an edge node reached."""

from __future__ import annotations

DOCUMENTATION = r"""
module: edge_stage
short_description: Record a lifecycle stage an edge node reached
description:
  - Keeps, on the node, the record of the lifecycle stages it reached (baseline, probed, attested, meshed,
    joined, serving), each with the time it was first reached, and the furthest one as the node's stage.
  - A stage already recorded is left as it is, so reruns report no change.
options:
  stage:
    description: The stage, one of baseline, probed, attested, meshed, joined, serving.
    type: str
    required: true
  state:
    description: C(present) records the stage; C(absent) takes it back (a node quarantined or leaving).
    type: str
    choices: [present, absent]
    default: present
  path:
    description: Where the record lives on the node.
    type: path
    default: /var/lib/edgewright/lifecycle.json
author: edgewright
"""

EXAMPLES = r"""
- name: Record that the node has its baseline
  edge_stage:
    stage: baseline

- name: Take back the attested stage of a quarantined node
  edge_stage:
    stage: attested
    state: absent
"""

RETURN = r"""
stage:
  description: The node's furthest stage after this task, or C(bare).
  returned: always
  type: str
stages:
  description: Every recorded stage with the time it was first reached (UTC, ISO 8601).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.edgewright_lifecycle import STAGES, apply, current_stage, load, save, utc_now


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "stage": {"type": "str", "required": True, "choices": list(STAGES)},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "path": {"type": "path", "default": "/var/lib/edgewright/lifecycle.json"},
        },
        supports_check_mode=True,
    )
    path = module.params["path"]
    record, changed = apply(
        load(path), module.params["stage"], module.params["state"] == "present", utc_now()
    )
    if changed and not module.check_mode:
        save(path, record)
    module.exit_json(changed=changed, stage=current_stage(record), stages=record.get("stages", {}))


if __name__ == "__main__":
    main()
