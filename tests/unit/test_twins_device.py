"""EdgeDevice resources: read, checked, and the inputs users get wrong."""

import pytest

from edgewright.twins.device import (
    DeviceError,
    EdgeDevice,
    Location,
    device_from_resource,
    device_resource,
)


def resource(**spec):
    base = {"protocol": "http", "address": "http://10.231.70.50:8080"}
    base.update(spec)
    return {
        "apiVersion": "edgewright.io/v1alpha1",
        "kind": "EdgeDevice",
        "metadata": {"name": "thermometer"},
        "spec": base,
    }


def test_a_full_resource_reads_into_a_device():
    device = device_from_resource(
        resource(link="usb", node="twn-1", location={"latitude": 48.1, "longitude": 11.6}, memoryMiB=32)
    )
    assert device == EdgeDevice(
        "thermometer", "http", "http://10.231.70.50:8080", "usb", "twn-1", Location(48.1, 11.6), 32
    )
    assert device.wired and device.node_bound


def test_defaults_are_an_ethernet_device_on_the_network():
    device = device_from_resource(resource())
    assert (device.link, device.node, device.location, device.memory_mib) == ("ethernet", None, None, 64)
    assert not device.wired


def test_resource_round_trips():
    device = EdgeDevice(
        "plc-7", "opcua", "opc.tcp://10.0.0.7:4840", "mesh", None, Location(-33.9, 151.2), 128
    )
    assert device_from_resource(device_resource(device)) == device


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"protocol": "modbus"}, "unknown protocol 'modbus'"),
        ({"protocol": None}, "unknown protocol None"),
        ({"address": ""}, "address is required"),
        ({"link": "bluetooth"}, "unknown link 'bluetooth'"),
        ({"link": "usb"}, "must name the node it is wired to"),
        ({"node": "Not_A_Node"}, "not a valid node name"),
        ({"location": {"latitude": 91, "longitude": 0}}, "location.latitude 91 is out of range [-90, 90]"),
        ({"location": {"latitude": 0, "longitude": -180.5}}, "location.longitude -180.5 is out of range"),
        ({"location": {"latitude": "north", "longitude": 0}}, "location.latitude must be a number"),
        ({"location": {"latitude": 1}}, "exactly latitude and longitude"),
        ({"memoryMiB": 0}, "memoryMiB must be a positive whole number"),
        ({"memoryMiB": "64Mi"}, "memoryMiB must be a positive whole number"),
        ({"colour": "red"}, "unknown spec field(s): colour"),
    ],
)
def test_bad_input_names_the_device_and_the_field(spec, problem):
    with pytest.raises(DeviceError) as error:
        device_from_resource(resource(**spec))
    assert "thermometer" in str(error.value)
    assert problem in str(error.value)


@pytest.mark.parametrize("name", ["Thermo", "thermo_1", "-thermo", "x" * 46, ""])
def test_names_must_be_short_dns_labels(name):
    with pytest.raises(DeviceError, match="name"):
        EdgeDevice(name, "http", "http://a")


def test_missing_spec_is_named():
    with pytest.raises(DeviceError, match="spec is missing"):
        device_from_resource({"metadata": {"name": "x"}})


def test_location_parses_from_an_annotation():
    assert Location.parse("52.52,13.405") == Location(52.52, 13.405)
    assert str(Location(52.52, 13.405)) == "52.52,13.405"
    for text in ("52.52", "north,south", "95,0"):
        with pytest.raises(DeviceError):
            Location.parse(text)
