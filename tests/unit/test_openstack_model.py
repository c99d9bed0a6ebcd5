"""The OpenStack layout as plain data: every reference resolves, whatever the variant."""

from __future__ import annotations

import pytest

from edgewright.cloudlet.backends.openstack.layout import Net, merged, openstack_layout
from edgewright.cloudlet.config import parse_cloudlet
from edgewright.cloudlet.plan import plan_cloudlet
from edgewright.loadbalancer.portmap import PortRange, Protocol

TCP, UDP = Protocol.TCP, Protocol.UDP


def test_merged_joins_touching_ranges_of_one_protocol_only():
    ranges = (PortRange(TCP, 10001, 10001), PortRange(TCP, 10000, 10000), PortRange(UDP, 10002, 10003))
    ranges += (PortRange(TCP, 10002, 10005), PortRange(TCP, 10007, 10007))
    assert merged(ranges) == [
        PortRange(TCP, 10000, 10005),
        PortRange(TCP, 10007, 10007),
        PortRange(UDP, 10002, 10003),
    ]


@pytest.mark.parametrize("data_path", ["none", "router", "floating_ip"])
@pytest.mark.parametrize("redundancy", ["vip", "single"])
def test_every_reference_resolves(data_path, redundancy):
    cloudlet = {
        "name": "site",
        "dataPath": data_path,
        "redundancy": redundancy,
        "publicIps": ["198.51.100.10", "198.51.100.11"],
        "apps": [
            {"name": "web", "ports": "tcp:80"},
            {"name": "game", "ports": "udp:7000", "dedicatedLb": True},
        ],
    }
    layout = openstack_layout(plan_cloudlet(parse_cloudlet("openstack", cloudlet)))
    ports = {port.name: port for port in layout.ports}
    groups = {group.name for group in layout.security_groups}
    assert len(ports) == len(layout.ports)
    used = [name for server in layout.servers for name in server.ports]
    assert sorted(used + list(layout.vip_ports)) == sorted(
        ports
    )  # each port belongs to one server or is a VIP
    assert all(port.security_group in groups for port in layout.ports)
    assert all(fip.port in ports for fip in layout.floating_ips)
    on_external = [port.name for port in layout.ports if port.net is Net.EXTERNAL]
    if data_path == "floating_ip":
        assert on_external == [] and len(layout.floating_ips) == 2
    else:
        assert on_external and layout.floating_ips == ()
        assert all("rootlb" in name or "game-lb" in name for name in on_external)
    assert layout.router is (data_path != "none")
