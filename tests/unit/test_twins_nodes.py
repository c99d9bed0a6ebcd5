"""Reading Node objects into what placement needs."""

import pytest

from edgewright.twins.device import Location
from edgewright.twins.nodes import node_view, quantity_mib


def node(name="twn-1", ready="True", labels=None, annotations=None, memory="4Gi", unschedulable=None):
    spec = {}
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}},
        "spec": spec,
        "status": {"conditions": [{"type": "Ready", "status": ready}], "allocatable": {"memory": memory}},
    }


@pytest.mark.parametrize(
    ("quantity", "mib"),
    [("4Gi", 4096), ("8053040Ki", 7864), ("512M", 488), ("1073741824", 1024), ("1.5Gi", 1536)],
)
def test_memory_quantities(quantity, mib):
    assert quantity_mib(quantity) == mib


def test_bad_quantity():
    with pytest.raises(ValueError, match="not a memory quantity"):
        quantity_mib("lots")


def test_a_ready_node_with_location_and_links():
    view = node_view(
        node(
            annotations={
                "edgewright.io/location": "48.1,11.5",
                "edgewright.io/links": "twn-2=mesh, twn-3=ethernet",
            }
        )
    )
    assert (
        view.node.usable and view.node.location == Location(48.1, 11.5) and view.node.allocatable_mib == 4096
    )
    assert view.links == (("twn-2", "mesh"), ("twn-3", "ethernet"))
    assert view.problems == ()


@pytest.mark.parametrize(
    "resource",
    [
        node(ready="False"),
        node(ready="Unknown"),
        node(unschedulable=True),
        node(labels={"node-restriction.kubernetes.io/edgewright-attested": "false"}),
    ],
)
def test_unusable_nodes(resource):
    assert not node_view(resource).node.usable


def test_an_attested_node_and_a_node_without_the_label_are_not_quarantined():
    for labels in ({"node-restriction.kubernetes.io/edgewright-attested": "true"}, {}):
        view = node_view(node(labels=labels))
        assert view.node.usable and not view.node.quarantined


def test_bad_annotations_are_reported_not_fatal():
    view = node_view(
        node(
            annotations={"edgewright.io/location": "95,0", "edgewright.io/links": "twn-2=radio,=mesh"},
            memory="x",
        )
    )
    assert view.node.location is None and view.node.allocatable_mib == 0 and view.links == ()
    text = "\n".join(view.problems)
    assert "out of range" in text and "'twn-2=radio'" in text and "'=mesh'" in text and "memory" in text


def test_taints_are_read_from_the_node():
    resource = node()
    resource["spec"]["taints"] = [
        {"key": "edgewright.io/battery-powered", "value": "true", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
    ]
    view = node_view(resource)
    assert [str(t) for t in view.node.taints] == [
        "edgewright.io/battery-powered=true:NoSchedule",
        "node.kubernetes.io/unreachable:NoExecute",
    ]
