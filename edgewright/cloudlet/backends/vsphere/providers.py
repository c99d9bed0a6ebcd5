"""vSphere as Pulumi dynamic providers over pyvmomi: VM folders and VMs cloned from a template.

Importable on its own (Pulumi pickles the providers, so they cannot live in ``__main__``). Each resource
carries its connection (``host``, ``port``, ``user``, ``password`` as a secret, ``insecure``) and opens
its own session per operation, because a dynamic provider runs in a separate process.

A VM is made in the steps every vCenter accepts: clone the template (powered off), reconfigure
(CPUs, memory, annotation, ``guestinfo.*`` metadata, one NIC per network), customize (host name and
static IP of the first NIC), power on. CPUs, memory, annotation, metadata and power change in place;
anything else replaces the VM. A VM deleted out of band reads back as gone, so the next ``pulumi up``
re-creates it (drift).
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from edgewright.errors import EdgewrightError

GUESTINFO_PREFIX = "guestinfo."
TASK_TIMEOUT_SECONDS = 600.0
# Changing these means another VM; the rest is reconfigured in place.
VM_REPLACE_KEYS = (
    "datacenter",
    "folder",
    "name",
    "template",
    "resourcePool",
    "networks",
    "hostname",
    "ipAddresses",
)
VM_UPDATE_KEYS = ("numCpus", "memoryMb", "annotation", "guestinfo", "powerOn")


class VsphereError(EdgewrightError, RuntimeError):
    """vSphere refused an operation; the message names the object and vSphere's reason."""


@dataclass(frozen=True)
class Connection:
    host: str
    user: str
    password: str
    port: int = 443
    insecure: bool = False  # accept a self-signed certificate (lab and simulator only)

    def as_input(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": pulumi.Output.secret(self.password),
            "insecure": self.insecure,
        }

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> Connection:
        raw = props["connection"]
        return cls(
            raw["host"], raw["user"], raw["password"], int(raw.get("port", 443)), bool(raw.get("insecure"))
        )


@contextlib.contextmanager
def session(connection: Connection) -> Iterator[vim.ServiceInstanceContent]:
    try:
        service = SmartConnect(
            host=connection.host,
            port=connection.port,
            user=connection.user,
            pwd=connection.password,
            disableSslCertValidation=connection.insecure,
        )
    except (OSError, vim.fault.InvalidLogin) as error:
        # The message says it all; `pulumi up` prints a provider error's whole traceback, and pyVmomi's
        # connection internals chained to it would bury it.
        raise VsphereError(
            f"cannot log in to vSphere at {connection.host}:{connection.port}: {error}"
        ) from None
    try:
        yield service.RetrieveContent()
    finally:
        Disconnect(service)


def wait(task: vim.Task, what: str) -> Any:
    """Wait for a vSphere task (pyVim's WaitForTask trips on some servers' task names)."""
    deadline = time.monotonic() + TASK_TIMEOUT_SECONDS
    while task.info.state in (vim.TaskInfo.State.queued, vim.TaskInfo.State.running):
        if time.monotonic() > deadline:
            raise VsphereError(f"{what}: no result after {TASK_TIMEOUT_SECONDS:.0f} s")
        time.sleep(0.05)
    if task.info.state != vim.TaskInfo.State.success:
        error = task.info.error
        reason = getattr(error, "msg", None) or type(error).__name__
        raise VsphereError(f"{what}: {reason}")
    return task.info.result


def find_datacenter(content: vim.ServiceInstanceContent, name: str) -> vim.Datacenter:
    for entity in content.rootFolder.childEntity:
        if isinstance(entity, vim.Datacenter) and entity.name == name:
            return entity
    raise VsphereError(f"datacenter {name!r} not found")


def _child(folder: vim.Folder, name: str) -> Any:
    return next((entity for entity in folder.childEntity if entity.name == name), None)


def find_folder(datacenter: vim.Datacenter, path: str) -> vim.Folder | None:
    """The VM folder at ``path`` (``a/b``) under the datacenter's VM folder; '' is that folder."""
    folder = datacenter.vmFolder
    for part in filter(None, path.split("/")):
        folder = _child(folder, part)
        if not isinstance(folder, vim.Folder):
            return None
    return folder


def find_vm(
    content: vim.ServiceInstanceContent, datacenter: vim.Datacenter, uuid: str
) -> vim.VirtualMachine | None:
    return content.searchIndex.FindByUuid(datacenter, uuid, True, True)


def find_template(datacenter: vim.Datacenter, name: str) -> vim.VirtualMachine:
    found = _search_vm(datacenter.vmFolder, name)
    if found is None:
        raise VsphereError(f"template VM {name!r} not found in datacenter {datacenter.name!r}")
    return found


def _search_vm(folder: vim.Folder, name: str) -> vim.VirtualMachine | None:
    for entity in folder.childEntity:
        if isinstance(entity, vim.VirtualMachine) and entity.name == name:
            return entity
        if isinstance(entity, vim.Folder):
            found = _search_vm(entity, name)
            if found is not None:
                return found
    return None


def find_network(datacenter: vim.Datacenter, name: str) -> vim.Network:
    for network in datacenter.network:
        if network.name == name:
            return network
    raise VsphereError(f"network {name!r} not found in datacenter {datacenter.name!r}")


def _nic_backing(network: vim.Network) -> vim.vm.device.VirtualDevice.BackingInfo:
    if isinstance(network, vim.dvs.DistributedVirtualPortgroup):
        port = vim.dvs.PortConnection(
            portgroupKey=network.key, switchUuid=network.config.distributedVirtualSwitch.uuid
        )
        return vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(port=port)
    return vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName=network.name, network=network)


def _nics(vm: vim.VirtualMachine) -> list[vim.vm.device.VirtualEthernetCard]:
    return [
        device
        for device in vm.config.hardware.device
        if isinstance(device, vim.vm.device.VirtualEthernetCard)
    ]


def nic_networks(vm: vim.VirtualMachine, datacenter: vim.Datacenter) -> list[str]:
    """The network name behind each of the VM's NICs, in device order."""
    by_key = {getattr(network, "key", None): network.name for network in datacenter.network}
    names = []
    for nic in _nics(vm):
        backing = nic.backing
        if isinstance(backing, vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo):
            names.append(by_key.get(backing.port.portgroupKey, backing.port.portgroupKey))
        else:
            names.append(backing.deviceName)
    return names


def _nic_changes(
    vm: vim.VirtualMachine, networks: Sequence[vim.Network]
) -> list[vim.vm.device.VirtualDeviceSpec]:
    """Device changes that leave the VM with exactly one NIC per network, in order."""
    operation = vim.vm.device.VirtualDeviceSpec.Operation
    changes = []
    existing = _nics(vm)
    for index, network in enumerate(networks):
        if index < len(existing):
            nic = existing[index]
            nic.backing = _nic_backing(network)
            changes.append(vim.vm.device.VirtualDeviceSpec(operation=operation.edit, device=nic))
        else:
            nic = vim.vm.device.VirtualVmxnet3(key=-(index + 1), backing=_nic_backing(network))
            nic.connectable = vim.vm.device.VirtualDevice.ConnectInfo(
                startConnected=True, allowGuestControl=True
            )
            changes.append(vim.vm.device.VirtualDeviceSpec(operation=operation.add, device=nic))
    for nic in existing[len(networks) :]:
        changes.append(vim.vm.device.VirtualDeviceSpec(operation=operation.remove, device=nic))
    return changes


def _guestinfo_options(old: Mapping[str, str], new: Mapping[str, str]) -> list[vim.option.OptionValue]:
    # vSphere removes an extraConfig key set to an empty value.
    options = [
        vim.option.OptionValue(key=GUESTINFO_PREFIX + key, value=str(value)) for key, value in new.items()
    ]
    options += [vim.option.OptionValue(key=GUESTINFO_PREFIX + key, value="") for key in old if key not in new]
    return options


def read_guestinfo(vm: vim.VirtualMachine) -> dict[str, str]:
    return {
        option.key[len(GUESTINFO_PREFIX) :]: option.value
        for option in vm.config.extraConfig
        if option.key.startswith(GUESTINFO_PREFIX) and option.value != ""
    }


def _adapter(ip_address: str | None) -> vim.vm.customization.AdapterMapping:
    if ip_address:
        interface = ipaddress.ip_interface(ip_address)
        ip = vim.vm.customization.IPSettings(
            ip=vim.vm.customization.FixedIp(ipAddress=str(interface.ip)), subnetMask=str(interface.netmask)
        )
    else:
        ip = vim.vm.customization.IPSettings(ip=vim.vm.customization.DhcpIpGenerator())
    return vim.vm.customization.AdapterMapping(adapter=ip)


def _customization(hostname: str, ip_addresses: Sequence[str | None]) -> vim.vm.customization.Specification:
    """Host name, and per NIC a static address (CIDR form) or DHCP; vSphere wants one entry per NIC."""
    return vim.vm.customization.Specification(
        identity=vim.vm.customization.LinuxPrep(hostName=vim.vm.customization.FixedName(name=hostname)),
        globalIPSettings=vim.vm.customization.GlobalIPSettings(),
        nicSettingMap=[_adapter(address) for address in ip_addresses],
    )


def _addresses(props: Mapping[str, Any]) -> list[str | None]:
    addresses = list(props.get("ipAddresses") or [])
    return addresses + [None] * (len(props["networks"]) - len(addresses))


def _set_power(vm: vim.VirtualMachine, on: bool) -> None:
    state = vm.runtime.powerState
    if on and state != vim.VirtualMachinePowerState.poweredOn:
        wait(vm.PowerOnVM_Task(), f"power on VM {vm.name!r}")
    elif not on and state == vim.VirtualMachinePowerState.poweredOn:
        wait(vm.PowerOffVM_Task(), f"power off VM {vm.name!r}")


def vm_state(vm: vim.VirtualMachine, datacenter: vim.Datacenter) -> dict[str, Any]:
    """What vSphere says the VM is, in the resource's own terms."""
    return {
        "uuid": vm.config.instanceUuid,
        "moref": vm._moId,
        "name": vm.name,
        "numCpus": vm.config.hardware.numCPU,
        "memoryMb": vm.config.hardware.memoryMB,
        "annotation": vm.config.annotation or "",
        "guestinfo": read_guestinfo(vm),
        "networks": nic_networks(vm, datacenter),
        "powerOn": vm.runtime.powerState == vim.VirtualMachinePowerState.poweredOn,
        "guestIp": vm.guest.ipAddress if vm.guest else None,
    }


def _normalized(props: dict[str, Any]) -> dict[str, Any]:
    """Props as vSphere holds them; whole numbers as int, since the engine hands numbers over as floats."""
    normalized = dict(props)
    # vSphere cannot hold an empty extraConfig value (setting one removes the key): empty means absent.
    normalized["guestinfo"] = {
        k: str(v) for k, v in (props.get("guestinfo") or {}).items() if v not in ("", None)
    }
    for key in ("numCpus", "memoryMb"):
        value = normalized.get(key)
        if isinstance(value, float) and value.is_integer():
            normalized[key] = int(value)
    return normalized


class VirtualMachineProvider(ResourceProvider):
    """Create, read, update and delete one VM cloned from a template."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        news = _normalized(news)
        failures = []
        for key in ("datacenter", "name", "template", "hostname"):
            if not news.get(key):
                failures.append(pulumi.dynamic.CheckFailure(key, f"{key} is required"))
        for key in ("numCpus", "memoryMb"):
            if not isinstance(news.get(key), int) or news[key] < 1:
                failures.append(pulumi.dynamic.CheckFailure(key, f"{key} must be a positive integer"))
        if not news.get("networks"):
            failures.append(pulumi.dynamic.CheckFailure("networks", "at least one network is required"))
        elif len(news.get("ipAddresses") or []) > len(news["networks"]):
            failures.append(pulumi.dynamic.CheckFailure("ipAddresses", "more addresses than networks"))
        for address in news.get("ipAddresses") or []:
            try:
                if address is not None:
                    ipaddress.ip_interface(address)
            except ValueError:
                failures.append(pulumi.dynamic.CheckFailure("ipAddresses", f"{address!r} is not an address"))
        return pulumi.dynamic.CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        props = _normalized(props)
        connection = Connection.from_props(props)
        with session(connection) as content:
            datacenter = find_datacenter(content, props["datacenter"])
            folder = find_folder(datacenter, props.get("folder", ""))
            if folder is None:
                raise VsphereError(f"VM folder {props.get('folder')!r} not found")
            if _child(folder, props["name"]) is not None:
                raise VsphereError(
                    f"a VM named {props['name']!r} already exists in folder {props.get('folder')!r}"
                )
            template = find_template(datacenter, props["template"])
            networks = [find_network(datacenter, name) for name in props["networks"]]
            pool = template.resourcePool
            if props.get("resourcePool"):
                pool = _find_pool(datacenter, props["resourcePool"])
            spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec(pool=pool), powerOn=False, template=False)
            vm = wait(
                template.CloneVM_Task(folder=folder, name=props["name"], spec=spec),
                f"clone {props['name']!r}",
            )
            try:
                _set_power(vm, False)
                config = vim.vm.ConfigSpec(
                    numCPUs=props["numCpus"],
                    memoryMB=props["memoryMb"],
                    annotation=props.get("annotation", ""),
                    extraConfig=_guestinfo_options({}, props.get("guestinfo") or {}),
                    deviceChange=_nic_changes(vm, networks),
                )
                wait(vm.ReconfigVM_Task(config), f"configure VM {props['name']!r}")
                wait(
                    vm.CustomizeVM_Task(_customization(props["hostname"], _addresses(props))),
                    f"customize VM {props['name']!r}",
                )
                _set_power(vm, bool(props.get("powerOn", True)))
            except Exception:
                # Leave nothing half-made behind: Pulumi will not know this VM.
                _set_power(vm, False)
                wait(vm.Destroy_Task(), f"remove half-made VM {props['name']!r}")
                raise
            outs = {**props, **vm_state(vm, datacenter)}
            return CreateResult(id_=vm.config.instanceUuid, outs=outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with session(Connection.from_props(props)) as content:
            datacenter = find_datacenter(content, props["datacenter"])
            vm = find_vm(content, datacenter, id_)
            if vm is None:
                return ReadResult(None, {})  # gone out of band: Pulumi re-creates it
            return ReadResult(id_, {**props, **vm_state(vm, datacenter)})

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        olds, news = _normalized(olds), _normalized(news)
        replaces = [key for key in VM_REPLACE_KEYS if olds.get(key) != news.get(key)]
        changed = [key for key in VM_UPDATE_KEYS if olds.get(key) != news.get(key)]
        if olds.get("connection", {}).get("host") != news.get("connection", {}).get("host"):
            replaces.append("connection")
        return DiffResult(
            changes=bool(replaces or changed),
            replaces=replaces,
            stables=["uuid", "moref"],
            delete_before_replace=True,  # the new VM takes the same name in the same folder
        )

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        olds, news = _normalized(olds), _normalized(news)
        with session(Connection.from_props(news)) as content:
            datacenter = find_datacenter(content, news["datacenter"])
            vm = find_vm(content, datacenter, id_)
            if vm is None:
                raise VsphereError(f"VM {news['name']!r} ({id_}) is gone; refresh the stack to re-create it")
            hardware = olds.get("numCpus") != news["numCpus"] or olds.get("memoryMb") != news["memoryMb"]
            if hardware:
                # Without hot-add, CPUs and memory change only while the VM is off.
                _set_power(vm, False)
            config = vim.vm.ConfigSpec(
                numCPUs=news["numCpus"],
                memoryMB=news["memoryMb"],
                annotation=news.get("annotation", ""),
                extraConfig=_guestinfo_options(read_guestinfo(vm), news.get("guestinfo") or {}),
            )
            wait(vm.ReconfigVM_Task(config), f"reconfigure VM {news['name']!r}")
            _set_power(vm, bool(news.get("powerOn", True)))
            return UpdateResult(outs={**news, **vm_state(vm, datacenter)})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        with session(Connection.from_props(props)) as content:
            datacenter = find_datacenter(content, props["datacenter"])
            vm = find_vm(content, datacenter, id_)
            if vm is None:
                return  # already gone
            _set_power(vm, False)
            wait(vm.Destroy_Task(), f"delete VM {props['name']!r}")


def _find_pool(datacenter: vim.Datacenter, name: str) -> vim.ResourcePool:
    for compute in datacenter.hostFolder.childEntity:
        pool = getattr(compute, "resourcePool", None)
        if pool is not None and (compute.name == name or pool.name == name):
            return pool
    raise VsphereError(f"cluster or resource pool {name!r} not found in datacenter {datacenter.name!r}")


class FolderProvider(ResourceProvider):
    """A VM folder (``path`` may nest: ``edge/berlin``); deleting removes it only when empty."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        with session(Connection.from_props(props)) as content:
            datacenter = find_datacenter(content, props["datacenter"])
            folder = datacenter.vmFolder
            for part in filter(None, props["path"].split("/")):
                existing = _child(folder, part)
                folder = existing if isinstance(existing, vim.Folder) else folder.CreateFolder(part)
            return CreateResult(id_=folder._moId, outs={**props, "moref": folder._moId})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with session(Connection.from_props(props)) as content:
            folder = find_folder(find_datacenter(content, props["datacenter"]), props["path"])
            if folder is None or folder._moId != id_:
                return ReadResult(None, {})
            return ReadResult(id_, {**props, "moref": id_})

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in ("datacenter", "path") if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(replaces), replaces=replaces, delete_before_replace=True)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        with session(Connection.from_props(props)) as content:
            folder = find_folder(find_datacenter(content, props["datacenter"]), props["path"])
            if folder is None:
                return
            if folder.childEntity:
                names = ", ".join(entity.name for entity in folder.childEntity)
                raise VsphereError(f"VM folder {props['path']!r} is not empty ({names}); not deleting it")
            wait(folder.Destroy_Task(), f"delete folder {props['path']!r}")


@dataclass
class VirtualMachineArgs:
    connection: Connection
    datacenter: str
    name: str
    template: str
    hostname: str
    networks: list[str]
    folder: pulumi.Input[str] = ""
    # Per network, a static address in CIDR form (10.20.0.11/24) or None for DHCP.
    ip_addresses: list[str | None] = field(default_factory=list)
    num_cpus: int = 2
    memory_mb: int = 4096
    annotation: str = ""
    guestinfo: dict[str, str] = field(default_factory=dict)
    resource_pool: str | None = None
    power_on: bool = True


class VirtualMachine(Resource):
    uuid: pulumi.Output[str]
    guestIp: pulumi.Output[str | None]

    def __init__(
        self, name: str, args: VirtualMachineArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            VirtualMachineProvider(),
            name,
            {
                "connection": args.connection.as_input(),
                "datacenter": args.datacenter,
                "folder": args.folder,
                "name": args.name,
                "template": args.template,
                "hostname": args.hostname,
                "networks": args.networks,
                "ipAddresses": args.ip_addresses,
                "numCpus": args.num_cpus,
                "memoryMb": args.memory_mb,
                "annotation": args.annotation,
                "guestinfo": args.guestinfo,
                "resourcePool": args.resource_pool,
                "powerOn": args.power_on,
                "uuid": None,
                "guestIp": None,
            },
            opts,
        )


@dataclass
class FolderArgs:
    connection: Connection
    datacenter: str
    path: str


class Folder(Resource):
    moref: pulumi.Output[str]
    path: pulumi.Output[str]

    def __init__(self, name: str, args: FolderArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(
            FolderProvider(),
            name,
            {
                "connection": args.connection.as_input(),
                "datacenter": args.datacenter,
                "path": args.path,
                "moref": None,
            },
            opts,
        )
