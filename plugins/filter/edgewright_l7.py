"""Filters for the L7 roles: Envoy resources and load-balancer plans from the edgewright package.

They run on the controller, so the roles share one implementation with the control plane and the stacks
(`edgewright.xds`, `edgewright.loadbalancer.plan`, `edgewright.loadbalancer.portmap`).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ansible.errors import AnsibleFilterError

from edgewright.loadbalancer.plan import envoy_config, parse_apps, plan_port_map
from edgewright.loadbalancer.portmap import PortMap, PortMapError
from edgewright.xds.cluster_services import plan as plan_cluster_services
from edgewright.xds.model import SourceError, parse_source
from edgewright.xds.resources import ads_bootstrap, client_identity_secret, static_resources


def envoy_resources(local_config: Any, node_id: str = "local", ads: bool = False) -> dict[str, Any]:
    """{clusters, listeners} in the control plane's source format -> Envoy JSON {listeners, clusters}.
    ADS: the node takes its configuration from the control plane, so Service-backed clusters can get their
    endpoints over EDS."""
    if not isinstance(local_config, dict):
        raise AnsibleFilterError(f"envoy_local_config must be a mapping, got {type(local_config).__name__}")
    extra = sorted(set(local_config) - {"clusters", "listeners"})
    if extra:
        raise AnsibleFilterError(f"envoy_local_config: unknown setting(s) {', '.join(extra)}")
    source = {
        "clusters": local_config.get("clusters") or {},
        "nodes": {node_id: {"listeners": local_config.get("listeners") or []}},
    }
    try:
        return static_resources(parse_source(source).node_config(node_id), ads=bool(ads))
    except SourceError as err:
        raise AnsibleFilterError(f"envoy_local_config: {err}") from None


def lb_plan(
    apps: Any,
    kind: str = "root",
    previous: Any = None,
    remap_start: int = 10000,
    reserved: Any = (),
    listen: str = "0.0.0.0",
) -> dict[str, Any]:
    """The port map and Envoy configuration of a load balancer: {port_map, envoy_local_config}."""
    try:
        parsed = parse_apps(apps)
        port_map = plan_port_map(
            parsed, kind, PortMap.from_dict(previous or None), int(remap_start), list(reserved or ())
        )
        return {"port_map": port_map.to_dict(), "envoy_local_config": envoy_config(parsed, port_map, listen)}
    except (PortMapError, SourceError) as err:
        raise AnsibleFilterError(f"loadbalancer_apps: {err}") from None


def cluster_services_plan(services: Any) -> dict[str, Any]:
    """Loopback addresses, name records and Envoy configuration for cluster services on an edge node."""
    try:
        return plan_cluster_services(services)
    except SourceError as err:
        raise AnsibleFilterError(f"cluster_services_list: {err}") from None


def envoy_ads_bootstrap(
    node_id: str,
    host: str,
    port: int,
    admin_port: int,
    cluster: str = "edgewright",
    tls_ca: str = "",
    tls_server_name: str = "",
    client_identity_dir: str = "",
) -> dict[str, Any]:
    """The bootstrap of an Envoy that takes its configuration from the control plane at HOST:PORT, over mutual
    TLS when TLS_CA and the node's CLIENT_IDENTITY_DIR are given, else plaintext."""
    try:
        return ads_bootstrap(
            node_id,
            (host, int(port)),
            int(admin_port),
            cluster,
            tls_ca or None,
            tls_server_name or None,
            client_identity_dir or None,
        )
    except ValueError as err:
        raise AnsibleFilterError(f"edgewright_ads_bootstrap: {err}") from None


def xds_client_secret(client_identity_dir: str) -> dict[str, Any]:
    """The SDS file of the node's xDS client key and certificate in CLIENT_IDENTITY_DIR."""
    return client_identity_secret(client_identity_dir)


def bad_networks(values: Any) -> list[Any]:
    """The entries of VALUES that are not IP networks (e.g. '10.0.0.0/8')."""
    bad = []
    for value in values or []:
        try:
            ipaddress.ip_network(str(value), strict=False)
        except ValueError:
            bad.append(value)
    return bad


class FilterModule:
    def filters(self):
        return {
            "edgewright_envoy_resources": envoy_resources,
            "edgewright_lb_plan": lb_plan,
            "edgewright_bad_networks": bad_networks,
            "edgewright_ads_bootstrap": envoy_ads_bootstrap,
            "edgewright_xds_client_secret": xds_client_secret,
            "edgewright_cluster_services_plan": cluster_services_plan,
        }
