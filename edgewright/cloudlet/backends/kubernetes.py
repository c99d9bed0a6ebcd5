"""What GKE and KIND share: LBs as Envoy Deployments behind LoadBalancer Services, the platform workload."""

from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s

from edgewright.cloudlet.backends.base import HostResult
from edgewright.cloudlet.envoy import ADMIN_PORT, envoy_config
from edgewright.cloudlet.plan import CloudletPlan, HostPlan, LoadBalancerPlan

LB_NAMESPACE = "edgewright-lb"
PLATFORM_NAMESPACE = "edgewright-platform"


def namespaces(provider: k8s.Provider, parent: pulumi.Resource) -> dict[str, k8s.core.v1.Namespace]:
    opts = pulumi.ResourceOptions(parent=parent, provider=provider)
    return {
        name: k8s.core.v1.Namespace(name, metadata={"name": name}, opts=opts)
        for name in (LB_NAMESPACE, PLATFORM_NAMESPACE)
    }


def app_backends(plan: CloudletPlan) -> dict[str, str]:
    """Each app's Service address inside the cluster, where its LB sends its traffic."""
    return {app.name: f"{app.name}.{app.namespace}.svc.cluster.local" for app in plan.config.apps}


def envoy_load_balancer(
    lb: LoadBalancerPlan,
    plan: CloudletPlan,
    *,
    provider: k8s.Provider,
    namespace: k8s.core.v1.Namespace,
    address: pulumi.Input[str],
    image: str,
    parent: pulumi.Resource,
    host_ports: bool = False,
) -> k8s.core.v1.Service:
    """Envoy (two replicas for a redundant LB) carrying ``lb``'s port map, behind a LoadBalancer Service
    holding ``address``. ``host_ports`` also binds every public port on the node (KIND's port mappings)."""
    opts = pulumi.ResourceOptions(parent=parent, provider=provider)
    labels = {"app.kubernetes.io/name": "envoy", "edgewright/lb": lb.name}
    config = k8s.core.v1.ConfigMap(
        f"{lb.name}-envoy",
        metadata={"name": f"{lb.name}-envoy", "namespace": namespace.metadata["name"], "labels": labels},
        data={"envoy.yaml": json.dumps(envoy_config(lb.port_map, app_backends(plan)), indent=1)},
        opts=opts,
    )
    pairs = [(m, public) for m in lb.port_map.mappings for public, _ in m.pairs()]
    container_ports = [
        {
            "name": f"{m.protocol.value[0]}{public}",
            "containerPort": public,
            "protocol": m.protocol.value.upper(),
            **({"hostPort": public} if host_ports else {}),
        }
        for m, public in pairs
    ]
    k8s.apps.v1.Deployment(
        f"{lb.name}-envoy",
        metadata={"name": f"{lb.name}-envoy", "namespace": namespace.metadata["name"], "labels": labels},
        spec={
            # kind maps the host's ports into the control-plane node only: one Envoy there, bound to them.
            "replicas": 1 if host_ports or not lb.redundant else 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "envoy",
                            "image": image,
                            "args": ["-c", "/etc/envoy/envoy.yaml"],
                            "ports": container_ports,
                            "readinessProbe": {"exec": {"command": ["bash", "-c", _ready_check()]}},
                            "volumeMounts": [{"name": "config", "mountPath": "/etc/envoy"}],
                        }
                    ],
                    "volumes": [
                        {
                            "name": "config",
                            "configMap": {"name": config.metadata.apply(lambda meta: meta["name"])},
                        }
                    ],
                    **(_on_control_plane() if host_ports else {}),
                },
            },
        },
        opts=opts,
    )
    return k8s.core.v1.Service(
        f"{lb.name}-envoy",
        metadata={"name": f"{lb.name}-envoy", "namespace": namespace.metadata["name"], "labels": labels},
        spec={
            "type": "LoadBalancer",
            "loadBalancerIP": address,
            # Keep the client's address: apps see who called them.
            "externalTrafficPolicy": "Local",
            "selector": labels,
            "ports": [
                {
                    "name": f"{m.protocol.value[0]}{public}",
                    "port": public,
                    "targetPort": public,
                    "protocol": m.protocol.value.upper(),
                }
                for m, public in pairs
            ],
        },
        opts=opts,
    )


def _on_control_plane() -> dict:
    return {
        "nodeSelector": {"node-role.kubernetes.io/control-plane": ""},
        "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
    }


def _ready_check() -> str:
    # Envoy's admin port stays on loopback, so the probe asks /ready from inside the pod (bash's /dev/tcp).
    request = "printf 'GET /ready HTTP/1.0\\r\\n\\r\\n' >&3"
    return f"exec 3<>/dev/tcp/127.0.0.1/{ADMIN_PORT} && {request} && grep -q LIVE <&3"


def platform_workload(
    host: HostPlan,
    plan: CloudletPlan,
    *,
    provider: k8s.Provider,
    namespace: k8s.core.v1.Namespace,
    image: str,
    parent: pulumi.Resource,
) -> HostResult:
    """The cloudlet's control services as a Deployment with no Service: they dial out, nothing dials in."""
    labels = {"app.kubernetes.io/name": "edgewright-platform", "edgewright/cloudlet": plan.config.name}
    k8s.apps.v1.Deployment(
        host.name,
        metadata={"name": host.name, "namespace": namespace.metadata["name"], "labels": labels},
        spec={
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "platform",
                            "image": image,
                            "env": [
                                {"name": "EDGEWRIGHT_CLOUDLET", "value": plan.config.name},
                                {"name": "EDGEWRIGHT_CONTROLLER_URL", "value": plan.config.controller_url},
                            ],
                        }
                    ]
                },
            },
        },
        opts=pulumi.ResourceOptions(parent=parent, provider=provider),
    )
    return HostResult(host.name, host.role.value, address=None)
