"""Edge devices as edgewright describes them: the EdgeDevice custom resource, read and checked.

An EdgeDevice names a device, the protocol its twin speaks to it, its address, how it is linked (and to
which node, when it is wired to one) and where it is. Everything here is pure: it turns the resource's
spec into a typed record, or raises DeviceError naming the field that is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edgewright.errors import EdgewrightError

GROUP = "edgewright.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "EdgeDevice"
PLURAL = "edgedevices"

# The protocols a twin can speak, and the link types of the edge map.
PROTOCOLS = ("http", "mqtt", "opcua")
LINKS = ("ethernet", "usb", "wifi", "mesh")
# A device on one of these links is reachable only from the node it is plugged into.
NODE_BOUND_LINKS = frozenset({"usb"})

DEFAULT_MEMORY_MIB = 64
# Twin object names add at most 18 characters ("edgedevice-" + "-reader"), and must stay DNS labels.
MAX_NAME_LENGTH = 45
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class DeviceError(EdgewrightError, ValueError):
    """An EdgeDevice that cannot be accepted; the message names the device and the field."""


@dataclass(frozen=True)
class Location:
    """A point on Earth in decimal degrees (WGS 84)."""

    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        for field, value, bound in (("latitude", self.latitude, 90.0), ("longitude", self.longitude, 180.0)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                raise DeviceError(f"location.{field} must be a number, not {value!r}")
            if not -bound <= value <= bound:
                raise DeviceError(f"location.{field} {value} is out of range [-{bound:g}, {bound:g}]")

    @classmethod
    def parse(cls, text: str) -> Location:
        """Read "LAT,LON" (as in the node annotation edgewright.io/location)."""
        parts = text.split(",")
        if len(parts) != 2:
            raise DeviceError(f"location {text!r} must be 'latitude,longitude'")
        try:
            latitude, longitude = (float(p) for p in parts)
        except ValueError:
            raise DeviceError(f"location {text!r} must be two decimal numbers") from None
        return cls(latitude, longitude)

    def __str__(self) -> str:
        return f"{self.latitude:g},{self.longitude:g}"


@dataclass(frozen=True)
class EdgeDevice:
    """One edge device: what its twin speaks, where it is, and how it is linked."""

    name: str
    protocol: str
    address: str
    link: str = "ethernet"
    node: str | None = None
    location: Location | None = None
    memory_mib: int = DEFAULT_MEMORY_MIB
    image: str | None = None

    def __post_init__(self) -> None:
        prefix = f"device {self.name!r}"
        if not isinstance(self.name, str) or not _DNS_LABEL.match(self.name):
            raise DeviceError(f"{prefix}: name must be a DNS label (lower case letters, digits and '-')")
        if len(self.name) > MAX_NAME_LENGTH:
            raise DeviceError(f"{prefix}: name is longer than {MAX_NAME_LENGTH} characters")
        if self.protocol not in PROTOCOLS:
            raise DeviceError(
                f"{prefix}: unknown protocol {self.protocol!r}; expected one of {', '.join(PROTOCOLS)}"
            )
        if not isinstance(self.address, str) or not self.address.strip():
            raise DeviceError(f"{prefix}: address is required")
        if self.link not in LINKS:
            raise DeviceError(f"{prefix}: unknown link {self.link!r}; expected one of {', '.join(LINKS)}")
        if self.node is not None and not (isinstance(self.node, str) and _DNS_SUBDOMAIN.match(self.node)):
            raise DeviceError(f"{prefix}: node {self.node!r} is not a valid node name")
        if self.link in NODE_BOUND_LINKS and self.node is None:
            raise DeviceError(f"{prefix}: a device on a {self.link} link must name the node it is wired to")
        if isinstance(self.memory_mib, bool) or not isinstance(self.memory_mib, int) or self.memory_mib < 1:
            raise DeviceError(f"{prefix}: memoryMiB must be a positive whole number, not {self.memory_mib!r}")

    @property
    def wired(self) -> bool:
        return self.node is not None

    @property
    def node_bound(self) -> bool:
        """Whether the twin can only run on the wired node (it cannot reach the device from elsewhere)."""
        return self.link in NODE_BOUND_LINKS


def device_from_resource(resource: Mapping[str, Any]) -> EdgeDevice:
    """Turn an EdgeDevice resource (as the API returns it, or as written in YAML) into an EdgeDevice."""
    metadata = resource.get("metadata") or {}
    name = metadata.get("name")
    spec = resource.get("spec")
    if not isinstance(spec, Mapping):
        raise DeviceError(f"device {name!r}: spec is missing")
    known = {"protocol", "address", "link", "node", "location", "memoryMiB", "image"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise DeviceError(f"device {name!r}: unknown spec field(s): {', '.join(unknown)}")
    location = spec.get("location")
    if location is not None:
        if not isinstance(location, Mapping) or set(location) != {"latitude", "longitude"}:
            raise DeviceError(f"device {name!r}: location must have exactly latitude and longitude")
        try:
            location = Location(location["latitude"], location["longitude"])
        except DeviceError as exc:
            raise DeviceError(f"device {name!r}: {exc}") from None
    return EdgeDevice(
        name=name,
        protocol=spec.get("protocol"),
        address=spec.get("address"),
        link=spec.get("link", "ethernet"),
        node=spec.get("node"),
        location=location,
        memory_mib=spec.get("memoryMiB", DEFAULT_MEMORY_MIB),
        image=spec.get("image"),
    )


def device_resource(device: EdgeDevice, namespace: str = "default") -> dict[str, Any]:
    """The EdgeDevice resource for a device: the inverse of device_from_resource."""
    spec: dict[str, Any] = {"protocol": device.protocol, "address": device.address, "link": device.link}
    if device.node:
        spec["node"] = device.node
    if device.location:
        spec["location"] = {"latitude": device.location.latitude, "longitude": device.location.longitude}
    if device.memory_mib != DEFAULT_MEMORY_MIB:
        spec["memoryMiB"] = device.memory_mib
    if device.image:
        spec["image"] = device.image
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": device.name, "namespace": namespace},
        "spec": spec,
    }
