"""The lab against real podman: up, status, idempotent up, down leaves nothing, bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import yaml
from conftest import ROOT, edgewright

from edgewright.lab import podman

pytestmark = pytest.mark.lab

LAB = "tlab"
SUBNET = "10.231.90.0/24"


def lab_resources(name: str) -> list[str]:
    containers = podman.text(
        ["ps", "--all", "--filter", f"label=io.edgewright.lab={name}", "--format", "{{.Names}}"]
    )
    networks = podman.text(
        ["network", "ls", "--filter", f"label=io.edgewright.lab={name}", "--format", "{{.Name}}"]
    )
    return [line for line in (containers + "\n" + networks).splitlines() if line]


def container_ids(name: str) -> dict[str, str]:
    rows = podman.as_json(["ps", "--all", "--format", "json", "--filter", f"label=io.edgewright.lab={name}"])
    return {row["Names"][0]: row["Id"] for row in rows}


def node_exec(node: str, script: str) -> str:
    return podman.text(["exec", node, "bash", "-c", script])


def ansible_ping(inventory, env: dict | None = None, succeed: bool = True) -> str:
    ping = subprocess.run(
        ["ansible", "-i", str(inventory), "edge_nodes", "-m", "ansible.builtin.ping", "-o"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert (ping.returncode == 0) == succeed, ping.stdout + ping.stderr
    return ping.stdout + ping.stderr


@pytest.fixture
def inventory(tmp_path):
    return tmp_path / "hosts.yml"


@pytest.fixture
def lab(lab_home, inventory):
    """A two-node lab, always taken down afterwards."""
    up = edgewright(
        "lab", "up", "--name", LAB, "--nodes", "2", "--subnet", SUBNET, "--inventory", str(inventory)
    )
    assert up.returncode == 0, up.stderr
    yield up
    edgewright("lab", "down", "--name", LAB, "--inventory", str(inventory))


def test_up_gives_booted_nodes_with_a_tpm_reachable_over_ssh(lab, inventory):
    status = edgewright("lab", "status", "--name", LAB, "--json")
    rows = json.loads(status.stdout)
    assert [(r["name"], r["address"], r["container"]) for r in rows] == [
        ("tlab-1", "10.231.90.11", "running"),
        ("tlab-2", "10.231.90.12", "running"),
    ]
    assert {r["systemd"] for r in rows} <= {"running", "degraded"}
    assert {r["tpm"] for r in rows} == {"active"}
    assert {r["stage"] for r in rows} == {"bare"}

    # The inventory it wrote is what Ansible uses: every node answers over SSH.
    assert ansible_ping(inventory).count("SUCCESS") == 2

    # Each node has a TPM of its own: a different endorsement key on each.
    tcti = "TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=2321"
    ek = f"{tcti} tpm2_createek -c /tmp/ek.ctx -G rsa -u /tmp/ek.pub >/dev/null && sha256sum /tmp/ek.pub"
    assert node_exec("tlab-1", ek) != node_exec("tlab-2", ek)

    # Each node made its own SSH host key and machine id at first boot.
    for identity in ("cat /etc/ssh/ssh_host_ed25519_key.pub", "cat /etc/machine-id"):
        assert node_exec("tlab-1", identity) != node_exec("tlab-2", identity)


def test_a_second_up_gives_the_same_lab(lab, inventory):
    before_ids, before_inventory = container_ids(LAB), inventory.read_bytes()
    again = edgewright(
        "lab", "up", "--name", LAB, "--nodes", "2", "--subnet", SUBNET, "--inventory", str(inventory)
    )
    assert again.returncode == 0, again.stderr
    assert container_ids(LAB) == before_ids
    assert inventory.read_bytes() == before_inventory
    assert "creating" not in again.stderr and "pinned" not in again.stderr


def test_nodes_are_remade_when_the_lab_key_is_lost(lab, inventory, tmp_path):
    other_home = {"EDGEWRIGHT_HOME": str(tmp_path / "other-home")}
    args = ["lab", "up", "--name", LAB, "--nodes", "2", "--subnet", SUBNET, "--inventory", str(inventory)]
    again = edgewright(*args, env=other_home)
    assert again.returncode == 0, again.stderr
    assert "re-creating tlab-1" in again.stderr
    assert ansible_ping(inventory).count("SUCCESS") == 2


def test_a_node_whose_host_key_changed_is_refused_until_the_lab_pins_it_again(lab, inventory, tmp_path):
    assert ansible_ping(inventory).count("SUCCESS") == 2
    # tlab-1 answers with another host key: a node swapped behind the lab's back, or someone in the path.
    node_exec("tlab-1", "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A && systemctl restart ssh")
    # A fresh SSH control directory: a connection kept open from before would not show the new key.
    fresh = {"ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp_path / "cp")}
    refused = ansible_ping(inventory, env=fresh, succeed=False)
    assert "tlab-2 | SUCCESS" in refused
    assert "tlab-1 | UNREACHABLE" in refused and "Host key verification failed" in refused
    # `lab up` reads the node's keys through podman, not over the network, and pins the new one.
    again = edgewright(
        "lab", "up", "--name", LAB, "--nodes", "2", "--subnet", SUBNET, "--inventory", str(inventory)
    )
    assert again.returncode == 0, again.stderr
    assert "pinned the nodes' SSH host keys" in again.stderr
    assert (
        ansible_ping(inventory, env={"ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp_path / "cp2")}).count("SUCCESS")
        == 2
    )


def test_up_restarts_a_stopped_node_and_shrinks_to_the_asked_size(lab, inventory):
    podman.run(["stop", "--time", "2", "tlab-2"])
    again = edgewright(
        "lab", "up", "--name", LAB, "--nodes", "2", "--subnet", SUBNET, "--inventory", str(inventory)
    )
    assert again.returncode == 0, again.stderr
    assert "starting tlab-2" in again.stderr
    smaller = edgewright(
        "lab", "up", "--name", LAB, "--nodes", "1", "--subnet", SUBNET, "--inventory", str(inventory)
    )
    assert smaller.returncode == 0, smaller.stderr
    assert list(container_ids(LAB)) == ["tlab-1"]
    hosts = yaml.safe_load(inventory.read_text())["all"]["children"]["edge_nodes"]["hosts"]
    assert list(hosts) == ["tlab-1"]


def test_down_removes_the_lab_and_nothing_else(lab, lab_home, inventory):
    bystander = "tlab-bystander"
    podman.run(["create", "--name", bystander, "localhost/edgewright-node:bookworm"])
    try:
        down = edgewright("lab", "down", "--name", LAB, "--inventory", str(inventory))
        assert down.returncode == 0, down.stderr
        assert lab_resources(LAB) == []
        assert not inventory.exists()
        assert not (lab_home / "labs" / LAB).exists()
        assert podman.exists("container", bystander)
        assert podman.exists("image", "localhost/edgewright-node:bookworm")
        again = edgewright("lab", "down", "--name", LAB, "--inventory", str(inventory))
        assert again.returncode == 0
        assert "nothing to remove" in again.stdout
    finally:
        podman.run(["rm", "--force", bystander])


def test_a_name_taken_by_something_else_is_refused_before_any_change(lab_home, inventory):
    podman.run(["create", "--name", "tforeign-1", "localhost/edgewright-node:bookworm"])
    try:
        up = edgewright("lab", "up", "--name", "tforeign", "--nodes", "1", "--inventory", str(inventory))
        assert up.returncode == 1
        assert "container name 'tforeign-1' is already taken" in up.stderr
        assert not podman.exists("network", "tforeign-net")
        assert not inventory.exists()
        # And down never removes what it did not create.
        edgewright("lab", "down", "--name", "tforeign", "--inventory", str(inventory))
        assert podman.exists("container", "tforeign-1")
    finally:
        podman.run(["rm", "--force", "tforeign-1"])


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        # A bad command line (64), then input the lab refuses (1): each one line naming the problem.
        (["up", "--nodes", "0"], 64, "--nodes must be between 1 and 50, not 0"),
        (["up", "--nodes", "51"], 64, "--nodes must be between 1 and 50, not 51"),
        (["up", "--nodes", "three"], 64, "--nodes must be a whole number, not 'three'"),
        (["up", "--name", "Bad_Name"], 1, "lab name 'Bad_Name' is not valid"),
        (
            ["up", "--name", "tbad", "--subnet", "10.231.91.0/29", "--nodes", "5"],
            1,
            "is too small for 5 nodes",
        ),
        (["status", "--name=x_y"], 1, "lab name 'x_y' is not valid"),
        (["down", "--name", "UPPER"], 1, "lab name 'UPPER' is not valid"),
    ],
)
def test_bad_input_is_refused_clearly_and_creates_nothing(args, status, message, lab_home):
    result = edgewright("lab", *args)
    assert result.returncode == status
    assert message in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert not (lab_home / "labs").exists()
    assert lab_resources("tbad") == []


def test_a_missing_podman_is_named(lab_home, tmp_path):
    # A PATH with python but without podman.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("python3"), bin_dir / "python3")
    result = edgewright("lab", "status", env={"PATH": str(bin_dir)})
    assert result.returncode == 1
    assert "podman is not installed" in result.stderr


def test_an_unusable_podman_is_named_with_its_own_reason(lab_home, tmp_path):
    # A podman that is there but cannot work, as on a host without the storage or runtime it needs.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("python3"), bin_dir / "python3")
    fake = bin_dir / "podman"
    fake.write_text("#!/bin/sh\necho 'Error: cannot open the container storage' >&2\nexit 125\n")
    fake.chmod(0o755)
    result = edgewright("lab", "up", "--name", "tbad", env={"PATH": str(bin_dir)})
    assert result.returncode == 1
    assert "podman is installed but not usable: Error: cannot open the container storage" in result.stderr
    assert not (lab_home / "labs").exists()
