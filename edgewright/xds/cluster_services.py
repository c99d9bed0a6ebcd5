"""Cluster services reached from an edge node by name, through the node's own Envoy (as arhat does).

Each chosen service gets a loopback address of its own on the node (127.77.0.N, N from its position in
the list, or an address given), a name record pointing there, and an Envoy listener on that address that
carries the traffic to the service's endpoints inside the cluster network. Nothing in the cluster is
exposed publicly: the node dials out.

A service names either its endpoints (host:port, fixed) or a Kubernetes Service (`service: NS/NAME` and the
Service's port): then its names are `NAME.NS.svc.cluster.local` and `NAME`, and its endpoints are the
Service's ready endpoints, which the xDS control plane pushes over EDS as pods come and go (the node's
Envoy must take its configuration from the control plane, and the control plane's source must grant the
node that Service: `services: [NS/NAME:PORT]`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any

from edgewright.xds.model import (
    PROTOCOLS,
    SourceError,
    check_port,
    parse_endpoint,
    parse_service_ref,
    service_cluster_name,
)

LOOPBACK_BASE = ipaddress.ip_address("127.77.0.1")
CLUSTER_DOMAIN = "cluster.local"
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
        extra = sorted(set(service) - {"name", "port", "protocol", "endpoints", "service", "address"})
        if extra:
            raise SourceError(f"{where}: unknown setting(s) {', '.join(extra)}")
        port = check_port(service.get("port"), where)
        if "service" in service:
            if "endpoints" in service:
                raise SourceError(f"{where}: takes endpoints or a service, not both")
            ref = parse_service_ref(service["service"], port, where)
            where = f"cluster service {ref.namespace}/{ref.name}"
            cluster_name = service_cluster_name(ref)
            cluster: dict[str, Any] = {"service": f"{ref.namespace}/{ref.name}", "port": port}
            default_names = [f"{ref.name}.{ref.namespace}.svc.{CLUSTER_DOMAIN}", ref.name]
        else:
            endpoints = service.get("endpoints")
            if not isinstance(endpoints, list) or not endpoints:
                raise SourceError(
                    f"{where}: endpoints must be a non-empty list of 'host:port', or name a service"
                )
            for endpoint in endpoints:
                parse_endpoint(endpoint, where)
            cluster_name, cluster, default_names = f"svc-{index}", {"endpoints": list(endpoints)}, []
        given = service.get("name")
        service_names = [given] if given is not None else default_names
        if not service_names:
            raise SourceError(f"{where}: name it (the name apps use), or name a Kubernetes service")
        for name in service_names:
            if not isinstance(name, str) or not _DNS_NAME.match(name):
                raise SourceError(f"{where}: name must be a lowercase DNS name, got {name!r}")
            if name in names:
                raise SourceError(f"cluster service {name!r} is listed twice")
            names.add(name)
        where = f"cluster service {service_names[0]!r}"
        protocol = service.get("protocol", "tcp")
        if protocol not in PROTOCOLS:
            raise SourceError(
                f"{where}: unknown protocol {protocol!r} (expected one of {', '.join(PROTOCOLS)})"
            )
        address = service.get("address") or str(LOOPBACK_BASE + index)
        if not ipaddress.ip_address(address).is_loopback:
            raise SourceError(f"{where}: address must be a loopback address (127.0.0.0/8), got {address!r}")
        if address in addresses:
            raise SourceError(f"{where}: address {address} is already used by {addresses[address]!r}")
        addresses[address] = service_names[0]
        key = f"svc-{index}"
        clusters[cluster_name] = cluster
        if protocol == "http":
            listeners.append(
                {
                    "name": key,
                    "address": address,
                    "port": port,
                    "protocol": "http",
                    "routes": [{"prefix": "/", "cluster": cluster_name}],
                }
            )
        else:
            listeners.append(
                {"name": key, "address": address, "port": port, "protocol": protocol, "cluster": cluster_name}
            )
        hosts.extend({"address": address, "name": name} for name in service_names)
    return {"envoy_local_config": {"clusters": clusters, "listeners": listeners}, "hosts": hosts}
