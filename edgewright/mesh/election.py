"""Cluster-head election for the mesh overlay: which edge nodes carry the others' traffic.

Every edge node reaches the cloudlet through a cluster head; heads peer with each other and with the
cloudlet gateway. A node's fitness as a head is a score from its probe facts (CPU, memory, network,
power). The election is a pure function of the candidates, the policy and the previous election, so the
same inputs always give the same heads and assignments, and a rerun with nothing changed changes nothing:

- per zone, the K best eligible nodes are heads, ties broken by name;
- an incumbent head stays unless it is gone, no longer eligible, or a challenger beats it by more than
  the stability margin, so a jittery measurement does not move heads back and forth;
- each member keeps the heads it had while they remain heads; only the members of a lost head are
  assigned anew, to the least loaded heads of their zone (ties: better score, then name).

A partial election (adding or removing a few nodes without probing the fleet) counts the other nodes as
they *stand* in the previous election, with their recorded score and eligibility, and keeps every
incumbent head that remains eligible: only empty seats are filled, so it never moves the heads of nodes
outside the run.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edgewright.errors import EdgewrightError

DEFAULT_ZONE = "default"
# Hardware beyond these counts no more: a head needs enough, not the most.
CPU_SATURATION = 16
MEMORY_SATURATION_MB = 16384
LINK_SATURATION_MBPS = 10000
# Latency to the gateway below this is "local" and all local nodes are equal: sub-millisecond jitter
# must not decide an election.
LATENCY_FLOOR_MS = 2.0
# A wireless link counts for this much of a wired one of the same speed (shared medium, retries).
WIRELESS_FACTOR = 0.5
# A node on battery (not on AC) counts for this much of a mains-powered one at full charge.
BATTERY_FACTOR = 0.5
# The speed assumed for a link that does not report one (virtual NICs, many Wi-Fi drivers).
UNKNOWN_SPEED_MBPS = 100


class ElectionError(EdgewrightError, ValueError):
    """The election cannot be held as asked; the message names the problem."""


@dataclass(frozen=True)
class Weights:
    """How much each part counts in a node's score (normalised, so only the ratios matter)."""

    cpu: float = 0.25
    memory: float = 0.25
    network: float = 0.3
    power: float = 0.2


@dataclass(frozen=True)
class Policy:
    heads_per_zone: int = 1
    heads_per_member: int = 1
    # Points (of 100) a challenger must beat an incumbent head by to replace it.
    stability_margin: float = 10.0
    # Below this charge, and not on AC, a node may not be a head (it would not last).
    min_battery_percent: int = 20
    weights: Weights = field(default_factory=Weights)


@dataclass(frozen=True)
class Candidate:
    """An attested edge node as the election sees it."""

    name: str
    zone: str = DEFAULT_ZONE
    cpus: int = 1
    memory_mb: int = 0
    wired: bool = True
    link_speed_mbps: int | None = None
    # Measured to the gateway; None where not measured.
    latency_ms: float | None = None
    loss_percent: float | None = None
    battery_present: bool = False
    on_ac: bool | None = None
    battery_percent: int | None = None
    # The operator may keep a node from ever being a head (e.g. a sensor gateway on a weak uplink).
    head_eligible: bool = True


@dataclass(frozen=True)
class Standing:
    """A node as the previous election recorded it: counted in a partial election without a new probe."""

    name: str
    zone: str
    score: float
    ineligible: str | None = None


@dataclass(frozen=True)
class Election:
    """The outcome: heads per zone, each member's heads, and why."""

    heads: dict[str, list[str]]
    assignments: dict[str, list[str]]
    scores: dict[str, float]
    ineligible: dict[str, str]

    def is_head(self, name: str) -> bool:
        return any(name in heads for heads in self.heads.values())

    def zones(self) -> dict[str, str]:
        """Each node's zone: a head's is its seat's, a member's its primary head's."""
        zone_of = {h: zone for zone, heads in self.heads.items() for h in heads}
        return zone_of | {m: zone_of[hs[0]] for m, hs in self.assignments.items() if hs and hs[0] in zone_of}

    def standing(self, excluding: Iterable[str] = ()) -> list[Standing]:
        """Every node of this election but EXCLUDING, as it stands in it."""
        skip = set(excluding)
        return [
            Standing(name, zone, self.scores.get(name, 0.0), self.ineligible.get(name))
            for name, zone in sorted(self.zones().items())
            if name not in skip
        ]

    def as_record(self) -> dict[str, Any]:
        return {
            "heads": self.heads,
            "assignments": self.assignments,
            "scores": self.scores,
            "ineligible": self.ineligible,
        }


@dataclass(frozen=True)
class Change:
    """What an election changed against the previous one."""

    promoted: list[str]
    demoted: list[str]
    reassigned: list[str]
    joined: list[str]
    gone: list[str]


def validate_policy(policy: Policy) -> None:
    """Raise ElectionError naming each setting out of range."""
    problems = []
    if policy.heads_per_zone < 1:
        problems.append(f"heads_per_zone must be at least 1, not {policy.heads_per_zone}")
    if policy.heads_per_member not in (1, 2):
        problems.append(f"heads_per_member must be 1 or 2, not {policy.heads_per_member}")
    if not 0 <= policy.stability_margin <= 100:
        problems.append(f"stability_margin must be between 0 and 100 points, not {policy.stability_margin}")
    if not 0 <= policy.min_battery_percent <= 100:
        problems.append(f"min_battery_percent must be between 0 and 100, not {policy.min_battery_percent}")
    w = policy.weights
    parts = (w.cpu, w.memory, w.network, w.power)
    if any(p < 0 or not math.isfinite(p) for p in parts) or sum(parts) <= 0:
        problems.append(f"weights must be finite, non-negative and not all zero, not {w}")
    if problems:
        raise ElectionError("; ".join(problems))


def disqualification(candidate: Candidate, policy: Policy) -> str | None:
    """Why CANDIDATE may not be a head, or None when it may."""
    if not candidate.head_eligible:
        return "excluded from head duty by the operator"
    if candidate.battery_present and not candidate.on_ac:
        charge = candidate.battery_percent
        if charge is None:
            return "on battery with unknown charge"
        if charge < policy.min_battery_percent:
            return f"on battery at {charge}%, below the {policy.min_battery_percent}% minimum"
    if candidate.loss_percent is not None and candidate.loss_percent >= 100:
        return "cannot reach the gateway (100% loss)"
    return None


def network_score(candidate: Candidate) -> float:
    """0..1: link speed (log scale), halved on wireless, scaled by latency beyond local and by loss."""
    speed = candidate.link_speed_mbps or UNKNOWN_SPEED_MBPS
    speed_part = math.log10(1 + min(speed, LINK_SATURATION_MBPS)) / math.log10(1 + LINK_SATURATION_MBPS)
    kind = 1.0 if candidate.wired else WIRELESS_FACTOR
    latency = 1.0
    if candidate.latency_ms is not None:
        latency = 1.0 / (1.0 + max(0.0, candidate.latency_ms - LATENCY_FLOOR_MS) / 20.0)
    delivery = 1.0 - min(max(candidate.loss_percent or 0.0, 0.0), 100.0) / 100.0
    return speed_part * kind * latency * delivery


def power_score(candidate: Candidate) -> float:
    """0..1: mains power (or no battery at all) is 1; on battery, the charge counts at BATTERY_FACTOR."""
    if not candidate.battery_present or candidate.on_ac:
        return 1.0
    return BATTERY_FACTOR * min(max(candidate.battery_percent or 0, 0), 100) / 100.0


def score(candidate: Candidate, weights: Weights) -> float:
    """0..100, rounded to 0.1 so that equal hardware gives equal scores and ties fall to the name."""
    parts = {
        "cpu": min(max(candidate.cpus, 0), CPU_SATURATION) / CPU_SATURATION,
        "memory": min(max(candidate.memory_mb, 0), MEMORY_SATURATION_MB) / MEMORY_SATURATION_MB,
        "network": network_score(candidate),
        "power": power_score(candidate),
    }
    total = weights.cpu + weights.memory + weights.network + weights.power
    weighted = sum(getattr(weights, k) * v for k, v in parts.items()) / total
    return round(100.0 * weighted, 1)


def _rank_key(name: str, scores: Mapping[str, float]) -> tuple[float, str]:
    return (-scores[name], name)


def _zone_heads(
    eligible: Sequence[str],
    incumbents: Iterable[str],
    scores: Mapping[str, float],
    policy: Policy,
    keep_incumbents: bool = False,
) -> list[str]:
    """The K heads of one zone: incumbents kept unless a challenger beats them by the margin (or at all,
    with KEEP_INCUMBENTS)."""
    k = policy.heads_per_zone
    kept = sorted((n for n in incumbents if n in eligible), key=lambda n: _rank_key(n, scores))[:k]
    challengers = sorted((n for n in eligible if n not in kept), key=lambda n: _rank_key(n, scores))
    heads = list(kept)
    # Fill the empty seats with the best challengers.
    while len(heads) < k:
        heads.append(challengers.pop(0))
    # Then a challenger unseats the weakest head only by more than the margin.
    for challenger in [] if keep_incumbents else list(challengers):
        weakest = max(heads, key=lambda n: _rank_key(n, scores))
        if scores[challenger] > scores[weakest] + policy.stability_margin:
            heads[heads.index(weakest)] = challenger
        else:
            break
    return sorted(heads, key=lambda n: _rank_key(n, scores))


def elect(
    candidates: Sequence[Candidate],
    policy: Policy,
    previous: Election | None = None,
    standing: Sequence[Standing] | None = None,
) -> Election:
    """Heads per zone and each member's heads; ElectionError when it cannot be done as asked.

    With STANDING, even empty, the election is partial: those nodes count as recorded and incumbent heads
    keep their seats.
    """
    validate_policy(policy)
    partial = standing is not None
    standing = standing or []
    names = [c.name for c in candidates] + [s.name for s in standing]
    duplicates = sorted(n for n, count in Counter(names).items() if count > 1)
    if duplicates:
        raise ElectionError(f"candidates named more than once: {', '.join(duplicates)}")
    scores = {c.name: score(c, policy.weights) for c in candidates} | {s.name: s.score for s in standing}
    ineligible = {c.name: reason for c in candidates if (reason := disqualification(c, policy))} | {
        s.name: s.ineligible for s in standing if s.ineligible
    }
    zones: dict[str, list[Candidate | Standing]] = {}
    for c in sorted([*candidates, *standing], key=lambda c: c.name):
        zones.setdefault(c.zone, []).append(c)

    short = []
    for zone, members in sorted(zones.items()):
        eligible = [c.name for c in members if c.name not in ineligible]
        if len(eligible) < policy.heads_per_zone:
            why = "; ".join(f"{c.name}: {ineligible[c.name]}" for c in members if c.name in ineligible)
            short.append(
                f"zone {zone!r} needs {policy.heads_per_zone} cluster head(s) but has "
                f"{len(eligible)} eligible node(s) of {len(members)}" + (f" ({why})" if why else "")
            )
    if short:
        raise ElectionError("; ".join(short))

    previous_heads = {n for heads in (previous.heads.values() if previous else ()) for n in heads}
    heads: dict[str, list[str]] = {}
    for zone, members in sorted(zones.items()):
        eligible = [c.name for c in members if c.name not in ineligible]
        heads[zone] = _zone_heads(eligible, sorted(previous_heads), scores, policy, partial)

    assignments = _assign(zones, heads, scores, policy, previous.assignments if previous else {})
    return Election(
        heads=heads,
        assignments=assignments,
        scores=dict(sorted(scores.items())),
        ineligible=dict(sorted(ineligible.items())),
    )


def _assign(
    zones: Mapping[str, list[Candidate | Standing]],
    heads: Mapping[str, list[str]],
    scores: Mapping[str, float],
    policy: Policy,
    previous: Mapping[str, Sequence[str]],
) -> dict[str, list[str]]:
    """Each member's heads in its zone: the ones it had that are still heads, then the least loaded."""
    assignments: dict[str, list[str]] = {}
    for zone, members in sorted(zones.items()):
        zone_heads = heads[zone]
        wanted = min(policy.heads_per_member, len(zone_heads))
        member_names = [c.name for c in members if c.name not in zone_heads]
        # Load is counted per rank (primary, second), so primaries spread evenly over the heads.
        load = [dict.fromkeys(zone_heads, 0) for _ in range(wanted)]
        for name in member_names:
            kept = [h for h in previous.get(name, ()) if h in zone_heads][:wanted]
            assignments[name] = kept
            for rank, h in enumerate(kept):
                load[rank][h] += 1
        for rank in range(wanted):
            for name in member_names:
                if len(assignments[name]) > rank:
                    continue
                choice = min(
                    (h for h in zone_heads if h not in assignments[name]),
                    key=lambda h, r=rank: (load[r][h], *_rank_key(h, scores)),
                )
                assignments[name].append(choice)
                load[rank][choice] += 1
    return dict(sorted(assignments.items()))


def compare(previous: Election | None, current: Election) -> Change:
    """Who became a head, who stopped being one, which members got other heads, who joined or left."""
    before_heads = {n for hs in (previous.heads.values() if previous else ()) for n in hs}
    after_heads = {n for hs in current.heads.values() for n in hs}
    before_nodes = set(previous.scores) if previous else set()
    after_nodes = set(current.scores)
    before_assign = previous.assignments if previous else {}
    reassigned = sorted(
        m
        for m, hs in current.assignments.items()
        if m in before_assign and sorted(before_assign[m]) != sorted(hs)
    )
    return Change(
        promoted=sorted(after_heads - before_heads),
        demoted=sorted((before_heads - after_heads) & after_nodes),
        reassigned=reassigned,
        joined=sorted(after_nodes - before_nodes),
        gone=sorted(before_nodes - after_nodes),
    )


def election_from_record(record: Mapping[str, Any]) -> Election:
    """An Election from its stored record (the controller's artefact); ElectionError if it is not one."""
    try:
        return Election(
            heads={str(z): [str(n) for n in hs] for z, hs in record["heads"].items()},
            assignments={str(m): [str(h) for h in hs] for m, hs in record["assignments"].items()},
            scores={str(n): float(s) for n, s in record.get("scores", {}).items()},
            ineligible={str(n): str(r) for n, r in record.get("ineligible", {}).items()},
        )
    except (KeyError, AttributeError, TypeError, ValueError) as exc:
        raise ElectionError(f"the previous election record is not usable: {exc!r}") from exc


def candidate_from_probe(
    name: str,
    facts: Mapping[str, Any],
    zone: str | None = None,
    latency_ms: float | None = None,
    loss_percent: float | None = None,
    head_eligible: bool = True,
) -> Candidate:
    """A Candidate from the edge_probe module's facts (cpu, memory, interfaces, battery)."""
    # An uplink has a link-layer address; tunnels (the mesh's own TUN, VPNs) have none.
    physical = [i for i in facts.get("interfaces", []) if i.get("mac")]
    interfaces = [
        i for i in physical if i.get("addresses") and i.get("state") in ("up", "unknown")
    ] or physical
    # The node's best uplink: wired before wireless, then the fastest.
    best = min(
        interfaces,
        key=lambda i: (i.get("kind") != "wired", -(i.get("speed_mbps") or 0), i.get("name", "")),
        default={},
    )
    battery = facts.get("battery") or {}
    return Candidate(
        name=name,
        zone=zone or DEFAULT_ZONE,
        cpus=int((facts.get("cpu") or {}).get("count") or 1),
        memory_mb=int((facts.get("memory") or {}).get("total_mb") or 0),
        wired=best.get("kind", "wired") == "wired",
        link_speed_mbps=best.get("speed_mbps"),
        latency_ms=latency_ms,
        loss_percent=loss_percent,
        battery_present=bool(battery.get("present")),
        on_ac=battery.get("on_ac"),
        battery_percent=battery.get("capacity_percent"),
        head_eligible=head_eligible,
    )
