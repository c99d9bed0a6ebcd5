"""MOCK tests of the vSphere backend's program (pulumi.runtime.Mocks): which VMs it asks the dynamic
providers for. The providers themselves run live against vcsim in tests/integration/test_vsphere_vcsim.py."""

from __future__ import annotations

import pytest

from edgewright.cloudlet.backends.vsphere.providers import FolderProvider, VirtualMachineProvider
from tests.pulumi_mocks import evaluate

DYNAMIC = "pulumi-python:dynamic:Resource"


def settings(data_path: str = "router", redundancy: str = "vip") -> dict:
    return {
        "orchestrator": "vsphere",
        "cloudlet": {
            "name": "lab",
            "dataPath": data_path,
            "redundancy": redundancy,
            "clusterSize": 2,
            "publicIps": ["192.0.2.10", "192.0.2.11"],
            "apps": [
                {"name": "web", "ports": "tcp:80"},
                {"name": "video", "ports": "udp:9000-9004", "dedicatedLb": True},
            ],
        },
        "vsphere": {
            "host": "vcenter.example.net",
            "user": "edgewright",
            "datacenter": "DC0",
            "template": "debian-12",
            "resourcePool": "DC0_C0",
            "externalNetwork": "VM Network",
            "internalNetwork": "DC0_DVPG0",
            "lbNumCpus": 1,
            "lbMemoryMb": 1024,
        },
    }


def vms(mocks) -> dict[str, dict]:
    return {r.name: r.inputs for r in mocks.of_type(DYNAMIC) if "template" in r.inputs}


@pytest.fixture(scope="module")
def pair():
    return evaluate(settings(), secrets={"vspherePassword": "s3cret"})


def test_every_host_is_a_vm_in_the_cloudlet_folder(pair):
    mocks, _ = pair
    assert sorted(vms(mocks)) == [
        "lab-k8s-1",
        "lab-k8s-2",
        "lab-platform",
        "lab-rootlb-1",
        "lab-rootlb-2",
        "lab-video-lb",
    ]
    folder = mocks.named("lab-folder", DYNAMIC).inputs
    assert folder["path"] == "edgewright/lab"
    assert all(vm["folder"] == "edgewright/lab" for vm in vms(mocks).values())


def test_only_lb_vms_are_on_the_external_network(pair):
    mocks, _ = pair
    networks = {name: vm["networks"] for name, vm in vms(mocks).items()}
    assert networks["lab-rootlb-1"] == networks["lab-video-lb"] == ["VM Network", "DC0_DVPG0"]
    assert networks["lab-k8s-1"] == networks["lab-platform"] == ["DC0_DVPG0"]


def test_pair_hosts_learn_the_vip_and_the_dedicated_lb_holds_its_own_ip(pair):
    mocks, outputs = pair
    root = vms(mocks)["lab-rootlb-1"]
    assert root["ipAddresses"] == [None, "10.20.0.11/24"]  # keepalived holds the public address
    assert root["guestinfo"]["edgewright.public_ip"] == "192.0.2.10"
    assert root["guestinfo"]["edgewright.internal_vip"] == "10.20.0.10"
    video = vms(mocks)["lab-video-lb"]
    assert video["ipAddresses"] == ["192.0.2.11/24", "10.20.0.21/24"]
    assert (video["numCpus"], video["memoryMb"]) == (1, 1024)
    assert outputs["rootLb"]["vip"] == "192.0.2.10"
    assert outputs["dedicatedLbs"][0]["hosts"][0]["publicIp"] == "192.0.2.11"


def test_the_password_travels_only_as_a_secret(pair):
    mocks, _ = pair
    from pulumi.runtime import rpc

    for vm in vms(mocks).values():
        # The whole connection is marked secret, so state and logs hold it encrypted.
        assert vm["connection"][rpc._special_sig_key] == rpc._special_secret_sig
        assert vm["connection"]["value"]["password"] == "s3cret"


def test_data_path_none_makes_the_root_lb_the_gateway():
    mocks, _ = evaluate(settings("none", "single"), secrets={"vspherePassword": "x"})
    assert vms(mocks)["lab-k8s-1"]["guestinfo"]["edgewright.gateway"] == "10.20.0.11"
    mocks, _ = evaluate(settings("router", "single"), secrets={"vspherePassword": "x"})
    assert vms(mocks)["lab-k8s-1"]["guestinfo"]["edgewright.gateway"] == "10.20.0.1"


def test_the_resources_use_the_importable_providers(pair):
    mocks, _ = pair
    # Pulumi pickles the provider by reference to its module: it must not live in __main__.
    assert (
        VirtualMachineProvider.__module__
        == FolderProvider.__module__
        == "edgewright.cloudlet.backends.vsphere.providers"
    )
    assert all("__provider" in r.inputs for r in mocks.of_type(DYNAMIC))


def test_stacks_deployed_before_the_backend_became_a_package_still_load_their_providers():
    """A stack's state holds its providers pickled by module name; the old name still resolves."""
    import pickle

    from edgewright.cloudlet import kind as old_kind
    from edgewright.cloudlet import vsphere as old_vsphere
    from edgewright.cloudlet.backends.kind.provider import KindClusterProvider

    assert old_vsphere.FolderProvider is FolderProvider
    assert old_vsphere.VirtualMachineProvider is VirtualMachineProvider
    assert old_kind.KindClusterProvider is KindClusterProvider
    pickled = pickle.dumps(VirtualMachineProvider, protocol=0).replace(
        b"edgewright.cloudlet.backends.vsphere.providers", b"edgewright.cloudlet.vsphere"
    )
    assert b"edgewright.cloudlet.vsphere\n" in pickled
    assert pickle.loads(pickled) is VirtualMachineProvider
