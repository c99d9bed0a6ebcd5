"""The edge map: the topology of edge nodes and devices as an adjacency list, the shape of Shifu's edgeMap.

Each vertex is an edge node or an edge device (`vertexType`); each lists its neighbours with the link
type between them (`neighborVertex`, `neighborLinkType`: ethernet, usb, wifi or mesh). Edges are:
- a device and the node it is wired to (its physical link);
- a device on the network and the node its twin runs on (over the device's link);
- two nodes linked to each other (the node annotation edgewright.io/links).
Edges are undirected, so each appears in both vertices' lists. JSON in, JSON out; pure functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from edgewright.errors import EdgewrightError
from edgewright.twins.device import LINKS, EdgeDevice
from edgewright.twins.placement import EdgeNode

EDGE_NODE = "edgeNode"
EDGE_DEVICE = "edgeDevice"


class EdgeMapError(EdgewrightError, ValueError):
    """An edge map that does not hold together; the message names the vertex."""


@dataclass
class Vertex:
    name: str
    vertex_type: str
    # What an operator wants to see: for nodes status and free memory, for devices protocol and twin.
    attributes: dict[str, Any] = field(default_factory=dict)
    neighbors: dict[str, str] = field(default_factory=dict)  # neighbour name -> link type


@dataclass
class EdgeMap:
    vertices: dict[str, Vertex] = field(default_factory=dict)

    def add(self, vertex: Vertex) -> None:
        if vertex.name in self.vertices:
            raise EdgeMapError(f"vertex {vertex.name!r} appears twice (a node and a device share a name?)")
        self.vertices[vertex.name] = vertex

    def link(self, a: str, b: str, link: str) -> None:
        if link not in LINKS:
            raise EdgeMapError(
                f"link {a} - {b}: unknown link type {link!r}; expected one of {', '.join(LINKS)}"
            )
        for one, other in ((a, b), (b, a)):
            if one not in self.vertices:
                raise EdgeMapError(f"link {a} - {b}: no vertex {one!r}")
            self.vertices[one].neighbors[other] = link

    def of_type(self, vertex_type: str) -> list[Vertex]:
        return sorted(
            (v for v in self.vertices.values() if v.vertex_type == vertex_type), key=lambda v: v.name
        )

    def edges(self) -> list[tuple[str, str, str]]:
        """Each undirected edge once, as (a, b, link) with a < b."""
        return sorted(
            {
                (min(v.name, n), max(v.name, n), link)
                for v in self.vertices.values()
                for n, link in v.neighbors.items()
            }
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "vertices": [
                {
                    "name": v.name,
                    "vertexType": v.vertex_type,
                    **v.attributes,
                    "neighbors": [
                        {"neighborVertex": n, "neighborLinkType": link}
                        for n, link in sorted(v.neighbors.items())
                    ],
                }
                for v in sorted(self.vertices.values(), key=lambda v: (v.vertex_type != EDGE_NODE, v.name))
            ]
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"


def edge_map_from_json(document: Mapping[str, Any]) -> EdgeMap:
    """Read an edge map back, checking that every neighbour exists and every link is known and mutual."""
    if not isinstance(document, Mapping) or not isinstance(document.get("vertices"), list):
        raise EdgeMapError("an edge map is an object with a list of 'vertices'")
    edge_map = EdgeMap()
    pending: list[tuple[str, str, str]] = []
    for entry in document["vertices"]:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise EdgeMapError(f"vertex without a name: {entry!r}")
        name, vertex_type = entry["name"], entry.get("vertexType")
        if vertex_type not in (EDGE_NODE, EDGE_DEVICE):
            raise EdgeMapError(
                f"vertex {name!r}: vertexType must be {EDGE_NODE} or {EDGE_DEVICE}, not {vertex_type!r}"
            )
        attributes = {k: v for k, v in entry.items() if k not in ("name", "vertexType", "neighbors")}
        edge_map.add(Vertex(name, vertex_type, attributes))
        for neighbor in entry.get("neighbors") or []:
            pending.append((name, neighbor.get("neighborVertex"), neighbor.get("neighborLinkType")))
    for a, b, link in pending:
        if b not in edge_map.vertices:
            raise EdgeMapError(f"vertex {a!r}: neighbour {b!r} is not a vertex")
        if edge_map.vertices[b].neighbors.get(a, link) != link:
            raise EdgeMapError(f"link {a} - {b}: the two vertices disagree on its type")
        edge_map.link(a, b, link)
    return edge_map


def build_edge_map(
    nodes: Iterable[EdgeNode],
    devices: Iterable[EdgeDevice],
    placement: Mapping[str, str],
    node_links: Iterable[tuple[str, str, str]] = (),
    free_mib: Mapping[str, int] | None = None,
    phases: Mapping[str, str] | None = None,
) -> EdgeMap:
    """The edge map of a cluster: `placement` maps devices to the node their twin runs on, `node_links`
    lists (node, node, link) edges. Links naming a node that is not there are left out."""
    edge_map = EdgeMap()
    for node in nodes:
        status = "quarantined" if node.quarantined else "ready" if node.ready else "not-ready"
        attributes: dict[str, Any] = {"status": status, "allocatableMiB": node.allocatable_mib}
        if free_mib is not None and node.name in free_mib:
            attributes["freeMiB"] = free_mib[node.name]
        if node.location:
            attributes["location"] = {
                "latitude": node.location.latitude,
                "longitude": node.location.longitude,
            }
        edge_map.add(Vertex(node.name, EDGE_NODE, attributes))
    for device in devices:
        twin = placement.get(device.name)
        attributes = {"protocol": device.protocol, "address": device.address, "link": device.link}
        attributes["twinNode"] = twin
        attributes["phase"] = (phases or {}).get(device.name, "Placed" if twin else "Pending")
        if device.node:
            attributes["wiredTo"] = device.node
        if device.location:
            attributes["location"] = {
                "latitude": device.location.latitude,
                "longitude": device.location.longitude,
            }
        edge_map.add(Vertex(device.name, EDGE_DEVICE, attributes))
        attached = device.node or twin
        if attached in edge_map.vertices and edge_map.vertices[attached].vertex_type == EDGE_NODE:
            edge_map.link(device.name, attached, device.link)
    for a, b, link in node_links:
        if a in edge_map.vertices and b in edge_map.vertices:
            edge_map.link(a, b, link)
    return edge_map
