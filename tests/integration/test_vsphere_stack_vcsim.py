"""LIVE against vcsim: the whole vSphere stack program (stacks/Pulumi.vsphere-lab.yaml) brought up, run
again, and torn down.

The Pulumi CLI cannot be built or downloaded here, so its engine is played by Pulumi's mock monitor doing
what the engine does with a dynamic resource: hand the serialized inputs (as a protobuf Struct, so
numbers arrive as floats and secrets unwrapped) to the pickled provider's check, create, diff and delete.
Everything else -- the program, the providers, the vSphere API (simulated) -- is real."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dill
import pytest
import yaml
from google.protobuf import struct_pb2
from pulumi.runtime import rpc
from pyVmomi import vim

from edgewright.cloudlet.mocks import CloudletMocks, RecordedResource, evaluate
from edgewright.cloudlet.vcsim import running_vcsim
from edgewright.cloudlet.vsphere import Connection, find_datacenter, find_folder, session

DYNAMIC = "pulumi-python:dynamic:Resource"
PROVIDER_KEY = "__provider"
STACK = Path(__file__).resolve().parents[2] / "stacks" / "Pulumi.vsphere-lab.yaml"


def as_engine_sees_it(inputs: dict[str, Any]) -> dict[str, Any]:
    """Dynamic providers do not accept secrets, so the engine hands them plain values."""
    struct = struct_pb2.Struct()
    struct.update(inputs)
    props, _ = rpc.deserialize_properties_unwrap_secrets(struct)
    return props


class EngineMocks(CloudletMocks):
    """Creates dynamic resources through their providers, or (``existing``) diffs them against state."""

    def __init__(self, existing: dict[str, tuple[str, dict]] | None = None) -> None:
        super().__init__()
        self.existing = existing
        self.state: dict[str, tuple[str, dict]] = {}  # name -> (id, outputs), in creation order
        self.diffs: dict[str, Any] = {}

    def new_resource(self, args):
        if args.typ != DYNAMIC:
            return super().new_resource(args)
        self.resources.append(RecordedResource(args.typ, args.name, dict(args.inputs)))
        props = as_engine_sees_it(dict(args.inputs))
        provider = dill.loads(base64.b64decode(props[PROVIDER_KEY]))
        if self.existing is not None:
            id_, outs = self.existing[args.name]
            self.diffs[args.name] = provider.diff(id_, outs, props)
            return id_, outs
        checked = provider.check({}, props)
        assert not checked.failures, [(f.property, f.reason) for f in checked.failures]
        created = provider.create({**checked.inputs, PROVIDER_KEY: props[PROVIDER_KEY]})
        self.state[args.name] = (created.id, {**created.outs, PROVIDER_KEY: props[PROVIDER_KEY]})
        return created.id, created.outs


def destroy(state: dict[str, tuple[str, dict]]) -> None:
    for id_, outs in reversed(list(state.values())):
        dill.loads(base64.b64decode(outs[PROVIDER_KEY])).delete(id_, outs)


def stack_settings(connection: Connection) -> dict:
    config = yaml.safe_load(STACK.read_text())["config"]
    settings = {key.removeprefix("edgewright:"): value for key, value in config.items()}
    settings["vsphere"]["port"] = connection.port
    return settings


def vms_in(connection: Connection, path: str) -> dict[str, dict]:
    with session(connection) as content:
        folder = find_folder(find_datacenter(content, "DC0"), path)
        if folder is None:
            return {}
        return {
            vm.name: {
                "power": str(vm.runtime.powerState),
                "hostname": vm.guest.hostName,
                "ip": vm.guest.ipAddress,
                "cpus": vm.config.hardware.numCPU,
                "guestinfo": {
                    o.key: o.value for o in vm.config.extraConfig if o.key.startswith("guestinfo.")
                },
            }
            for vm in folder.childEntity
            if isinstance(vm, vim.VirtualMachine)
        }


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[Connection, EngineMocks]]:
    with running_vcsim() as connection:
        engine = EngineMocks()
        try:
            evaluate(
                stack_settings(connection), secrets={"vspherePassword": connection.password}, mocks=engine
            )
            yield connection, engine
        finally:
            destroy(engine.state)


def test_up_makes_every_host_of_the_cloudlet(lab):
    connection, _ = lab
    vms = vms_in(connection, "edgewright/lab-1")
    assert sorted(vms) == [
        "lab-1-k8s-1",
        "lab-1-k8s-2",
        "lab-1-platform",
        "lab-1-rootlb-1",
        "lab-1-rootlb-2",
        "lab-1-video-lb",
    ]
    assert all(vm["power"] == "poweredOn" for vm in vms.values())
    assert vms["lab-1-k8s-2"]["hostname"] == "lab-1-k8s-2" and vms["lab-1-k8s-2"]["ip"] == "10.20.0.161"
    assert vms["lab-1-video-lb"]["ip"] == "192.0.2.11"  # the dedicated LB's public address, first NIC
    root = vms["lab-1-rootlb-1"]["guestinfo"]
    assert root["guestinfo.edgewright.public_ip"] == "192.0.2.10"
    assert root["guestinfo.edgewright.internal_vip"] == "10.20.0.10"
    assert vms["lab-1-k8s-1"]["cpus"] == 2


def test_a_second_up_changes_nothing(lab):
    connection, engine = lab
    again = EngineMocks(existing=engine.state)
    evaluate(stack_settings(connection), secrets={"vspherePassword": connection.password}, mocks=again)
    changed = {name: diff.replaces for name, diff in again.diffs.items() if diff.changes}
    assert changed == {}
    assert sorted(again.diffs) == sorted(engine.state)


def test_destroy_removes_everything_it_made():
    with running_vcsim() as connection:
        engine = EngineMocks()
        try:
            evaluate(
                stack_settings(connection), secrets={"vspherePassword": connection.password}, mocks=engine
            )
            assert len(vms_in(connection, "edgewright/lab-1")) == 6
        finally:
            destroy(engine.state)
        with session(connection) as content:
            datacenter = find_datacenter(content, "DC0")
            assert find_folder(datacenter, "edgewright/lab-1") is None
            assert find_folder(datacenter, "edgewright") is not None  # the shared parent stays
