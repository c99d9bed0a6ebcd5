"""Filters for the mesh role: the controller-side topology functions, applied in templates."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from edgewright.mesh.topology import Links, wireguard_routes

    IMPORT_ERROR = None
except ImportError as exc:
    IMPORT_ERROR = str(exc)


def mesh_wireguard_routes(links: dict[str, Any], node: str, addresses: dict[str, str], network: str) -> dict:
    """For NODE, each WireGuard peer's AllowedIPs (see edgewright.mesh.topology.wireguard_routes)."""
    if IMPORT_ERROR:
        raise AnsibleFilterError(
            f"the edgewright package is not importable on the controller ({IMPORT_ERROR})"
        )
    try:
        topology = {n: Links(**entry) for n, entry in links.items()}
        return wireguard_routes(topology, node, addresses, network)
    except (TypeError, KeyError, ValueError) as exc:
        raise AnsibleFilterError(f"mesh_wireguard_routes: {exc}") from exc


class FilterModule:
    def filters(self) -> dict:
        return {"mesh_wireguard_routes": mesh_wireguard_routes}
