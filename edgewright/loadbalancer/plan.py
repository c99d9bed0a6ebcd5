"""What a cloudlet load balancer's Envoy carries: every app port, after the port map, to the app's backends.

The port map (edgewright.loadbalancer.portmap) decides the public ports; this module turns the map into listeners and
clusters in the control plane's source format, so the Envoy role validates and serves them like any other.
A root LB carries many apps on remapped ports; a dedicated LB carries one app on its own ports.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edgewright.loadbalancer.portmap import AppPorts, PortMap, PortMapError, assign_dedicated, assign_root
from edgewright.xds.model import SourceError, check_name

KINDS = ("root", "dedicated")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


@dataclass(frozen=True)
class App:
    """An app as a load balancer sees it: its ports and the backend hosts that serve them."""

    ports: AppPorts
    backends: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.ports.app


def parse_apps(raw: Any) -> list[App]:
    """Apps from [{name, ports: 'tcp:80,udp:53' | [...], backends: [HOST, ...]}]; PortMapError if bad."""
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise PortMapError(f"apps must be a list, got {type(raw).__name__}")
    apps = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, Mapping):
            raise PortMapError(f"app #{index}: expected a mapping with name, ports and backends")
        extra = sorted(set(entry) - {"name", "ports", "backends"})
        if extra:
            raise PortMapError(f"app #{index}: unknown setting(s) {', '.join(extra)}")
        name = entry.get("name")
        try:
            check_name(name, f"app #{index}")
        except SourceError as err:
            raise PortMapError(str(err), app=str(name)) from None
        backends = entry.get("backends")
        if not isinstance(backends, Sequence) or isinstance(backends, str) or not backends:
            raise PortMapError(f"app {name!r}: backends must be a non-empty list of hosts", app=name)
        for host in backends:
            if not _is_host(host):
                raise PortMapError(
                    f"app {name!r}: backend {host!r} must be an IP address or host name, without a port",
                    app=name,
                )
        ports = entry.get("ports")
        if ports is None or ports == "" or ports == []:
            raise PortMapError(f"app {name!r}: ports must list at least one port, e.g. 'tcp:80'", app=name)
        apps.append(App(AppPorts.parse(name, ports), tuple(backends)))
    return apps


def plan_port_map(
    apps: Sequence[App],
    kind: str,
    previous: PortMap | None = None,
    remap_start: int = 10000,
    reserved: Sequence[str] = (),
) -> PortMap:
    """The public ports of KIND's load balancer; PortMapError names the app and port a plan cannot hold."""
    if kind not in KINDS:
        raise PortMapError(f"load balancer kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "dedicated":
        if len(apps) != 1:
            raise PortMapError(f"a dedicated load balancer carries exactly one app, got {len(apps)}")
        app = apps[0].ports
        for port_range in app.ports:
            if port_range.count > 1:
                raise PortMapError(
                    f"app {app.app!r}: port range {port_range} cannot be carried by a dedicated "
                    "load balancer (list its ports one by one)",
                    app=app.app,
                    port=str(port_range),
                )
        return assign_dedicated(app)
    reserved_ranges = AppPorts.parse("reserved", list(reserved)).ports if reserved else ()
    return assign_root(
        [a.ports for a in apps], previous=previous, remap_start=remap_start, reserved=reserved_ranges
    )


def envoy_config(apps: Sequence[App], port_map: PortMap, listen: str = "0.0.0.0") -> dict[str, Any]:
    """One listener per public port and one cluster per internal port (the control plane's source format)."""
    backends = {app.name: app.backends for app in apps}
    clusters: dict[str, Any] = {}
    listeners: list[dict[str, Any]] = []
    for mapping in port_map.mappings:
        for public, internal in mapping.pairs():
            cluster = f"{mapping.app}-{mapping.protocol}-{internal}"
            clusters[cluster] = {"endpoints": [_endpoint(h, internal) for h in backends[mapping.app]]}
            listeners.append(
                {
                    "name": f"{mapping.app}-{mapping.protocol}-{public}",
                    "address": listen,
                    "port": public,
                    "protocol": str(mapping.protocol),
                    "cluster": cluster,
                }
            )
    return {"clusters": clusters, "listeners": listeners}


def _endpoint(host: str, port: int) -> str:
    return f"[{host.strip('[]')}]:{port}" if ":" in host else f"{host}:{port}"


def _is_host(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(value))
