"""The inventory plugin: a cloudlet stack's outputs become Ansible groups and host variables.

The outputs come from the real program run under Pulumi MOCKS (no cloud here); ansible-inventory then
loads the plugin through the project's ansible.cfg, as an operator's run would."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from tests.ansible_inventory import ansible_inventory, plain
from tests.pulumi_mocks import evaluate

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugins" / "inventory" / "edgewright_cloudlet.py"


def load_plugin():
    spec = importlib.util.spec_from_file_location("edgewright_cloudlet_inventory", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plugin = load_plugin()


def stack_outputs(stack: str) -> dict:
    config = yaml.safe_load((REPO / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    settings = {key.removeprefix("edgewright:"): value for key, value in config.items()}
    settings.pop("portMapFile", None)
    _, cloudlet = evaluate(settings, secrets={"vspherePassword": "pass"}, stack=stack)
    return {"cloudlet": cloudlet}  # the shape of `pulumi stack output --json`


@pytest.fixture(scope="module")
def openstack_outputs() -> dict:
    return stack_outputs("openstack-router")


def test_groups_and_host_variables(openstack_outputs):
    layout = plugin.cloudlet_inventory(openstack_outputs)
    groups = layout["groups"]
    assert sorted(groups["root_lb"]["hosts"]) == ["berlin-1-rootlb-1", "berlin-1-rootlb-2"]
    assert sorted(groups["dedicated_lb"]["hosts"]) == ["berlin-1-game-lb"]
    assert sorted(groups["kube_nodes"]["hosts"]) == ["berlin-1-k8s-1", "berlin-1-k8s-2", "berlin-1-k8s-3"]
    assert sorted(groups["platform"]["hosts"]) == ["berlin-1-platform"]
    root = groups["root_lb"]["hosts"]["berlin-1-rootlb-1"]
    assert root["ansible_host"] == "10.20.0.11"
    assert root["edgewright_vip"] == "198.51.100.10"
    assert root["edgewright_lb_peers"] == ["10.20.0.11", "10.20.0.12"]
    remapped = [
        m for m in root["edgewright_port_map"]["mappings"] if m["app"] == "api" and m["internal"] == 80
    ]
    assert remapped == [{"app": "api", "protocol": "tcp", "internal": 80, "public": 10000, "count": 1}]
    game = groups["dedicated_lb"]["hosts"]["berlin-1-game-lb"]
    assert game["edgewright_app"] == "game" and game["edgewright_public_ip"] == "198.51.100.11"
    assert layout["cloudlet_vars"]["edgewright_kubernetes_endpoint"] == "https://10.20.0.160:6443"


def test_public_ip_can_be_the_ansible_host(openstack_outputs):
    groups = plugin.cloudlet_inventory(openstack_outputs, use_public_ip=True)["groups"]
    assert groups["dedicated_lb"]["hosts"]["berlin-1-game-lb"]["ansible_host"] == "198.51.100.11"
    assert groups["kube_nodes"]["hosts"]["berlin-1-k8s-1"]["ansible_host"] == "10.20.0.160"


def test_kubernetes_orchestrators_give_group_vars_but_no_hosts():
    groups = plugin.cloudlet_inventory(stack_outputs("gke-europe"))["groups"]
    assert all(not content["hosts"] for content in groups.values())
    assert groups["root_lb"]["vars"]["edgewright_lb_public_ip"] == "203.0.113.40"
    assert groups["root_lb"]["vars"]["edgewright_port_map"]["mappings"]


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({}, "no 'cloudlet' output"),
        ({"cloudlet": "x"}, "no 'cloudlet' output"),
        ({"cloudlet": {"name": "x", "orchestrator": "kind"}}, "lacks 'kubernetes'"),
    ],
)
def test_outputs_of_another_stack_are_refused(outputs, message):
    with pytest.raises(ValueError, match=message):
        plugin.cloudlet_inventory(outputs)


def test_ansible_loads_the_plugin_from_an_exported_outputs_file(tmp_path, openstack_outputs):
    (tmp_path / "berlin-1.json").write_text(json.dumps(openstack_outputs))
    inventory = tmp_path / "berlin-1.edgewright_cloudlet.yml"
    inventory.write_text("plugin: edgewright_cloudlet\noutputs_file: berlin-1.json\n")
    done = ansible_inventory(inventory)
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert sorted(listing["cloudlet"]["children"]) == ["dedicated_lb", "kube_nodes", "platform", "root_lb"]
    assert sorted(listing["root_lb"]["hosts"]) == ["berlin-1-rootlb-1", "berlin-1-rootlb-2"]
    host = plain(listing["_meta"]["hostvars"]["berlin-1-rootlb-2"])
    assert host["ansible_host"] == "10.20.0.12"
    assert host["edgewright_vip"] == "198.51.100.10"
    assert host["edgewright_cloudlet"] == "berlin-1"  # from the cloudlet group
    assert {"app": "api", "protocol": "tcp", "internal": 80, "public": 10000, "count": 1} in host[
        "edgewright_port_map"
    ]["mappings"]


def test_ansible_reports_a_missing_outputs_file_and_a_missing_cli(tmp_path):
    inventory = tmp_path / "gone.edgewright_cloudlet.yml"
    inventory.write_text("plugin: edgewright_cloudlet\noutputs_file: nowhere.json\n")
    done = ansible_inventory(inventory)
    assert "cannot read outputs_file" in done.stderr and "nowhere.json" in done.stderr
    inventory.write_text("plugin: edgewright_cloudlet\nstack: berlin-1\npulumi_binary: /nonexistent/pulumi\n")
    done = ansible_inventory(inventory)
    assert "the Pulumi CLI '/nonexistent/pulumi' is not installed" in done.stderr
