"""The lab's pure parts: its spec, its inventory, its table."""

import shlex

import pytest

from edgewright.cli import format_table, project_root
from edgewright.lab.nodes import LabError, LabSpec, known_hosts_line, render_inventory


def test_nodes_get_stable_names_and_addresses():
    spec = LabSpec(name="edge", nodes=3, subnet="10.231.0.0/24")
    assert [spec.node_name(i) for i in (1, 2, 3)] == ["edge-1", "edge-2", "edge-3"]
    assert [spec.node_address(i) for i in (1, 2, 3)] == ["10.231.0.11", "10.231.0.12", "10.231.0.13"]
    assert spec.gateway == "10.231.0.1"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (LabSpec(nodes=0), "--nodes must be between 1 and 50, not 0"),
        (LabSpec(nodes=51), "--nodes must be between 1 and 50, not 51"),
        (LabSpec(name="Edge"), "lab name 'Edge' is not valid"),
        (LabSpec(name="1edge"), "lab name '1edge' is not valid"),
        (LabSpec(name="a" * 21), "is not valid"),
        (LabSpec(subnet="10.0.0.300/24"), "is not a network"),
        (LabSpec(subnet="fd00::/64"), "is too small"),
        (LabSpec(nodes=10, subnet="10.231.0.0/28"), "--subnet 10.231.0.0/28 is too small for 10 nodes"),
    ],
)
def test_bad_specs_are_refused_with_the_reason(spec, message):
    with pytest.raises(LabError, match=message.replace("(", r"\(")):
        spec.validate()


def test_inventory_puts_every_node_in_edge_nodes(tmp_path):
    spec = LabSpec(name="t", nodes=2, subnet="10.231.5.0/24")
    inventory = render_inventory(spec, tmp_path / "key", tmp_path / "known hosts")
    hosts = inventory["all"]["children"]["edge_nodes"]["hosts"]
    assert hosts == {
        "t-1": {"ansible_host": "10.231.5.11", "edgewright_node_index": 1},
        "t-2": {"ansible_host": "10.231.5.12", "edgewright_node_index": 2},
    }
    lab_vars = inventory["all"]["vars"]
    assert lab_vars["ansible_ssh_private_key_file"] == str(tmp_path / "key")
    assert lab_vars["edgewright_lab"] == "t"
    assert lab_vars["edgewright_tpm_mode"] == "virtual"
    # Each node is accepted only with the host key the lab pinned for it.
    assert shlex.split(lab_vars["ansible_ssh_common_args"]) == [
        "-o",
        f"UserKnownHostsFile={tmp_path / 'known hosts'}",
        "-o",
        "StrictHostKeyChecking=yes",
    ]


def test_known_hosts_lines_take_only_a_host_key():
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEYx root@tlab-1\n"
    assert known_hosts_line("10.231.5.11", key) == "10.231.5.11 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEYx"
    for bad in ["", "ssh-ed25519", "ssh-dss AAAA", "ssh-ed25519 not*base64", "@revoked * ssh-ed25519 AAAA"]:
        with pytest.raises(ValueError, match="not an OpenSSH public host key"):
            known_hosts_line("10.231.5.11", bad)


def test_table_has_a_header_and_a_row_per_node():
    table = format_table([{"name": "edge-1", "stage": "baseline"}, {"name": "edge-22", "stage": "bare"}])
    assert table.splitlines() == ["NAME     STAGE   ", "edge-1   baseline", "edge-22  bare    "]
    assert format_table([]) == "no lab nodes"


def test_project_root_is_found_from_a_subdirectory(tmp_path):
    (tmp_path / "roles").mkdir()
    (tmp_path / "ansible.cfg").write_text("")
    (tmp_path / "playbooks").mkdir()
    assert project_root(tmp_path / "playbooks") == tmp_path


def _pod(phase, *containers):
    from kubernetes.client import (
        V1ContainerState,
        V1ContainerStateWaiting,
        V1ContainerStatus,
        V1Pod,
        V1PodStatus,
    )

    statuses = [
        V1ContainerStatus(
            name="c",
            image="i",
            image_id="",
            ready=ready,
            restart_count=0,
            state=V1ContainerState(waiting=V1ContainerStateWaiting(reason=reason) if reason else None),
        )
        for ready, reason in containers
    ]
    return V1Pod(status=V1PodStatus(phase=phase, container_statuses=statuses or None))


def test_pod_state_says_ready_or_why_a_container_waits():
    from edgewright.lab.nodes import pod_state

    assert pod_state(_pod("Running", (True, None))) == "ready"
    assert pod_state(_pod("Running", (False, None))) == "Running"
    assert pod_state(_pod("Pending", (False, "ImagePullBackOff"))) == "ImagePullBackOff"
    assert pod_state(_pod("Pending")) == "Pending"


def test_the_site_registry_group_is_only_in_a_kubernetes_lab(tmp_path):
    inventory = render_inventory(
        LabSpec(name="k8s", nodes=2, subnet="10.231.40.0/24"), tmp_path / "key", tmp_path / "known_hosts"
    )
    assert "site_registry" not in inventory["all"]["children"]
    assert "edgewright_site_registry" not in inventory["all"]["vars"]


def test_cluster_dns_line_counts_ready_pods_and_says_why_others_are_not():
    from edgewright.lab.nodes import cluster_dns_line

    assert cluster_dns_line(["ready", "ready"]) == "cluster DNS: CoreDNS 2/2 ready"
    assert (
        cluster_dns_line(["ready", "ImagePullBackOff"]) == "cluster DNS: CoreDNS 1/2 ready (ImagePullBackOff)"
    )
