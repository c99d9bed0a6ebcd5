"""Envoy's own resources (v3 API protos from xds-protos) for a node's configuration.

The same builders serve both ways a node gets its configuration: over ADS (clusters take their endpoints
from EDS) and from files on the node (clusters carry their endpoints inline), so the load balancers and
the sidecars speak one dialect.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import address_pb2, config_source_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2, udp_listener_config_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
from envoy.extensions.filters.udp.udp_proxy.v3 import route_pb2 as udp_route_pb2
from envoy.extensions.filters.udp.udp_proxy.v3 import udp_proxy_pb2
from google.protobuf import any_pb2, json_format
from google.protobuf.message import Message
from xds.type.matcher.v3 import matcher_pb2

from edgewright.xds.model import Cluster, Endpoint, Listener, NodeConfig, SourceError

LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"
ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ENDPOINT = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
# The order Envoy wants updates in over ADS: clusters before the endpoints and listeners that use them.
TYPE_ORDER = (CLUSTER, ENDPOINT, LISTENER, ROUTE)


def _any(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _socket(host: str, port: int, udp: bool = False) -> address_pb2.Address:
    protocol = address_pb2.SocketAddress.UDP if udp else address_pb2.SocketAddress.TCP
    return address_pb2.Address(
        socket_address=address_pb2.SocketAddress(address=host, port_value=port, protocol=protocol)
    )


def _ads() -> config_source_pb2.ConfigSource:
    return config_source_pb2.ConfigSource(
        ads=config_source_pb2.AggregatedConfigSource(), resource_api_version=2
    )


def load_assignment(cluster: Cluster) -> endpoint_pb2.ClusterLoadAssignment:
    return endpoint_pb2.ClusterLoadAssignment(
        cluster_name=cluster.name,
        endpoints=[
            endpoint_components_pb2.LocalityLbEndpoints(
                lb_endpoints=[_lb_endpoint(e) for e in cluster.endpoints]
            )
        ],
    )


def _lb_endpoint(endpoint: Endpoint) -> endpoint_components_pb2.LbEndpoint:
    return endpoint_components_pb2.LbEndpoint(
        endpoint=endpoint_components_pb2.Endpoint(address=_socket(endpoint.host, endpoint.port))
    )


def cluster_resource(cluster: Cluster, *, inline: bool) -> cluster_pb2.Cluster:
    """A cluster; INLINE carries its endpoints (resolved by DNS when any is a name), else it asks EDS."""
    resource = cluster_pb2.Cluster(name=cluster.name, lb_policy=cluster_pb2.Cluster.ROUND_ROBIN)
    resource.connect_timeout.FromNanoseconds(int(cluster.connect_timeout_s * 1e9))
    if inline:
        all_ips = all(e.is_ip() for e in cluster.endpoints)
        resource.type = cluster_pb2.Cluster.STATIC if all_ips else cluster_pb2.Cluster.STRICT_DNS
        resource.load_assignment.CopyFrom(load_assignment(cluster))
    else:
        resource.type = cluster_pb2.Cluster.EDS
        resource.eds_cluster_config.eds_config.CopyFrom(_ads())
    return resource


def _stat_name(name: str) -> str:
    return name.replace(".", "_")


def listener_resource(listener: Listener) -> listener_pb2.Listener:
    """A listener: tcp_proxy for tcp, udp_proxy for udp, an HTTP connection manager with RDS for http."""
    resource = listener_pb2.Listener(
        name=listener.name, address=_socket(listener.address, listener.port, udp=listener.protocol == "udp")
    )
    if listener.protocol == "udp":
        route = udp_route_pb2.Route(cluster=listener.cluster)
        matcher = matcher_pb2.Matcher(
            on_no_match=matcher_pb2.Matcher.OnMatch(
                action=_typed_extension("route", route),
            )
        )
        proxy = udp_proxy_pb2.UdpProxyConfig(stat_prefix=_stat_name(listener.name), matcher=matcher)
        resource.udp_listener_config.CopyFrom(udp_listener_config_pb2.UdpListenerConfig())
        resource.listener_filters.append(
            listener_components_pb2.ListenerFilter(
                name="envoy.filters.udp_listener.udp_proxy", typed_config=_any(proxy)
            )
        )
    elif listener.protocol == "tcp":
        proxy = tcp_proxy_pb2.TcpProxy(stat_prefix=_stat_name(listener.name), cluster=listener.cluster)
        resource.filter_chains.append(
            listener_components_pb2.FilterChain(
                filters=[
                    listener_components_pb2.Filter(
                        name="envoy.filters.network.tcp_proxy", typed_config=_any(proxy)
                    )
                ]
            )
        )
    else:
        manager = hcm_pb2.HttpConnectionManager(
            stat_prefix=_stat_name(listener.name),
            rds=hcm_pb2.Rds(route_config_name=listener.name, config_source=_ads()),
            http_filters=[
                hcm_pb2.HttpFilter(name="envoy.filters.http.router", typed_config=_any(router_pb2.Router()))
            ],
        )
        resource.filter_chains.append(
            listener_components_pb2.FilterChain(
                filters=[
                    listener_components_pb2.Filter(
                        name="envoy.filters.network.http_connection_manager", typed_config=_any(manager)
                    )
                ]
            )
        )
    return resource


def _typed_extension(name: str, message: Message):
    from xds.core.v3 import extension_pb2

    return extension_pb2.TypedExtensionConfig(name=name, typed_config=_any(message))


def route_resource(listener: Listener) -> route_pb2.RouteConfiguration:
    """The routes of an http listener, named after it, matching path prefixes in the order given."""
    return route_pb2.RouteConfiguration(
        name=listener.name,
        virtual_hosts=[
            route_components_pb2.VirtualHost(
                name=listener.name,
                domains=["*"],
                routes=[
                    route_components_pb2.Route(
                        match=route_components_pb2.RouteMatch(prefix=r.prefix),
                        route=route_components_pb2.RouteAction(cluster=r.cluster),
                    )
                    for r in listener.routes
                ],
            )
        ],
    )


@dataclass(frozen=True)
class Snapshot:
    """Every resource one node gets, by type URL, and a version that changes exactly when they change."""

    version: str
    resources: dict[str, dict[str, Message]]

    def of_type(self, type_url: str, names: list[str] | None = None) -> list[Message]:
        """Resources of TYPE_URL in name order; only NAMES when given (what an EDS/RDS request asks for)."""
        found = self.resources.get(type_url, {})
        chosen = sorted(found) if not names else [n for n in names if n in found]
        return [found[n] for n in chosen]


def snapshot(config: NodeConfig) -> Snapshot:
    """The ADS snapshot of a node: EDS clusters, their load assignments, listeners and routes."""
    resources: dict[str, dict[str, Message]] = {
        CLUSTER: {c.name: cluster_resource(c, inline=False) for c in config.clusters},
        ENDPOINT: {c.name: load_assignment(c) for c in (*config.clusters, *config.followed)},
        LISTENER: {lst.name: listener_resource(lst) for lst in config.listeners},
        ROUTE: {lst.name: route_resource(lst) for lst in config.listeners if lst.protocol == "http"},
    }
    digest = hashlib.sha256()
    for type_url in TYPE_ORDER:
        for name in sorted(resources[type_url]):
            digest.update(type_url.encode() + b"\0" + name.encode() + b"\0")
            digest.update(resources[type_url][name].SerializeToString(deterministic=True))
    return Snapshot(digest.hexdigest()[:16], resources)


def static_resources(config: NodeConfig, *, ads: bool = False) -> dict[str, Any]:
    """The node's listeners and clusters as Envoy JSON with endpoints inline, for a node's own files or
    bootstrap.

    HTTP listeners carry their routes inline too. The result is what a bootstrap's `static_resources` or
    the `resources` of LDS/CDS files hold. A cluster whose endpoints come from a Service takes them over
    EDS from the control plane, so it needs a node that has one (ADS); a file would keep the endpoints of
    the moment forever, so without ADS it is refused.
    """
    following = sorted(c.name for c in config.clusters if c.service is not None)
    if following and not ads:
        raise SourceError(
            f"cluster(s) {', '.join(following)} take their endpoints from a Kubernetes Service, which only a "
            "node served by the xDS control plane follows; give a file-configured node endpoints instead"
        )
    listeners = []
    for lst in config.listeners:
        resource = listener_resource(lst)
        if lst.protocol == "http":
            manager = hcm_pb2.HttpConnectionManager()
            resource.filter_chains[0].filters[0].typed_config.Unpack(manager)
            manager.ClearField("rds")
            manager.route_config.CopyFrom(route_resource(lst))
            resource.filter_chains[0].filters[0].typed_config.Pack(manager)
        listeners.append(_json(resource))
    clusters = [_json(cluster_resource(c, inline=c.service is None)) for c in config.clusters]
    return {"listeners": listeners, "clusters": clusters}


def _json(message: Message) -> dict[str, Any]:
    return _plain(json_format.MessageToDict(message, preserving_proto_field_name=True))


def _plain(value: Any) -> Any:
    """VALUE with every mapping a plain dict (MessageToDict gives OrderedDicts for Any fields, which Ansible
    stores only after a warning)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


_HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


def ads_bootstrap(
    node_id: str,
    server: tuple[str, int],
    admin_port: int,
    cluster: str = "edgewright",
    tls_ca: str | None = None,
    tls_server_name: str | None = None,
    client_identity_dir: str | None = None,
) -> dict[str, Any]:
    """A minimal Envoy bootstrap that takes everything from the ADS server at SERVER (host, port).

    The admin interface listens on loopback only: it can change the proxy's state and must not be reachable
    from the network. With TLS_CA (a CA bundle path), Envoy talks TLS to the server and accepts it only with
    a certificate from that CA for TLS_SERVER_NAME (the server's host by default), presenting the node's
    own certificate from CLIENT_IDENTITY_DIR (see client_identity_secret), which the server requires.
    Without TLS_CA it is plaintext.
    """
    if client_identity_dir and not tls_ca:
        raise ValueError("a client identity goes only with tls_ca")
    host, port = server
    bootstrap = {
        "node": {"id": node_id, "cluster": cluster},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "dynamic_resources": {
            "ads_config": {
                "api_type": "GRPC",
                "transport_api_version": "V3",
                "grpc_services": [{"envoy_grpc": {"cluster_name": "xds"}}],
            },
            "cds_config": {"ads": {}, "resource_api_version": "V3"},
            "lds_config": {"ads": {}, "resource_api_version": "V3"},
        },
        "static_resources": {
            "clusters": [
                {
                    "name": "xds",
                    "type": "STRICT_DNS",
                    "connect_timeout": "2s",
                    "typed_extension_protocol_options": {
                        _HTTP_OPTIONS: {
                            "@type": f"type.googleapis.com/{_HTTP_OPTIONS}",
                            "explicit_http_config": {"http2_protocol_options": {}},
                        }
                    },
                    "load_assignment": {
                        "cluster_name": "xds",
                        "endpoints": [
                            {
                                "lb_endpoints": [
                                    {
                                        "endpoint": {
                                            "address": {
                                                "socket_address": {"address": host, "port_value": port}
                                            }
                                        }
                                    }
                                ]
                            }
                        ],
                    },
                }
            ]
        },
    }
    if tls_ca:
        bootstrap["static_resources"]["clusters"][0]["transport_socket"] = xds_tls_socket(
            tls_ca, tls_server_name or host, client_identity_dir
        )
    return bootstrap


def xds_tls_socket(ca_file: str, server_name: str, client_identity_dir: str | None = None) -> dict[str, Any]:
    """The TLS transport socket of the xds cluster: the server must prove SERVER_NAME with CA_FILE's CA;
    the node proves itself with the certificate in CLIENT_IDENTITY_DIR when given."""
    socket = {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "sni": server_name,
            "common_tls_context": {
                "alpn_protocols": ["h2"],
                "validation_context": {
                    "trusted_ca": {"filename": ca_file},
                    "match_typed_subject_alt_names": [
                        {"san_type": "DNS", "matcher": {"exact": server_name}},
                        {"san_type": "IP_ADDRESS", "matcher": {"exact": server_name}},
                    ],
                },
            },
        },
    }
    if client_identity_dir:
        socket["typed_config"]["common_tls_context"]["tls_certificate_sds_secret_configs"] = [
            {
                "name": CLIENT_IDENTITY_SECRET,
                "sds_config": {
                    "path_config_source": {
                        "path": f"{client_identity_dir}/sds.json",
                        "watched_directory": {"path": client_identity_dir},
                    },
                    "resource_api_version": "V3",
                },
            }
        ]
    return socket


CLIENT_IDENTITY_SECRET = "xds_client_identity"


def client_identity_secret(client_identity_dir: str) -> dict[str, Any]:
    """The contents of CLIENT_IDENTITY_DIR/sds.json: the node's key.pem and cert.pem in that directory, as an
    SDS secret Envoy reloads when a file is moved into the directory, so a renewed certificate is taken
    without a restart (the control plane closes old connections, and new ones present the new one)."""
    return {
        "resources": [
            {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
                "name": CLIENT_IDENTITY_SECRET,
                "tls_certificate": {
                    "certificate_chain": {"filename": f"{client_identity_dir}/cert.pem"},
                    "private_key": {"filename": f"{client_identity_dir}/key.pem"},
                    "watched_directory": {"path": client_identity_dir},
                },
            }
        ]
    }
