"""The twins and edgemap commands that need no cluster, and the inputs users get wrong."""

import json
import xml.etree.ElementTree as ET

import pytest
import yaml

from edgewright.cli import main
from edgewright.twins.device import EdgeDevice, Location
from edgewright.twins.edgemap import build_edge_map
from edgewright.twins.placement import EdgeNode


def run(*argv):
    return main(list(argv))


@pytest.fixture
def edge_map_file(tmp_path):
    nodes = [EdgeNode("twn-1", location=Location(48, 11)), EdgeNode("twn-2")]
    devices = [
        EdgeDevice("thermometer", "http", "http://t", "usb", "twn-1"),
        EdgeDevice("meter", "mqtt", "tcp://m"),
    ]
    path = tmp_path / "map.json"
    path.write_text(build_edge_map(nodes, devices, {"thermometer": "twn-1", "meter": "twn-2"}).dumps())
    return path


def test_crd_prints_the_definition(capsys):
    assert run("twins", "crd") == 0
    (definition,) = yaml.safe_load_all(capsys.readouterr().out)
    assert definition["kind"] == "CustomResourceDefinition"


def test_manifests_prints_a_twin_for_a_device_file(tmp_path, capsys):
    device = tmp_path / "thermometer.yaml"
    device.write_text(
        yaml.safe_dump(
            {"metadata": {"name": "thermometer"}, "spec": {"protocol": "http", "address": "http://t"}}
        )
    )
    assert run("twins", "manifests", str(device), "--node", "twn-1") == 0
    kinds = [d["kind"] for d in yaml.safe_load_all(capsys.readouterr().out)]
    assert kinds == ["ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Deployment", "Service"]


def test_manifests_refuses_a_bad_device(tmp_path, capsys):
    device = tmp_path / "bad.yaml"
    device.write_text(
        yaml.safe_dump({"metadata": {"name": "bad"}, "spec": {"protocol": "zigbee", "address": "x"}})
    )
    assert run("twins", "manifests", str(device), "--node", "twn-1") == 1
    assert "unknown protocol 'zigbee'" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".svg", ".html"])
def test_render_draws_every_vertex(edge_map_file, tmp_path, suffix, capsys):
    out = tmp_path / f"map{suffix}"
    assert run("edgemap", "render", "--input", str(edge_map_file), "-o", str(out), "--title", "lab twn") == 0
    text = out.read_text()
    for name in ("twn-1", "twn-2", "thermometer", "meter"):
        assert f'id="vertex-{name}"' in text
    if suffix == ".svg":
        ET.fromstring(text)
    assert "4 vertices, 2 links" in capsys.readouterr().out


def test_render_refuses_bad_input(edge_map_file, tmp_path, capsys):
    assert run("edgemap", "render", "--input", str(edge_map_file), "-o", str(tmp_path / "map.png")) == 64
    assert "must end in .svg or .html" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps(
            {
                "vertices": [
                    {
                        "name": "a",
                        "vertexType": "edgeNode",
                        "neighbors": [{"neighborVertex": "b", "neighborLinkType": "usb"}],
                    }
                ]
            }
        )
    )
    assert run("edgemap", "render", "--input", str(broken), "-o", str(tmp_path / "m.svg")) == 1
    assert "neighbour 'b' is not a vertex" in capsys.readouterr().err
    assert not (tmp_path / "m.svg").exists()


def test_reconcile_without_a_cluster_says_so(tmp_path, capsys):
    assert run("twins", "reconcile", "--kubeconfig", str(tmp_path / "missing")) == 1
    assert "cannot load the kubeconfig" in capsys.readouterr().err


def test_negative_guard_is_refused(capsys):
    assert run("twins", "reconcile", "--min-dwell", "-5") == 64
    assert "must not be negative" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "problem"),
    [(["--every", "0"], "must be more than 0"), (["--every", "5", "--rounds", "0"], "at least 1")],
)
def test_bad_loop_settings_are_refused(argv, problem, capsys):
    assert run("twins", "reconcile", *argv) == 64
    assert problem in capsys.readouterr().err
