"""The edge map adjacency list and its pictures."""

import json
import xml.etree.ElementTree as ET

import pytest

from edgewright.twins.device import EdgeDevice, Location
from edgewright.twins.edgemap import EdgeMapError, build_edge_map, edge_map_from_json
from edgewright.twins.placement import EdgeNode
from edgewright.twins.render import render_html, render_svg

SVG = "{http://www.w3.org/2000/svg}"


def sample():
    nodes = [
        EdgeNode("twn-1", location=Location(48, 11), allocatable_mib=2048),
        EdgeNode("twn-2", allocatable_mib=1024),
        EdgeNode("twn-3", quarantined=True),
    ]
    devices = [
        EdgeDevice("thermometer", "http", "http://t", "usb", "twn-1"),
        EdgeDevice("camera", "mqtt", "tcp://c:1883", "wifi", location=Location(48, 11)),
        EdgeDevice("plc", "opcua", "opc.tcp://p:4840", "ethernet", "twn-3"),  # fell back to twn-2
        EdgeDevice("lost", "http", "http://l", "mesh"),
    ]
    placement = {"thermometer": "twn-1", "camera": "twn-1", "plc": "twn-2"}
    return build_edge_map(
        nodes,
        devices,
        placement,
        [("twn-1", "twn-2", "mesh"), ("twn-1", "gone", "mesh")],
        free_mib={"twn-1": 1900},
    )


def test_the_adjacency_list_has_typed_vertices_and_links():
    document = sample().to_json()
    vertices = {v["name"]: v for v in document["vertices"]}
    assert [v["name"] for v in document["vertices"]][:3] == ["twn-1", "twn-2", "twn-3"]
    assert vertices["twn-1"]["vertexType"] == "edgeNode" and vertices["camera"]["vertexType"] == "edgeDevice"
    assert vertices["twn-1"]["neighbors"] == [
        {"neighborVertex": "camera", "neighborLinkType": "wifi"},
        {"neighborVertex": "thermometer", "neighborLinkType": "usb"},
        {"neighborVertex": "twn-2", "neighborLinkType": "mesh"},
    ]
    # A wired device is linked to the node it is wired to, wherever its twin runs.
    assert vertices["plc"]["neighbors"] == [{"neighborVertex": "twn-3", "neighborLinkType": "ethernet"}]
    assert vertices["plc"]["twinNode"] == "twn-2"
    assert vertices["lost"]["neighbors"] == [] and vertices["lost"]["phase"] == "Pending"
    assert vertices["twn-1"]["freeMiB"] == 1900 and vertices["twn-3"]["status"] == "quarantined"


def test_json_round_trips():
    edge_map = sample()
    again = edge_map_from_json(json.loads(edge_map.dumps()))
    assert again.to_json() == edge_map.to_json()
    assert again.edges() == edge_map.edges()
    assert len(edge_map.edges()) == 4


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({}, "list of 'vertices'"),
        ({"vertices": [{"name": "a", "vertexType": "router"}]}, "vertexType must be"),
        (
            {
                "vertices": [
                    {
                        "name": "a",
                        "vertexType": "edgeNode",
                        "neighbors": [{"neighborVertex": "b", "neighborLinkType": "usb"}],
                    }
                ]
            },
            "neighbour 'b' is not a vertex",
        ),
        (
            {
                "vertices": [
                    {
                        "name": "a",
                        "vertexType": "edgeNode",
                        "neighbors": [{"neighborVertex": "b", "neighborLinkType": "radio"}],
                    },
                    {"name": "b", "vertexType": "edgeDevice"},
                ]
            },
            "unknown link type 'radio'",
        ),
        (
            {
                "vertices": [
                    {
                        "name": "a",
                        "vertexType": "edgeNode",
                        "neighbors": [{"neighborVertex": "b", "neighborLinkType": "usb"}],
                    },
                    {
                        "name": "b",
                        "vertexType": "edgeDevice",
                        "neighbors": [{"neighborVertex": "a", "neighborLinkType": "wifi"}],
                    },
                ]
            },
            "disagree",
        ),
        (
            {
                "vertices": [
                    {"name": "a", "vertexType": "edgeNode"},
                    {"name": "a", "vertexType": "edgeDevice"},
                ]
            },
            "appears twice",
        ),
    ],
)
def test_bad_edge_maps_are_refused(document, problem):
    with pytest.raises(EdgeMapError, match=problem):
        edge_map_from_json(document)


def test_the_svg_is_well_formed_and_draws_every_vertex_and_link():
    edge_map = sample()
    root = ET.fromstring(render_svg(edge_map))
    groups = {g.get("id"): g for g in root.iter(f"{SVG}g") if (g.get("id") or "").startswith("vertex-")}
    assert set(groups) == {f"vertex-{name}" for name in edge_map.vertices}
    for name, group in groups.items():
        labels = [t.text for t in group.iter(f"{SVG}text")]
        assert name.removeprefix("vertex-") in labels
    assert "quarantined" in groups["vertex-twn-3"].get("class")
    assert "pending" in groups["vertex-lost"].get("class")
    links = [line for line in root.iter(f"{SVG}line") if "link" in (line.get("class") or "").split()]
    assert len(links) == len(edge_map.edges())
    # plc is wired to the quarantined twn-3; its twin runs on twn-2, drawn as an arrow.
    (elsewhere,) = [line for line in root.iter(f"{SVG}line") if line.get("class") == "twin-elsewhere"]
    node = groups["vertex-twn-2"].find(f"{SVG}circle")
    assert (elsewhere.get("x2"), elsewhere.get("y2")) == (node.get("cx"), node.get("cy"))
    # Vertices do not sit on top of each other.
    centres = []
    for group in groups.values():
        shape = (
            group.find(f"{SVG}circle") if group.find(f"{SVG}circle") is not None else group.find(f"{SVG}rect")
        )
        x = float(shape.get("cx") or float(shape.get("x")) + 13)
        y = float(shape.get("cy") or float(shape.get("y")) + 13)
        centres.append((x, y))
    assert all(
        abs(a[0] - b[0]) + abs(a[1] - b[1]) > 30 for i, a in enumerate(centres) for b in centres[i + 1 :]
    )


def test_the_html_page_has_the_picture_and_a_row_per_vertex():
    page = render_html(sample(), "edge map <twn>")
    assert page.count("<tr><td>") == 7
    assert "<svg" in page and "edge map &lt;twn&gt;" in page and "<twn>" not in page


def test_an_empty_map_still_renders():
    root = ET.fromstring(render_svg(build_edge_map([], [], {})))
    assert "0 nodes, 0 devices, 0 links" in "".join(root.itertext())
