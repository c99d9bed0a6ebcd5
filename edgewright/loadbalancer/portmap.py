"""The port map: which public port on a load balancer carries which app port.

A cloudlet has few public IPs, so most apps share the *root load balancer* and their ports are remapped
there; an app that needs its own IP or unchanged ports gets a *dedicated load balancer*. This module
decides the public ports for both, once, for the Pulumi stacks (security groups, port mappings) and the
Ansible load-balancer roles (Envoy listeners) alike.

Ports are written as in an app definition: ``"tcp:80,tcp:8000-8010,udp:53"``.

    >>> web = AppPorts.parse("web", "tcp:80,tcp:443")
    >>> api = AppPorts.parse("api", "tcp:80")
    >>> root = assign_root([web, api], remap_start=10000)
    >>> root.public_port("api", Protocol.TCP, 80)
    10000
    >>> assign_root([api], previous=root).public_port("api", Protocol.TCP, 80)   # stable: kept
    10000
    >>> assign_dedicated(web).public_port("web", Protocol.TCP, 443)
    443

Rules
- Root LB (:func:`assign_root`): an app port keeps public = internal when that public port is free,
  else it gets the first free port at or above ``remap_start``, separately per protocol (TCP and UDP are
  different port spaces). A range is kept contiguous: it moves as one block.
- Stable across runs: pass the map of the previous run as ``previous``. Every assignment whose app still
  asks for the same protocol and internal range is kept; apps (or ranges) no longer present free their
  public ports. New ports are assigned in the order the apps are given.
- Dedicated LB (:func:`assign_dedicated`): public = internal always; ports of one app that overlap each
  other cannot be carried and are rejected.
- Invalid input (a malformed spec, a range outside 1-65535 or with start > end, an app whose own ports
  overlap, no room left above ``remap_start``) raises :class:`PortMapError`, a ``ValueError`` naming the
  app and the port.
- JSON round trip: :meth:`PortMap.to_dict` / :meth:`PortMap.from_dict`, so stack outputs and Ansible
  carry the same map.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from edgewright.errors import EdgewrightError

MIN_PORT = 1
MAX_PORT = 65535
DEFAULT_REMAP_START = 10000
FORMAT_VERSION = 1

_RANGE_SPEC = re.compile(r"^(?P<protocol>[a-z]+):(?P<start>\d+)(?:-(?P<end>\d+))?$")


class Protocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"


class PortMapError(EdgewrightError, ValueError):
    """A port request that cannot be mapped; ``app`` and ``port`` name what is wrong."""

    def __init__(self, message: str, *, app: str | None = None, port: str | int | None = None) -> None:
        super().__init__(message)
        self.app = app
        self.port = port


@dataclass(frozen=True, order=True)
class PortRange:
    """Ports ``start``..``end`` (inclusive) of one protocol."""

    protocol: Protocol
    start: int
    end: int

    @property
    def count(self) -> int:
        return self.end - self.start + 1

    def overlaps(self, other: PortRange) -> bool:
        return self.protocol == other.protocol and self.start <= other.end and other.start <= self.end

    def __str__(self) -> str:
        ports = str(self.start) if self.start == self.end else f"{self.start}-{self.end}"
        return f"{self.protocol.value}:{ports}"


@dataclass(frozen=True)
class AppPorts:
    """The ports an app serves, as the app definition lists them."""

    app: str
    ports: tuple[PortRange, ...]

    def __post_init__(self) -> None:
        if not self.app or not isinstance(self.app, str):
            raise PortMapError(f"app name must be a non-empty string, got {self.app!r}", app=str(self.app))
        for index, port_range in enumerate(self.ports):
            _check_range(self.app, port_range)
            for earlier in self.ports[:index]:
                if port_range.overlaps(earlier):
                    raise PortMapError(
                        f"app {self.app!r}: ports {earlier} and {port_range} collide",
                        app=self.app,
                        port=str(port_range),
                    )

    @classmethod
    def parse(cls, app: str, spec: str | Iterable[str]) -> AppPorts:
        """Parse ``"tcp:80,udp:5000-5010"`` (or a list of such items) into the app's ports."""
        items = spec.split(",") if isinstance(spec, str) else list(spec)
        return cls(app, tuple(_parse_range(app, item) for item in items if str(item).strip()))


@dataclass(frozen=True, order=True)
class PortMapping:
    """Public ports ``public``..``public + count - 1`` carry the app's ``internal``.. ports."""

    app: str
    protocol: Protocol
    internal: int
    public: int
    count: int = 1

    @property
    def internal_range(self) -> PortRange:
        return PortRange(self.protocol, self.internal, self.internal + self.count - 1)

    @property
    def public_range(self) -> PortRange:
        return PortRange(self.protocol, self.public, self.public + self.count - 1)

    @property
    def remapped(self) -> bool:
        return self.public != self.internal

    def pairs(self) -> Iterator[tuple[int, int]]:
        """Each (public, internal) port pair of this mapping, e.g. one Envoy listener each."""
        for offset in range(self.count):
            yield self.public + offset, self.internal + offset


@dataclass(frozen=True)
class PortMap:
    """The assignments of one load balancer, sorted by protocol then public port."""

    mappings: tuple[PortMapping, ...] = ()

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.mappings, key=lambda m: (m.protocol, m.public, m.app)))
        object.__setattr__(self, "mappings", ordered)
        # Sorted by start: a range collides when it starts before the furthest end seen so far.
        furthest: PortMapping | None = None
        for mapping in ordered:
            _check_range(mapping.app, mapping.internal_range)
            _check_range(mapping.app, mapping.public_range)
            if furthest is not None and mapping.public_range.overlaps(furthest.public_range):
                raise PortMapError(
                    f"public ports {mapping.public_range} of app {mapping.app!r} collide with "
                    f"{furthest.public_range} of app {furthest.app!r}",
                    app=mapping.app,
                    port=str(mapping.public_range),
                )
            if (
                furthest is None
                or furthest.protocol != mapping.protocol
                or mapping.public_range.end > furthest.public_range.end
            ):
                furthest = mapping

    @property
    def apps(self) -> tuple[str, ...]:
        return tuple(sorted({m.app for m in self.mappings}))

    def for_app(self, app: str) -> tuple[PortMapping, ...]:
        return tuple(m for m in self.mappings if m.app == app)

    def public_ranges(self) -> tuple[PortRange, ...]:
        """Every public port range to open (security groups, firewall rules, kind port mappings)."""
        return tuple(m.public_range for m in self.mappings)

    def public_port(self, app: str, protocol: Protocol | str, internal: int) -> int:
        """The public port that carries ``internal``; KeyError if the app has no such port."""
        for mapping in self.mappings:
            if (
                mapping.app == app
                and mapping.protocol == protocol
                and mapping.internal <= internal < mapping.internal + mapping.count
            ):
                return mapping.public + internal - mapping.internal
        raise KeyError(f"app {app!r} has no {protocol}:{internal} in the port map")

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "mappings": [
                {
                    "app": m.app,
                    "protocol": m.protocol.value,
                    "internal": m.internal,
                    "public": m.public,
                    "count": m.count,
                }
                for m in self.mappings
            ],
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any] | None) -> PortMap:
        """Read a map written by :meth:`to_dict`; ``None`` or ``{}`` is the empty map."""
        if not document:
            return cls()
        version = document.get("version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise PortMapError(f"port map version {version!r} is not supported (expected {FORMAT_VERSION})")
        mappings = []
        for entry in document.get("mappings", []):
            app = str(entry.get("app", ""))
            try:
                protocol = Protocol(entry["protocol"])
                mappings.append(
                    PortMapping(
                        app=app,
                        protocol=protocol,
                        internal=int(entry["internal"]),
                        public=int(entry["public"]),
                        count=int(entry.get("count", 1)),
                    )
                )
            except (KeyError, TypeError, ValueError) as error:
                raise PortMapError(f"malformed port map entry {entry!r}: {error}", app=app) from error
        return cls(tuple(mappings))


def assign_root(
    apps: Sequence[AppPorts],
    *,
    previous: PortMap | None = None,
    remap_start: int = DEFAULT_REMAP_START,
    reserved: Iterable[PortRange] = (),
) -> PortMap:
    """Assign public ports on the shared root LB (rules in the module docstring).

    ``reserved`` are public ports the LB itself uses (e.g. ``tcp:22``); no app gets them.
    """
    if not MIN_PORT <= remap_start <= MAX_PORT:
        raise PortMapError(f"remap_start {remap_start} is outside {MIN_PORT}-{MAX_PORT}", port=remap_start)
    _check_unique_apps(apps)
    occupied = _Occupied(reserved)
    kept: dict[tuple[str, PortRange], PortMapping] = {}
    wanted = {(app.app, port_range) for app in apps for port_range in app.ports}
    for mapping in (previous or PortMap()).mappings:
        key = (mapping.app, mapping.internal_range)
        if key in wanted and key not in kept and occupied.is_free(mapping.public_range):
            kept[key] = mapping
            occupied.add(mapping.public_range)

    mappings = list(kept.values())
    for app in apps:
        for port_range in app.ports:
            if (app.app, port_range) in kept:
                continue
            public = _first_free(app.app, port_range, occupied, remap_start)
            mapping = PortMapping(app.app, port_range.protocol, port_range.start, public, port_range.count)
            mappings.append(mapping)
            occupied.add(mapping.public_range)
    return PortMap(tuple(mappings))


def assign_dedicated(app: AppPorts) -> PortMap:
    """Map an app on its own LB: every public port equals its internal port.

    The app's ports were already checked for collisions when ``app`` was built.
    """
    return PortMap(tuple(PortMapping(app.app, r.protocol, r.start, r.start, r.count) for r in app.ports))


def _parse_range(app: str, item: str) -> PortRange:
    text = str(item).strip().lower()
    match = _RANGE_SPEC.match(text)
    if not match:
        raise PortMapError(
            f"app {app!r}: port {item!r} is not of the form tcp:PORT, udp:PORT or PROTO:START-END",
            app=app,
            port=str(item),
        )
    try:
        protocol = Protocol(match["protocol"])
    except ValueError:
        raise PortMapError(
            f"app {app!r}: protocol {match['protocol']!r} in {item!r} is not one of tcp, udp",
            app=app,
            port=str(item),
        ) from None
    start = int(match["start"])
    end = int(match["end"]) if match["end"] else start
    return PortRange(protocol, start, end)


def _check_range(app: str, port_range: PortRange) -> None:
    if not isinstance(port_range.protocol, Protocol):
        raise PortMapError(f"app {app!r}: unknown protocol {port_range.protocol!r}", app=app)
    if not (MIN_PORT <= port_range.start <= MAX_PORT and MIN_PORT <= port_range.end <= MAX_PORT):
        raise PortMapError(
            f"app {app!r}: port {port_range.protocol}:{port_range.start}-{port_range.end} is outside "
            f"{MIN_PORT}-{MAX_PORT}",
            app=app,
            port=f"{port_range.protocol}:{port_range.start}-{port_range.end}",
        )
    if port_range.start > port_range.end:
        raise PortMapError(
            f"app {app!r}: port range {port_range.protocol}:{port_range.start}-{port_range.end} "
            "starts after it ends",
            app=app,
            port=f"{port_range.protocol}:{port_range.start}-{port_range.end}",
        )


def _check_unique_apps(apps: Sequence[AppPorts]) -> None:
    seen: set[str] = set()
    for app in apps:
        if app.app in seen:
            raise PortMapError(f"app {app.app!r} is listed twice", app=app.app)
        seen.add(app.app)


class _Occupied:
    """The public ports taken so far, per protocol, as sorted disjoint intervals (touching ones merged),
    so that checking and finding a free block stay fast for thousands of apps."""

    def __init__(self, ranges: Iterable[PortRange] = ()) -> None:
        self._starts: dict[Protocol, list[int]] = {protocol: [] for protocol in Protocol}
        self._ends: dict[Protocol, list[int]] = {protocol: [] for protocol in Protocol}
        for port_range in ranges:
            self.add(port_range)

    def is_free(self, candidate: PortRange) -> bool:
        starts, ends = self._starts[candidate.protocol], self._ends[candidate.protocol]
        index = bisect.bisect_right(starts, candidate.end) - 1  # the last interval starting at or before end
        return index < 0 or ends[index] < candidate.start

    def add(self, port_range: PortRange) -> None:
        starts, ends = self._starts[port_range.protocol], self._ends[port_range.protocol]
        start, end = port_range.start, port_range.end
        low = bisect.bisect_left(ends, start - 1)  # first interval that touches or follows the new one
        high = bisect.bisect_right(starts, end + 1)  # past the last interval that touches it
        if low < high:
            start, end = min(start, starts[low]), max(end, ends[high - 1])
        starts[low:high] = [start]
        ends[low:high] = [end]

    def first_free(self, protocol: Protocol, count: int, at_or_above: int) -> int | None:
        """The lowest port >= ``at_or_above`` starting ``count`` free ports, None if there is none."""
        starts, ends = self._starts[protocol], self._ends[protocol]
        public = at_or_above
        index = max(bisect.bisect_right(starts, public) - 1, 0)
        while index < len(starts) and starts[index] <= public + count - 1:
            if ends[index] >= public:
                public = ends[index] + 1
            index += 1
        return public if public + count - 1 <= MAX_PORT else None


def _first_free(app: str, wanted: PortRange, occupied: _Occupied, remap_start: int) -> int:
    if occupied.is_free(wanted):
        return wanted.start
    public = occupied.first_free(wanted.protocol, wanted.count, remap_start)
    if public is None:
        raise PortMapError(
            f"app {app!r}: no {wanted.count} free {wanted.protocol} port(s) left at or above {remap_start} "
            f"for {wanted}",
            app=app,
            port=str(wanted),
        )
    return public
