"""vSphere: every host a VM cloned from a template (``edgewright.cloudlet.backends.vsphere.providers`` dynamic providers), in
one folder per cloudlet. LB VMs sit on the external and internal networks (or, with a pair, share the
public address by VRRP); everything else only on the internal one. vSphere has no security groups or
floating IPs: the port map reaches the LB hosts' own firewall through Ansible, via ``guestinfo``."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from edgewright.cloudlet.backends.base import (
    Backend,
    ClusterResult,
    HostResult,
    LoadBalancerResult,
    VipResult,
)
from edgewright.cloudlet.backends.vsphere.providers import (
    Connection,
    Folder,
    FolderArgs,
    VirtualMachine,
    VirtualMachineArgs,
)
from edgewright.cloudlet.config import CloudletConfigError, DataPath, setting
from edgewright.cloudlet.plan import CloudletPlan, ClusterPlan, HostPlan, LoadBalancerPlan, Role

SECTION = "edgewright:vsphere"


@dataclass(frozen=True)
class VsphereSettings:
    connection: Connection
    datacenter: str
    template: str
    resource_pool: str  # a cluster or resource pool name
    external_network: str
    internal_network: str
    external_prefix: int = 24  # prefix length of the public addresses on the external network
    folder: str = "edgewright"
    num_cpus: int = 2
    memory_mb: int = 4096
    lb_num_cpus: int = 2
    lb_memory_mb: int = 2048

    @classmethod
    def parse(cls, raw: Any, password: pulumi.Input[str] | None) -> VsphereSettings:
        if not isinstance(raw, Mapping):
            raise CloudletConfigError(
                f"{SECTION} must be a mapping with host, user, datacenter, template, ..."
            )
        known = {
            "host",
            "port",
            "user",
            "insecure",
            "datacenter",
            "template",
            "resourcePool",
            "externalNetwork",
            "internalNetwork",
            "externalPrefix",
            "folder",
            "numCpus",
            "memoryMb",
            "lbNumCpus",
            "lbMemoryMb",
        }
        unknown = sorted(set(raw) - known)
        if unknown:
            raise CloudletConfigError(f"{SECTION}: unknown setting(s) {', '.join(unknown)}")
        if password is None:
            raise CloudletConfigError(
                "edgewright:vspherePassword is not set "
                "(pulumi config set --secret edgewright:vspherePassword ...)"
            )
        prefix = setting(raw, SECTION, "externalPrefix", int, 24)
        if not 1 <= prefix <= 32:
            raise CloudletConfigError(f"{SECTION}.externalPrefix must be 1..32, got {prefix}")
        connection = Connection(
            host=setting(raw, SECTION, "host"),
            user=setting(raw, SECTION, "user"),
            password=password,  # type: ignore[arg-type]  # a secret Output, resolved by the engine
            port=setting(raw, SECTION, "port", int, 443),
            insecure=setting(raw, SECTION, "insecure", bool, False),
        )
        return cls(
            connection=connection,
            datacenter=setting(raw, SECTION, "datacenter"),
            template=setting(raw, SECTION, "template"),
            resource_pool=setting(raw, SECTION, "resourcePool"),
            external_network=setting(raw, SECTION, "externalNetwork"),
            internal_network=setting(raw, SECTION, "internalNetwork"),
            external_prefix=prefix,
            folder=setting(raw, SECTION, "folder", default="edgewright"),
            num_cpus=setting(raw, SECTION, "numCpus", int, 2),
            memory_mb=setting(raw, SECTION, "memoryMb", int, 4096),
            lb_num_cpus=setting(raw, SECTION, "lbNumCpus", int, 2),
            lb_memory_mb=setting(raw, SECTION, "lbMemoryMb", int, 2048),
        )


class VsphereBackend(Backend):
    orchestrator = "vsphere"

    def __init__(self, plan: CloudletPlan, settings: VsphereSettings) -> None:
        super().__init__(plan)
        if plan.config.data_path is DataPath.FLOATING_IP:
            raise CloudletConfigError(
                "edgewright:cloudlet.dataPath: floating_ip exists on openstack only, not vsphere"
            )
        self.settings = settings
        self.prefix = ipaddress.ip_network(plan.config.internal_cidr).prefixlen

    def gateway(self) -> str:
        """The internal network's gateway: the operator's router, or the root LB when there is none."""
        if self.plan.config.data_path is DataPath.NO_ROUTER:
            return self.plan.root_lb.internal_vip or self.plan.root_lb.hosts[0].internal_ip
        return self.plan.gateway_ip

    def foundation(self, parent: pulumi.Resource) -> None:
        path = f"{self.settings.folder}/{self.plan.config.name}"
        self.folder = Folder(
            f"{self.plan.config.name}-folder",
            FolderArgs(self.settings.connection, self.settings.datacenter, path),
            pulumi.ResourceOptions(parent=parent),
        )

    def _vm(
        self,
        host: HostPlan,
        parent: pulumi.Resource,
        *,
        external_ip: str | None = None,
        external: bool = False,
        extra: Mapping[str, str] | None = None,
    ) -> HostResult:
        lb = host.role in (Role.ROOT_LB, Role.DEDICATED_LB)
        s = self.settings
        networks = [s.internal_network]
        addresses: list[str | None] = [f"{host.internal_ip}/{self.prefix}"]
        if external:
            networks.insert(0, s.external_network)
            addresses.insert(0, f"{external_ip}/{s.external_prefix}" if external_ip else None)
        guestinfo = {
            "edgewright.cloudlet": self.plan.config.name,
            "edgewright.role": host.role.value,
            "edgewright.gateway": self.gateway(),
            **(extra or {}),
        }
        VirtualMachine(
            host.name,
            VirtualMachineArgs(
                connection=s.connection,
                datacenter=s.datacenter,
                folder=self.folder.path,
                name=host.name,
                template=s.template,
                hostname=host.name,
                networks=networks,
                ip_addresses=addresses,
                num_cpus=s.lb_num_cpus if lb else s.num_cpus,
                memory_mb=s.lb_memory_mb if lb else s.memory_mb,
                annotation=f"edgewright cloudlet {self.plan.config.name}: {host.role.value}",
                guestinfo=guestinfo,
                resource_pool=s.resource_pool,
            ),
            pulumi.ResourceOptions(parent=parent),
        )
        return HostResult(host.name, host.role.value, host.internal_ip, external_ip)

    def kubernetes_cluster(self, cluster: ClusterPlan, parent: pulumi.Resource) -> ClusterResult:
        nodes = [self._vm(node, parent) for node in cluster.nodes]
        return ClusterResult(endpoint=f"https://{cluster.control_plane.internal_ip}:6443", nodes=nodes)

    def virtual_ip(self, lb: LoadBalancerPlan, parent: pulumi.Resource) -> VipResult:
        # No API object: keepalived on the pair holds the public address; the hosts learn it from guestinfo.
        return VipResult(public_ip=lb.public_ip, vrrp_address=lb.public_ip)

    def load_balancer(
        self, lb: LoadBalancerPlan, vip: VipResult | None, parent: pulumi.Resource
    ) -> LoadBalancerResult:
        extra = {"edgewright.public_ip": lb.public_ip}
        if lb.internal_vip:
            extra["edgewright.internal_vip"] = lb.internal_vip
        hosts = [
            self._vm(host, parent, external=True, external_ip=None if vip else lb.public_ip, extra=extra)
            for host in lb.hosts
        ]
        return LoadBalancerResult(public_ip=lb.public_ip, hosts=hosts)

    def platform_host(self, host: HostPlan, parent: pulumi.Resource) -> HostResult:
        return self._vm(host, parent, extra={"edgewright.controller_url": self.plan.config.controller_url})
