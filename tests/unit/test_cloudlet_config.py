"""Reading the cloudlet section of the stack config: defaults, and errors that name the key."""

from __future__ import annotations

import pytest

from edgewright.cloudlet.config import Access, CloudletConfigError, DataPath, Redundancy, parse_cloudlet

MINIMAL = {"name": "site", "publicIps": ["198.51.100.10"], "apps": [{"name": "web", "ports": "tcp:80"}]}


def test_defaults():
    config = parse_cloudlet("kind", MINIMAL)
    assert (config.redundancy, config.data_path, config.access) == (
        Redundancy.VIP,
        DataPath.ROUTER,
        Access.DIRECT,
    )
    assert (config.cluster_size, config.internal_cidr, config.remap_start) == (3, "10.20.0.0/24", 10000)
    assert config.shared_apps[0].name == "web" and config.dedicated_apps == ()
    assert config.apps[0].namespace == "default"


@pytest.mark.parametrize(
    ("orchestrator", "cloudlet", "message"),
    [
        (None, MINIMAL, "edgewright:orchestrator is not set"),
        ("openstack", None, r"edgewright:cloudlet.name must be"),
        ("openstack", {**MINIMAL, "name": "9lives"}, r"starting with a letter; got '9lives'"),
        ("openstack", {**MINIMAL, "apps": []}, "apps must be a non-empty list"),
        (
            "openstack",
            {**MINIMAL, "apps": [{"ports": "tcp:80"}]},
            r"apps\[0\].name must be 1-30 lowercase",
        ),
        ("openstack", {**MINIMAL, "apps": [{"name": "Web", "ports": "tcp:80"}]}, r"got 'Web'"),
        ("openstack", {**MINIMAL, "name": "Berlin"}, r"cloudlet.name must be 1-20 lowercase.*got 'Berlin'"),
        ("openstack", {**MINIMAL, "name": "a" * 21}, r"cloudlet.name must be 1-20 lowercase"),
        ("openstack", {**MINIMAL, "apps": [{"name": "web"}]}, r"apps\[0\].ports is missing for app 'web'"),
        (
            "openstack",
            {**MINIMAL, "apps": [{"name": "web", "ports": "tcp:80"}, {"name": "web", "ports": "tcp:81"}]},
            "listed twice: web",
        ),
        ("openstack", {**MINIMAL, "apps": [{"name": "web", "ports": "http"}]}, r"apps\[0\].ports: app 'web'"),
        (
            "openstack",
            {**MINIMAL, "apps": [{"name": "web", "ports": "tcp:80", "dedicatedLb": "yes"}]},
            "dedicatedLb must be true or false",
        ),
        (
            "openstack",
            {**MINIMAL, "apps": [{"name": "web", "ports": "tcp:80", "tls": True}]},
            r"unknown.*tls",
        ),
        ("openstack", {**MINIMAL, "publicIps": []}, "publicIps must list at least one"),
        ("openstack", {**MINIMAL, "publicIps": ["1.2.3.4", "1.2.3.4"]}, "lists an address twice"),
        ("openstack", {**MINIMAL, "redundancy": "triple"}, "redundancy: 'triple' is not one of vip, single"),
        ("openstack", {**MINIMAL, "access": "vpn"}, "access: 'vpn' is not one of direct, restricted"),
        ("openstack", {**MINIMAL, "remapStart": 80}, "remapStart must be 1024..65535"),
        ("openstack", {**MINIMAL, "clusterSize": True}, "clusterSize must be 1..90"),
        ("openstack", {**MINIMAL, "internalCidr": "fd00::/64"}, "must be IPv4"),
        ("vsphere", {**MINIMAL, "access": "restricted"}, "restricted access .* openstack only, not vsphere"),
    ],
)
def test_bad_cloudlet_settings_name_the_key(orchestrator, cloudlet, message):
    with pytest.raises(CloudletConfigError, match=message):
        parse_cloudlet(orchestrator, cloudlet)


def test_a_broken_previous_port_map_is_named():
    with pytest.raises(CloudletConfigError, match="previous port map: port map version 7"):
        parse_cloudlet("openstack", MINIMAL, {"version": 7, "mappings": []})
