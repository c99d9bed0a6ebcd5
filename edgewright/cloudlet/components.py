"""The cloudlet's components, written once for every orchestrator.

Cloudlet
 ├─ KubernetesCluster
 ├─ RootLoadBalancer ── VirtualIp (a redundant pair)
 ├─ DedicatedLoadBalancer (one per app that needs its own public IP)
 └─ PlatformHost (control services; they dial out to the controller, nothing dials in)

Each takes a typed Args record and a :class:`~edgewright.cloudlet.backends.base.Backend`, creates its
children with ``parent=self`` and registers its outputs. :meth:`Cloudlet.ansible_outputs` shapes the
whole for the inventory plugin (plugins/inventory/edgewright_cloudlet.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from edgewright.cloudlet.backends.base import Backend, HostResult
from edgewright.cloudlet.plan import CloudletPlan, ClusterPlan, HostPlan, LoadBalancerPlan

TYPE_PREFIX = "edgewright:cloudlet"


def _child(parent: pulumi.Resource) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent)


def _hosts_output(hosts: list[HostResult]) -> list[dict[str, Any]]:
    return [
        {"name": host.name, "role": host.role, "address": host.address, "publicIp": host.public_ip}
        for host in hosts
    ]


@dataclass
class KubernetesClusterArgs:
    cluster: ClusterPlan


class KubernetesCluster(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        args: KubernetesClusterArgs,
        backend: Backend,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:KubernetesCluster", name, None, opts)
        result = backend.kubernetes_cluster(args.cluster, self)
        self.endpoint = pulumi.Output.from_input(result.endpoint)
        self.nodes = result.nodes
        self.register_outputs({"endpoint": self.endpoint, "nodes": _hosts_output(self.nodes)})


@dataclass
class VirtualIpArgs:
    load_balancer: LoadBalancerPlan


class VirtualIp(pulumi.ComponentResource):
    """An address two LB hosts share with VRRP (or the orchestrator's own redundant front)."""

    def __init__(
        self, name: str, args: VirtualIpArgs, backend: Backend, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:VirtualIp", name, None, opts)
        self.result = backend.virtual_ip(args.load_balancer, self)
        self.public_ip = pulumi.Output.from_input(self.result.public_ip)
        self.vrrp_address = pulumi.Output.from_input(self.result.vrrp_address)
        self.register_outputs({"publicIp": self.public_ip, "vrrpAddress": self.vrrp_address})


@dataclass
class LoadBalancerArgs:
    load_balancer: LoadBalancerPlan


class _LoadBalancer(pulumi.ComponentResource):
    kind = "LoadBalancer"

    def __init__(
        self, name: str, args: LoadBalancerArgs, backend: Backend, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:{self.kind}", name, None, opts)
        plan = args.load_balancer
        self.plan = plan
        self.vip = (
            VirtualIp(f"{name}-vip", VirtualIpArgs(plan), backend, _child(self)) if plan.redundant else None
        )
        result = backend.load_balancer(plan, self.vip.result if self.vip else None, self)
        self.public_ip = pulumi.Output.from_input(result.public_ip)
        self.hosts = result.hosts
        self.register_outputs(self.ansible_output())

    def ansible_output(self) -> dict[str, Any]:
        return {
            "name": self.plan.name,
            "app": self.plan.app,
            "publicIp": self.public_ip,
            "vip": self.vip.vrrp_address if self.vip else None,
            "portMap": self.plan.port_map.to_dict(),
            "hosts": _hosts_output(self.hosts),
        }


class RootLoadBalancer(_LoadBalancer):
    """The shared LB holding the cloudlet's main public IP; apps' ports remapped by the port map."""

    kind = "RootLoadBalancer"


class DedicatedLoadBalancer(_LoadBalancer):
    """One app's own LB on its own public IP, its ports unchanged."""

    kind = "DedicatedLoadBalancer"


@dataclass
class PlatformHostArgs:
    host: HostPlan


class PlatformHost(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: PlatformHostArgs, backend: Backend, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:PlatformHost", name, None, opts)
        self.host = backend.platform_host(args.host, self)
        self.register_outputs({"hosts": _hosts_output([self.host])})


@dataclass
class CloudletArgs:
    plan: CloudletPlan


class Cloudlet(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: CloudletArgs, backend: Backend, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:Cloudlet", name, None, opts)
        plan = args.plan
        self.plan = plan
        backend.foundation(self)
        self.cluster = KubernetesCluster(
            plan.cluster.name, KubernetesClusterArgs(plan.cluster), backend, _child(self)
        )
        self.root_lb = RootLoadBalancer(
            plan.root_lb.name, LoadBalancerArgs(plan.root_lb), backend, _child(self)
        )
        self.dedicated_lbs = [
            DedicatedLoadBalancer(lb.name, LoadBalancerArgs(lb), backend, _child(self))
            for lb in plan.dedicated_lbs
        ]
        self.platform = PlatformHost(
            plan.platform.name, PlatformHostArgs(plan.platform), backend, _child(self)
        )
        self.register_outputs({"cloudlet": self.ansible_outputs()})

    def ansible_outputs(self) -> dict[str, Any]:
        """The stack output the inventory plugin reads: groups root_lb, dedicated_lb, kube_nodes, platform."""
        return {
            "name": self.plan.config.name,
            "orchestrator": self.plan.config.orchestrator.value,
            "rootLb": self.root_lb.ansible_output(),
            "dedicatedLbs": [lb.ansible_output() for lb in self.dedicated_lbs],
            "kubernetes": {"endpoint": self.cluster.endpoint, "nodes": _hosts_output(self.cluster.nodes)},
            "platform": {"hosts": _hosts_output([self.platform.host])},
        }
