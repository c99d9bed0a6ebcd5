"""How edge nodes tell placement what it needs: read from Kubernetes Node objects (pure functions).

- Ready: the node's Ready condition is "True".
- Quarantined: the label `node-restriction.kubernetes.io/edgewright-attested=false`, which the controller
  keeps on a joined node from the attestation verifier's word and its kubelet cannot set
  (edgewright.attest.revocation; a quarantined node also carries a NoExecute taint). A Node without the
  label (not joined by edgewright) is not taken as quarantined.
- Cordoned (`spec.unschedulable`): no new twins, and its twins move, as for a node not Ready.
- Location: the annotation `edgewright.io/location: "LAT,LON"` (decimal degrees). Annotations, since a
  label value cannot start with '-'.
- Memory: `status.allocatable.memory`; free memory is that minus the memory of the twins placed on it.
- Links to other nodes, for the edge map: the annotation `edgewright.io/links: "NODE=LINK,..."`.
- Taints (`spec.taints`): a node tainted NoSchedule or NoExecute takes only the twins of devices wired to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edgewright.attest import revocation
from edgewright.twins.device import GROUP, LINKS, DeviceError, Location
from edgewright.twins.placement import EdgeNode, Taint

ATTESTED_LABEL = revocation.ATTESTED_LABEL
LOCATION_ANNOTATION = f"{GROUP}/location"
LINKS_ANNOTATION = f"{GROUP}/links"

_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([KMGTPE]i?|k|m)?$")
_FACTORS = {
    None: 1,
    "m": 1e-3,
    "k": 1e3,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def quantity_mib(quantity: str) -> int:
    """A Kubernetes memory quantity ("8Gi", "8053040Ki", "512M") in whole MiB, rounded down."""
    match = _QUANTITY.match(str(quantity).strip())
    if not match:
        raise ValueError(f"{quantity!r} is not a memory quantity")
    return int(float(match.group(1)) * _FACTORS[match.group(2)] // 2**20)


@dataclass(frozen=True)
class NodeView:
    """A Node as placement and the edge map see it, with what was wrong in its annotations."""

    node: EdgeNode
    cordoned: bool
    links: tuple[tuple[str, str], ...]
    problems: tuple[str, ...]


def node_view(resource: Mapping[str, Any]) -> NodeView:
    metadata = resource.get("metadata") or {}
    name = metadata["name"]
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    spec = resource.get("spec") or {}
    status = resource.get("status") or {}
    problems: list[str] = []

    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    cordoned = bool(spec.get("unschedulable"))
    quarantined = labels.get(ATTESTED_LABEL) == "false"
    location = None
    if LOCATION_ANNOTATION in annotations:
        try:
            location = Location.parse(annotations[LOCATION_ANNOTATION])
        except DeviceError as exc:
            problems.append(f"node {name}: {LOCATION_ANNOTATION}: {exc}; placed as if it had no location")
    memory = (status.get("allocatable") or {}).get("memory", "0")
    try:
        allocatable = quantity_mib(memory)
    except ValueError as exc:
        problems.append(f"node {name}: allocatable memory {exc}; taken as 0")
        allocatable = 0
    links = []
    for item in filter(None, (annotations.get(LINKS_ANNOTATION) or "").split(",")):
        peer, _, link = item.strip().partition("=")
        if not peer or link not in LINKS:
            problems.append(
                f"node {name}: {LINKS_ANNOTATION}: {item.strip()!r} is not NODE=LINK ({'|'.join(LINKS)})"
            )
            continue
        links.append((peer, link))
    taints = tuple(
        Taint(str(t["key"]), str(t.get("value") or ""), str(t["effect"]))
        for t in spec.get("taints") or []
        if t.get("key") and t.get("effect")
    )
    node = EdgeNode(
        name,
        ready=conditions.get("Ready") == "True" and not cordoned,
        quarantined=quarantined,
        location=location,
        allocatable_mib=allocatable,
        taints=taints,
    )
    return NodeView(node, cordoned, tuple(links), tuple(problems))
