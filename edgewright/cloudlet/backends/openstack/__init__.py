"""OpenStack: the cloudlet's OpenStack layout (``openstack_model``) as pulumi-openstack resources."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_openstack as openstack

from edgewright.cloudlet.backends.base import (
    Backend,
    ClusterResult,
    HostResult,
    LoadBalancerResult,
    VipResult,
)
from edgewright.cloudlet.backends.openstack.layout import (
    SELF,
    Net,
    OpenStackLayout,
    PortSpec,
    openstack_layout,
)
from edgewright.cloudlet.config import CloudletConfigError, setting
from edgewright.cloudlet.plan import CloudletPlan, ClusterPlan, HostPlan, LoadBalancerPlan, Role

SECTION = "edgewright:openstack"


@dataclass(frozen=True)
class OpenStackSettings:
    external_network: str  # the operator's external (public) network, by name
    image: str
    flavor: str
    lb_flavor: str
    key_pair: str | None = None
    artefact_dir: str = "artefacts"  # restricted access: where the Heat template and scripts are written

    @classmethod
    def parse(cls, raw: Any) -> OpenStackSettings:
        if not isinstance(raw, Mapping):
            raise CloudletConfigError(f"{SECTION} must be a mapping with externalNetwork, image and flavor")
        known = {"externalNetwork", "image", "flavor", "lbFlavor", "keyPair", "artefactDir"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise CloudletConfigError(f"{SECTION}: unknown setting(s) {', '.join(unknown)}")
        flavor = setting(raw, SECTION, "flavor")
        return cls(
            external_network=setting(raw, SECTION, "externalNetwork"),
            image=setting(raw, SECTION, "image"),
            flavor=flavor,
            lb_flavor=setting(raw, SECTION, "lbFlavor", default=flavor),
            key_pair=raw.get("keyPair"),
            artefact_dir=setting(raw, SECTION, "artefactDir", default="artefacts"),
        )


class OpenStackBackend(Backend):
    orchestrator = "openstack"

    def __init__(self, plan: CloudletPlan, settings: OpenStackSettings) -> None:
        super().__init__(plan)
        self.settings = settings
        self.layout: OpenStackLayout = openstack_layout(plan)
        self._ports: dict[str, openstack.networking.Port] = {}
        self._groups: dict[str, openstack.networking.SecGroup] = {}

    def foundation(self, parent: pulumi.Resource) -> None:
        opts = pulumi.ResourceOptions(parent=parent)
        name = self.plan.config.name
        external = openstack.networking.get_network_output(name=self.settings.external_network)
        self._external_network_id = external.id
        self._external_subnet_id = external.subnets.apply(lambda subnets: subnets[0])
        network = openstack.networking.Network(
            f"{name}-net", name=f"{name}-net", admin_state_up=True, opts=opts
        )
        self._network_id = network.id
        subnet = openstack.networking.Subnet(
            f"{name}-subnet",
            name=f"{name}-subnet",
            network_id=network.id,
            cidr=self.plan.config.internal_cidr,
            ip_version=4,
            gateway_ip=self.layout.gateway_ip,
            opts=opts,
        )
        self._subnet_id = subnet.id
        if self.layout.router:
            router = openstack.networking.Router(
                f"{name}-router", name=f"{name}-router", external_network_id=external.id, opts=opts
            )
            openstack.networking.RouterInterface(
                f"{name}-router-if", router_id=router.id, subnet_id=subnet.id, opts=opts
            )
        for group in self.layout.security_groups:
            sec_group = openstack.networking.SecGroup(
                group.name, name=group.name, delete_default_rules=False, opts=opts
            )
            self._groups[group.name] = sec_group
            for rule in group.rules:
                openstack.networking.SecGroupRule(
                    f"{group.name}-{rule.key}",
                    security_group_id=sec_group.id,
                    direction="ingress",
                    ethertype="IPv4",
                    protocol=rule.protocol,
                    port_range_min=rule.port_min,
                    port_range_max=rule.port_max,
                    remote_ip_prefix=None if rule.remote == SELF else rule.remote,
                    remote_group_id=sec_group.id if rule.remote == SELF else None,
                    opts=pulumi.ResourceOptions(parent=sec_group),
                )

    def _port(self, spec: PortSpec, parent: pulumi.Resource) -> openstack.networking.Port:
        external = spec.net is Net.EXTERNAL
        subnet_id = self._external_subnet_id if external else self._subnet_id
        port = openstack.networking.Port(
            spec.name,
            name=spec.name,
            network_id=self._external_network_id if external else self._network_id,
            fixed_ips=[openstack.networking.PortFixedIpArgs(subnet_id=subnet_id, ip_address=spec.fixed_ip)],
            security_group_ids=[self._groups[spec.security_group].id] if spec.security_group else [],
            allowed_address_pairs=[
                openstack.networking.PortAllowedAddressPairArgs(ip_address=address)
                for address in spec.allowed_pairs
            ],
            opts=pulumi.ResourceOptions(parent=parent),
        )
        self._ports[spec.name] = port
        return port

    def _floating_ips(self, port_names: set[str], parent: pulumi.Resource) -> dict[str, pulumi.Output[str]]:
        made = {}
        for spec in self.layout.floating_ips:
            if spec.port in port_names:
                fip = openstack.networking.FloatingIp(
                    spec.name,
                    pool=self.settings.external_network,
                    address=spec.address,
                    port_id=self._ports[spec.port].id,
                    opts=pulumi.ResourceOptions(parent=parent),
                )
                made[spec.port] = fip.address
        return made

    def _server(self, host: HostPlan, parent: pulumi.Resource) -> HostResult:
        spec = next(server for server in self.layout.servers if server.name == host.name)
        ports = [self._port(self.layout.port(name), parent) for name in spec.ports]
        lb = host.role in (Role.ROOT_LB, Role.DEDICATED_LB)
        openstack.compute.Instance(
            host.name,
            name=host.name,
            image_name=self.settings.image,
            flavor_name=self.settings.lb_flavor if lb else self.settings.flavor,
            key_pair=self.settings.key_pair,
            networks=[openstack.compute.InstanceNetworkArgs(port=port.id) for port in ports],
            metadata={"edgewright-role": host.role.value, "edgewright-cloudlet": self.plan.config.name},
            opts=pulumi.ResourceOptions(parent=parent),
        )
        return HostResult(host.name, host.role.value, host.internal_ip)

    def kubernetes_cluster(self, cluster: ClusterPlan, parent: pulumi.Resource) -> ClusterResult:
        nodes = [self._server(node, parent) for node in cluster.nodes]
        return ClusterResult(endpoint=f"https://{cluster.control_plane.internal_ip}:6443", nodes=nodes)

    def virtual_ip(self, lb: LoadBalancerPlan, parent: pulumi.Resource) -> VipResult:
        vip = self.layout.port(f"{lb.name}-vip")
        self._port(vip, parent)
        self._floating_ips({vip.name}, parent)
        return VipResult(public_ip=lb.public_ip, vrrp_address=vip.fixed_ip)

    def load_balancer(
        self, lb: LoadBalancerPlan, vip: VipResult | None, parent: pulumi.Resource
    ) -> LoadBalancerResult:
        hosts = [self._server(host, parent) for host in lb.hosts]
        if vip is None:
            self._floating_ips({f"{host.name}-int" for host in lb.hosts}, parent)
        for host in hosts:
            host.public_ip = lb.public_ip if vip is None else None
        return LoadBalancerResult(public_ip=lb.public_ip, hosts=hosts)

    def platform_host(self, host: HostPlan, parent: pulumi.Resource) -> HostResult:
        return self._server(host, parent)
