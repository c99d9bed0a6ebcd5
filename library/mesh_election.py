#!/usr/bin/python
"""Elect the mesh overlay's cluster heads and lay out its links: an action plugin
(plugins/action/mesh_election.py); this file documents it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_election
short_description: Elect cluster heads from the nodes' probe facts and record the overlay on the controller
description:
  - Runs on the controller as an action plugin, in the controller's own process as the operator (whatever
    C(become) the play sets), once for the play (C(run_once=true)), with every attested node of
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
