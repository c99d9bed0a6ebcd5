#!/usr/bin/python
"""Measure the node's round trip and loss to an address (the cloudlet gateway, or a peer over the mesh)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_link
short_description: Measure latency and loss from the node to an address with a few pings
description:
  - Sends I(count) pings (0.2 s apart, each waiting at most I(timeout) seconds) and reports the average
    round trip and the loss. Changes nothing. A target that does not answer is reported, not failed, unless
    I(require) is set.
options:
  target: {description: The address (IPv4, IPv6 or name) to measure., type: str, required: true}
  count: {description: Pings to send (1-20)., type: int, default: 3}
  timeout: {description: Seconds to wait for each reply., type: int, default: 1}
  require: {description: Fail when nothing comes back., type: bool, default: false}
author: edgewright
"""

EXAMPLES = r"""
- name: Measure the link to the gateway
  mesh_link: {target: 10.231.50.10}
  register: mesh_gateway_link
"""

RETURN = r"""
latency_ms: {description: Average round trip in milliseconds, null when nothing came back., returned: always, type: float}
loss_percent: {description: Packets lost, in percent., returned: always, type: float}
"""

import subprocess

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.edgewright_mesh import parse_ping


def main():
    module = AnsibleModule(
        argument_spec={
            "target": {"type": "str", "required": True},
            "count": {"type": "int", "default": 3},
            "timeout": {"type": "int", "default": 1},
            "require": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    if not 1 <= p["count"] <= 20 or not 1 <= p["timeout"] <= 10:
        module.fail_json(msg="count must be 1-20 and timeout 1-10 seconds")
    argv = ["ping", "-n", "-q", "-c", str(p["count"]), "-i", "0.2", "-W", str(p["timeout"]), p["target"]]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    latency, loss = parse_ping(proc.stdout)
    if p["require"] and latency is None:
        module.fail_json(
            msg=f"{p['target']} does not answer: {proc.stdout.strip() or proc.stderr.strip()}",
            latency_ms=None,
            loss_percent=loss,
        )
    module.exit_json(changed=False, latency_ms=latency, loss_percent=loss)


if __name__ == "__main__":
    main()
