"""A static Envoy configuration for a load balancer on Kubernetes: one listener per public port.

On GKE and KIND the root and dedicated LBs are Envoy Deployments; each public port of the LB's port map
gets a listener that carries TCP (tcp_proxy) or UDP (udp_proxy) to the app's Service on its internal port.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgewright.portmap import PortMap, Protocol

ADMIN_PORT = 9901  # Envoy's admin listener, on loopback only: the readiness probe uses /ready through it.


def _cluster(name: str, host: str, port: int, protocol: Protocol) -> dict[str, Any]:
    return {
        "name": name,
        "type": "STRICT_DNS",
        "connect_timeout": "5s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {
                                    "socket_address": {
                                        "address": host,
                                        "port_value": port,
                                        "protocol": protocol.value.upper(),
                                    }
                                }
                            }
                        }
                    ]
                }
            ],
        },
    }


def _listener(name: str, public: int, protocol: Protocol, cluster: str) -> dict[str, Any]:
    address = {
        "socket_address": {"address": "0.0.0.0", "port_value": public, "protocol": protocol.value.upper()}
    }
    if protocol is Protocol.TCP:
        proxy = {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
            "stat_prefix": name,
            "cluster": cluster,
        }
        return {
            "name": name,
            "address": address,
            "filter_chains": [
                {"filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": proxy}]}
            ],
        }
    route = {
        "@type": "type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.Route",
        "cluster": cluster,
    }
    proxy = {
        "@type": "type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig",
        "stat_prefix": name,
        "matcher": {"on_no_match": {"action": {"name": "route", "typed_config": route}}},
    }
    return {
        "name": name,
        "address": address,
        "udp_listener_config": {},
        "listener_filters": [{"name": "envoy.filters.udp_listener.udp_proxy", "typed_config": proxy}],
    }


def envoy_config(port_map: PortMap, backends: Mapping[str, str]) -> dict[str, Any]:
    """Envoy bootstrap carrying every port of ``port_map`` to ``backends[app]`` on the internal port."""
    listeners, clusters = [], []
    for mapping in port_map.mappings:
        if mapping.app not in backends:
            raise KeyError(f"no backend address for app {mapping.app!r}")
        for public, internal in mapping.pairs():
            name = f"{mapping.app}-{mapping.protocol.value}-{public}"
            clusters.append(_cluster(name, backends[mapping.app], internal, mapping.protocol))
            listeners.append(_listener(name, public, mapping.protocol, name))
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ADMIN_PORT}}},
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }
