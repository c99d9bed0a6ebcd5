"""The cloudlet's layout, decided once for every orchestrator: hosts, addresses, LBs, VIPs, port maps.

Backends only map this plan to their API. Internal addresses come in fixed blocks of the internal subnet
so that adding an app or a node never renumbers the others:

    .1  gateway        .10 root LB VIP   .11/.12 root LB hosts   .20+4*i dedicated LB i (i < 30)
    .150 platform host  .160.. Kubernetes nodes (the first is the control plane)
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum

from edgewright.cloudlet.config import CloudletConfig, CloudletConfigError, Redundancy
from edgewright.loadbalancer.portmap import (
    PortMap,
    PortMapError,
    PortRange,
    Protocol,
    assign_dedicated,
    assign_root,
)

# The LB hosts' own services: operators reach them over SSH, so no app may take port 22 there.
LB_RESERVED_PORTS = (PortRange(Protocol.TCP, 22, 22),)
MAX_DEDICATED_LBS = 30


class Role(StrEnum):
    ROOT_LB = "root_lb"
    DEDICATED_LB = "dedicated_lb"
    KUBE_NODE = "kube_node"
    PLATFORM = "platform"


@dataclass(frozen=True)
class HostPlan:
    name: str
    role: Role
    internal_ip: str


@dataclass(frozen=True)
class LoadBalancerPlan:
    name: str
    hosts: tuple[HostPlan, ...]
    public_ip: str
    port_map: PortMap
    # The address the hosts share (VRRP) on the internal network; None for a single host.
    internal_vip: str | None = None
    app: str | None = None  # set for a dedicated LB

    @property
    def redundant(self) -> bool:
        return self.internal_vip is not None


@dataclass(frozen=True)
class ClusterPlan:
    name: str
    nodes: tuple[HostPlan, ...]

    @property
    def control_plane(self) -> HostPlan:
        return self.nodes[0]


@dataclass(frozen=True)
class CloudletPlan:
    config: CloudletConfig
    root_lb: LoadBalancerPlan
    dedicated_lbs: tuple[LoadBalancerPlan, ...]
    cluster: ClusterPlan
    platform: HostPlan
    gateway_ip: str

    @property
    def load_balancers(self) -> tuple[LoadBalancerPlan, ...]:
        return (self.root_lb, *self.dedicated_lbs)


def plan_cloudlet(config: CloudletConfig) -> CloudletPlan:
    """Lay out ``config``; raises CloudletConfigError/PortMapError on what cannot be laid out."""
    if len(config.dedicated_apps) > MAX_DEDICATED_LBS:
        raise CloudletConfigError(
            f"edgewright:cloudlet: at most {MAX_DEDICATED_LBS} dedicated LBs per cloudlet, "
            f"{len(config.dedicated_apps)} asked for"
        )
    subnet = ipaddress.ip_network(config.internal_cidr)

    def address(offset: int) -> str:
        return str(subnet.network_address + offset)

    name = config.name
    root_hosts = 2 if config.redundancy is Redundancy.VIP else 1
    root_lb = LoadBalancerPlan(
        name=f"{name}-rootlb",
        hosts=tuple(
            HostPlan(f"{name}-rootlb-{index + 1}", Role.ROOT_LB, address(11 + index))
            for index in range(root_hosts)
        ),
        public_ip=config.public_ips[0],
        port_map=assign_root(
            [app.ports for app in config.shared_apps],
            previous=config.previous_port_map,
            remap_start=config.remap_start,
            reserved=LB_RESERVED_PORTS,
        ),
        internal_vip=address(10) if root_hosts == 2 else None,
    )
    dedicated = []
    for index, app in enumerate(config.dedicated_apps):
        lb_name = f"{name}-{app.name}-lb"
        reserved = [r for r in LB_RESERVED_PORTS if any(r.overlaps(p) for p in app.ports.ports)]
        if reserved:
            raise PortMapError(
                f"app {app.name!r}: port {reserved[0]} is the dedicated LB's own (SSH)",
                app=app.name,
                port=str(reserved[0]),
            )
        dedicated.append(
            LoadBalancerPlan(
                name=lb_name,
                hosts=(HostPlan(lb_name, Role.DEDICATED_LB, address(21 + 4 * index)),),
                public_ip=config.public_ips[1 + index],
                port_map=assign_dedicated(app.ports),
                app=app.name,
            )
        )
    cluster = ClusterPlan(
        name=f"{name}-k8s",
        nodes=tuple(
            HostPlan(f"{name}-k8s-{index + 1}", Role.KUBE_NODE, address(160 + index))
            for index in range(config.cluster_size)
        ),
    )
    return CloudletPlan(
        config=config,
        root_lb=root_lb,
        dedicated_lbs=tuple(dedicated),
        cluster=cluster,
        platform=HostPlan(f"{name}-platform", Role.PLATFORM, address(150)),
        gateway_ip=address(1),
    )
