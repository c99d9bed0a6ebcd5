"""mesh_election: elect the overlay's cluster heads and record the overlay, on the controller
(documented in library/mesh_election.py)."""

from __future__ import annotations

from dataclasses import asdict
from typing import ClassVar

from edgewright.controller.action import DOMAIN_ERRORS, ControllerAction
from edgewright.controller.files import write_json
from edgewright.mesh.election import ElectionError, Policy, Weights, candidate_from_probe, compare, elect
from edgewright.mesh.identity import IdentityError, check_name, check_reported, check_unique, overlay_network
from edgewright.mesh.overlay import overlay_record, read_overlay, recorded_election, same_overlay, touched

WEIGHTS = ("cpu", "memory", "network", "power")


def hold(p, check_mode):
    """The election P asks for, against the record in P's state; written unless CHECK_MODE."""
    policy = Policy(
        heads_per_zone=p["heads_per_zone"],
        heads_per_member=p["heads_per_member"],
        stability_margin=p["stability_margin"],
        min_battery_percent=p["min_battery_percent"],
        weights=Weights(**{k: float(v) for k, v in p["weights"].items()}),
    )
    problems = [
        f"candidates[{i}] needs a name and facts"
        for i, c in enumerate(p["candidates"])
        if not c.get("name") or not isinstance(c.get("facts"), dict)
    ]
    if problems:
        raise ElectionError("; ".join(problems))
    network = overlay_network(p["backend"], p["network"])
    # Every identity a node reports is checked here, before it is recorded or reaches any peer.
    reported = {}
    for c in p["candidates"]:
        check_name("node", c["name"])
        if c.get("zone") is not None:
            check_name(f"{c['name']}: zone", c["zone"])
        reported[c["name"]] = check_reported(c["name"], c, p["backend"], network)
    gateway = (p["gateway"] or {}).get("name")
    if gateway:
        check_name("gateway", gateway)
        reported[gateway] = check_reported(gateway, p["gateway"], p["backend"], network)
    leaving = set(p["leaving"])
    both = sorted(leaving & {c["name"] for c in p["candidates"]})
    if both:
        raise ElectionError(f"nodes both candidates and leaving: {', '.join(both)}")
    if not p["candidates"] and not p["partial"]:
        raise ElectionError("no attested node to elect from: every candidate was refused or unreachable")
    candidates = [
        candidate_from_probe(
            c["name"],
            c["facts"],
            zone=c.get("zone"),
            latency_ms=c.get("latency_ms"),
            loss_percent=c.get("loss_percent"),
            head_eligible=c.get("head_eligible", True),
        )
        for c in p["candidates"]
    ]
    stored = read_overlay(p["state"])
    if stored is None and not p["candidates"]:
        # A partial run over an overlay never formed (nodes leaving a fleet without a mesh): nothing to do.
        return {"changed": False, "heads": {}, "assignments": {}, "links": {}, "nodes": {}, "scores": {},
                "ineligible": {}, "change": {}, "touched": []}  # fmt: skip
    previous = recorded_election(stored)
    standing = None
    if p["partial"]:
        standing = previous.standing(excluding=leaving | {c.name for c in candidates}) if previous else []
    election = elect(candidates, policy, previous, standing)
    recorded = stored["nodes"] if stored else {}
    nodes = {s.name: recorded.get(s.name, {}) for s in standing or []}
    # A dry run holds the election before the nodes' keys are read: they keep their recorded identity.
    nodes |= {c["name"]: recorded.get(c["name"], {}) | reported[c["name"]] for c in p["candidates"]}
    if gateway:
        # A run that does not reach the gateway (taking nodes out) keeps its recorded identity.
        nodes[gateway] = reported[gateway] or recorded.get(gateway, {})
    # No node may take another's key or address (its peerings, its routes), whether recorded or new.
    check_unique(nodes)
    record = overlay_record(p["backend"], election, gateway, nodes)
    changed = not same_overlay(record, stored)
    if changed and not check_mode:
        write_json(p["state"], record)
    return {
        "changed": changed,
        "heads": election.heads,
        "assignments": election.assignments,
        "links": record["links"],
        "nodes": record["nodes"],
        "scores": election.scores,
        "ineligible": election.ineligible,
        "change": asdict(compare(previous, election)),
        "touched": touched(stored, record, p["backend"]),
    }


class ActionModule(ControllerAction):
    ARGUMENT_SPEC: ClassVar[dict] = {
        "candidates": {"type": "list", "elements": "dict", "required": True},
        "gateway": {"type": "dict"},
        "heads_per_zone": {"type": "int", "default": 1},
        "heads_per_member": {"type": "int", "default": 1},
        "stability_margin": {"type": "float", "default": 10.0},
        "min_battery_percent": {"type": "int", "default": 20},
        "weights": {"type": "dict", "default": {}},
        "partial": {"type": "bool", "default": False},
        "leaving": {"type": "list", "elements": "str", "default": []},
        "state": {"type": "path", "required": True},
        "backend": {"type": "str", "required": True, "choices": ["yggdrasil", "wireguard", "cjdns"]},
        "network": {"type": "str"},
    }

    def act(self, p, dirs):
        unknown = sorted(set(p["weights"]) - set(WEIGHTS))
        if unknown:
            raise ElectionError(f"weights: unknown part(s) {', '.join(unknown)}; known: {', '.join(WEIGHTS)}")
        try:
            return hold(p, self.check_mode)
        except DOMAIN_ERRORS:
            raise
        except (TypeError, ValueError) as exc:  # a candidate's value of the wrong kind
            raise ElectionError(str(exc)) from exc

    def describe(self, error, params):
        if isinstance(error, IdentityError):
            return f"mesh election: refused: {error}"
        return f"mesh election: {error}"
