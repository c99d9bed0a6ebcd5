"""The directories an inventory gives its nodes, for the operator's commands run outside a play."""

from __future__ import annotations

from pathlib import Path

from edgewright.controller.dirs import DIRECTORY_VARS, Directories


def inventory_directories(inventory: str | None = None, node: str | None = None) -> Directories | None:
    """The directories INVENTORY (else the one ansible.cfg names, as ansible-playbook run here would use)
    gives NODE (else its first edge node, or its first host), templated as a play sees them; None when there is no such
    inventory or node."""
    from ansible import constants
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar
    from ansible.vars.manager import VariableManager

    sources = [inventory] if inventory else [str(s) for s in constants.DEFAULT_HOST_LIST or []]
    sources = [source for source in sources if Path(source).exists()]
    if not sources:
        return None
    loader = DataLoader()
    hosts = InventoryManager(loader=loader, sources=sources)
    host = hosts.get_host(node) if node else None
    if host is None:
        groups = hosts.get_groups_dict()
        members = groups.get("edge_nodes") or groups.get("all") or []
        host = hosts.get_host(members[0]) if members else None
    if host is None:
        return None
    variables = VariableManager(loader=loader, inventory=hosts).get_vars(host=host, include_hostvars=False)
    templar = Templar(loader=loader, variables=variables)
    named = {name: templar.template(variables[name]) for name in DIRECTORY_VARS if variables.get(name)}
    return Directories.from_vars(named)
