"""The declarative source of the control plane: which listeners each Envoy node has and where they lead.

A source is a mapping (usually a YAML file)::

    clusters:
      web-v1: {endpoints: ["10.231.20.11:8080"]}
      web-v2: {endpoints: ["10.231.20.12:8080"]}
      web:    {service: default/web, port: 80}   # endpoints from the cluster (EndpointSlices), pushed by EDS
    nodes:
      edge-1:                       # the Envoy node id (its --service-node / bootstrap node.id)
        services: [default/db:5432] # Services the node reaches through listeners of its own bootstrap
        listeners:
          - {name: web, port: 10000, protocol: http, routes: [{prefix: /, cluster: web-v1}]}
          - {name: db, port: 15432, protocol: tcp, cluster: db}
          - {name: dns, port: 15353, protocol: udp, cluster: dns}

Parsing checks everything Envoy would otherwise reject later, so a mistake names the offending entry and
never reaches a node. A cluster backed by a Kubernetes Service names the Service (NAMESPACE/NAME) and one of
its ports (number or name) instead of endpoints; its endpoints are the Service's ready endpoints, which the
control plane follows as the cluster changes (edgewright.xds.kube), so no file names them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from edgewright.errors import EdgewrightError

PROTOCOLS = ("tcp", "udp", "http")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class SourceError(EdgewrightError, ValueError):
    """The declarative source is malformed; the message names the entry and what is wrong with it."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


@dataclass(frozen=True)
class ServiceRef:
    """A port of a Kubernetes Service: NAMESPACE/NAME and the Service port's number or name."""

    namespace: str
    name: str
    port: int | str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}:{self.port}"


@dataclass(frozen=True)
class Cluster:
    name: str
    endpoints: tuple[Endpoint, ...]
    connect_timeout_s: float = 2.0
    # Set when the endpoints come from a Service; ENDPOINTS are then the ones last seen (maybe none yet).
    service: ServiceRef | None = None


@dataclass(frozen=True)
class Route:
    prefix: str
    cluster: str


@dataclass(frozen=True)
class Listener:
    name: str
    port: int
    protocol: str
    address: str = "0.0.0.0"
    cluster: str | None = None
    routes: tuple[Route, ...] = ()

    def clusters(self) -> tuple[str, ...]:
        """The clusters this listener sends traffic to, in order of first use."""
        names = [self.cluster] if self.cluster else [r.cluster for r in self.routes]
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class NodeConfig:
    """What one Envoy carries: its listeners and the clusters they use, and the Service-backed clusters
    its own bootstrap defines (FOLLOWED), whose endpoints alone it takes from the control plane."""

    node_id: str
    listeners: tuple[Listener, ...]
    clusters: tuple[Cluster, ...]
    followed: tuple[Cluster, ...] = ()


def service_cluster_name(ref: ServiceRef) -> str:
    """The cluster a node's bootstrap names for REF (the cluster_services role) and the control plane
    answers EDS for: one spelling on both sides."""
    return f"svc.{ref.namespace}.{ref.name}.{ref.port}"


@dataclass(frozen=True)
class Source:
    clusters: Mapping[str, Cluster] = field(default_factory=dict)
    nodes: Mapping[str, tuple[Listener, ...]] = field(default_factory=dict)
    # Per node, the Service-backed clusters it may follow from listeners in its own bootstrap.
    grants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def services(self) -> frozenset[ServiceRef]:
        """The Service ports whose endpoints the source's clusters take from the cluster."""
        return frozenset(c.service for c in self.clusters.values() if c.service is not None)

    def with_endpoints(self, endpoints: Mapping[ServiceRef, tuple[Endpoint, ...]]) -> Source:
        """This source with each Service-backed cluster's endpoints taken from ENDPOINTS (none when the
        Service has no ready endpoint, or has not been seen yet)."""
        clusters = {
            name: c if c.service is None else replace(c, endpoints=endpoints.get(c.service, ()))
            for name, c in self.clusters.items()
        }
        return Source(clusters, self.nodes, self.grants)

    def node_config(self, node_id: str) -> NodeConfig:
        """The configuration of NODE_ID; a node the source does not name gets nothing (an empty config)."""
        listeners = self.nodes.get(node_id, ())
        used = dict.fromkeys(name for lst in listeners for name in lst.clusters())
        followed = [name for name in self.grants.get(node_id, ()) if name not in used]
        return NodeConfig(
            node_id,
            listeners,
            tuple(self.clusters[name] for name in used),
            tuple(self.clusters[name] for name in followed),
        )


def check_port(value: Any, where: str) -> int:
    """VALUE as a port number 1..65535, or SourceError naming WHERE."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise SourceError(f"{where}: port must be an integer from 1 to 65535, got {value!r}")
    return value


def check_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise SourceError(
            f"{where}: name must be 1-63 letters, digits, '.', '_' or '-' (starting with a letter or digit), "
            f"got {value!r}"
        )
    return value


def parse_endpoint(value: Any, where: str) -> Endpoint:
    """'HOST:PORT' or '[V6]:PORT' (or a mapping with host and port) as an Endpoint."""
    if isinstance(value, Mapping):
        host, port = value.get("host"), value.get("port")
    elif isinstance(value, str) and ":" in value:
        host, _, port_text = value.rpartition(":")
        host = host.strip("[]")
        port = int(port_text) if port_text.isdigit() else port_text
    else:
        raise SourceError(f"{where}: endpoint must be 'host:port', got {value!r}")
    if not isinstance(host, str) or not host:
        raise SourceError(f"{where}: endpoint {value!r} has no host")
    return Endpoint(host, check_port(port, f"{where} ({value!r})"))


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SourceError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _unknown_keys(entry: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(entry) - allowed)
    if extra:
        raise SourceError(
            f"{where}: unknown setting(s) {', '.join(extra)} (allowed: {', '.join(sorted(allowed))})"
        )


# A Kubernetes object name (RFC 1123 label: namespaces and Services).
_KUBE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# A Service port's name (IANA service name: at most 15 characters, lowercase, a letter among them).
_PORT_NAME = re.compile(r"^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$")


def parse_service_ref(service: Any, port: Any, where: str) -> ServiceRef:
    """'NAMESPACE/NAME' and a Service port (number or name) as a ServiceRef, or SourceError naming WHERE."""
    namespace, _, name = service.partition("/") if isinstance(service, str) else ("", "", "")
    if not (_KUBE_NAME.match(namespace) and _KUBE_NAME.match(name)):
        raise SourceError(f"{where}: service must be 'NAMESPACE/NAME' (Kubernetes names), got {service!r}")
    if isinstance(port, str):
        if not _PORT_NAME.match(port):
            raise SourceError(f"{where}: port must be a Service port number or name, got {port!r}")
    else:
        check_port(port, where)
    return ServiceRef(namespace, name, port)


def parse_cluster(name: Any, raw: Any) -> Cluster:
    where = f"cluster {name!r}"
    check_name(name, where)
    entry = _mapping(raw, where)
    _unknown_keys(entry, {"endpoints", "service", "port", "connect_timeout_s"}, where)
    timeout = entry.get("connect_timeout_s", 2.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise SourceError(f"{where}: connect_timeout_s must be a positive number, got {timeout!r}")
    if "service" in entry:
        if "endpoints" in entry:
            raise SourceError(f"{where}: takes endpoints or a service, not both")
        ref = parse_service_ref(entry["service"], entry.get("port"), where)
        return Cluster(name, (), float(timeout), service=ref)
    if "port" in entry:
        raise SourceError(f"{where}: port goes with service (a Service port), not with endpoints")
    endpoints = entry.get("endpoints")
    if not isinstance(endpoints, list) or not endpoints:
        raise SourceError(f"{where}: endpoints must be a non-empty list of 'host:port', or name a service")
    return Cluster(name, tuple(parse_endpoint(e, where) for e in endpoints), float(timeout))


def parse_listener(raw: Any, where: str, clusters: Mapping[str, Cluster]) -> Listener:
    entry = _mapping(raw, where)
    _unknown_keys(entry, {"name", "port", "protocol", "address", "cluster", "routes"}, where)
    name = check_name(entry.get("name"), where)
    where = f"{where} ({name})"
    protocol = entry.get("protocol", "tcp")
    if protocol not in PROTOCOLS:
        raise SourceError(f"{where}: unknown protocol {protocol!r} (expected one of {', '.join(PROTOCOLS)})")
    address = entry.get("address", "0.0.0.0")
    try:
        ipaddress.ip_address(address)
    except (ValueError, TypeError):
        raise SourceError(f"{where}: address must be an IP address, got {address!r}") from None
    port = check_port(entry.get("port"), where)
    cluster, routes = entry.get("cluster"), entry.get("routes")
    if protocol == "http":
        if cluster is not None or not isinstance(routes, list) or not routes:
            raise SourceError(
                f"{where}: an http listener needs routes (a list of {{prefix, cluster}}), not cluster"
            )
        parsed = []
        for i, r in enumerate(routes):
            r = _mapping(r, f"{where} route {i}")
            _unknown_keys(r, {"prefix", "cluster"}, f"{where} route {i}")
            prefix = r.get("prefix", "/")
            if not isinstance(prefix, str) or not prefix.startswith("/"):
                raise SourceError(f"{where} route {i}: prefix must start with '/', got {prefix!r}")
            parsed.append(Route(prefix, r.get("cluster")))
        listener = Listener(name, port, protocol, address, routes=tuple(parsed))
    else:
        if routes is not None or cluster is None:
            raise SourceError(f"{where}: a {protocol} listener needs cluster (one cluster name), not routes")
        listener = Listener(name, port, protocol, address, cluster=cluster)
    for used in listener.clusters():
        if used not in clusters:
            raise SourceError(f"{where}: refers to unknown cluster {used!r}")
    return listener


def parse_source(raw: Any) -> Source:
    """Parse and check a whole source; SourceError names the first problem found."""
    top = _mapping(raw if raw is not None else {}, "source")
    _unknown_keys(top, {"clusters", "nodes"}, "source")
    clusters = {
        name: parse_cluster(name, c) for name, c in _mapping(top.get("clusters", {}), "clusters").items()
    }
    nodes: dict[str, tuple[Listener, ...]] = {}
    grants: dict[str, tuple[str, ...]] = {}
    for node_id, node in _mapping(top.get("nodes", {}), "nodes").items():
        where = f"node {node_id!r}"
        if not isinstance(node_id, str) or not node_id:
            raise SourceError(f"{where}: node id must be a non-empty string")
        node = _mapping(node, where)
        _unknown_keys(node, {"listeners", "services"}, where)
        granted = _parse_grants(node.get("services", []), where)
        for ref in granted:
            name = service_cluster_name(ref)
            if clusters.setdefault(name, Cluster(name, (), service=ref)).service != ref:
                raise SourceError(f"{where}: service {ref} needs cluster name {name!r}, defined otherwise")
        grants[node_id] = tuple(service_cluster_name(ref) for ref in granted)
        raw_listeners = node.get("listeners", [])
        if not isinstance(raw_listeners, list):
            raise SourceError(f"{where}: listeners must be a list")
        listeners = tuple(
            parse_listener(lst, f"{where} listener {i}", clusters) for i, lst in enumerate(raw_listeners)
        )
        _check_unique(listeners, where)
        nodes[node_id] = listeners
    return Source(clusters, nodes, {n: g for n, g in grants.items() if g})


def _parse_grants(raw: Any, where: str) -> tuple[ServiceRef, ...]:
    """A node's `services`: 'NAMESPACE/NAME:PORT' entries (PORT a Service port number or name)."""
    if not isinstance(raw, list):
        raise SourceError(f"{where}: services must be a list of 'NAMESPACE/NAME:PORT'")
    refs = []
    for entry in raw:
        service, _, port = entry.rpartition(":") if isinstance(entry, str) else ("", "", "")
        if not service:
            raise SourceError(f"{where}: service {entry!r} must be 'NAMESPACE/NAME:PORT'")
        refs.append(parse_service_ref(service, int(port) if port.isdigit() else port, f"{where} service"))
    return tuple(dict.fromkeys(refs))


def _check_unique(listeners: tuple[Listener, ...], where: str) -> None:
    names: set[str] = set()
    sockets: dict[tuple[str, str, int], str] = {}
    for lst in listeners:
        if lst.name in names:
            raise SourceError(f"{where}: duplicate listener name {lst.name!r}")
        names.add(lst.name)
        transport = "udp" if lst.protocol == "udp" else "tcp"
        key = (transport, lst.address, lst.port)
        if key in sockets:
            raise SourceError(
                f"{where}: listeners {sockets[key]!r} and {lst.name!r} "
                f"both bind {transport} {lst.address}:{lst.port}"
            )
        sockets[key] = lst.name
