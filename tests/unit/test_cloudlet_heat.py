"""Restricted access: the Heat template and scripts render, parse back, hang together, and match the
golden files (tests/unit/golden/heat/; after an intended change: python -m tests.unit.heat_golden)."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
import yaml
from heat_golden import APPS, CASES, GOLDEN, render

from edgewright.cloudlet.backends.openstack import OpenStackSettings
from edgewright.cloudlet.backends.openstack.heat import TEMPLATE, render_artefacts, write_artefacts
from edgewright.cloudlet.config import parse_cloudlet
from edgewright.cloudlet.plan import plan_cloudlet


def references(node: Any, kind: str) -> list[str]:
    if isinstance(node, dict):
        found = [node[kind]] if kind in node and isinstance(node[kind], str) else []
        return found + [ref for value in node.values() for ref in references(value, kind)]
    if isinstance(node, list):
        return [ref for value in node for ref in references(value, kind)]
    return []


@pytest.mark.parametrize("case", sorted(CASES))
def test_artefacts_match_the_golden_files(case):
    artefacts = render(case)
    for name, text in artefacts.items():
        golden = GOLDEN / case / name
        assert golden.exists(), f"no golden file {golden}; render it with python -m tests.unit.heat_golden"
        assert text == golden.read_text(), f"{name} differs from {golden}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_template_parses_back_and_every_reference_resolves(case):
    template = yaml.safe_load(render(case)[TEMPLATE])
    assert str(template["heat_template_version"]) == "2018-08-31"
    resources = template["resources"]
    for ref in references(resources, "get_resource"):
        assert ref in resources, f"get_resource {ref} names no resource"
    for ref in references(template, "get_param"):
        assert ref in template["parameters"], f"get_param {ref} names no parameter"
    for resource in resources.values():
        for dependency in resource.get("depends_on", []):
            assert dependency in resources


def test_security_groups_open_exactly_the_port_maps():
    template = yaml.safe_load(render("none-vip")[TEMPLATE])
    rules = template["resources"]["hamburg_1_rootlb_sg"]["properties"]["rules"]
    public = {
        (r["protocol"], r["port_range_min"], r["port_range_max"])
        for r in rules
        if r.get("remote_ip_prefix") == "0.0.0.0/0"
    }
    assert public == {("tcp", 80, 80), ("tcp", 443, 443), ("tcp", 10000, 10000), ("udp", 5000, 5002)}
    assert {
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": "vrrp",
        "remote_mode": "remote_group_id",
    } in rules


def test_variants_differ_as_the_data_path_says():
    none, router, floating = (
        yaml.safe_load(render(c)[TEMPLATE])["resources"]
        for c in ("none-vip", "router-single", "floating-vip")
    )
    assert "router" not in none and "router" in router and "router" in floating
    assert not [r for r in none.values() if r["type"] == "OS::Neutron::FloatingIP"]
    assert {
        r["properties"]["floating_ip_address"]
        for r in floating.values()
        if r["type"] == "OS::Neutron::FloatingIP"
    } == {
        "198.51.100.30",
        "198.51.100.31",
    }
    assert none["subnet"]["properties"]["gateway_ip"] == "10.20.0.10"  # the root LB pair routes
    assert router["subnet"]["properties"]["gateway_ip"] == "10.20.0.1"
    vip = none["hamburg_1_rootlb_vip"]["properties"]
    assert vip["network"] == {"get_param": "external_network"} and vip["fixed_ips"] == [
        {"ip_address": "198.51.100.30"}
    ]
    host = none["hamburg_1_rootlb_1_ext"]["properties"]
    assert host["allowed_address_pairs"] == [{"ip_address": "198.51.100.30"}]


def test_scripts_are_valid_shell_and_written_executable(tmp_path):
    artefacts = render("none-vip")
    for name in ("deploy.sh", "destroy.sh"):
        subprocess.run(["sh", "-n"], input=artefacts[name], text=True, check=True)
    assert "openstack stack create --wait -t cloudlet.yaml hamburg-1" in artefacts["deploy.sh"]
    write_artefacts(artefacts, tmp_path / "out")
    assert os.access(tmp_path / "out" / "deploy.sh", os.X_OK)
    assert (tmp_path / "out" / TEMPLATE).read_text() == artefacts[TEMPLATE]


def test_a_key_pair_is_named_only_when_given():
    assert "key_name" not in yaml.safe_load(render("none-vip")[TEMPLATE])["parameters"]
    with_key = OpenStackSettings.parse(
        {"externalNetwork": "ext", "image": "i", "flavor": "f", "keyPair": "ops"}
    )
    cloudlet = {"name": "k", "publicIps": ["198.51.100.30"], "apps": APPS[:1]}
    template = yaml.safe_load(
        render_artefacts(plan_cloudlet(parse_cloudlet("openstack", cloudlet)), with_key)[TEMPLATE]
    )
    assert template["parameters"]["key_name"]["default"] == "ops"
    assert template["resources"]["k_platform"]["properties"]["key_name"] == {"get_param": "key_name"}
