"""A cloudlet's stack configuration, read and checked before any resource exists.

The stack config (``Pulumi.<stack>.yaml``) holds ``edgewright:orchestrator``, ``edgewright:cloudlet``
(what the cloudlet is, the same on every orchestrator) and one section per orchestrator
(``edgewright:openstack``, ``edgewright:vsphere``, ``edgewright:gke``, ``edgewright:kind``) read by that
backend. Every error is a :class:`CloudletConfigError` naming the config key that is wrong.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from edgewright.errors import EdgewrightError
from edgewright.loadbalancer.portmap import DEFAULT_REMAP_START, AppPorts, PortMap, PortMapError

# Names end up in Kubernetes object names and DNS labels (at most 63 characters, lowercase):
# "<cloudlet>-<app>-lb-envoy" must fit.
CLOUDLET_NAME = re.compile(r"[a-z][a-z0-9-]{0,19}")
APP_NAME = re.compile(r"[a-z][a-z0-9-]{0,29}")


class CloudletConfigError(EdgewrightError, ValueError):
    """The stack configuration is wrong; the message names the key and what is expected."""


class Orchestrator(StrEnum):
    OPENSTACK = "openstack"
    VSPHERE = "vsphere"
    GKE = "gke"
    KIND = "kind"


class DataPath(StrEnum):
    """How public traffic reaches the load balancers on a VM orchestrator."""

    NO_ROUTER = "none"  # LBs sit on the external network; the internal network has no router.
    ROUTER = "router"  # LBs sit on the external network; a router gives the internal network egress.
    FLOATING_IP = "floating_ip"  # Everything is internal; floating IPs on the router reach the LBs.


class Redundancy(StrEnum):
    VIP = "vip"  # two root LB hosts share a VIP (VRRP)
    SINGLE = "single"


class Access(StrEnum):
    DIRECT = "direct"  # the stack calls the orchestrator's API
    RESTRICTED = "restricted"  # the API is internal only: render artefacts the operator runs


@dataclass(frozen=True)
class AppConfig:
    ports: AppPorts
    dedicated_lb: bool = False
    namespace: str = "default"

    @property
    def name(self) -> str:
        return self.ports.app


@dataclass(frozen=True)
class CloudletConfig:
    name: str
    orchestrator: Orchestrator
    apps: tuple[AppConfig, ...]
    public_ips: tuple[str, ...]
    redundancy: Redundancy = Redundancy.VIP
    cluster_size: int = 3
    data_path: DataPath = DataPath.ROUTER
    access: Access = Access.DIRECT
    internal_cidr: str = "10.20.0.0/24"
    remap_start: int = DEFAULT_REMAP_START
    previous_port_map: PortMap = field(default_factory=PortMap)
    # The central controller the platform host dials out to (nothing dials in).
    controller_url: str = ""

    @property
    def dedicated_apps(self) -> tuple[AppConfig, ...]:
        return tuple(app for app in self.apps if app.dedicated_lb)

    @property
    def shared_apps(self) -> tuple[AppConfig, ...]:
        return tuple(app for app in self.apps if not app.dedicated_lb)


def _enum(enum: type[StrEnum], key: str, value: Any) -> Any:
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise CloudletConfigError(f"{key}: {value!r} is not one of {choices}") from None


def _section(raw: Any, key: str) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise CloudletConfigError(f"{key} must be a mapping, got {type(raw).__name__}")
    return raw


def _reject_unknown(section: Mapping[str, Any], key: str, known: set[str]) -> None:
    unknown = sorted(set(section) - known)
    if unknown:
        raise CloudletConfigError(
            f"{key}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )


def parse_apps(raw: Any) -> tuple[AppConfig, ...]:
    if not isinstance(raw, list) or not raw:
        raise CloudletConfigError("edgewright:cloudlet.apps must be a non-empty list of apps")
    apps = []
    for index, entry in enumerate(raw):
        key = f"edgewright:cloudlet.apps[{index}]"
        entry = _section(entry, key)
        _reject_unknown(entry, key, {"name", "ports", "dedicatedLb", "namespace"})
        name = entry.get("name")
        if not isinstance(name, str) or not APP_NAME.fullmatch(name):
            raise CloudletConfigError(
                f"{key}.name must be 1-30 lowercase letters, digits and '-', starting with a letter; "
                f"got {name!r}"
            )
        if "ports" not in entry:
            raise CloudletConfigError(
                f"{key}.ports is missing for app {name!r} (e.g. 'tcp:80,udp:5000-5010')"
            )
        try:
            ports = AppPorts.parse(name, entry["ports"])
        except PortMapError as error:
            raise CloudletConfigError(f"{key}.ports: {error}") from error
        dedicated = entry.get("dedicatedLb", False)
        if not isinstance(dedicated, bool):
            raise CloudletConfigError(f"{key}.dedicatedLb must be true or false, got {dedicated!r}")
        apps.append(AppConfig(ports, dedicated, str(entry.get("namespace", "default"))))
    names = [app.name for app in apps]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise CloudletConfigError(
            f"edgewright:cloudlet.apps: app name(s) listed twice: {', '.join(duplicates)}"
        )
    return tuple(apps)


def parse_cloudlet(orchestrator: Any, cloudlet: Any, previous_port_map: Any = None) -> CloudletConfig:
    """Read ``edgewright:orchestrator`` and ``edgewright:cloudlet`` into a checked :class:`CloudletConfig`."""
    if orchestrator is None:
        raise CloudletConfigError("edgewright:orchestrator is not set (one of openstack, vsphere, gke, kind)")
    kind = _enum(Orchestrator, "edgewright:orchestrator", orchestrator)
    section = _section(cloudlet, "edgewright:cloudlet")
    known = {
        "name",
        "apps",
        "publicIps",
        "redundancy",
        "clusterSize",
        "dataPath",
        "access",
        "internalCidr",
        "remapStart",
        "controllerUrl",
    }
    _reject_unknown(section, "edgewright:cloudlet", known)
    name = section.get("name")
    if not isinstance(name, str) or not CLOUDLET_NAME.fullmatch(name):
        raise CloudletConfigError(
            "edgewright:cloudlet.name must be 1-20 lowercase letters, digits and '-', "
            f"starting with a letter; got {name!r}"
        )
    public_ips = section.get("publicIps", [])
    if not isinstance(public_ips, list) or not public_ips:
        raise CloudletConfigError(
            "edgewright:cloudlet.publicIps must list at least one public IP (the root LB's)"
        )
    for address in public_ips:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise CloudletConfigError(
                f"edgewright:cloudlet.publicIps: {address!r} is not an IP address"
            ) from None
    if len(set(public_ips)) != len(public_ips):
        raise CloudletConfigError("edgewright:cloudlet.publicIps lists an address twice")
    cidr = section.get("internalCidr", "10.20.0.0/24")
    try:
        network = ipaddress.ip_network(cidr)
    except ValueError:
        raise CloudletConfigError(f"edgewright:cloudlet.internalCidr: {cidr!r} is not a network") from None
    if network.version != 4 or network.prefixlen > 24:
        raise CloudletConfigError(f"edgewright:cloudlet.internalCidr: {cidr} must be IPv4 and at least a /24")
    cluster_size = section.get("clusterSize", 3)
    if not isinstance(cluster_size, int) or isinstance(cluster_size, bool) or not 1 <= cluster_size <= 90:
        raise CloudletConfigError(f"edgewright:cloudlet.clusterSize must be 1..90, got {cluster_size!r}")
    remap_start = section.get("remapStart", DEFAULT_REMAP_START)
    if not isinstance(remap_start, int) or not 1024 <= remap_start <= 65535:
        raise CloudletConfigError(f"edgewright:cloudlet.remapStart must be 1024..65535, got {remap_start!r}")
    try:
        previous = PortMap.from_dict(previous_port_map)
    except PortMapError as error:
        raise CloudletConfigError(f"previous port map: {error}") from error
    config = CloudletConfig(
        name=name,
        orchestrator=kind,
        apps=parse_apps(section.get("apps")),
        public_ips=tuple(public_ips),
        redundancy=_enum(Redundancy, "edgewright:cloudlet.redundancy", section.get("redundancy", "vip")),
        cluster_size=cluster_size,
        data_path=_enum(DataPath, "edgewright:cloudlet.dataPath", section.get("dataPath", "router")),
        access=_enum(Access, "edgewright:cloudlet.access", section.get("access", "direct")),
        internal_cidr=str(network),
        remap_start=remap_start,
        previous_port_map=previous,
        controller_url=str(section.get("controllerUrl", "")),
    )
    needed = 1 + len(config.dedicated_apps)
    if needed > len(config.public_ips):
        raise CloudletConfigError(
            f"edgewright:cloudlet: {len(config.dedicated_apps)} app(s) want a dedicated LB "
            f"({', '.join(app.name for app in config.dedicated_apps)}) but publicIps has "
            f"{len(config.public_ips)} address(es): the root LB needs one and each dedicated LB one more "
            f"({needed} in all)"
        )
    if config.access is Access.RESTRICTED and kind is not Orchestrator.OPENSTACK:
        raise CloudletConfigError(
            f"edgewright:cloudlet.access: restricted access (rendered artefacts) exists for openstack only, "
            f"not {kind}"
        )
    return config


def setting(section: Mapping[str, Any], key: str, name: str, kind: type = str, default: Any = None) -> Any:
    """One setting of an orchestrator section, required when ``default`` is None."""
    value = section.get(name, default)
    if value is None:
        raise CloudletConfigError(f"{key}.{name} is required")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise CloudletConfigError(f"{key}.{name} must be an integer, got {value!r}")
    if kind is str and (not isinstance(value, str) or not value):
        raise CloudletConfigError(f"{key}.{name} must be a non-empty string, got {value!r}")
    if kind is bool and not isinstance(value, bool):
        raise CloudletConfigError(f"{key}.{name} must be true or false, got {value!r}")
    return value
