"""The DeviceTwins Pulumi component, run under pulumi.runtime mocks (no cluster, no Pulumi CLI)."""

import pulumi
import pytest

from edgewright.twins.device import EdgeDevice, Location
from edgewright.twins.manifests import placed_node
from edgewright.twins.placement import EdgeNode


class Recorder(pulumi.runtime.Mocks):
    def __init__(self):
        self.resources = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.resources.append(args)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


@pytest.fixture
def mocks():
    recorder = Recorder()
    pulumi.runtime.set_mocks(recorder, preview=False)
    yield recorder


def by_type(mocks, type_):
    return {r.name: r for r in mocks.resources if r.typ == type_}


@pulumi.runtime.test
def test_every_placed_device_gets_its_twin_on_the_chosen_node(mocks):
    from edgewright.twins.component import DeviceTwins, DeviceTwinsArgs

    nodes = [
        EdgeNode("twn-1", location=Location(48, 11), allocatable_mib=1024),
        EdgeNode("twn-2", location=Location(52, 13), allocatable_mib=1024),
        EdgeNode("twn-3", quarantined=True, allocatable_mib=8192),
    ]
    devices = [
        EdgeDevice("thermometer", "http", "http://t", "usb", "twn-1"),
        EdgeDevice("plc", "opcua", "opc.tcp://p:4840", location=Location(52.1, 13.1)),
        EdgeDevice("stick", "http", "http://s", "usb", "twn-3"),
    ]
    twins = DeviceTwins("lab", DeviceTwinsArgs(devices, nodes, namespace="devices"))

    def check(_):
        deployments = by_type(mocks, "kubernetes:apps/v1:Deployment")
        assert set(deployments) == {
            "deployment-edgedevice-thermometer-deployment",
            "deployment-edgedevice-plc-deployment",
        }
        pod = deployments["deployment-edgedevice-plc-deployment"].inputs["spec"]["template"]["spec"]
        assert placed_node(pod) == "twn-2" and "nodeName" not in pod
        assert pod["serviceAccountName"] == "edgedevice-plc-sa"
        for type_ in (
            "kubernetes:core/v1:Service",
            "kubernetes:core/v1:ConfigMap",
            "kubernetes:core/v1:ServiceAccount",
            "kubernetes:rbac.authorization.k8s.io/v1:Role",
            "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
        ):
            assert len(by_type(mocks, type_)) == 2, type_
        binding = by_type(mocks, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
        assert (
            binding["rolebinding-edgedevice-plc-reader"].inputs["roleRef"]["name"] == "edgedevice-plc-reader"
        )
        assert len(by_type(mocks, "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition")) == 1
        devices_created = by_type(mocks, "kubernetes:edgewright.io/v1alpha1:EdgeDevice")
        assert set(devices_created) == {"edgedevice-thermometer", "edgedevice-plc", "edgedevice-stick"}
        twin = by_type(mocks, "edgewright:twins:DeviceTwin")
        assert set(twin) == {"thermometer", "plc"}
        assert twins.placement == {"thermometer": "twn-1", "plc": "twn-2"}
        assert "quarantined" in twins.pending["stick"]

    return all_registered(twins).apply(check)


@pulumi.runtime.test
def test_without_resources_only_twins_are_declared(mocks):
    from edgewright.twins.component import DeviceTwins, DeviceTwinsArgs

    twins = DeviceTwins(
        "bare",
        DeviceTwinsArgs(
            [EdgeDevice("d", "mqtt", "tcp://d:1883")],
            [EdgeNode("n", allocatable_mib=512)],
            with_resources=False,
        ),
    )

    def check(name):
        assert name == "edgedevice-d"
        assert not by_type(mocks, "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition")

    return twins.twins["d"].service_name.apply(check)


def all_registered(twins):
    """An output that resolves once every twin object is registered."""
    return pulumi.Output.all(*[r.urn for t in twins.twins.values() for r in t.resources.values()])


@pulumi.runtime.test
def test_a_device_with_an_image_the_policy_refuses_gets_no_twin(mocks):
    from edgewright.twins.component import DeviceTwins, DeviceTwinsArgs
    from edgewright.twins.images import default_image_policy

    devices = [
        EdgeDevice("ok", "http", "http://ok", image="registry.site/twins/http:1"),
        EdgeDevice("miner", "http", "http://m", image="evil/miner:latest"),
    ]
    args = DeviceTwinsArgs(
        devices,
        [EdgeNode("n", allocatable_mib=512)],
        with_resources=False,
        images=default_image_policy("registry.site"),
    )
    twins = DeviceTwins("images", args)
    assert set(twins.twins) == {"ok"}
    assert "image 'evil/miner:latest' is neither from the site registry" in twins.pending["miner"]
    return all_registered(twins)
