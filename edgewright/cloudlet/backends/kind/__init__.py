"""KIND: a kind cluster made from the generated config, MetalLB holding the cluster's VIPs, and the LBs
as Envoy (host ports on the control-plane node, plus a LoadBalancer Service on a MetalLB address)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from edgewright.cloudlet.backends.base import (
    Backend,
    ClusterResult,
    HostResult,
    LoadBalancerResult,
    VipResult,
)
from edgewright.cloudlet.backends.kind.provider import KindCluster, kind_config
from edgewright.cloudlet.backends.kubernetes import (
    LB_NAMESPACE,
    PLATFORM_NAMESPACE,
    envoy_load_balancer,
    namespaces,
    platform_workload,
)
from edgewright.cloudlet.config import CloudletConfigError, DataPath, setting
from edgewright.cloudlet.plan import CloudletPlan, ClusterPlan, HostPlan, LoadBalancerPlan

SECTION = "edgewright:kind"
NODE_IMAGE = "kindest/node:v1.31.2"
METALLB_VERSION = "0.14.8"
ENVOY_IMAGE = "envoyproxy/envoy:v1.32.3"


@dataclass(frozen=True)
class KindSettings:
    # MetalLB's pool on the kind network: the first address is the root LB's VIP, then one per dedicated LB.
    metallb_addresses: tuple[str, ...]
    platform_image: str
    node_image: str = NODE_IMAGE
    envoy_image: str = ENVOY_IMAGE
    kind_binary: str = "kind"

    @classmethod
    def parse(cls, raw: Any, plan: CloudletPlan) -> KindSettings:
        if not isinstance(raw, Mapping):
            raise CloudletConfigError(f"{SECTION} must be a mapping with metallbRange and platformImage")
        known = {"metallbRange", "platformImage", "nodeImage", "envoyImage", "kindBinary"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise CloudletConfigError(f"{SECTION}: unknown setting(s) {', '.join(unknown)}")
        addresses = metallb_addresses(setting(raw, SECTION, "metallbRange"))
        if len(addresses) < len(plan.load_balancers):
            raise CloudletConfigError(
                f"{SECTION}.metallbRange holds {len(addresses)} address(es); the cloudlet's "
                f"{len(plan.load_balancers)} LBs need one each"
            )
        return cls(
            metallb_addresses=addresses,
            platform_image=setting(raw, SECTION, "platformImage"),
            node_image=setting(raw, SECTION, "nodeImage", default=NODE_IMAGE),
            envoy_image=setting(raw, SECTION, "envoyImage", default=ENVOY_IMAGE),
            kind_binary=setting(raw, SECTION, "kindBinary", default="kind"),
        )


def metallb_addresses(text: str) -> tuple[str, ...]:
    """The addresses of ``A-B`` (or a CIDR), as MetalLB's IPAddressPool reads them."""
    try:
        if "-" in text:
            first, last = (ipaddress.ip_address(part.strip()) for part in text.split("-", 1))
            if last < first:
                raise ValueError("the range ends before it starts")
            if int(last) - int(first) > 1024:
                raise ValueError("more than 1024 addresses")
            return tuple(str(ipaddress.ip_address(value)) for value in range(int(first), int(last) + 1))
        return tuple(str(address) for address in ipaddress.ip_network(text).hosts())
    except ValueError as error:
        raise CloudletConfigError(
            f"{SECTION}.metallbRange: {text!r} is not an address range: {error}"
        ) from None


class KindBackend(Backend):
    orchestrator = "kind"

    def __init__(self, plan: CloudletPlan, settings: KindSettings) -> None:
        super().__init__(plan)
        if plan.config.data_path is DataPath.FLOATING_IP:
            raise CloudletConfigError(
                "edgewright:cloudlet.dataPath: floating_ip exists on openstack only, not kind"
            )
        self.settings = settings
        self.config = kind_config(plan, settings.node_image)
        self._vips = dict(
            zip((lb.name for lb in plan.load_balancers), settings.metallb_addresses, strict=False)
        )

    def kubernetes_cluster(self, cluster: ClusterPlan, parent: pulumi.Resource) -> ClusterResult:
        opts = pulumi.ResourceOptions(parent=parent)
        kind = KindCluster(cluster.name, self.config, self.settings.kind_binary, opts=opts)
        self.provider = k8s.Provider(f"{cluster.name}-k8s", kubeconfig=kind.kubeconfig, opts=opts)
        k8s_opts = pulumi.ResourceOptions(parent=parent, provider=self.provider)
        metallb = k8s.helm.v3.Release(
            f"{cluster.name}-metallb",
            chart="metallb",
            version=METALLB_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo="https://metallb.github.io/metallb"),
            namespace="metallb-system",
            create_namespace=True,
            opts=k8s_opts,
        )
        after_metallb = pulumi.ResourceOptions(parent=parent, provider=self.provider, depends_on=[metallb])
        pool = k8s.apiextensions.CustomResource(
            f"{cluster.name}-pool",
            api_version="metallb.io/v1beta1",
            kind="IPAddressPool",
            metadata={"name": "cloudlet", "namespace": "metallb-system"},
            spec={"addresses": [f"{address}/32" for address in self._vips.values()], "autoAssign": False},
            opts=after_metallb,
        )
        k8s.apiextensions.CustomResource(
            f"{cluster.name}-l2",
            api_version="metallb.io/v1beta1",
            kind="L2Advertisement",
            metadata={"name": "cloudlet", "namespace": "metallb-system"},
            spec={"ipAddressPools": ["cloudlet"]},
            opts=pulumi.ResourceOptions(parent=parent, provider=self.provider, depends_on=[pool]),
        )
        self._pool = pool
        self.namespaces = namespaces(self.provider, parent)
        # kind's nodes are containers on the developer's machine: not Ansible hosts.
        return ClusterResult(endpoint=kind.kubeconfig.apply(_server), nodes=[])

    def virtual_ip(self, lb: LoadBalancerPlan, parent: pulumi.Resource) -> VipResult:
        # MetalLB announces the address; the Service's two Envoy replicas share it.
        return VipResult(public_ip=lb.public_ip, vrrp_address=self._vips[lb.name])

    def load_balancer(
        self, lb: LoadBalancerPlan, vip: VipResult | None, parent: pulumi.Resource
    ) -> LoadBalancerResult:
        envoy_load_balancer(
            lb,
            self.plan,
            provider=self.provider,
            namespace=self.namespaces[LB_NAMESPACE],
            address=self._vips[lb.name],
            image=self.settings.envoy_image,
            parent=parent,
            host_ports=True,
        )
        return LoadBalancerResult(public_ip=lb.public_ip, hosts=[])

    def platform_host(self, host: HostPlan, parent: pulumi.Resource) -> HostResult:
        return platform_workload(
            host,
            self.plan,
            provider=self.provider,
            namespace=self.namespaces[PLATFORM_NAMESPACE],
            image=self.settings.platform_image,
            parent=parent,
        )


def _server(kubeconfig: str | None) -> str:
    import yaml

    if not kubeconfig:
        return ""
    return yaml.safe_load(kubeconfig)["clusters"][0]["cluster"]["server"]
