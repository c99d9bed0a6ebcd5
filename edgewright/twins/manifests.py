"""The Kubernetes objects of device twins: the EdgeDevice CRD and each twin's composition.

A twin has the shape of Shifu's thermometer example: a Deployment that speaks the device's
protocol, a Service exposing it to the cluster, a ConfigMap with the device's driver properties, and a
ServiceAccount that may read its own EdgeDevice and write its status, and nothing else. Everything here
is a pure function returning plain dicts, used alike by `edgewright twins reconcile` and the Pulumi
component.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from edgewright.twins.device import API_VERSION, GROUP, KIND, LINKS, PLURAL, PROTOCOLS, VERSION, EdgeDevice

MANAGED_BY = "edgewright"
DEVICE_LABEL = f"{GROUP}/device"
PLACED_AT = f"{GROUP}/placed-at"
PLACEMENT_REASON = f"{GROUP}/placement-reason"
CONTAINER_PORT = 8080
SERVICE_PORT = 80
# deviceShifu images per protocol; a device may name its own (spec.image).
TWIN_IMAGES = {
    "http": "edgehub/deviceshifu-http-http:v0.0.1",
    "mqtt": "edgehub/deviceshifu-http-mqtt:v0.0.1",
    "opcua": "edgehub/deviceshifu-http-opcua:v0.0.1",
}


@dataclass(frozen=True)
class TwinNames:
    """The names of one device's twin objects (Shifu's edgedevice-<name> scheme)."""

    device: str

    @property
    def base(self) -> str:
        return f"edgedevice-{self.device}"

    @property
    def deployment(self) -> str:
        return f"{self.base}-deployment"

    @property
    def service(self) -> str:
        return self.base

    @property
    def config_map(self) -> str:
        return f"{self.base}-config"

    @property
    def service_account(self) -> str:
        return f"{self.base}-sa"

    @property
    def role(self) -> str:
        return f"{self.base}-reader"


def twin_labels(device: str) -> dict[str, str]:
    """Labels on every twin object: how reconcile finds a device's objects, and its pods' selector."""
    return {
        "app": TwinNames(device).deployment,
        DEVICE_LABEL: device,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }


def _metadata(name: str, device: EdgeDevice, namespace: str, owner_uid: str | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": twin_labels(device.name)}
    if owner_uid:
        # The cluster's garbage collector removes the twin with its EdgeDevice, even without edgewright.
        metadata["ownerReferences"] = [
            {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "name": device.name,
                "uid": owner_uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return metadata


def twin_objects(
    device: EdgeDevice,
    node: str,
    namespace: str = "default",
    placed_at: float = 0.0,
    reason: str = "",
    owner_uid: str | None = None,
    tolerations: Sequence[Mapping[str, str]] = (),
) -> list[dict[str, Any]]:
    """Every object of the device's twin running on `node`, in the order they must be created.
    TOLERATIONS are the node's taints the twin tolerates (placement.tolerations)."""
    names = TwinNames(device.name)
    meta = lambda name: _metadata(name, device, namespace, owner_uid)  # noqa: E731
    labels = twin_labels(device.name)
    service_account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(names.service_account),
    }
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": meta(names.role),
        "rules": [
            {
                "apiGroups": [GROUP],
                "resources": [PLURAL],
                "resourceNames": [device.name],
                "verbs": ["get", "watch"],
            },
            {
                "apiGroups": [GROUP],
                "resources": [f"{PLURAL}/status"],
                "resourceNames": [device.name],
                "verbs": ["get", "patch", "update"],
            },
        ],
    }
    role_binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta(names.role),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": names.role},
        "subjects": [{"kind": "ServiceAccount", "name": names.service_account, "namespace": namespace}],
    }
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(names.config_map),
        "data": {
            "driverProperties": yaml.safe_dump(
                {"protocol": device.protocol, "address": device.address, "link": device.link}, sort_keys=True
            ),
        },
    }
    memory = f"{device.memory_mib}Mi"
    deployment_meta = meta(names.deployment)
    deployment_meta["annotations"] = {PLACED_AT: f"{placed_at:.0f}", PLACEMENT_REASON: reason}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": deployment_meta,
        "spec": {
            "replicas": 1,
            # One twin talks to a device at a time: the old pod stops before the new one starts on a move.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app": names.deployment}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    # The placement rules chose this node; the scheduler still places the pod there, so the
                    # node's taints, its capacity and admission are honoured (nodeName would bypass them).
                    "affinity": node_affinity(node),
                    **({"tolerations": [dict(t) for t in tolerations]} if tolerations else {}),
                    "serviceAccountName": names.service_account,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": f"deviceshifu-{device.protocol}",
                            "image": device.image or TWIN_IMAGES[device.protocol],
                            "ports": [{"containerPort": CONTAINER_PORT}],
                            "env": [
                                {"name": "EDGEDEVICE_NAME", "value": device.name},
                                {"name": "EDGEDEVICE_NAMESPACE", "value": namespace},
                            ],
                            "volumeMounts": [
                                {
                                    "name": "edgedevice-config",
                                    "mountPath": "/etc/edgedevice/config",
                                    "readOnly": True,
                                }
                            ],
                            "resources": {"requests": {"memory": memory}, "limits": {"memory": memory}},
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                    "volumes": [{"name": "edgedevice-config", "configMap": {"name": names.config_map}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(names.service),
        # Inside the cluster only: nothing of an edge device is exposed publicly.
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": names.deployment},
            "ports": [{"port": SERVICE_PORT, "protocol": "TCP", "targetPort": CONTAINER_PORT}],
        },
    }
    return [service_account, role, role_binding, config_map, deployment, service]


def node_affinity(node: str) -> dict[str, Any]:
    """Required node affinity for exactly NODE, by its name (metadata.name, not a label it could change)."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


def placed_node(pod_spec: Mapping[str, Any]) -> str | None:
    """The node a twin's pod template is placed on: its node affinity's one name (or, for a twin made
    before placement used affinity, its nodeName)."""
    terms = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution", {}
    ).get("nodeSelectorTerms") or []
    for term in terms:
        for field in term.get("matchFields") or []:
            if (
                field.get("key") == "metadata.name"
                and field.get("operator") == "In"
                and len(field.get("values") or []) == 1
            ):
                return field["values"][0]
    return pod_spec.get("nodeName")


def crd() -> dict[str, Any]:
    """The EdgeDevice CustomResourceDefinition; the API server itself refuses bad devices with it."""
    location = {
        "type": "object",
        "required": ["latitude", "longitude"],
        "properties": {
            "latitude": {"type": "number", "minimum": -90, "maximum": 90},
            "longitude": {"type": "number", "minimum": -180, "maximum": 180},
        },
    }
    spec = {
        "type": "object",
        "required": ["protocol", "address"],
        "properties": {
            "protocol": {"type": "string", "enum": list(PROTOCOLS), "description": "what the twin speaks"},
            "address": {"type": "string", "minLength": 1, "description": "where the twin reaches the device"},
            "link": {"type": "string", "enum": list(LINKS), "default": "ethernet"},
            "node": {"type": "string", "description": "the edge node the device is wired to, if any"},
            "location": location,
            "memoryMiB": {"type": "integer", "minimum": 1, "description": "memory of the twin"},
            "image": {"type": "string", "description": "twin image instead of the protocol's default"},
        },
        "x-kubernetes-validations": [
            {"rule": "self.link != 'usb' || has(self.node)", "message": "a usb device must name its node"}
        ],
    }
    status = {
        "type": "object",
        "properties": {
            "phase": {"type": "string", "enum": ["Placed", "Pending", "Invalid"]},
            "node": {"type": "string"},
            "reason": {"type": "string"},
            "placedAt": {"type": "string"},
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": KIND, "plural": PLURAL, "singular": KIND.lower(), "shortNames": ["edev"]},
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": spec, "status": status},
                            "required": ["spec"],
                        }
                    },
                    "additionalPrinterColumns": [
                        {"name": "Protocol", "type": "string", "jsonPath": ".spec.protocol"},
                        {"name": "Link", "type": "string", "jsonPath": ".spec.link"},
                        {"name": "Node", "type": "string", "jsonPath": ".status.node"},
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                    ],
                }
            ],
        },
    }
