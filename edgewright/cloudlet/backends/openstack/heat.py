"""Restricted access: the same OpenStack cloudlet as artefacts the operator runs inside their network.

When the orchestrator's API is internal only, the stack does not call it. It renders the cloudlet's
OpenStack layout (``openstack_model``, the same one the Pulumi backend uses) as a Heat template plus
``deploy.sh``/``destroy.sh``, which the operator runs with their own OpenStack credentials.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from edgewright.cloudlet.backends.openstack.layout import SELF, Net, openstack_layout
from edgewright.cloudlet.plan import CloudletPlan, Role

if TYPE_CHECKING:
    from edgewright.cloudlet.backends.openstack import OpenStackSettings

HEAT_VERSION = "2018-08-31"


class _IndentedDumper(yaml.SafeDumper):
    """Indents lists under their key, as yamllint and most hand-written Heat templates do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


TEMPLATE = "cloudlet.yaml"


def heat_name(name: str) -> str:
    """A Heat resource name for a cloudlet name (letters, digits, underscores)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def _ref(name: str) -> dict[str, str]:
    return {"get_resource": heat_name(name)}


def heat_template(plan: CloudletPlan, settings: OpenStackSettings) -> dict[str, Any]:
    layout = openstack_layout(plan)
    name = plan.config.name
    resources: dict[str, Any] = {
        "net": {"type": "OS::Neutron::Net", "properties": {"name": f"{name}-net"}},
        "subnet": {
            "type": "OS::Neutron::Subnet",
            "properties": {
                "name": f"{name}-subnet",
                "network": {"get_resource": "net"},
                "cidr": plan.config.internal_cidr,
                "ip_version": 4,
                "gateway_ip": layout.gateway_ip,
            },
        },
    }
    if layout.router:
        resources["router"] = {
            "type": "OS::Neutron::Router",
            "properties": {
                "name": f"{name}-router",
                "external_gateway_info": {"network": {"get_param": "external_network"}},
            },
        }
        resources["router_interface"] = {
            "type": "OS::Neutron::RouterInterface",
            "properties": {"router": {"get_resource": "router"}, "subnet": {"get_resource": "subnet"}},
        }
    for group in layout.security_groups:
        rules = []
        for rule in group.rules:
            entry: dict[str, Any] = {"direction": "ingress", "ethertype": "IPv4", "protocol": rule.protocol}
            if rule.port_min is not None:
                entry["port_range_min"] = rule.port_min
                entry["port_range_max"] = rule.port_max
            if rule.remote == SELF:
                entry["remote_mode"] = "remote_group_id"  # no group named: this same group
            else:
                entry["remote_ip_prefix"] = rule.remote
            rules.append(entry)
        resources[heat_name(group.name)] = {
            "type": "OS::Neutron::SecurityGroup",
            "properties": {"name": group.name, "rules": rules},
        }
    for port in layout.ports:
        external = port.net is Net.EXTERNAL
        fixed_ip: dict[str, Any] = {} if external else {"subnet": {"get_resource": "subnet"}}
        if port.fixed_ip:
            fixed_ip["ip_address"] = port.fixed_ip
        properties: dict[str, Any] = {
            "name": port.name,
            "network": {"get_param": "external_network"} if external else {"get_resource": "net"},
            "security_groups": [_ref(port.security_group)] if port.security_group else [],
        }
        if fixed_ip:
            properties["fixed_ips"] = [fixed_ip]
        if port.allowed_pairs:
            properties["allowed_address_pairs"] = [{"ip_address": address} for address in port.allowed_pairs]
        resources[heat_name(port.name)] = {"type": "OS::Neutron::Port", "properties": properties}
    for fip in layout.floating_ips:
        resources[heat_name(fip.name)] = {
            "type": "OS::Neutron::FloatingIP",
            "depends_on": ["router_interface"] if layout.router else [],
            "properties": {
                "floating_network": {"get_param": "external_network"},
                "floating_ip_address": fip.address,
                "port_id": _ref(fip.port),
            },
        }
    for server in layout.servers:
        lb = server.role in (Role.ROOT_LB, Role.DEDICATED_LB)
        # Nova rejects an empty key name, so the key is named only when the operator gave one.
        key = {"key_name": {"get_param": "key_name"}} if settings.key_pair else {}
        resources[heat_name(server.name)] = {
            "type": "OS::Nova::Server",
            "properties": {
                "name": server.name,
                "image": {"get_param": "image"},
                "flavor": {"get_param": "lb_flavor" if lb else "flavor"},
                "networks": [{"port": _ref(port)} for port in server.ports],
                "metadata": {"edgewright-role": server.role.value, "edgewright-cloudlet": name},
                **key,
            },
        }
    outputs = {
        "root_lb_public_ip": {"value": plan.root_lb.public_ip},
        "kubernetes_endpoint": {"value": f"https://{plan.cluster.control_plane.internal_ip}:6443"},
    }
    for lb in plan.dedicated_lbs:
        outputs[f"{heat_name(lb.app or lb.name)}_public_ip"] = {"value": lb.public_ip}
    return {
        "heat_template_version": HEAT_VERSION,
        "description": f"edgewright cloudlet {name} ({plan.config.data_path.value} data path, "
        f"{plan.config.redundancy.value} root LB)",
        "parameters": {
            "external_network": {
                "type": "string",
                "default": settings.external_network,
                "description": "The operator's external network (name or ID)",
            },
            "image": {"type": "string", "default": settings.image},
            "flavor": {"type": "string", "default": settings.flavor},
            "lb_flavor": {"type": "string", "default": settings.lb_flavor},
            **({"key_name": {"type": "string", "default": settings.key_pair}} if settings.key_pair else {}),
        },
        "resources": resources,
        "outputs": outputs,
    }


DEPLOY = """#!/bin/sh
# Create or update the edgewright cloudlet {name} from {template}, with the operator's own credentials
# (source your openrc first). Nothing here calls out of your network.
set -eu
cd "$(dirname "$0")"
if openstack stack show {name} >/dev/null 2>&1; then
  openstack stack update --wait -t {template} {name}
else
  openstack stack create --wait -t {template} {name}
fi
openstack stack output show {name} --all
"""

DESTROY = """#!/bin/sh
# Delete the edgewright cloudlet {name} and everything its template made.
set -eu
openstack stack delete --yes --wait {name}
"""


def render_artefacts(plan: CloudletPlan, settings: OpenStackSettings) -> dict[str, str]:
    """The files the operator runs: the Heat template and the scripts that apply and remove it."""
    template = yaml.dump(
        heat_template(plan, settings), Dumper=_IndentedDumper, sort_keys=False, width=110, explicit_start=True
    )
    name = plan.config.name
    return {
        TEMPLATE: template,
        "deploy.sh": DEPLOY.format(name=name, template=TEMPLATE),
        "destroy.sh": DESTROY.format(name=name),
    }


def write_artefacts(artefacts: dict[str, str], directory: Path) -> None:
    """Write the artefacts, rewriting only files whose content changed (scripts executable)."""
    directory.mkdir(parents=True, exist_ok=True)
    for file_name, text in artefacts.items():
        path = directory / file_name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        if file_name.endswith(".sh"):
            path.chmod(0o755)
