"""The interface every orchestrator backend implements, and the results it hands back.

The components (``edgewright.cloudlet.components``) decide *what* a cloudlet is from its plan; a backend
only says how one orchestrator's API makes each part. Every method creates its resources with
``parent`` as their parent, so they sit under the component that asked for them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import pulumi

from edgewright.cloudlet.plan import CloudletPlan, ClusterPlan, HostPlan, LoadBalancerPlan


@dataclass
class HostResult:
    """A machine Ansible can reach (or, on Kubernetes orchestrators, a workload it cannot)."""

    name: str
    role: str
    address: pulumi.Input[str] | None  # None: a workload, not a machine
    public_ip: pulumi.Input[str] | None = None


@dataclass
class VipResult:
    # The address clients use, and the address the LB hosts hold with VRRP (None where the
    # orchestrator's own load balancer is the redundancy).
    public_ip: pulumi.Input[str]
    vrrp_address: pulumi.Input[str] | None


@dataclass
class LoadBalancerResult:
    public_ip: pulumi.Input[str]
    hosts: list[HostResult] = field(default_factory=list)


@dataclass
class ClusterResult:
    endpoint: pulumi.Input[str]
    nodes: list[HostResult] = field(default_factory=list)


class Backend(ABC):
    """One orchestrator. Constructing it reads and checks its config section (before any resource)."""

    orchestrator: str

    def __init__(self, plan: CloudletPlan) -> None:
        self.plan = plan

    def foundation(self, parent: pulumi.Resource) -> None:  # noqa: B027 - optional hook
        """Shared infrastructure the other parts stand on (networks, folders); none by default."""

    @abstractmethod
    def kubernetes_cluster(self, cluster: ClusterPlan, parent: pulumi.Resource) -> ClusterResult: ...

    @abstractmethod
    def virtual_ip(self, lb: LoadBalancerPlan, parent: pulumi.Resource) -> VipResult: ...

    @abstractmethod
    def load_balancer(
        self, lb: LoadBalancerPlan, vip: VipResult | None, parent: pulumi.Resource
    ) -> LoadBalancerResult: ...

    @abstractmethod
    def platform_host(self, host: HostPlan, parent: pulumi.Resource) -> HostResult: ...
