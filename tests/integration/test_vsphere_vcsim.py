"""LIVE against vcsim (the vSphere API simulator): the vSphere dynamic providers create, read, update and
delete real (simulated) VMs and folders, and notice a VM removed out of band.

vcsim is built by scripts/setup.d/30-vsphere.sh; its default inventory has datacenter DC0, cluster DC0_C0,
the networks "VM Network" (standard) and DC0_DVPG0 (distributed), and VM DC0_C0_RP0_VM0 used as template.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyVmomi import vim

from edgewright.cloudlet.backends.vsphere.providers import (
    Connection,
    FolderProvider,
    VirtualMachineProvider,
    VsphereError,
    find_datacenter,
    find_folder,
    find_vm,
    session,
    wait,
)
from tests.vcsim import free_port, running_vcsim

TEMPLATE = "DC0_C0_RP0_VM0"


@pytest.fixture(scope="module")
def vcsim() -> Iterator[Connection]:
    with running_vcsim() as connection:
        yield connection


def vm_props(connection: Connection, name: str, **overrides) -> dict:
    props = {
        "connection": {
            "host": connection.host,
            "port": connection.port,
            "user": connection.user,
            "password": connection.password,
            "insecure": True,
        },
        "datacenter": "DC0",
        "folder": "",
        "name": name,
        "template": TEMPLATE,
        "hostname": name,
        "networks": ["VM Network", "DC0_DVPG0"],
        "ipAddresses": ["10.20.0.11/24"],
        "numCpus": 2,
        "memoryMb": 2048,
        "annotation": "edgewright test VM",
        "guestinfo": {"edgewright.role": "root_lb", "edgewright.vip": "10.20.0.10"},
        "resourcePool": "DC0_C0",
        "powerOn": True,
    }
    props.update(overrides)
    return props


def power_state(connection: Connection, name: str) -> str | None:
    """The power state of the VM named ``name``, None when there is no such VM."""
    with session(connection) as content:
        datacenter = find_datacenter(content, "DC0")
        view = content.viewManager.CreateContainerView(datacenter.vmFolder, [vim.VirtualMachine], True)
        return next((str(vm.runtime.powerState) for vm in view.view if vm.name == name), None)


def test_create_read_update_delete_a_vm(vcsim: Connection):
    provider = VirtualMachineProvider()
    props = vm_props(vcsim, "lb-crud")
    created = provider.create(props)

    with session(vcsim) as content:
        vm = find_vm(content, find_datacenter(content, "DC0"), created.id)
        assert vm is not None and vm.name == "lb-crud"
        assert vm.config.hardware.numCPU == 2 and vm.config.hardware.memoryMB == 2048
        assert vm.runtime.powerState == "poweredOn"
        assert vm.guest.hostName == "lb-crud"  # customized
        assert vm.guest.ipAddress == "10.20.0.11"
        extra = {o.key: o.value for o in vm.config.extraConfig}
        assert extra["guestinfo.edgewright.vip"] == "10.20.0.10"
    assert created.outs["networks"] == ["VM Network", "DC0_DVPG0"]

    read = provider.read(created.id, created.outs)
    assert read.id == created.id
    assert read.outs["numCpus"] == 2 and read.outs["powerOn"] is True
    assert read.outs["guestinfo"] == {"edgewright.role": "root_lb", "edgewright.vip": "10.20.0.10"}

    news = vm_props(vcsim, "lb-crud", numCpus=4, memoryMb=4096, guestinfo={"edgewright.role": "root_lb"})
    diff = provider.diff(created.id, read.outs, news)
    assert diff.changes and diff.replaces == []
    updated = provider.update(created.id, read.outs, news)
    assert updated.outs["numCpus"] == 4 and updated.outs["memoryMb"] == 4096
    assert updated.outs["guestinfo"] == {"edgewright.role": "root_lb"}  # the removed key is gone
    assert updated.outs["powerOn"] is True  # powered off for the change, back on after

    stopped = provider.update(created.id, updated.outs, {**news, "powerOn": False})
    assert stopped.outs["powerOn"] is False

    provider.delete(created.id, stopped.outs)
    assert power_state(vcsim, "lb-crud") is None
    provider.delete(created.id, stopped.outs)  # deleting what is gone is not an error


def test_an_unchanged_vm_has_no_diff_and_identity_changes_replace(vcsim: Connection):
    provider = VirtualMachineProvider()
    created = provider.create(vm_props(vcsim, "lb-diff", networks=["VM Network"]))
    try:
        assert not provider.diff(
            created.id, created.outs, vm_props(vcsim, "lb-diff", networks=["VM Network"])
        ).changes
        renamed = provider.diff(
            created.id, created.outs, vm_props(vcsim, "lb-renamed", networks=["VM Network"])
        )
        assert "name" in renamed.replaces and renamed.delete_before_replace
        renetworked = provider.diff(created.id, created.outs, vm_props(vcsim, "lb-diff"))
        assert renetworked.replaces == ["networks"]
    finally:
        provider.delete(created.id, created.outs)


def test_a_vm_removed_out_of_band_reads_as_gone(vcsim: Connection):
    provider = VirtualMachineProvider()
    created = provider.create(vm_props(vcsim, "lb-drift"))
    with session(vcsim) as content:
        vm = find_vm(content, find_datacenter(content, "DC0"), created.id)
        wait(vm.PowerOffVM_Task(), "power off")
        wait(vm.Destroy_Task(), "destroy out of band")

    read = provider.read(created.id, created.outs)
    assert read.id is None  # Pulumi drops it from state and the next `up` re-creates it
    again = provider.create(vm_props(vcsim, "lb-drift"))
    assert provider.read(again.id, again.outs).id == again.id
    assert power_state(vcsim, "lb-drift") == "poweredOn"
    provider.delete(again.id, again.outs)


def test_vms_go_into_their_folder_and_a_folder_is_deleted_only_when_empty(vcsim: Connection):
    folders = FolderProvider()
    folder = folders.create(
        {"connection": vm_props(vcsim, "x")["connection"], "datacenter": "DC0", "path": "edge/berlin"}
    )
    assert folders.read(folder.id, folder.outs).id == folder.id
    provider = VirtualMachineProvider()
    vm = provider.create(vm_props(vcsim, "berlin-k8s-1", folder="edge/berlin"))
    with session(vcsim) as content:
        berlin = find_folder(find_datacenter(content, "DC0"), "edge/berlin")
        assert [entity.name for entity in berlin.childEntity] == ["berlin-k8s-1"]

    with pytest.raises(VsphereError, match=r"'edge/berlin' is not empty \(berlin-k8s-1\)"):
        folders.delete(folder.id, folder.outs)
    provider.delete(vm.id, vm.outs)
    folders.delete(folder.id, folder.outs)
    assert folders.read(folder.id, folder.outs).id is None


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"template": "no-such-template"}, "template VM 'no-such-template' not found"),
        ({"networks": ["no-such-network"]}, "network 'no-such-network' not found"),
        ({"datacenter": "DC9"}, "datacenter 'DC9' not found"),
        ({"folder": "missing/folder"}, "VM folder 'missing/folder' not found"),
    ],
)
def test_bad_inputs_fail_naming_the_problem_and_leave_no_vm(vcsim: Connection, override, message):
    with pytest.raises(VsphereError, match=message):
        VirtualMachineProvider().create(vm_props(vcsim, "lb-bad", **override))
    assert power_state(vcsim, "lb-bad") is None


def test_check_rejects_missing_and_non_positive_sizes():
    result = VirtualMachineProvider().check(
        {}, {"name": "x", "numCpus": 0, "memoryMb": "big", "networks": []}
    )
    assert {failure.property for failure in result.failures} == {
        "datacenter",
        "template",
        "hostname",
        "numCpus",
        "memoryMb",
        "networks",
    }


def test_wrong_password_is_a_clear_error(vcsim: Connection):
    # vcsim accepts any user by default; a closed port stands in for an unreachable vCenter.
    with (
        pytest.raises(VsphereError, match=r"cannot log in to vSphere at 127\.0\.0\.1.*refused") as refused,
        session(Connection("127.0.0.1", "user", "pass", port=free_port(), insecure=True)),
    ):
        pass
    assert refused.value.__suppress_context__  # no chained pyVmomi internals under the message
