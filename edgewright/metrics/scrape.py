"""The cloudlet Prometheus's scrape jobs, generated from the Ansible inventory.

One job per kind of target, each target labelled with the inventory name of its host (`instance`), so
alerts name hosts as the operator knows them:

    node      node exporter on every host of the node groups (edge nodes, LB hosts, the platform host)
    envoy     each LB host's Envoy, its stats in Prometheus format from the metrics listener
    vip       each VIP, scraped through the VIP itself: a VIP that no LB answers on is down
    xds       the L7 control plane's own metrics
    verifier  the attestation verifier's results
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from edgewright.errors import EdgewrightError

ENVOY_METRICS_PATH = "/stats/prometheus"
# Through a VIP only liveness matters; the LB's full stats come from its own address.
VIP_KEEP_METRICS = "envoy_server_live|envoy_server_uptime"


class ScrapeError(EdgewrightError, ValueError):
    """Inventory data that cannot become a scrape target; the message names the host and variable."""


@dataclass(frozen=True)
class ScrapeHost:
    """One inventory host as Prometheus sees it."""

    name: str
    address: str
    role: str  # loadbalancer, platform or edge_node
    node_exporter_port: int
    envoy_metrics_port: int | None = None  # set on LB hosts
    vip: str | None = None  # the VIP (without prefix length) an LB host shares with its pair
    labels: Mapping[str, str] = field(default_factory=dict)


def _port(host: str, variable: str, value: Any) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ScrapeError(f"host {host}: {variable} must be a port number, not {value!r}") from None
    if not 1 <= port <= 65535:
        raise ScrapeError(f"host {host}: {variable} {port} is not a port (1-65535)")
    return port


def _vip_address(host: str, value: Any) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_interface(str(value)).ip)
    except ValueError:
        raise ScrapeError(
            f"host {host}: keepalived_vip {value!r} is not an address like 10.0.0.100/24"
        ) from None


def hosts_from_inventory(
    groups: Mapping[str, Iterable[str]],
    hostvars: Mapping[str, Mapping[str, Any]],
    *,
    node_groups: Iterable[str] = ("edge_nodes", "loadbalancers", "platform"),
    lb_group: str = "loadbalancers",
    platform_group: str = "platform",
    vip_group: str = "lb_vrrp_pairs",
    node_exporter_port: int = 9100,
    envoy_metrics_port: int = 9902,
    excluded: Iterable[str] = (),
) -> list[ScrapeHost]:
    """Every host of NODE_GROUPS once, in inventory order, with what its variables say about its targets;
    never a host of EXCLUDED (nodes being decommissioned, still in the inventory).

    A host's own `node_exporter_port`, `envoy_metrics_port` and `keepalived_vip` win over the defaults.
    """
    lbs, platform, paired = (set(groups.get(g, ())) for g in (lb_group, platform_group, vip_group))
    seen: dict[str, ScrapeHost] = {}
    left_out = set(excluded)
    for group in node_groups:
        for name in groups.get(group, ()):
            if name in seen or name in left_out:
                continue
            hv = hostvars.get(name, {})
            role = "loadbalancer" if name in lbs else "platform" if name in platform else "edge_node"
            seen[name] = ScrapeHost(
                name=name,
                address=str(hv.get("ansible_host") or name),
                role=role,
                node_exporter_port=_port(
                    name, "node_exporter_port", hv.get("node_exporter_port", node_exporter_port)
                ),
                envoy_metrics_port=_port(
                    name, "envoy_metrics_port", hv.get("envoy_metrics_port", envoy_metrics_port)
                )
                if name in lbs
                else None,
                vip=_vip_address(name, hv.get("keepalived_vip")) if name in paired and name in lbs else None,
            )
    return list(seen.values())


def _target(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _static(targets: list[tuple[str, dict[str, str]]]) -> list[dict[str, Any]]:
    return [{"targets": [target], "labels": labels} for target, labels in targets]


def scrape_configs(
    hosts: list[ScrapeHost],
    *,
    xds_targets: Iterable[str] = (),
    verifier_targets: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """The scrape jobs for HOSTS and the control-plane services (host:port targets); jobs with no target
    are left out, so Prometheus never reports an empty job as healthy."""
    jobs: list[dict[str, Any]] = []
    node = [(_target(h.address, h.node_exporter_port), {"instance": h.name, "role": h.role}) for h in hosts]
    envoy = [
        (_target(h.address, h.envoy_metrics_port), {"instance": h.name, **({"vip": h.vip} if h.vip else {})})
        for h in hosts
        if h.envoy_metrics_port is not None
    ]
    vips: dict[str, int] = {}
    for h in hosts:
        if h.vip and h.envoy_metrics_port is not None:
            vips.setdefault(h.vip, h.envoy_metrics_port)
    vip = [(_target(address, port), {"instance": address, "vip": address}) for address, port in vips.items()]
    if node:
        jobs.append({"job_name": "node", "static_configs": _static(node)})
    if envoy:
        jobs.append(
            {"job_name": "envoy", "metrics_path": ENVOY_METRICS_PATH, "static_configs": _static(envoy)}
        )
    if vip:
        jobs.append(
            {
                "job_name": "vip",
                "metrics_path": ENVOY_METRICS_PATH,
                "static_configs": _static(vip),
                "metric_relabel_configs": [
                    {"source_labels": ["__name__"], "regex": VIP_KEEP_METRICS, "action": "keep"}
                ],
            }
        )
    for job, targets in (("xds", xds_targets), ("verifier", verifier_targets)):
        targets = [str(t) for t in targets]
        for t in targets:
            host, _, port = t.rpartition(":")
            if not host or not port.isdigit():
                raise ScrapeError(f"{job} target {t!r} is not host:port")
        if targets:
            jobs.append({"job_name": job, "static_configs": [{"targets": targets}]})
    return jobs
