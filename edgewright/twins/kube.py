"""Reconcile device twins against a live Kubernetes cluster.

Reads EdgeDevices, Nodes and the twins that exist, asks the placement plan what to do, and carries it
out with server-side apply (field manager "edgewright"): twins created, moved (the Deployment's node
changes; Recreate stops the old pod first), deleted with everything labelled as theirs, and each
EdgeDevice's status set to where its twin is and why. A second run with nothing changed changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

from edgewright.errors import EdgewrightError
from edgewright.twins.device import API_VERSION, KIND, DeviceError, EdgeDevice, device_from_resource
from edgewright.twins.edgemap import EdgeMap, build_edge_map
from edgewright.twins.images import ImagePolicy, default_image_policy
from edgewright.twins.manifests import DEVICE_LABEL, MANAGED_BY, PLACED_AT, crd, placed_node, twin_objects
from edgewright.twins.nodes import NodeView, node_view
from edgewright.twins.placement import Action, Assignment, Guard, Plan, plan, tolerations

FIELD_MANAGER = "edgewright"
MANAGED_SELECTOR = f"app.kubernetes.io/managed-by={MANAGED_BY},{DEVICE_LABEL}"
TWIN_KINDS = (
    ("v1", "ServiceAccount"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("v1", "ConfigMap"),
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
)
PHASES = {
    Action.CREATE: "Placed",
    Action.KEEP: "Placed",
    Action.MOVE: "Placed",
    Action.PENDING: "Pending",
    Action.INVALID: "Invalid",
}


class ClusterError(EdgewrightError, RuntimeError):
    """The cluster cannot be reached or refused a request; the message says which."""


@dataclass
class ClusterState:
    """What reconcile reads from the cluster."""

    devices: list[EdgeDevice]
    invalid: dict[str, str]
    device_resources: dict[str, dict[str, Any]]
    nodes: list[NodeView]
    twins: dict[str, Assignment]


@dataclass
class Report:
    plan: Plan
    changes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def connect(kubeconfig: str | None = None, context: str | None = None) -> DynamicClient:
    try:
        api = k8s_config.new_client_from_config(config_file=kubeconfig, context=context)
    except (k8s_config.ConfigException, FileNotFoundError, TypeError) as exc:
        raise ClusterError(f"cannot load the kubeconfig {kubeconfig or '(default)'}: {exc}") from None
    return DynamicClient(api)


def _resource(dyn: DynamicClient, api_version: str, kind: str):
    return dyn.resources.get(api_version=api_version, kind=kind)


def ensure_crd(dyn: DynamicClient, timeout_s: float = 30.0) -> bool:
    """Install or update the EdgeDevice CRD and wait until the API serves it. True when it changed."""
    definitions = _resource(dyn, "apiextensions.k8s.io/v1", "CustomResourceDefinition")
    body = crd()
    name = body["metadata"]["name"]
    try:
        before = definitions.get(name=name).metadata.resourceVersion
    except NotFoundError:
        before = None
    applied = definitions.server_side_apply(body=body, field_manager=FIELD_MANAGER, force_conflicts=True)
    deadline = time.monotonic() + timeout_s
    while True:
        conditions = definitions.get(name=name).to_dict().get("status", {}).get("conditions") or []
        if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
            break
        if time.monotonic() > deadline:
            raise ClusterError(f"the CRD {name} was not established within {timeout_s:.0f} s")
        time.sleep(0.2)
    dyn.resources.invalidate_cache()
    return applied.metadata.resourceVersion != before


def read_state(dyn: DynamicClient, namespace: str) -> ClusterState:
    devices, invalid, resources = [], {}, {}
    try:
        items = _resource(dyn, API_VERSION, KIND).get(namespace=namespace).to_dict()["items"]
    except (ResourceNotFoundError, NotFoundError):  # the API has no such group, or no such kind in it
        raise ClusterError(
            f"the cluster has no {KIND} resource: install its CRD with `edgewright twins reconcile` "
            "(without --dry-run) or `edgewright twins crd | kubectl apply -f -`"
        ) from None
    for item in items:
        name = item["metadata"]["name"]
        resources[name] = item
        try:
            devices.append(device_from_resource(item))
        except DeviceError as exc:
            invalid[name] = str(exc)
    nodes = [node_view(n) for n in _resource(dyn, "v1", "Node").get().to_dict()["items"]]
    twins = {}
    for item in (
        _resource(dyn, "apps/v1", "Deployment")
        .get(namespace=namespace, label_selector=MANAGED_SELECTOR)
        .to_dict()["items"]
    ):
        device = item["metadata"]["labels"][DEVICE_LABEL]
        node = placed_node(item["spec"]["template"]["spec"])
        placed_at = float((item["metadata"].get("annotations") or {}).get(PLACED_AT, "0") or 0)
        if node:
            twins[device] = Assignment(device, node, placed_at)
    return ClusterState(devices, invalid, resources, nodes, twins)


def _version(metadata: Any) -> str:
    # Objects with a status (Deployments) count spec changes in generation; their controllers' status
    # writes move resourceVersion, which must not read as a change of ours.
    return str(metadata.generation) if metadata.generation else metadata.resourceVersion


def _apply(dyn: DynamicClient, body: dict[str, Any]) -> bool:
    """Server-side apply one object; True when that changed it."""
    resource = _resource(dyn, body["apiVersion"], body["kind"])
    meta = body["metadata"]
    try:
        current = resource.get(name=meta["name"], namespace=meta.get("namespace")).metadata
        before = (_version(current), current.annotations, current.labels)
    except NotFoundError:
        before = None
    after = resource.server_side_apply(body=body, field_manager=FIELD_MANAGER, force_conflicts=True).metadata
    return (_version(after), after.annotations, after.labels) != before


def delete_twin(dyn: DynamicClient, namespace: str, device: str) -> list[str]:
    """Delete every object labelled as the device's twin; returns what was deleted."""
    deleted = []
    selector = f"app.kubernetes.io/managed-by={MANAGED_BY},{DEVICE_LABEL}={device}"
    for api_version, kind in TWIN_KINDS:
        resource = _resource(dyn, api_version, kind)
        for item in resource.get(namespace=namespace, label_selector=selector).items:
            try:
                resource.delete(name=item.metadata.name, namespace=namespace, propagation_policy="Background")
                deleted.append(f"{kind}/{item.metadata.name}")
            except NotFoundError:
                pass
    return deleted


def _leftovers(dyn: DynamicClient, namespace: str, present: Iterable[str]) -> set[str]:
    """Devices that are gone but still have some twin object (e.g. a half-deleted twin)."""
    present = set(present)
    found = set()
    for api_version, kind in TWIN_KINDS:
        for item in (
            _resource(dyn, api_version, kind).get(namespace=namespace, label_selector=MANAGED_SELECTOR).items
        ):
            device = item.metadata.labels[DEVICE_LABEL]
            if device not in present:
                found.add(device)
    return found


def _set_status(dyn: DynamicClient, namespace: str, resource: dict[str, Any], status: dict[str, Any]) -> bool:
    before = resource.get("status") or {}
    if before == status:
        return False
    devices = _resource(dyn, API_VERSION, KIND)
    devices.status.patch(
        # A merge patch removes keys only when told to (null), e.g. the node of a twin now pending.
        body={"status": {**dict.fromkeys(before), **status}},
        name=resource["metadata"]["name"],
        namespace=namespace,
        content_type="application/merge-patch+json",
    )
    return True


def edge_map_of(state: ClusterState, result: Plan | None = None) -> EdgeMap:
    """The cluster's edge map: after `result` is carried out, or (without it) as the cluster is now."""
    if result is None:
        present = {d.name for d in state.devices} | set(state.invalid)
        placement = {name: twin.node for name, twin in state.twins.items() if name in present}
        phases = {
            name: (resource.get("status") or {}).get("phase")
            or ("Placed" if name in placement else "Pending")
            for name, resource in state.device_resources.items()
        }
    else:
        placement = result.placement()
        phases = {d.device: PHASES[d.action] for d in result.decisions if d.action in PHASES}
    nodes = [v.node for v in state.nodes]
    known = {n.name for n in nodes}
    free = {n.name: n.allocatable_mib for n in nodes}
    by_name = {d.name: d for d in state.devices}
    for device, node in placement.items():
        if device in by_name and node in free:
            free[node] -= by_name[device].memory_mib
    links = [(v.node.name, peer, link) for v in state.nodes for peer, link in v.links if peer in known]
    return build_edge_map(nodes, state.devices, placement, links, free_mib=free, phases=phases)


def reconcile(
    dyn: DynamicClient,
    namespace: str = "default",
    guard: Guard | None = None,
    now: Callable[[], float] = time.time,
    dry_run: bool = False,
    images: ImagePolicy | None = None,
) -> tuple[Report, ClusterState]:
    """Bring the cluster's twins to what the plan says. With dry_run, only say what would change. A device
    whose image IMAGES refuses (default: any but edgewright's own) is invalid: its twin is left as it is."""
    state = read_state(dyn, namespace)
    moment = float(int(now()))  # whole seconds, as the placed-at annotation keeps it
    images = images or default_image_policy()
    refused = {d.name: reason for d in state.devices if (reason := images.refusal(d))}
    result = plan(
        state.devices,
        [v.node for v in state.nodes],
        state.twins,
        moment,
        guard or Guard(),
        state.invalid | refused,
    )
    nodes = {v.node.name: v.node for v in state.nodes}
    report = Report(result, problems=[p for v in state.nodes for p in v.problems])
    by_name = {d.name: d for d in state.devices}
    for decision in result.decisions:
        name = decision.device
        if decision.action is Action.INVALID:
            report.problems.append(decision.reason)
        if decision.action is Action.DELETE:
            report.changes.append(f"delete twin of {name} (was on {decision.previous}): {decision.reason}")
            if not dry_run:
                delete_twin(dyn, namespace, name)
            continue
        if decision.action in (Action.CREATE, Action.MOVE, Action.KEEP):
            twin = state.twins.get(name)
            placed_at = twin.placed_at if decision.action is Action.KEEP and twin else moment
            objects = twin_objects(
                by_name[name],
                decision.node,
                namespace,
                placed_at=placed_at,
                reason=decision.reason if decision.action is not Action.KEEP else _kept_reason(state, name),
                owner_uid=state.device_resources[name]["metadata"].get("uid"),
                tolerations=tolerations(by_name[name], nodes[decision.node]),
            )
            if decision.action is not Action.KEEP:
                verb = "create" if decision.action is Action.CREATE else f"move from {decision.previous} to"
                report.changes.append(f"{verb} {decision.node}: twin of {name} ({decision.reason})")
            if not dry_run:
                repaired = [f"{o['kind']}/{o['metadata']['name']}" for o in objects if _apply(dyn, o)]
                if repaired and decision.action is Action.KEEP:
                    report.changes.append(f"repair twin of {name} on {decision.node}: {', '.join(repaired)}")
        twin = state.twins.get(name)
        fresh = decision.action in (Action.CREATE, Action.MOVE) or twin is None
        reason = _kept_reason(state, name) if decision.action is Action.KEEP else decision.reason
        status = {"phase": PHASES[decision.action], "reason": reason}
        if decision.node:
            status["node"] = decision.node
            placed = moment if fresh else twin.placed_at
            status["placedAt"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(placed))
        if not dry_run and _set_status(dyn, namespace, state.device_resources[name], status):
            report.changes.append(f"status of {name}: {status['phase']} {status.get('node', '')}".rstrip())
    present = {d.device for d in result.decisions if d.action is not Action.DELETE}
    for device in sorted(
        _leftovers(dyn, namespace, present) - {d.device for d in result.by_action(Action.DELETE)}
    ):
        report.changes.append(f"delete leftovers of {device}")
        if not dry_run:
            delete_twin(dyn, namespace, device)
    return report, state


def _kept_reason(state: ClusterState, device: str) -> str:
    """A kept twin keeps the reason it was placed for, so its annotation does not churn."""
    resource = state.device_resources[device]
    return (resource.get("status") or {}).get("reason") or "placed"


def wrap_api_errors(exc: Exception) -> ClusterError:
    if isinstance(exc, k8s.exceptions.ApiException):
        return ClusterError(f"the API server refused: {exc.status} {exc.reason}: {exc.body}")
    return ClusterError(f"cannot reach the API server: {exc}")
