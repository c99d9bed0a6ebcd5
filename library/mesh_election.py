#!/usr/bin/python
"""Elect the mesh overlay's cluster heads and lay out its links (run on the controller)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_election
short_description: Elect cluster heads from the nodes' probe facts and record the overlay on the controller
description:
  - Runs once on the controller (C(delegate_to=localhost), C(run_once=true)) with every attested node of
    the play as a candidate. Scores each from its M(edge_probe) facts (CPU, memory, network, power), elects
    I(heads_per_zone) heads in each zone, assigns each member one or two heads, and lays out the links (members dial their heads, heads link to each other and dial the gateway).
  - Stable and deterministic. The previous election is read from I(state); an incumbent head stays unless
    it is gone, no longer eligible, or beaten by more than I(stability_margin); members keep their heads
    while those remain heads. Ties are broken by name.
  - Writes the election, the links and each node's public key and mesh address to I(state) (JSON), only
    when they change; the scores stored are those of the last change.
    Private keys are never passed; candidates carry public keys only.
  - Needs the C(edgewright) Python package on the controller.
options:
  candidates:
    description:
      - The attested nodes, each with C(name), C(facts) (the edge_probe facts), and optionally C(zone),
        C(latency_ms) and C(loss_percent) (measured to the gateway), C(head_eligible), C(public_key),
        C(address) (its mesh address) and C(underlay) (the address others dial it at).
      - What a node reports is not trusted. Its C(public_key) must be in the backend's exact format
        (yggdrasil 64 hex digits, WireGuard 32 bytes in base64, cjdns its C(.k) form), its C(address) the
        single host its key gives inside the overlay's range, held by no other node, and its C(underlay) an
        IP address or a DNS name. Otherwise the module fails naming the node, and the record is unchanged.
    type: list
    elements: dict
    required: true
  gateway:
    description: The cloudlet gateway's name, with its C(public_key), C(address) and C(underlay); heads dial it.
    type: dict
  heads_per_zone: {description: Cluster heads each zone must have (K)., type: int, default: 1}
  heads_per_member: {description: Heads each member is assigned (1, or 2 for redundancy)., type: int, default: 1}
  stability_margin:
    description: Points (of 100) a challenger must beat an incumbent head by to replace it.
    type: float
    default: 10.0
  min_battery_percent:
    description: Below this charge and off AC a node may not be a head (0-100).
    type: int
    default: 20
  weights:
    description: Weights of the score's parts (cpu, memory, network, power).
    type: dict
    default: {}
  partial:
    description:
      - The candidates are only some of the overlay's nodes (nodes being added, or the peers a change
        touches). The recorded nodes that are not candidates count as they stand in I(state), with their
        recorded score, eligibility and identity, and incumbent heads keep their seats, so the run moves no
        node outside it. Without it, a recorded node that is not a candidate counts as gone.
    type: bool
    default: false
  leaving:
    description:
      - Nodes taken out of the overlay for good (decommissioned). A departing head's seat goes to the best
        eligible node of its zone, and its members are assigned anew. Names the record does not hold are
        ignored.
    type: list
    elements: str
    default: []
  state: {description: The controller's overlay record (JSON), read and written., type: path, required: true}
  backend:
    description: The overlay's backend, recorded with it.
    type: str
    required: true
    choices: [yggdrasil, wireguard, cjdns]
  network:
    description:
      - The WireGuard overlay's network (required with C(wireguard)); yggdrasil's node range is 200::/8 and
        cjdns's fc00::/8.
      - Every reported identity is checked against it before anything is written. See I(candidates).
    type: str
author: edgewright
"""

EXAMPLES = r"""
- name: Elect the cluster heads
  mesh_election:
    candidates: "{{ ansible_play_hosts | map('extract', hostvars, 'mesh_candidate') | list }}"
    heads_per_zone: 2
    state: "{{ edgewright_state_dir }}/mesh/overlay.json"
    backend: yggdrasil
  delegate_to: localhost
  run_once: true
  register: mesh_overlay
"""

RETURN = r"""
heads: {description: Heads per zone, best first., returned: always, type: dict}
assignments: {description: Each member's heads, primary first., returned: always, type: dict}
links: {description: Per node its role (head, member, gateway) and the nodes it dials and accepts., returned: always, type: dict}
nodes: {description: Each node's public key, mesh address and underlay address (no private key)., returned: always, type: dict}
scores: {description: Each candidate's score (0-100)., returned: always, type: dict}
ineligible: {description: Candidates that may not be heads, with the reason., returned: always, type: dict}
change: {description: Promoted, demoted, reassigned, joined and gone nodes against the previous election., returned: always, type: dict}
touched:
  description:
    - The nodes already in the overlay whose configuration this election changes (their links, a peer's key,
      or WireGuard routes), not counting those that join or leave. A partial run must include them.
  returned: always
  type: list
"""

import json
import os
import tempfile
from dataclasses import asdict

from ansible.module_utils.basic import AnsibleModule

try:
    from edgewright.mesh.election import (
        ElectionError,
        Policy,
        Weights,
        candidate_from_probe,
        compare,
        elect,
        election_from_record,
    )
    from edgewright.mesh.identity import (
        IdentityError,
        check_name,
        check_reported,
        check_unique,
        overlay_network,
    )
    from edgewright.mesh.topology import links, touched

    IMPORT_ERROR = None
except ImportError as exc:  # the controller lacks the package: say so rather than a traceback
    IMPORT_ERROR = str(exc)


def read_state(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise ElectionError(f"{path} is not valid JSON: {exc}") from exc


def write_state(path, record):
    os.makedirs(os.path.dirname(path) or ".", mode=0o750, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".overlay.")
    with os.fdopen(fd, "w") as out:
        json.dump(record, out, indent=2, sort_keys=True)
        out.write("\n")
    os.chmod(tmp, 0o640)
    os.replace(tmp, path)


def structure(record):
    """RECORD without the scores: what the overlay is, not how close the last measurement came."""
    if record is None:
        return None
    election = {k: v for k, v in record.get("election", {}).items() if k != "scores"}
    return {**record, "election": election}


def run(module):
    p = module.params
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
    stored = read_state(p["state"])
    if stored is None and not p["candidates"]:
        # A partial run over an overlay never formed (nodes leaving a fleet without a mesh): nothing to do.
        return {"changed": False, "heads": {}, "assignments": {}, "links": {}, "nodes": {}, "scores": {},
                "ineligible": {}, "change": {}, "touched": []}  # fmt: skip
    previous = election_from_record(stored["election"]) if stored else None
    standing = None
    if p["partial"]:
        standing = previous.standing(excluding=leaving | {c.name for c in candidates}) if previous else []
    election = elect(candidates, policy, previous, standing)
    recorded = stored["nodes"] if stored else {}
    topology = {n: asdict(link) for n, link in links(election, gateway).items()}
    nodes = {s.name: recorded.get(s.name, {}) for s in standing or []}
    # A dry run holds the election before the nodes' keys are read: they keep their recorded identity.
    nodes |= {c["name"]: recorded.get(c["name"], {}) | reported[c["name"]] for c in p["candidates"]}
    if gateway:
        # A run that does not reach the gateway (taking nodes out) keeps its recorded identity.
        nodes[gateway] = reported[gateway] or recorded.get(gateway, {})
    nodes = dict(sorted(nodes.items()))
    # No node may take another's key or address (its peerings, its routes), whether recorded or new.
    check_unique(nodes)
    record = {"backend": p["backend"], "election": election.as_record(), "links": topology, "nodes": nodes}
    # Scores move with every measurement; the record changes (and is rewritten) only when the overlay does.
    changed = structure(record) != structure(stored)
    if changed and not module.check_mode:
        write_state(p["state"], record)
    return {
        "changed": changed,
        "heads": election.heads,
        "assignments": election.assignments,
        "links": topology,
        "nodes": nodes,
        "scores": election.scores,
        "ineligible": election.ineligible,
        "change": asdict(compare(previous, election)),
        "touched": touched(stored, record, p["backend"]),
    }


def main():
    module = AnsibleModule(
        argument_spec={
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
        },
        supports_check_mode=True,
    )
    if IMPORT_ERROR:
        module.fail_json(
            msg=f"the edgewright package is not importable on the controller ({IMPORT_ERROR}): "
            "install it, or run from the project with PYTHONPATH set to its root"
        )
    unknown = sorted(set(module.params["weights"]) - {"cpu", "memory", "network", "power"})
    if unknown:
        module.fail_json(
            msg=f"weights: unknown part(s) {', '.join(unknown)}; known: cpu, memory, network, power"
        )
    try:
        module.exit_json(**run(module))
    except IdentityError as exc:
        module.fail_json(msg=f"mesh election: refused: {exc}")
    except (ElectionError, TypeError, ValueError) as exc:
        module.fail_json(msg=f"mesh election: {exc}")


if __name__ == "__main__":
    main()
