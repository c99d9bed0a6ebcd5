"""The controller's overlay record (JSON, the mesh role's mesh_state_file): the overlay's backend, the
election, every node's links and every node's identity (public key, mesh address, underlay; never a
private key). mesh_election holds each election against it and writes it; what a change touches is read
from the record before and after.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from edgewright.mesh.election import Election, ElectionError, election_from_record
from edgewright.mesh.topology import MEMBER, links


def overlay_record(
    backend: str, election: Election, gateway: str | None, nodes: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """The record of the overlay ELECTION makes over BACKEND, dialling GATEWAY (if any), with each node's
    identity in NODES."""
    return {
        "backend": backend,
        "election": election.as_record(),
        "links": {n: asdict(link) for n, link in links(election, gateway).items()},
        "nodes": dict(sorted(nodes.items())),
    }


def read_overlay(path: str | os.PathLike) -> dict[str, Any] | None:
    """The record at PATH; None when there is none yet (no overlay formed), ElectionError when it is not JSON."""
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise ElectionError(f"{path} is not valid JSON: {exc}") from exc


def recorded_election(record: Mapping[str, Any] | None) -> Election | None:
    """The election RECORD holds (None without a record)."""
    return election_from_record(record["election"]) if record else None


def same_overlay(record: Mapping[str, Any] | None, other: Mapping[str, Any] | None) -> bool:
    """Whether two records describe the same overlay. Scores move with every measurement and are not
    part of it: a record is rewritten only when the overlay changes."""
    return _structure(record) == _structure(other)


def _structure(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    election = {k: v for k, v in record.get("election", {}).items() if k != "scores"}
    return {**record, "election": election}


def touched(before: Mapping | None, after: Mapping, backend: str) -> list[str]:
    """The nodes of both overlay records whose configuration AFTER changes.

    A node is touched when its own links change, when a peer's key or address changes, or, with WireGuard
    (which routes by address), when it is a head or the gateway and the overlay gained or lost nodes:
    heads carry routes to other heads' members. Members route the whole network through their primary
    head, so nodes joining or leaving elsewhere do not touch them.
    """
    if not before:
        return []
    links_before, links_after = before.get("links", {}), after.get("links", {})
    nodes_before, nodes_after = before.get("nodes", {}), after.get("nodes", {})
    both = set(links_before) & set(links_after)
    result = {n for n in both if links_before[n] != links_after[n]}
    for n in both:
        if nodes_before.get(n) != nodes_after.get(n):
            place = links_after[n]
            result |= set(place["dial"]) | set(place["accept"])
    if backend == "wireguard" and set(nodes_before) != set(nodes_after):
        result |= {n for n in both if links_after[n]["role"] != MEMBER}
    return sorted(result & both)
