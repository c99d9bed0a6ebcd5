#!/usr/bin/python
"""Keep a node's probe report on the controller: an action plugin (plugins/action/edge_probe_report.py);
this file documents it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: edge_probe_report
short_description: Keep a node's capability report on the controller
description:
  - An action plugin. It runs in the controller's own process as the operator, whatever C(become) the
    play sets for its nodes, and reaches no node.
  - Writes I(record) (the C(record) M(edge_probe) returns, without momentary values such as free memory)
    to C(DIR/NODE.json) as sorted JSON, by a rename, only when it changes.
options:
  node: {description: The node's name (a plain name; it becomes the file name)., type: str, required: true}
  record: {description: The node's report., type: dict, required: true}
  dir:
    description: The controller's report directory; default C(devices/) under the inventory's
      C(edgewright_state_dir) (C(~/.local/state/edgewright)).
    type: path
author: edgewright
"""

EXAMPLES = r"""
- name: Ensure the controller has the node's current report
  edge_probe_report:
    node: "{{ inventory_hostname }}"
    record: "{{ device_probe_report.record }}"
    dir: "{{ device_probe_report_dir }}"
"""

RETURN = r"""
path: {description: The report's file on the controller., returned: always, type: str}
"""
