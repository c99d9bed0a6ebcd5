"""Device twins as Pulumi components, for stacks that declare their devices (pulumi-kubernetes).

DeviceTwins
 ├─ the EdgeDevice CRD (optional) and one EdgeDevice per device
 └─ DeviceTwin per placed device
     └─ ServiceAccount, Role, RoleBinding, ConfigMap, Deployment, Service

The stack places twins with the same rules as `edgewright twins reconcile`, from the node facts it is
given (stack config). A stack describes the intended fleet; node loss and better placements found later
are the reconciler's work against the live cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from edgewright.twins.device import EdgeDevice, device_resource
from edgewright.twins.images import ImagePolicy, default_image_policy
from edgewright.twins.manifests import crd, twin_objects
from edgewright.twins.placement import Action, EdgeNode, place, tolerations

TYPE_PREFIX = "edgewright:twins"

_CONSTRUCTORS = {
    "ServiceAccount": k8s.core.v1.ServiceAccount,
    "Role": k8s.rbac.v1.Role,
    "RoleBinding": k8s.rbac.v1.RoleBinding,
    "ConfigMap": k8s.core.v1.ConfigMap,
    "Deployment": k8s.apps.v1.Deployment,
    "Service": k8s.core.v1.Service,
}
# Manifest keys -> constructor arguments (the typed constructors spell camelCase keys in snake_case).
_ARGUMENTS = {
    "metadata": "metadata",
    "spec": "spec",
    "data": "data",
    "rules": "rules",
    "roleRef": "role_ref",
    "subjects": "subjects",
}


def _resource_from_manifest(manifest: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    kind = manifest["kind"]
    kwargs = {_ARGUMENTS[key]: value for key, value in manifest.items() if key in _ARGUMENTS}
    return _CONSTRUCTORS[kind](f"{kind.lower()}-{manifest['metadata']['name']}", opts=opts, **kwargs)


@dataclass
class DeviceTwinArgs:
    device: EdgeDevice
    node: str
    namespace: str = "default"
    reason: str = ""
    # The node's taints the twin tolerates (placement.tolerations: a device wired to a tainted node).
    tolerations: list[dict[str, str]] = field(default_factory=list)


class DeviceTwin(pulumi.ComponentResource):
    """One device's twin on one node."""

    def __init__(self, name: str, args: DeviceTwinArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:DeviceTwin", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        manifests = twin_objects(
            args.device, args.node, args.namespace, reason=args.reason, tolerations=args.tolerations
        )
        self.resources = {m["kind"]: _resource_from_manifest(m, child) for m in manifests}
        self.node = pulumi.Output.from_input(args.node)
        self.service_name = self.resources["Service"].metadata.apply(lambda m: m["name"])
        self.register_outputs({"node": self.node, "serviceName": self.service_name})


@dataclass
class DeviceTwinsArgs:
    devices: list[EdgeDevice]
    nodes: list[EdgeNode]
    namespace: str = "default"
    # Install the EdgeDevice CRD and one EdgeDevice per device, so the reconciler can take over.
    with_resources: bool = True
    # The images twins may run (default: edgewright's protocol images only); a device with another is pending.
    images: ImagePolicy | None = None


class DeviceTwins(pulumi.ComponentResource):
    """Every device's twin, placed by the rules; devices with no usable node are listed as pending."""

    def __init__(self, name: str, args: DeviceTwinsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:DeviceTwins", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        images = args.images or default_image_policy()
        refused = {d.name: reason for d in args.devices if (reason := images.refusal(d))}
        plan = place(args.devices, args.nodes, invalid=refused)
        by_name = {d.name: d for d in args.devices}
        nodes = {n.name: n for n in args.nodes}
        depends: list[pulumi.Resource] = []
        if args.with_resources:
            definition = k8s.apiextensions.v1.CustomResourceDefinition(
                "edgedevice-crd", opts=child, **{k: v for k, v in crd().items() if k in ("metadata", "spec")}
            )
            device_opts = pulumi.ResourceOptions(parent=self, depends_on=[definition])
            for device in args.devices:
                body = device_resource(device, args.namespace)
                depends.append(
                    k8s.apiextensions.CustomResource(
                        f"edgedevice-{device.name}",
                        api_version=body["apiVersion"],
                        kind=body["kind"],
                        metadata=body["metadata"],
                        spec=body["spec"],
                        opts=device_opts,
                    )
                )
        self.twins: dict[str, DeviceTwin] = {}
        for decision in plan.by_action(Action.CREATE):
            self.twins[decision.device] = DeviceTwin(
                decision.device,
                DeviceTwinArgs(
                    by_name[decision.device],
                    decision.node,
                    args.namespace,
                    decision.reason,
                    tolerations(by_name[decision.device], nodes[decision.node]),
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
            )
        self.placement = plan.placement()
        self.pending = {d.device: d.reason for d in plan.decisions if d.action is not Action.CREATE}
        self.register_outputs({"placement": self.placement, "pending": self.pending})
