"""The edge_stage module run by real Ansible (on localhost, into a temporary record)."""

from __future__ import annotations

import json
import os
import subprocess

from conftest import ROOT


def run_module(args: str, *extra: str) -> dict:
    proc = subprocess.run(
        ["ansible", "localhost", "-c", "local", "-m", "edge_stage", "-a", args, *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_STDOUT_CALLBACK": "json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"},
        check=False,
    )
    # The JSON document sits between the task-timing lines of ansible.cfg's profile_tasks.
    result, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{") :])
    return result["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_records_a_stage_once_and_honours_check_mode(tmp_path):
    record = tmp_path / "lifecycle.json"
    checked = run_module(f"stage=baseline path={record}", "--check")
    assert checked["changed"] is True
    assert not record.exists(), "check mode must not write"

    first = run_module(f"stage=baseline path={record}")
    assert first["changed"] is True
    assert first["stage"] == "baseline"
    assert json.loads(record.read_text())["stage"] == "baseline"

    second = run_module(f"stage=baseline path={record}")
    assert second["changed"] is False

    back = run_module(f"stage=baseline state=absent path={record}")
    assert back["changed"] is True
    assert back["stage"] == "bare"


def test_an_unknown_stage_is_refused_and_nothing_written(tmp_path):
    record = tmp_path / "lifecycle.json"
    result = run_module(f"stage=atested path={record}")
    assert result.get("failed") is True
    assert "stage" in result["msg"]
    assert "attested" in result["msg"]
    assert not record.exists()
