"""Filters for the mesh role: the controller-side topology functions, applied in templates."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from edgewright.mesh.topology import Links, endpoints, wireguard_routes


def mesh_wireguard_routes(links: dict[str, Any], node: str, nodes: dict[str, Any], network: str) -> dict:
    """For NODE, each WireGuard peer's AllowedIPs (see edgewright.mesh.topology.wireguard_routes), from the
    overlay record's links and nodes."""
    try:
        topology = {n: Links(**entry) for n, entry in links.items()}
        addresses = {n: entry["address"] for n, entry in nodes.items() if entry.get("address")}
        return wireguard_routes(topology, node, addresses, network)
    except (TypeError, KeyError, ValueError) as exc:
        raise AnsibleFilterError(f"mesh_wireguard_routes: {exc}") from exc


def mesh_endpoints(names: list[str], nodes: dict[str, Any], port: int) -> list[str]:
    """host:port of each of NAMES, from the overlay record's underlay addresses."""
    try:
        return endpoints(names, {n: nodes[n]["underlay"] for n in names}, int(port))
    except (TypeError, KeyError, ValueError) as exc:
        raise AnsibleFilterError(f"mesh_endpoints: no underlay address for {exc}") from exc


def mesh_peer_addresses(place: dict[str, Any], nodes: dict[str, Any]) -> list[dict[str, str]]:
    """The name and mesh address of each node PLACE (one node's entry of the overlay record's links)
    links to, dialled ones first: the metrics probe's data."""
    try:
        return [{"name": n, "address": nodes[n]["address"]} for n in Links(**place).peers]
    except (TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"mesh_peer_addresses: no mesh address for {exc}") from exc


class FilterModule:
    def filters(self) -> dict:
        return {
            "mesh_wireguard_routes": mesh_wireguard_routes,
            "mesh_endpoints": mesh_endpoints,
            "mesh_peer_addresses": mesh_peer_addresses,
        }
