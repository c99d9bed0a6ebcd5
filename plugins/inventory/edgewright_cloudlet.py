"""Ansible inventory from a cloudlet's Pulumi stack outputs (the ``cloudlet`` output of stacks/)."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin

DOCUMENTATION = r"""
name: edgewright_cloudlet
short_description: A cloudlet's load balancers, Kubernetes nodes and platform host from its Pulumi stack
description:
  - Reads the C(cloudlet) output of an edgewright cloudlet stack, either from a file written by
    C(pulumi stack output --json) or by running that command, and makes the groups C(root_lb),
    C(dedicated_lb), C(kube_nodes) and C(platform) with the VIP and port map as variables, so the
    load-balancer, keepalived and Kubernetes roles run on what the stack made.
  - Hosts are reached on their internal address; set C(use_public_ip) to reach LBs on their public one.
  - Workloads that are not machines (on GKE and KIND the LBs and platform run in the cluster) add no
    hosts; their groups still carry the LB's VIP and port map as group variables.
  - The inventory file's name must end in C(edgewright_cloudlet.yml) or C(edgewright_cloudlet.yaml).
options:
  plugin:
    description: The name of this plugin, C(edgewright.edge.edgewright_cloudlet) from the collection.
    required: true
    choices: [edgewright_cloudlet, edgewright.edge.edgewright_cloudlet]
  outputs_file:
    description: JSON written by C(pulumi stack output --json); relative paths start at the inventory file.
    type: str
  stack:
    description: The stack to ask with C(pulumi stack output --json) when no O(outputs_file) is given.
    type: str
  project_dir:
    description: The Pulumi project directory for O(stack); relative paths start at the inventory file.
    type: str
    default: stacks
  pulumi_binary:
    description: The Pulumi CLI to run for O(stack).
    type: str
    default: pulumi
  use_public_ip:
    description: Set C(ansible_host) of LB hosts that have a public address to that address.
    type: bool
    default: false
"""

EXAMPLES = r"""
# inventories/berlin.edgewright_cloudlet.yml, after
#   pulumi -C stacks stack output --json --stack berlin-1 > inventories/berlin-1.outputs.json
# (or, instead of outputs_file, ask the Pulumi CLI: "stack: berlin-1" and "project_dir: ../stacks")
plugin: edgewright_cloudlet
outputs_file: berlin-1.outputs.json
"""

GROUPS = ("root_lb", "dedicated_lb", "kube_nodes", "platform")


def _host_vars(host: dict[str, Any], extra: dict[str, Any], use_public_ip: bool) -> dict[str, Any]:
    public_ip = host.get("publicIp")
    return {
        "ansible_host": public_ip if use_public_ip and public_ip else host["address"],
        "edgewright_role": host["role"],
        "edgewright_internal_ip": host["address"],
        "edgewright_public_ip": public_ip,
        **extra,
    }


def _lb_vars(lb: dict[str, Any]) -> dict[str, Any]:
    return {
        "edgewright_lb": lb["name"],
        "edgewright_app": lb.get("app"),
        "edgewright_lb_public_ip": lb["publicIp"],
        "edgewright_vip": lb.get("vip"),
        "edgewright_port_map": lb["portMap"],
        "edgewright_lb_peers": [host["address"] for host in lb["hosts"] if host.get("address")],
    }


def cloudlet_inventory(outputs: dict[str, Any], use_public_ip: bool = False) -> dict[str, Any]:
    """Groups (with their vars) and hosts (with theirs) from ``pulumi stack output --json``.

    Raises ValueError naming what is missing when the outputs are not a cloudlet stack's."""
    cloudlet = outputs.get("cloudlet") if isinstance(outputs, dict) else None
    if not isinstance(cloudlet, dict):
        raise ValueError("the stack outputs have no 'cloudlet' output: is this an edgewright cloudlet stack?")
    try:
        groups: dict[str, dict[str, Any]] = {name: {"hosts": {}, "vars": {}} for name in GROUPS}
        cloudlet_vars = {
            "edgewright_cloudlet": cloudlet["name"],
            "edgewright_orchestrator": cloudlet["orchestrator"],
            "edgewright_kubernetes_endpoint": cloudlet["kubernetes"]["endpoint"],
        }
        root = cloudlet["rootLb"]
        groups["root_lb"]["vars"] = _lb_vars(root)
        sources = [("root_lb", host, _lb_vars(root)) for host in root["hosts"]]
        for lb in cloudlet["dedicatedLbs"]:
            sources += [("dedicated_lb", host, _lb_vars(lb)) for host in lb["hosts"]]
        sources += [("kube_nodes", host, {}) for host in cloudlet["kubernetes"]["nodes"]]
        sources += [("platform", host, {}) for host in cloudlet["platform"]["hosts"]]
        for group, host, extra in sources:
            if host.get("address"):  # a workload in the cluster is no host to reach
                groups[group]["hosts"][host["name"]] = _host_vars(host, extra, use_public_ip)
    except (KeyError, TypeError) as error:
        raise ValueError(
            f"the 'cloudlet' output lacks {error}; was it made by this version of stacks/?"
        ) from error
    return {"cloudlet_vars": cloudlet_vars, "groups": groups}


class InventoryModule(BaseInventoryPlugin):
    NAME = "edgewright_cloudlet"

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(
            ("edgewright_cloudlet.yml", "edgewright_cloudlet.yaml")
        )

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        base = os.path.dirname(os.path.abspath(path))
        try:
            layout = cloudlet_inventory(self._outputs(base), self.get_option("use_public_ip"))
        except ValueError as error:
            raise AnsibleParserError(f"{path}: {error}") from error
        self.inventory.add_group("cloudlet")
        for key, value in layout["cloudlet_vars"].items():
            self.inventory.set_variable("cloudlet", key, value)
        for group, content in layout["groups"].items():
            self.inventory.add_group(group)
            self.inventory.add_child("cloudlet", group)
            for key, value in content["vars"].items():
                self.inventory.set_variable(group, key, value)
            for host, host_vars in content["hosts"].items():
                self.inventory.add_host(host, group=group)
                for key, value in host_vars.items():
                    self.inventory.set_variable(host, key, value)

    def _outputs(self, base: str) -> dict[str, Any]:
        outputs_file = self.get_option("outputs_file")
        if outputs_file:
            path = os.path.join(base, os.path.expanduser(outputs_file))
            try:
                with open(path, encoding="utf-8") as handle:
                    return json.load(handle)
            except OSError as error:
                raise ValueError(f"cannot read outputs_file {path}: {error.strerror}") from error
            except json.JSONDecodeError as error:
                raise ValueError(f"outputs_file {path} is not JSON: {error}") from error
        stack = self.get_option("stack")
        if not stack:
            raise ValueError("set outputs_file (from `pulumi stack output --json`) or stack")
        command = [self.get_option("pulumi_binary"), "stack", "output", "--json", "--stack", stack]
        project = os.path.join(base, os.path.expanduser(self.get_option("project_dir")))
        try:
            done = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
        except FileNotFoundError as error:
            raise ValueError(
                f"the Pulumi CLI {command[0]!r} is not installed; export the outputs with "
                "`pulumi stack output --json` elsewhere and set outputs_file"
            ) from error
        if done.returncode != 0:
            raise ValueError(f"`{' '.join(command)}` failed in {project}: {done.stderr.strip()}")
        return json.loads(done.stdout)
