"""The OpenStack shape of a cloudlet, as plain data: used by the Pulumi backend and the Heat artefacts alike.

Networks: an internal network always; the LBs also sit on the operator's external network unless the data
path is ``floating_ip``. Security groups come from the port maps: only the LB groups let the internet in,
each exactly on its LB's public ports. A VIP pair gets a VIP port (the address keepalived moves), allowed
address pairs on both hosts' ports, and VRRP between the pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from edgewright.cloudlet.config import DataPath
from edgewright.cloudlet.plan import CloudletPlan, HostPlan, LoadBalancerPlan, Role
from edgewright.loadbalancer.portmap import PortRange

ANYWHERE = "0.0.0.0/0"
SELF = "self"  # a rule whose remote is the same security group (the VRRP pair)


class Net(StrEnum):
    EXTERNAL = "external"
    INTERNAL = "internal"


@dataclass(frozen=True)
class Rule:
    protocol: str  # tcp, udp, vrrp
    remote: str  # a CIDR, or SELF
    port_min: int | None = None
    port_max: int | None = None

    @property
    def key(self) -> str:
        """A name from what the rule is, so adding an app never renames (and replaces) other rules."""
        ports = "all" if self.port_min is None else f"{self.port_min}-{self.port_max}"
        remote = self.remote.replace("/", "_").replace(".", "-")
        return f"{self.protocol}-{ports}-{remote}"


@dataclass(frozen=True)
class SecurityGroupSpec:
    name: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class PortSpec:
    name: str
    net: Net
    security_group: str | None
    fixed_ip: str | None = None  # None: the orchestrator picks one (an external port of a VIP pair host)
    allowed_pairs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServerSpec:
    name: str
    role: Role
    ports: tuple[str, ...]


@dataclass(frozen=True)
class FloatingIpSpec:
    name: str
    address: str
    port: str


@dataclass(frozen=True)
class OpenStackLayout:
    router: bool
    # The internal network's gateway: the router, or without one the root LB (which then NATs).
    gateway_ip: str
    security_groups: tuple[SecurityGroupSpec, ...]
    ports: tuple[PortSpec, ...]
    servers: tuple[ServerSpec, ...]
    floating_ips: tuple[FloatingIpSpec, ...]
    # Per LB: the address its clients use (public or floating IP) and the address its hosts hold.
    vip_ports: tuple[str, ...]

    def port(self, name: str) -> PortSpec:
        return next(port for port in self.ports if port.name == name)


def merged(ranges: tuple[PortRange, ...]) -> list[PortRange]:
    """Touching ranges of one protocol as one: remapped ports sit side by side, and Neutron's default
    quota is 100 rules per security group."""
    result: list[PortRange] = []
    for port_range in sorted(ranges):
        last = result[-1] if result else None
        if last and last.protocol == port_range.protocol and port_range.start <= last.end + 1:
            result[-1] = PortRange(last.protocol, last.start, max(last.end, port_range.end))
        else:
            result.append(port_range)
    return result


def lb_rules(lb: LoadBalancerPlan, internal_cidr: str) -> tuple[Rule, ...]:
    """The LB's security group: its public ports from anywhere, SSH from inside, VRRP within a pair."""
    public = tuple(
        Rule(r.protocol.value, ANYWHERE, r.start, r.end) for r in merged(lb.port_map.public_ranges())
    )
    own = (Rule("tcp", internal_cidr, 22, 22),)
    vrrp = (Rule("vrrp", SELF),) if lb.redundant else ()
    return public + own + vrrp


def openstack_layout(plan: CloudletPlan) -> OpenStackLayout:
    data_path = plan.config.data_path
    cidr = plan.config.internal_cidr
    groups = [SecurityGroupSpec(f"{lb.name}-sg", lb_rules(lb, cidr)) for lb in plan.load_balancers]
    groups.append(
        SecurityGroupSpec(
            f"{plan.cluster.name}-sg", (Rule("tcp", cidr, 1, 65535), Rule("udp", cidr, 1, 65535))
        )
    )
    # The platform host dials out to the controller; nothing may dial in.
    groups.append(SecurityGroupSpec(f"{plan.platform.name}-sg", ()))

    ports: list[PortSpec] = []
    servers: list[ServerSpec] = []
    floating: list[FloatingIpSpec] = []
    vip_ports: list[str] = []
    for lb in plan.load_balancers:
        group = f"{lb.name}-sg"
        on_external = data_path is not DataPath.FLOATING_IP
        if lb.redundant:
            # keepalived moves the public address itself (external) or the internal VIP (floating IP).
            vip_address = lb.public_ip if on_external else lb.internal_vip
            vip = PortSpec(
                f"{lb.name}-vip", Net.EXTERNAL if on_external else Net.INTERNAL, group, vip_address
            )
            ports.append(vip)
            vip_ports.append(vip.name)
            if not on_external:
                floating.append(FloatingIpSpec(f"{lb.name}-fip", lb.public_ip, vip.name))
        for host in lb.hosts:
            host_ports = []
            if on_external:
                external_ip = None if lb.redundant else lb.public_ip
                external_pairs = (lb.public_ip,) if lb.redundant else ()
                ports.append(PortSpec(f"{host.name}-ext", Net.EXTERNAL, group, external_ip, external_pairs))
                host_ports.append(f"{host.name}-ext")
            # The internal VIP is the pair's address inside (and the gateway when there is no router).
            internal_pairs = (lb.internal_vip,) if lb.internal_vip else ()
            ports.append(PortSpec(f"{host.name}-int", Net.INTERNAL, group, host.internal_ip, internal_pairs))
            host_ports.append(f"{host.name}-int")
            if not on_external and not lb.redundant:
                floating.append(FloatingIpSpec(f"{lb.name}-fip", lb.public_ip, f"{host.name}-int"))
            servers.append(ServerSpec(host.name, host.role, tuple(host_ports)))

    def internal_only(host: HostPlan, group: str) -> None:
        ports.append(PortSpec(f"{host.name}-int", Net.INTERNAL, group, host.internal_ip))
        servers.append(ServerSpec(host.name, host.role, (f"{host.name}-int",)))

    for node in plan.cluster.nodes:
        internal_only(node, f"{plan.cluster.name}-sg")
    internal_only(plan.platform, f"{plan.platform.name}-sg")
    return OpenStackLayout(
        router=data_path is not DataPath.NO_ROUTER,
        gateway_ip=plan.gateway_ip
        if data_path is not DataPath.NO_ROUTER
        else (plan.root_lb.internal_vip or plan.root_lb.hosts[0].internal_ip),
        security_groups=tuple(groups),
        ports=tuple(ports),
        servers=tuple(servers),
        floating_ips=tuple(floating),
        vip_ports=tuple(vip_ports),
    )
