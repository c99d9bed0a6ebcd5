"""The progress view's pure parts: one line for a failed result, Ansible's messages, the status line.
(tests/integration/test_run.py runs it on a real playbook.)"""

from __future__ import annotations

import io

from edgewright.playbooks.progress import Console, Progress, failure_message


def test_a_failed_tasks_message_is_one_line():
    assert failure_message({"msg": "no TPM\nat all"}) == "no TPM; at all"
    assert failure_message({"msg": "x" * 1000}).endswith("…")


def test_a_failed_command_says_its_status_and_last_error_line():
    result = {
        "msg": "non-zero return code",
        "rc": 3,
        "stderr": "warming up\nE: no such package\n",
        "stdout": "",
    }
    assert failure_message(result) == "exit status 3: E: no such package"
    assert failure_message({"msg": "", "rc": 1, "stdout": "", "stderr": ""}) == "exit status 1"


def test_a_failed_loop_names_its_first_failed_item():
    result = {
        "msg": "One or more items failed",
        "results": [
            {"item": "a", "failed": False},
            {"item": "b", "failed": True, "msg": "b is broken"},
            {"item": "c", "failed": True, "msg": "c too"},
        ],
    }
    assert failure_message(result) == "item 'b': b is broken"


def test_a_hidden_result_stays_hidden():
    censored = {"censored": "the output has been hidden due to the fact that 'no_log: true' was specified"}
    assert failure_message(censored) == "its output is hidden (no_log)"
    item = {"item": "s3cret", "failed": True, "censored": "hidden", "_ansible_no_log": True}
    assert (
        failure_message({"msg": "One or more items failed", "results": [item]})
        == "its output is hidden (no_log)"
    )


def view(*events) -> list[str]:
    out = io.StringIO()
    progress = Progress(Console(out), clock=lambda: 0.0)
    for event in events:
        progress.handle(event)
    progress.close()
    return out.getvalue().splitlines()


def test_ansibles_errors_and_warnings_are_one_line_each_with_where_they_come_from():
    lines = view(
        {"event": "verbose", "stdout": "[ERROR]: couldn't resolve module/action 'nosuch.module'."},
        {"event": "verbose", "stdout": "Origin: /site/broken.yml:4:7"},
        {"event": "verbose", "stdout": ""},
        {"event": "verbose", "stdout": "2   hosts: all"},
        {"event": "warning", "stdout": "[WARNING]: Could not match supplied host pattern, ignoring: nosuch"},
        {"event": "warning", "stdout": "[WARNING]: Could not match supplied host pattern, ignoring: nosuch"},
    )
    assert lines == [
        "  error: couldn't resolve module/action 'nosuch.module'. (/site/broken.yml:4:7)",
        "  warning: Could not match supplied host pattern, ignoring: nosuch",
    ]


def _task(task: str, role: str | None, action: str = "ansible.builtin.command", path: str = "") -> dict:
    data = {"task": task, "task_action": action, "task_path": path or f"/site/roles/{role}/tasks/main.yml:1"}
    return {**data, "role": role} if role else data


def _ran(kind: str, host: str, task: dict, ignore_errors: bool = False, **res) -> list[dict]:
    """The events of TASK on HOST: its start, then its result RES."""
    return [
        {"event": "playbook_on_task_start", "event_data": task},
        {"event": "runner_on_start", "event_data": {**task, "host": host}},
        {"event": kind, "event_data": {**task, "host": host, "res": res, "ignore_errors": ignore_errors}},
    ]


def test_a_role_a_role_includes_and_its_handlers_are_part_of_its_phase():
    include = _task("Refuse the node unless attested", "mesh", action="ansible.builtin.include_role")
    lines = view(
        {"event": "playbook_on_play_start", "event_data": {"play": "Mesh"}},
        *_ran("runner_on_ok", "n-1", _task("Check the settings", "mesh")),
        *_ran("runner_on_ok", "n-1", include, include_args={"name": "attest", "tasks_from": "gate"}),
        *_ran("runner_on_ok", "n-1", _task("Refuse the node unless the verifier has it attested", "attest")),
        *_ran("runner_on_ok", "n-1", _task("Join the overlay", "mesh"), changed=True),
        *_ran("runner_on_ok", "n-1", _task("Probe", "node_exporter")),
        *_ran("runner_on_failed", "n-1", _task("Maybe", "node_exporter"), ignore_errors=True, msg="expected"),
        # A handler of the mesh role, flushed while node_exporter runs.
        *_ran(
            "runner_on_ok",
            "n-1",
            _task("Restart mesh", "mesh", path="/site/roles/mesh/handlers/main.yml:1"),
            changed=True,
        ),
        # attest, no longer included, is a phase of its own.
        *_ran("runner_on_ok", "n-1", _task("Attest", "attest")),
    )
    assert lines == [
        "PLAY Mesh",
        "  n-1     mesh                  ok=4 changed=1                  0.0s",
        "  n-1     node_exporter         ok=2 changed=1 ignored=1        0.0s",
        "  n-1     attest                ok=1                            0.0s",
    ]


def test_on_a_terminal_the_task_under_way_is_a_status_line_the_next_line_replaces():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    console = Console(out)
    console.status("  ... common : Install")
    console.line("PLAY Next")
    assert out.getvalue() == "  ... common : Install\r\x1b[KPLAY Next\n"
    assert not Console(io.StringIO()).live


def test_a_console_whose_reader_went_away_is_let_go():
    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    console = Console(ClosedPipe())
    console.line("PLAY Baseline")
    console.line("  n-1  common  ok=1")
    assert console.stream is None
