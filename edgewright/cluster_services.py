"""Cluster services reached from an edge node by name, through the node's own Envoy (as arhat does).

Each chosen service gets a loopback address of its own on the node (127.77.0.N, N from its position in
the list, or an address given), a name record pointing there, and an Envoy listener on that address that
carries the traffic to the service's endpoints inside the cluster network. Nothing in the cluster is
exposed publicly: the node dials out.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any

from edgewright.xds.model import PROTOCOLS, SourceError, check_port, parse_endpoint

LOOPBACK_BASE = ipaddress.ip_address("127.77.0.1")
_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


def plan(services: Any) -> dict[str, Any]:
    """{envoy_local_config, hosts: [{address, name}]} for SERVICES; SourceError naming a bad entry."""
    if not isinstance(services, Sequence) or isinstance(services, str):
        raise SourceError("cluster services must be a list")
    clusters: dict[str, Any] = {}
    listeners: list[dict[str, Any]] = []
    hosts: list[dict[str, str]] = []
    names: set[str] = set()
    addresses: dict[str, str] = {}
    for index, service in enumerate(services):
        where = f"cluster service #{index}"
        if not isinstance(service, Mapping):
            raise SourceError(f"{where}: expected a mapping with name, port and endpoints")
        extra = sorted(set(service) - {"name", "port", "protocol", "endpoints", "address"})
        if extra:
            raise SourceError(f"{where}: unknown setting(s) {', '.join(extra)}")
        name = service.get("name")
        if not isinstance(name, str) or not _DNS_NAME.match(name):
            raise SourceError(f"{where}: name must be a lowercase DNS name, got {name!r}")
        where = f"cluster service {name!r}"
        if name in names:
            raise SourceError(f"{where} is listed twice")
        names.add(name)
        protocol = service.get("protocol", "tcp")
        if protocol not in PROTOCOLS:
            raise SourceError(
                f"{where}: unknown protocol {protocol!r} (expected one of {', '.join(PROTOCOLS)})"
            )
        port = check_port(service.get("port"), where)
        endpoints = service.get("endpoints")
        if not isinstance(endpoints, list) or not endpoints:
            raise SourceError(f"{where}: endpoints must be a non-empty list of 'host:port'")
        for endpoint in endpoints:
            parse_endpoint(endpoint, where)
        address = service.get("address") or str(LOOPBACK_BASE + index)
        if not ipaddress.ip_address(address).is_loopback:
            raise SourceError(f"{where}: address must be a loopback address (127.0.0.0/8), got {address!r}")
        if address in addresses:
            raise SourceError(f"{where}: address {address} is already used by {addresses[address]!r}")
        addresses[address] = name
        key = f"svc-{index}"
        clusters[key] = {"endpoints": list(endpoints)}
        if protocol == "http":
            listeners.append(
                {
                    "name": key,
                    "address": address,
                    "port": port,
                    "protocol": "http",
                    "routes": [{"prefix": "/", "cluster": key}],
                }
            )
        else:
            listeners.append(
                {"name": key, "address": address, "port": port, "protocol": protocol, "cluster": key}
            )
        hosts.append({"address": address, "name": name})
    return {"envoy_local_config": {"clusters": clusters, "listeners": listeners}, "hosts": hosts}
