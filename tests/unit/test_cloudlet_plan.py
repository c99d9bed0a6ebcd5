"""The cloudlet plan: host names, fixed address blocks, LB layout and port maps, for every backend."""

from __future__ import annotations

import pytest

from edgewright.cloudlet.config import parse_cloudlet
from edgewright.cloudlet.plan import Role, plan_cloudlet
from edgewright.loadbalancer.portmap import PortMapError, Protocol


def plan(**changes):
    cloudlet = {
        "name": "site",
        "publicIps": ["198.51.100.10", "198.51.100.11", "198.51.100.12"],
        "clusterSize": 3,
        "apps": [
            {"name": "web", "ports": "tcp:80"},
            {"name": "api", "ports": "tcp:80"},
            {"name": "game", "ports": "udp:7000-7001", "dedicatedLb": True},
            {"name": "video", "ports": "tcp:80", "dedicatedLb": True},
        ],
        **changes,
    }
    return plan_cloudlet(parse_cloudlet("openstack", cloudlet))


def test_hosts_have_fixed_addresses_by_role():
    layout = plan()
    assert [(h.name, h.internal_ip) for h in layout.root_lb.hosts] == [
        ("site-rootlb-1", "10.20.0.11"),
        ("site-rootlb-2", "10.20.0.12"),
    ]
    assert layout.root_lb.internal_vip == "10.20.0.10"
    assert [h.internal_ip for lb in layout.dedicated_lbs for h in lb.hosts] == ["10.20.0.21", "10.20.0.25"]
    assert layout.platform.internal_ip == "10.20.0.150"
    assert [n.internal_ip for n in layout.cluster.nodes] == ["10.20.0.160", "10.20.0.161", "10.20.0.162"]
    assert layout.cluster.control_plane.name == "site-k8s-1"
    assert {h.role for h in layout.cluster.nodes} == {Role.KUBE_NODE}


def test_growing_the_cluster_renumbers_nothing_else():
    small, large = plan(clusterSize=2), plan(clusterSize=5)
    assert small.root_lb == large.root_lb and small.platform == large.platform
    assert large.cluster.nodes[:2] == small.cluster.nodes


def test_root_lb_takes_the_first_public_ip_and_dedicated_lbs_the_next():
    layout = plan()
    assert layout.root_lb.public_ip == "198.51.100.10"
    assert [(lb.app, lb.public_ip) for lb in layout.dedicated_lbs] == [
        ("game", "198.51.100.11"),
        ("video", "198.51.100.12"),
    ]


def test_shared_apps_are_remapped_and_dedicated_ones_keep_their_ports():
    layout = plan()
    assert layout.root_lb.port_map.apps == ("api", "web")
    assert layout.root_lb.port_map.public_port("api", Protocol.TCP, 80) == 10000
    video = layout.dedicated_lbs[1].port_map
    assert video.public_port("video", Protocol.TCP, 80) == 80


def test_a_single_root_lb_has_one_host_and_no_vip():
    layout = plan(redundancy="single")
    assert len(layout.root_lb.hosts) == 1 and layout.root_lb.internal_vip is None
    assert not layout.root_lb.redundant


def test_an_app_may_not_take_the_lbs_ssh_port():
    layout = plan(apps=[{"name": "git", "ports": "tcp:22"}])
    assert layout.root_lb.port_map.public_port("git", Protocol.TCP, 22) == 10000  # remapped on the root LB
    with pytest.raises(PortMapError, match="app 'git': port tcp:22 is the dedicated LB's own"):
        plan(apps=[{"name": "git", "ports": "tcp:20-30", "dedicatedLb": True}])


def test_the_remap_start_is_configurable():
    layout = plan(remapStart=30000)
    assert layout.root_lb.port_map.public_port("api", Protocol.TCP, 80) == 30000
