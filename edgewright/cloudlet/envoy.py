"""A static Envoy configuration for a load balancer on Kubernetes: one listener per public port.

On GKE and KIND the root and dedicated LBs are Envoy Deployments; each public port of the LB's port map
gets a listener that carries TCP or UDP to the app's Service on its internal port. The listeners and
clusters are the ones the loadbalancer role serves on VM load balancers (edgewright.loadbalancer.plan and
edgewright.xds), so both kinds of LB carry a port map the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgewright.loadbalancer.plan import App
from edgewright.loadbalancer.plan import envoy_config as lb_listeners_and_clusters
from edgewright.loadbalancer.portmap import AppPorts, PortMap
from edgewright.xds.model import parse_source
from edgewright.xds.resources import static_resources

ADMIN_PORT = 9901  # Envoy's admin listener, on loopback only: the readiness probe uses /ready through it.
_NODE = "lb"


def envoy_config(port_map: PortMap, backends: Mapping[str, str]) -> dict[str, Any]:
    """Envoy bootstrap carrying every port of ``port_map`` to ``backends[app]`` on the internal port."""
    missing = sorted({m.app for m in port_map.mappings} - set(backends))
    if missing:
        raise KeyError(f"no backend address for app {missing[0]!r}")
    apps = [App(ports=AppPorts(app=name, ports=()), backends=(backends[name],)) for name in backends]
    local = lb_listeners_and_clusters(apps, port_map)
    source = {"clusters": local["clusters"], "nodes": {_NODE: {"listeners": local["listeners"]}}}
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ADMIN_PORT}}},
        "static_resources": static_resources(parse_source(source).node_config(_NODE)),
    }
