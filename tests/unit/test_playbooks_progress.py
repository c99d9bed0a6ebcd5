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


def _result(kind: str, host: str, task: str, role: str, ignore_errors: bool = False, **res) -> dict:
    data = {"host": host, "task": task, "role": role, "task_action": "ansible.builtin.command", "res": res}
    return {"event": kind, "event_data": {**data, "ignore_errors": ignore_errors}}


def test_handlers_are_a_phase_of_their_own_and_ignored_errors_no_failure():
    lines = view(
        {"event": "playbook_on_play_start", "event_data": {"play": "Baseline"}},
        {"event": "playbook_on_task_start", "event_data": {"task": "Install", "role": "common"}},
        _result("runner_on_ok", "n-1", "Install", "common", changed=True),
        {"event": "playbook_on_task_start", "event_data": {"task": "Maybe", "role": "common"}},
        _result("runner_on_failed", "n-1", "Maybe", "common", ignore_errors=True, msg="expected"),
        {"event": "playbook_on_handler_task_start", "event_data": {"task": "Restart", "role": "common"}},
        _result("runner_on_ok", "n-1", "Restart", "common", changed=True),
        {
            "event": "playbook_on_stats",
            "event_data": {"ok": {"n-1": 2}, "changed": {"n-1": 2}, "ignored": {"n-1": 1}},
        },
    )
    assert lines == [
        "PLAY Baseline",
        "  n-1     common                ok=1 changed=1 ignored=1        0.0s",
        "  n-1     common handlers       ok=1 changed=1                  0.0s",
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
