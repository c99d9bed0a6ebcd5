"""The edge_probe_report action run by real Ansible: the node's report, on the controller, written once."""

from __future__ import annotations

import json
import os
import subprocess

from conftest import ROOT


def report(tmp_path, args: dict, *extra: str) -> dict:
    inventory = tmp_path / "hosts.yml"
    # The state directory as an inventory names it: a template, as the lab's names its own.
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {"ctl-p1": {"ansible_connection": "local"}},
                    "vars": {"edgewright_state_dir": "{{ '" + str(tmp_path) + "' }}/state"},
                }
            }
        )
    )
    proc = subprocess.run(
        [
            "ansible",
            "-i",
            str(inventory),
            "ctl-p1",
            "-m",
            "edge_probe_report",
            "-a",
            json.dumps(args),
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_STDOUT_CALLBACK": "json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"},
        check=False,
    )
    result, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{") :])
    return result["plays"][0]["tasks"][0]["hosts"]["ctl-p1"]


def test_the_report_lands_in_the_inventorys_state_dir_once(tmp_path):
    path = tmp_path / "state" / "devices" / "ctl-p1.json"
    args = {"node": "ctl-p1", "record": {"cpu": {"count": 2}, "level": "kubelet"}}
    checked = report(tmp_path, args, "--check")
    assert checked["changed"] is True and not path.exists()
    first = report(tmp_path, args)
    assert first["changed"] is True and first["path"] == str(path)
    assert json.loads(path.read_text()) == args["record"]
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    assert report(tmp_path, args)["changed"] is False
    assert report(tmp_path, args, "--check")["changed"] is False


def test_a_node_name_that_is_not_a_plain_name_is_refused_and_nothing_written(tmp_path):
    refused = report(tmp_path, {"node": "../../etc/cron.d/x", "record": {}, "dir": str(tmp_path / "reports")})
    assert refused["failed"] is True and "'../../etc/cron.d/x' is not a plain name" in refused["msg"]
    assert not (tmp_path / "reports").exists() and not (tmp_path / "etc").exists()


def test_bad_input_names_the_argument(tmp_path):
    refused = report(tmp_path, {"node": "ctl-p1", "record": "not a dict"})
    assert refused["failed"] is True and "record" in refused["msg"]
    refused = report(tmp_path, {"node": "ctl-p1", "record": {}, "colour": "red"})
    assert refused["failed"] is True and "colour" in refused["msg"]
