"""`edgewright run`: a real playbook through ansible-runner, on this machine as two local-connection nodes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import ROOT, edgewright

# A value in the operator's environment that must not be left on disk by a run.
SECRET = "s3cret-token-7f1c"

PLAYBOOK = [
    {
        "name": "Give the nodes their baseline",
        "hosts": "all",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Record the baseline stage",
                "edge_stage": {"stage": "baseline", "path": "{{ stage_file }}"},
            },
            {
                # ansible-runner turns host key checking off unless told otherwise; the run keeps ansible.cfg's.
                "name": "Check that host keys are checked as ansible.cfg says",
                "ansible.builtin.assert": {
                    "that": "lookup('ansible.builtin.config', 'HOST_KEY_CHECKING') | bool"
                },
            },
        ],
    },
    {
        "name": "Probe the nodes",
        "hosts": "all",
        "gather_facts": False,
        "roles": ["probe_demo"],
        "tasks": [
            {
                "name": "Refuse a node",
                "ansible.builtin.fail": {"msg": "{{ inventory_hostname }} has no TPM\nat all"},
                "when": "inventory_hostname == refused | default('run-b')",
            },
            {
                "name": "Record the probed stage",
                "edge_stage": {"stage": "probed", "path": "{{ stage_file }}"},
            },
        ],
    },
]

ROLE = [
    {"name": "Say what is probed", "ansible.builtin.debug": {"msg": "probing"}},
    {"name": "Probe for real", "ansible.builtin.command": "true"},
]


@pytest.fixture
def site(tmp_path):
    """A playbook with a role, and an inventory of two nodes that are this machine."""
    (tmp_path / "roles" / "probe_demo" / "tasks").mkdir(parents=True)
    (tmp_path / "roles" / "probe_demo" / "tasks" / "main.yml").write_text(
        yaml.safe_dump(ROLE, sort_keys=False)
    )
    (tmp_path / "playbook.yml").write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False))
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    hosts = {name: {**local, "stage_file": str(tmp_path / f"{name}.json")} for name in ("run-a", "run-b")}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return tmp_path


def run(site: Path, *args: str):
    return edgewright(
        "run",
        str(site / "playbook.yml"),
        "-i",
        str(site / "inventory.yml"),
        *args,
        env={"EDGEWRIGHT_HOME": str(site / "home"), "EDGEWRIGHT_TEST_TOKEN": SECRET},
    )


def test_a_run_shows_progress_per_node_and_phase_and_ends_with_recap_and_stages(site):
    proc = run(site)
    out = proc.stdout
    assert proc.returncode == 2, out + proc.stderr  # ansible-playbook's: a node failed
    lines = out.splitlines()
    assert "PLAY Give the nodes their baseline" in lines and "PLAY Probe the nodes" in lines
    # One line per node per phase, in the inventory's order: the play's own tasks, then the role.
    phases = [line.split()[:3] for line in lines if re.match(r"^  run-[ab] ", line)]
    assert phases == [
        ["run-a", "tasks", "ok=2"],
        ["run-b", "tasks", "ok=2"],
        ["run-a", "probe_demo", "ok=2"],
        ["run-b", "probe_demo", "ok=2"],
        ["run-a", "tasks", "ok=1"],
        ["run-b", "tasks", "failed=1"],
    ]
    assert re.search(r"^  run-a\s+probe_demo\s+ok=2 changed=1\s+\d+\.\ds$", out, re.M)
    # The failed task is one line that names the node and the task, and its message on one line.
    assert [line for line in lines if ": FAILED: " in line] == [
        "  run-b: FAILED: Refuse a node: run-b has no TPM; at all"
    ]
    # Ansible's own output is not shown; the log has it.
    for raw in ("TASK [", "PLAY RECAP", "fatal:", "ok: [run-a]"):
        assert raw not in out
    assert lines[0].startswith(f"{site / 'playbook.yml'}: Ansible's output goes to ")
    header = ["NODE", "OK", "CHANGED", "UNREACHABLE", "FAILED", "SKIPPED", "RESCUED", "IGNORED"]
    recap = next(index for index, line in enumerate(lines) if line.split() == header)
    assert lines[recap + 1].split() == ["run-a", "5", "3", "0", "0", "1", "0", "0"]
    assert lines[recap + 2].split() == ["run-b", "4", "2", "0", "1", "0", "0", "0"]
    # The stage table: each node's stage as its last edge_stage task recorded it.
    stages = next(index for index, line in enumerate(lines) if line.split() == ["NODE", "STAGE"])
    assert [line.split() for line in lines[stages + 1 : stages + 3]] == [
        ["run-a", "probed"],
        ["run-b", "baseline"],
    ]
    assert json.loads((site / "run-a.json").read_text())["stage"] == "probed"
    last = lines[-1]
    assert last.startswith(f"{site / 'playbook.yml'}: failed (exit status 2) on run-b; log: ")
    log = Path(last.rsplit("log: ", 1)[1])
    text = log.read_text()
    assert "PLAY RECAP" in text and "fatal: [run-b]" in text and "\x1b[" not in text
    # ansible-runner writes the run's environment next to the log; the run takes it away.
    assert not (log.parent / "command").exists()
    for path in (site / "home").rglob("*"):
        assert not path.is_file() or SECRET not in path.read_text(errors="replace"), path


def test_extra_vars_and_limit_reach_the_playbook_and_a_clean_run_exits_0(site):
    # From the operator's directory, with paths relative to it: the playbook runs in the project's.
    (site / "vars.yml").write_text("refused: nobody\n")
    args = [
        "run",
        "playbook.yml",
        "-i",
        "inventory.yml",
        "-e",
        "@vars.yml",
        "-e",
        "unused=1",
        "--limit",
        "run-b",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "edgewright.cli", *args],
        cwd=site,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "EDGEWRIGHT_HOME": str(site / "home")},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ": FAILED: " not in proc.stdout and "run-a" not in proc.stdout
    assert proc.stdout.splitlines()[-1].startswith(f"{site / 'playbook.yml'}: ok; log: ")
    assert json.loads((site / "run-b.json").read_text())["stage"] == "probed"
    assert not (site / "run-a.json").exists()


def test_an_unreachable_node_is_one_line_and_the_playbooks_status(site):
    unreachable = {"ansible_host": "127.0.0.1", "ansible_port": 1, "stage_file": str(site / "run-c.json")}
    (site / "unreachable.yml").write_text(yaml.safe_dump({"all": {"hosts": {"run-c": unreachable}}}))
    proc = edgewright(
        "run",
        str(site / "playbook.yml"),
        "-i",
        str(site / "unreachable.yml"),
        env={"EDGEWRIGHT_HOME": str(site)},
    )
    assert proc.returncode == 4, proc.stdout + proc.stderr  # ansible-playbook's: a node was unreachable
    [line] = [line for line in proc.stdout.splitlines() if "UNREACHABLE:" in line]
    assert line.startswith("  run-c: UNREACHABLE: Record the baseline stage: ") and "port 1" in line


def test_a_playbook_ansible_cannot_load_is_one_error_line_and_its_status(site):
    (site / "broken.yml").write_text(
        yaml.safe_dump(
            [{"name": "Broken", "hosts": "all", "tasks": [{"name": "X", "nosuch.collection.module": {}}]}]
        )
    )
    proc = edgewright(
        "run", str(site / "broken.yml"), "-i", str(site / "inventory.yml"), env={"EDGEWRIGHT_HOME": str(site)}
    )
    assert proc.returncode == 4, proc.stdout + proc.stderr
    [line] = [line for line in proc.stdout.splitlines() if line.startswith("  error: ")]
    assert "nosuch.collection.module" in line and "broken.yml" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch"], "no playbook 'nosuch': not a file, nor one of"),
        (["site", "-i", "/nonexistent/hosts.yml"], "no inventory '/nonexistent/hosts.yml': no such file"),
    ],
)
def test_what_is_missing_is_one_line_before_anything_runs(args, message, tmp_path):
    proc = edgewright("run", *args, env={"EDGEWRIGHT_HOME": str(tmp_path)})
    assert proc.returncode == 66
    assert proc.stdout == "" and proc.stderr.startswith("edgewright run: error: ")
    assert message in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_a_lab_inventory_ends_with_the_labs_status_and_keeps_the_playbooks_status(tmp_path):
    """On an inventory `lab up` wrote, the run ends with `lab status` of that lab; when that cannot be had
    (here: no podman on PATH) it says so in one line and the exit status stays the playbook's."""
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    inventory = {"all": {"vars": {"edgewright_lab": "runstage"}, "hosts": {"runstage-1": local}}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    # Its task runs on the controller (debug): the node needs no tools from the empty PATH.
    (tmp_path / "hello.yml").write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Hello",
                    "hosts": "all",
                    "gather_facts": False,
                    "tasks": [{"ansible.builtin.debug": {"msg": "hello"}}],
                }
            ]
        )
    )
    (tmp_path / "bin").mkdir()
    proc = edgewright(
        "run",
        str(tmp_path / "hello.yml"),
        "-i",
        str(tmp_path / "hosts.yml"),
        env={"EDGEWRIGHT_HOME": str(tmp_path / "home"), "PATH": str(tmp_path / "bin")},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith(
        "edgewright run: error: no stage table for lab 'runstage': podman is not installed"
    )
    assert proc.stdout.splitlines()[-1].startswith(f"{tmp_path / 'hello.yml'}: ok; log: ")
