"""Where device twins run: the placement rules and the lifecycle plan, as pure functions.

Rules, in order (as Shifu's shifuController schedules):
1. A device wired to a node runs on that node.
2. A device on the network runs on the closest edge node by location.
3. Ties, and devices without a location, go to the node with the most free memory.
Never on a node that is not Ready, is quarantined, or has no room for the twin's memory request. A node
tainted NoSchedule or NoExecute (a battery-powered node, say) takes only the twins of devices wired to it,
which tolerate its taints: the device is there. Twins are placed by node affinity, so the scheduler, and
with it the node's taints, has the last word (see manifests).

A wired device whose node is unavailable falls back to rules 2-3 (best effort: the device may still be
reachable over the network), except on a node-bound link (USB), where no other node can reach it: its
twin waits for the node.

The lifecycle plan keeps every twin where it is unless its node became unusable (then it moves at once,
best effort), or a better placement exists and the anti-flapping guard allows the move: the twin has
stayed at least `min_dwell_s`, and the new node is clearly better (the wired node is back, or it is closer
by both `min_gain_km` and `min_gain_ratio`). Free memory alone never moves a twin: it changes with every
placement, so chasing it would flap.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from edgewright.errors import EdgewrightError
from edgewright.twins.device import EdgeDevice, Location

EARTH_RADIUS_KM = 6371.0088
# Two nodes closer to a device than this to each other's distance count as a tie.
TIE_KM = 0.001


class PlacementError(EdgewrightError, ValueError):
    """Input the planner cannot work with (e.g. two nodes of one name)."""


# Taint effects that keep a pod off a node unless it tolerates them (PreferNoSchedule only discourages).
REPELLING_EFFECTS = ("NoSchedule", "NoExecute")
# Taints the node lifecycle controller sets from the node's conditions (not-ready, unreachable,
# unschedulable, pressure): placement reads those conditions itself, and the scheduler waits them out.
CONDITION_TAINTS = "node.kubernetes.io/"


@dataclass(frozen=True)
class Taint:
    """A node taint (spec.taints[]): key, value (may be empty) and effect."""

    key: str
    value: str = ""
    effect: str = "NoSchedule"

    def __str__(self) -> str:
        return f"{self.key}{'=' + self.value if self.value else ''}:{self.effect}"

    def toleration(self) -> dict[str, str]:
        """The pod toleration that tolerates exactly this taint."""
        if self.value:
            return {"key": self.key, "operator": "Equal", "value": self.value, "effect": self.effect}
        return {"key": self.key, "operator": "Exists", "effect": self.effect}


@dataclass(frozen=True)
class EdgeNode:
    """What placement needs to know about one edge node."""

    name: str
    ready: bool = True
    quarantined: bool = False
    location: Location | None = None
    allocatable_mib: int = 0
    taints: tuple[Taint, ...] = ()

    @property
    def repelling(self) -> tuple[Taint, ...]:
        """The taints that keep a pod off this node unless it tolerates them."""
        return tuple(
            t for t in self.taints if t.effect in REPELLING_EFFECTS and not t.key.startswith(CONDITION_TAINTS)
        )

    @property
    def usable(self) -> bool:
        return self.ready and not self.quarantined

    def why_unusable(self) -> str | None:
        if self.quarantined:
            return f"node {self.name} is quarantined"
        if not self.ready:
            return f"node {self.name} is not Ready"
        return None


@dataclass(frozen=True)
class Assignment:
    """A twin that exists: the node it runs on and when it was placed there (seconds since the epoch)."""

    device: str
    node: str
    placed_at: float = 0.0


@dataclass(frozen=True)
class Guard:
    """The anti-flapping guard: how long a twin stays put, and how much better a move must be."""

    min_dwell_s: float = 300.0
    min_gain_km: float = 1.0
    min_gain_ratio: float = 0.2


class Action(StrEnum):
    CREATE = "create"
    KEEP = "keep"
    MOVE = "move"
    DELETE = "delete"
    PENDING = "pending"
    # The device's resource is wrong (bad field, unknown wired node): nothing of it changes.
    INVALID = "invalid"


@dataclass(frozen=True)
class Decision:
    """What to do with one device's twin, and why (the reason is shown to operators)."""

    device: str
    action: Action
    node: str | None = None
    previous: str | None = None
    reason: str = ""


@dataclass
class Plan:
    decisions: list[Decision] = field(default_factory=list)

    def by_action(self, action: Action) -> list[Decision]:
        return [d for d in self.decisions if d.action is action]

    @property
    def moves(self) -> list[Decision]:
        return self.by_action(Action.MOVE)

    def placement(self) -> dict[str, str]:
        """Device name -> node, for every twin that exists after the plan is carried out."""
        return {d.device: d.node for d in self.decisions if d.node and d.action is not Action.DELETE}


def distance_km(a: Location, b: Location) -> float:
    """Great-circle distance (haversine)."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class NearestNodes:
    """Nodes with a location, sorted by latitude, to find the closest ones without trying every node.

    A difference in latitude alone is a lower bound of the great-circle distance, so the search walks
    outwards from the device's latitude and stops once that bound exceeds the best distance found.
    """

    def __init__(self, nodes: Iterable[EdgeNode]) -> None:
        located = sorted((n for n in nodes if n.location), key=lambda n: (n.location.latitude, n.name))
        self._nodes = located
        self._latitudes = [n.location.latitude for n in located]

    def closest(self, where: Location, fits: Callable[[EdgeNode], bool]) -> tuple[float, list[EdgeNode]]:
        """The smallest distance to a node that `fits`, and every such node within TIE_KM of it."""
        best = math.inf
        found: list[tuple[float, EdgeNode]] = []
        start = bisect.bisect_left(self._latitudes, where.latitude)
        km_per_degree = math.radians(1) * EARTH_RADIUS_KM
        up, down = start, start - 1
        while up < len(self._nodes) or down >= 0:
            gap_up = (self._latitudes[up] - where.latitude) if up < len(self._nodes) else math.inf
            gap_down = (where.latitude - self._latitudes[down]) if down >= 0 else math.inf
            if gap_up <= gap_down:
                index, gap = up, gap_up
                up += 1
            else:
                index, gap = down, gap_down
                down -= 1
            if gap * km_per_degree > best + TIE_KM:
                break
            node = self._nodes[index]
            if not fits(node):
                continue
            km = distance_km(where, node.location)
            if km <= best + TIE_KM:
                best = min(best, km)
                found.append((km, node))
        return best, [n for km, n in found if km <= best + TIE_KM]


class Placer:
    """Places twins one at a time, keeping each node's free memory up to date as twins land on it."""

    def __init__(self, nodes: Iterable[EdgeNode], used_mib: Mapping[str, int] | None = None) -> None:
        self.nodes: dict[str, EdgeNode] = {}
        for node in nodes:
            if node.name in self.nodes:
                raise PlacementError(f"node {node.name} is listed twice")
            self.nodes[node.name] = node
        used = used_mib or {}
        self.free_mib = {n.name: n.allocatable_mib - used.get(n.name, 0) for n in self.nodes.values()}
        self._usable = [n for n in self.nodes.values() if n.usable]
        self._nearest = NearestNodes(self._usable)

    def fits(self, node: EdgeNode, device: EdgeDevice) -> bool:
        return node.usable and self.free_mib[node.name] >= device.memory_mib and not repels(node, device)

    def _most_free(self, candidates: Iterable[EdgeNode]) -> EdgeNode:
        return min(candidates, key=lambda n: (-self.free_mib[n.name], n.name))

    def best(self, device: EdgeDevice) -> tuple[EdgeNode | None, str]:
        """The node the rules choose for a device, with the reason; (None, why) when there is none."""
        fallback = ""
        if device.node is not None:
            wired = self.nodes.get(device.node)
            if wired is not None and self.fits(wired, device):
                return wired, f"wired to {wired.name}"
            if wired is None:
                why = f"node {device.node} is gone"
            else:
                why = wired.why_unusable() or f"node {wired.name} has no room for {device.memory_mib} MiB"
            if device.node_bound:
                return None, f"{why}; a {device.link} device can only be served from it"
            fallback = f"{why}; best effort: "
        if device.location is not None:
            km, closest = self._nearest.closest(device.location, lambda n: self.fits(n, device))
            if closest:
                node = self._most_free(closest)
                tie = f", most free memory of {len(closest)} at that distance" if len(closest) > 1 else ""
                return node, f"{fallback}closest node ({km:.1f} km{tie})"
        candidates = [n for n in self._usable if self.fits(n, device)]
        if not candidates:
            return None, f"{fallback}no Ready, unquarantined, untainted node has {device.memory_mib} MiB free"
        node = self._most_free(candidates)
        where = "no location" if device.location is None else "no located node has room"
        return node, f"{fallback}{where}: most free memory ({self.free_mib[node.name]} MiB)"

    def take(self, node: str, device: EdgeDevice) -> None:
        self.free_mib[node] -= device.memory_mib

    def release(self, node: str, device: EdgeDevice) -> None:
        if node in self.free_mib:
            self.free_mib[node] += device.memory_mib

    def clearly_better(self, device: EdgeDevice, current: str, candidate: str, guard: Guard) -> str | None:
        """Why `candidate` is clearly better than `current` for the device, or None when it is not."""
        if candidate == current:
            return None
        if device.node is not None:
            return f"wired node {candidate} is back" if candidate == device.node else None
        here, there = self.nodes[current].location, self.nodes[candidate].location
        if device.location is None or there is None:
            return None
        if here is None:
            return f"{candidate} has a location and {current} has none"
        now_km, new_km = distance_km(device.location, here), distance_km(device.location, there)
        gain = now_km - new_km
        if gain >= guard.min_gain_km and gain >= guard.min_gain_ratio * now_km:
            return f"{candidate} is closer ({new_km:.1f} km instead of {now_km:.1f} km)"
        return None


def repels(node: EdgeNode, device: EdgeDevice) -> bool:
    """Whether NODE's taints keep DEVICE's twin off it: only a device wired to a node tolerates its taints."""
    return bool(node.repelling) and device.node != node.name


def tolerations(device: EdgeDevice, node: EdgeNode) -> list[dict[str, str]]:
    """The tolerations DEVICE's twin needs on NODE: its taints when the device is wired to it, else none
    (placement put it on an untainted node)."""
    return [t.toleration() for t in node.repelling] if device.node == node.name else []


def place(
    devices: Iterable[EdgeDevice], nodes: Iterable[EdgeNode], invalid: Mapping[str, str] | None = None
) -> Plan:
    """Place every device from scratch (no twin exists yet); INVALID as for plan."""
    return plan(devices, nodes, current={}, now=0.0, invalid=invalid)


def plan(
    devices: Iterable[EdgeDevice],
    nodes: Iterable[EdgeNode],
    current: Mapping[str, Assignment],
    now: float,
    guard: Guard = Guard(),
    invalid: Mapping[str, str] | None = None,
) -> Plan:
    """Decide, for every device and every existing twin, what happens next.

    `current` maps device names to the twins that exist. `invalid` maps the names of devices whose
    resource could not be read to the problem: their twins are left as they are (an edit gone wrong
    must not delete a working twin). Devices are handled in name order, so the same input always gives
    the same plan. Twins that stay count against their node's memory before any twin is placed or moved.
    """
    invalid = dict(invalid or {})
    wanted = {}
    for device in devices:
        if device.name in wanted:
            raise PlacementError(f"device {device.name} is listed twice")
        wanted[device.name] = device
    node_list = list(nodes)
    known = {n.name: n for n in node_list}

    used: dict[str, int] = {}
    staying: dict[str, Assignment] = {}
    for name, twin in current.items():
        device = wanted.get(name)
        node = known.get(twin.node)
        if device is not None and node is not None and node.usable and not repels(node, device):
            staying[name] = twin
            used[twin.node] = used.get(twin.node, 0) + device.memory_mib
    for name, device in wanted.items():
        # Wired to a node the cluster has never had a twin of it on: a mistake, not a node that left.
        if device.node is not None and device.node not in known and name not in current:
            invalid[name] = f"device {name!r}: wired to node {device.node!r}, which is not in the cluster"
    placer = Placer(node_list, used)

    result = Plan()
    for name in sorted(invalid):
        twin = current.get(name)
        node = twin.node if twin else None
        result.decisions.append(Decision(name, Action.INVALID, node, previous=node, reason=invalid[name]))
    for name in sorted(set(current) - set(wanted) - set(invalid)):
        result.decisions.append(
            Decision(name, Action.DELETE, previous=current[name].node, reason="device disconnected")
        )
    for name in sorted(set(wanted) - set(invalid)):
        device = wanted[name]
        twin = current.get(name)
        if twin is not None and name in staying:
            result.decisions.append(_keep_or_move(placer, device, twin, now, guard))
            continue
        node, reason = placer.best(device)
        if twin is None:
            if node is None:
                result.decisions.append(Decision(name, Action.PENDING, reason=reason))
            else:
                placer.take(node.name, device)
                result.decisions.append(Decision(name, Action.CREATE, node.name, reason=reason))
            continue
        lost = _why_lost(known.get(twin.node), twin.node)
        if node is None:
            result.decisions.append(
                Decision(name, Action.PENDING, previous=twin.node, reason=f"{lost}; {reason}")
            )
        else:
            placer.take(node.name, device)
            result.decisions.append(
                Decision(name, Action.MOVE, node.name, previous=twin.node, reason=f"{lost}; {reason}")
            )
    return result


def _why_lost(node: EdgeNode | None, name: str) -> str:
    if node is None:
        return f"node {name} is gone"
    taints = ", ".join(str(t) for t in node.repelling)
    return node.why_unusable() or f"node {name} is tainted {taints}"


def _keep_or_move(placer: Placer, device: EdgeDevice, twin: Assignment, now: float, guard: Guard) -> Decision:
    keep = Decision(device.name, Action.KEEP, twin.node, previous=twin.node, reason="placed")
    if now - twin.placed_at < guard.min_dwell_s:
        return keep
    # Judge the alternatives as if this twin were not there, so it does not crowd out its own node.
    placer.release(twin.node, device)
    node, _reason = placer.best(device)
    better = placer.clearly_better(device, twin.node, node.name, guard) if node else None
    if better is None:
        placer.take(twin.node, device)
        return keep
    placer.take(node.name, device)
    return Decision(
        device.name, Action.MOVE, node.name, previous=twin.node, reason=f"better placement: {better}"
    )
