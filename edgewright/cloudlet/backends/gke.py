"""GKE: the cluster and its node pool (pulumi-gcp); LBs as Envoy behind LoadBalancer Services on reserved
static IPs (pulumi-kubernetes). Google's load balancer is the redundancy, so a VIP is the static IP and
a redundant LB runs two Envoy replicas."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import yaml

from edgewright.cloudlet.backends.base import (
    Backend,
    ClusterResult,
    HostResult,
    LoadBalancerResult,
    VipResult,
)
from edgewright.cloudlet.backends.kubernetes import (
    LB_NAMESPACE,
    PLATFORM_NAMESPACE,
    envoy_load_balancer,
    namespaces,
    platform_workload,
)
from edgewright.cloudlet.config import CloudletConfigError, DataPath, setting
from edgewright.cloudlet.plan import CloudletPlan, ClusterPlan, HostPlan, LoadBalancerPlan

SECTION = "edgewright:gke"
ENVOY_IMAGE = "envoyproxy/envoy:v1.32.3"


@dataclass(frozen=True)
class GkeSettings:
    project: str
    region: str
    location: str  # a zone for a zonal cluster, or the region for a regional one
    platform_image: str  # the cloudlet's control services, built by the operator
    machine_type: str = "e2-standard-4"
    envoy_image: str = ENVOY_IMAGE

    @classmethod
    def parse(cls, raw: Any) -> GkeSettings:
        if not isinstance(raw, Mapping):
            raise CloudletConfigError(f"{SECTION} must be a mapping with project and region")
        known = {"project", "region", "location", "machineType", "envoyImage", "platformImage"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise CloudletConfigError(f"{SECTION}: unknown setting(s) {', '.join(unknown)}")
        region = setting(raw, SECTION, "region")
        return cls(
            project=setting(raw, SECTION, "project"),
            region=region,
            location=setting(raw, SECTION, "location", default=region),
            machine_type=setting(raw, SECTION, "machineType", default="e2-standard-4"),
            envoy_image=setting(raw, SECTION, "envoyImage", default=ENVOY_IMAGE),
            platform_image=setting(raw, SECTION, "platformImage"),
        )


def kubeconfig(name: str, endpoint: str, ca_certificate: str) -> str:
    """A kubeconfig for the cluster that authenticates through gcloud's GKE plugin (no static secret)."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": name,
                    "cluster": {
                        "server": f"https://{endpoint}",
                        "certificate-authority-data": ca_certificate,
                    },
                }
            ],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [
                {
                    "name": name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "gke-gcloud-auth-plugin",
                            "provideClusterInfo": True,
                        }
                    },
                }
            ],
        }
    )


class GkeBackend(Backend):
    orchestrator = "gke"

    def __init__(self, plan: CloudletPlan, settings: GkeSettings) -> None:
        super().__init__(plan)
        if plan.config.data_path is DataPath.FLOATING_IP:
            raise CloudletConfigError(
                "edgewright:cloudlet.dataPath: floating_ip exists on openstack only, not gke"
            )
        self.settings = settings

    def kubernetes_cluster(self, cluster: ClusterPlan, parent: pulumi.Resource) -> ClusterResult:
        opts = pulumi.ResourceOptions(parent=parent)
        gke = gcp.container.Cluster(
            cluster.name,
            name=cluster.name,
            project=self.settings.project,
            location=self.settings.location,
            remove_default_node_pool=True,
            initial_node_count=1,
            deletion_protection=False,
            opts=opts,
        )
        gcp.container.NodePool(
            f"{cluster.name}-nodes",
            cluster=gke.name,
            project=self.settings.project,
            location=self.settings.location,
            node_count=len(cluster.nodes),
            node_config=gcp.container.NodePoolNodeConfigArgs(machine_type=self.settings.machine_type),
            opts=opts,
        )
        config = pulumi.Output.all(gke.endpoint, gke.master_auth.cluster_ca_certificate).apply(
            lambda args: kubeconfig(cluster.name, args[0], args[1])
        )
        self.provider = k8s.Provider(f"{cluster.name}-k8s", kubeconfig=config, opts=opts)
        self.namespaces = namespaces(self.provider, parent)
        # Google manages the nodes: nothing for Ansible to reach there.
        return ClusterResult(endpoint=gke.endpoint.apply(lambda host: f"https://{host}"), nodes=[])

    def _address(self, lb: LoadBalancerPlan, parent: pulumi.Resource) -> gcp.compute.Address:
        return gcp.compute.Address(
            f"{lb.name}-ip",
            name=f"{lb.name}-ip",
            project=self.settings.project,
            region=self.settings.region,
            address=lb.public_ip,
            address_type="EXTERNAL",
            opts=pulumi.ResourceOptions(parent=parent),
        )

    def virtual_ip(self, lb: LoadBalancerPlan, parent: pulumi.Resource) -> VipResult:
        return VipResult(public_ip=self._address(lb, parent).address, vrrp_address=None)

    def load_balancer(
        self, lb: LoadBalancerPlan, vip: VipResult | None, parent: pulumi.Resource
    ) -> LoadBalancerResult:
        address = vip.public_ip if vip else self._address(lb, parent).address
        envoy_load_balancer(
            lb,
            self.plan,
            provider=self.provider,
            namespace=self.namespaces[LB_NAMESPACE],
            address=address,
            image=self.settings.envoy_image,
            parent=parent,
        )
        return LoadBalancerResult(public_ip=address, hosts=[])

    def platform_host(self, host: HostPlan, parent: pulumi.Resource) -> HostResult:
        return platform_workload(
            host,
            self.plan,
            provider=self.provider,
            namespace=self.namespaces[PLATFORM_NAMESPACE],
            image=self.settings.platform_image,
            parent=parent,
        )
