"""Load balancer plans: the port map applied to apps, and the listeners and clusters that carry them."""

from __future__ import annotations

import pytest

from edgewright.loadbalancer.plan import envoy_config, parse_apps, plan_port_map
from edgewright.loadbalancer.portmap import PortMapError
from edgewright.xds.model import parse_source

APPS = [
    {"name": "web", "ports": "tcp:80,udp:53", "backends": ["10.0.0.5", "10.0.0.6"]},
    {"name": "api", "ports": ["tcp:80"], "backends": ["api.internal"]},
]


def test_root_lb_remaps_taken_ports_and_each_public_port_gets_a_listener():
    apps = parse_apps(APPS)
    port_map = plan_port_map(apps, "root", reserved=["tcp:22"])
    assert port_map.public_port("api", "tcp", 80) == 10000
    config = envoy_config(apps, port_map)
    listeners = {(lst["protocol"], lst["port"]): lst["cluster"] for lst in config["listeners"]}
    assert listeners == {("tcp", 80): "web-tcp-80", ("udp", 53): "web-udp-53", ("tcp", 10000): "api-tcp-80"}
    assert config["clusters"]["web-tcp-80"]["endpoints"] == ["10.0.0.5:80", "10.0.0.6:80"]
    assert config["clusters"]["api-tcp-80"]["endpoints"] == ["api.internal:80"]
    # What the plan produces is a valid source for the Envoy role.
    parse_source({"clusters": config["clusters"], "nodes": {"lb": {"listeners": config["listeners"]}}})


def test_root_lb_keeps_earlier_assignments_and_frees_removed_apps():
    apps = parse_apps(APPS)
    first = plan_port_map(apps, "root")
    # A new app that also wants tcp:80 comes first in the list; api keeps 10000 all the same.
    newcomer = parse_apps([{"name": "new", "ports": "tcp:80", "backends": ["10.0.0.9"]}, *APPS])
    second = plan_port_map(newcomer, "root", previous=first)
    assert second.public_port("api", "tcp", 80) == 10000
    assert second.public_port("new", "tcp", 80) == 10001
    third = plan_port_map(parse_apps(APPS[:1]), "root", previous=second)
    assert third.apps == ("web",)


def test_port_ranges_become_one_listener_per_port_on_the_root_lb():
    apps = parse_apps([{"name": "game", "ports": "udp:7000-7002", "backends": ["10.0.0.7"]}])
    config = envoy_config(apps, plan_port_map(apps, "root"))
    assert sorted(lst["port"] for lst in config["listeners"]) == [7000, 7001, 7002]


def test_dedicated_lb_carries_one_app_on_its_own_ports():
    apps = parse_apps(APPS[:1])
    port_map = plan_port_map(apps, "dedicated")
    assert {m.public for m in port_map.mappings} == {80, 53}
    assert not any(m.remapped for m in port_map.mappings)


def test_ipv6_backends_are_bracketed():
    apps = parse_apps([{"name": "v6", "ports": "tcp:443", "backends": ["fd00::5"]}])
    config = envoy_config(apps, plan_port_map(apps, "root"))
    assert config["clusters"]["v6-tcp-443"]["endpoints"] == ["[fd00::5]:443"]


@pytest.mark.parametrize(
    ("apps", "kind", "message"),
    [
        ([APPS[0], {**APPS[1], "name": "web"}], "root", "app 'web' is listed twice"),
        ([{**APPS[0], "ports": "tcp:0"}], "root", "is outside 1-65535"),
        ([{**APPS[0], "ports": "udp:65536"}], "root", "is outside 1-65535"),
        ([{**APPS[0], "ports": "quic:443"}], "root", "protocol 'quic'"),
        ([{**APPS[0], "ports": "tcp:80,tcp:80"}], "root", "collide"),
        ([{**APPS[0], "ports": "tcp:9000-9005"}], "dedicated", "port range tcp:9000-9005 cannot be carried"),
        (APPS, "dedicated", "exactly one app, got 2"),
        (APPS, "shared", "kind must be one of root, dedicated"),
        ([{**APPS[0], "backends": []}], "root", "backends must be a non-empty list"),
        ([{**APPS[0], "backends": ["10.0.0.5:80"]}], "root", "without a port"),
        ([{**APPS[0], "ports": ""}], "root", "at least one port"),
        ([{**APPS[0], "name": "web app"}], "root", "name must be"),
        ([{**APPS[0], "weight": 3}], "root", "unknown setting(s) weight"),
    ],
)
def test_bad_apps_are_rejected_naming_the_problem(apps, kind, message):
    with pytest.raises(PortMapError) as err:
        plan_port_map(parse_apps(apps), kind)
    assert message in str(err.value)
