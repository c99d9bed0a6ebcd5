"""A compact view of a playbook run, made from ansible-runner's events instead of Ansible's own output.

Each play gets a line as it starts; each node a line as it leaves a phase (a role, or the play's own
tasks) with what the phase did on it; a failed task or an unreachable node one line naming the node and
the task, as it happens; Ansible's warnings and errors one line each. On a terminal, the task under way
shows on a status line that the next line replaces. The whole of Ansible's output goes to the run's log.

A role a role includes (the attest gate the mesh and kubelet roles include, the kubelet's artefact tasks
kube_proxy includes) and a role's handlers are part of the phase under way, not phases of their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO

from edgewright.errors import one_line

# Ansible's recap counters, in its order, under the names the recap prints.
RECAP = (
    ("ok", "ok"),
    ("changed", "changed"),
    ("unreachable", "dark"),
    ("failed", "failures"),
    ("skipped", "skipped"),
    ("rescued", "rescued"),
    ("ignored", "ignored"),
)
# The task that checks a role's arguments against its argument specs: when it passes it is no phase of its own.
ARGUMENT_CHECK = "validate_argument_spec"
# The module that records a node's lifecycle stage; its result names the node's stage after it.
# Tasks that include a role: what they include belongs to the phase that includes it.
INCLUDES = ("include_role", "include_tasks", "import_role", "import_tasks")
STAGE_MODULE = "edge_stage"
# A failure message longer than this is cut: the log has it whole.
MESSAGE_LIMIT = 300


class Console:
    """Lines to STREAM; when LIVE (by default: when STREAM is a terminal), also a status line that the
    next line or status replaces. A stream that goes away (a closed pipe, a lost terminal) is let go: the
    playbook runs on to its end rather than stopping halfway."""

    def __init__(self, stream: TextIO, live: bool | None = None) -> None:
        self.stream: TextIO | None = stream
        self.live = stream.isatty() if live is None else live
        self._status = False

    def line(self, text: str) -> None:
        self._write(("\r\x1b[K" if self._status else "") + text + "\n")
        self._status = False

    def status(self, text: str) -> None:
        if self.live:
            self._write(("\r\x1b[K" if self._status else "") + text[:200])
            self._status = True

    def _write(self, text: str) -> None:
        if self.stream is None:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except OSError:
            self.stream = None


@dataclass
class Phase:
    """What one phase did on one node so far."""

    name: str
    started: float
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    def summary(self) -> str:
        return " ".join(f"{name}={self.counts[name]}" for name, _ in RECAP if self.counts.get(name))


@dataclass(frozen=True)
class Failure:
    """A failed task or an unreachable node, as the view reported it."""

    node: str
    task: str
    message: str
    unreachable: bool = False

    def line(self) -> str:
        what = "UNREACHABLE" if self.unreachable else "FAILED"
        return f"{self.node}: {what}: {self.task}: {self.message}"


def task_name(data: Mapping) -> str:
    """A task as Ansible's output names it: `role : task`, or the task alone."""
    task = str(data.get("task") or data.get("task_action") or "a task")
    return f"{data['role']} : {task}" if data.get("role") else task


def failure_message(result: Mapping) -> str:
    """One line for a failed task's result: the first failed item's, then its message, else a command's
    exit status and last line of error output."""
    if not isinstance(result, Mapping):
        return "failed"
    if result.get("censored"):
        return "its output is hidden (no_log)"
    items = [item for item in result.get("results") or [] if isinstance(item, Mapping) and item.get("failed")]
    if items:
        item = items[0]
        label = item.get("item")
        message = failure_message(item)
        return (
            f"item {label!r}: {message}" if label is not None and not item.get("_ansible_no_log") else message
        )
    message = str(result.get("msg") or "").strip()
    if result.get("rc") not in (None, 0) and message in ("", "non-zero return code"):
        output = [
            line.strip() for line in str(result.get("stderr") or result.get("stdout") or "").splitlines()
        ]
        output = [line for line in output if line]
        message = f"exit status {result['rc']}" + (f": {output[-1]}" if output else "")
    return one_line(message or "failed", MESSAGE_LIMIT)


def _handler(data: Mapping) -> bool:
    # ansible-runner reports a handler as a task; its file says what it is.
    return "/handlers/" in str(data.get("task_path") or "")


def _module(data: Mapping) -> str:
    return str(data.get("resolved_action") or data.get("task_action") or "").rsplit(".", 1)[-1]


class Progress:
    """Takes ansible-runner's events (`handle` is its event handler) and writes the compact view to CONSOLE.

    After the run: `recap` holds Ansible's counters per node, `stages` each node's lifecycle stage as the
    last edge_stage task reported it, `failures` what failed.
    """

    def __init__(self, console: Console, clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.clock = clock
        self.recap: dict[str, dict[str, int]] = {}
        self.stages: dict[str, str] = {}
        self.failures: list[Failure] = []
        self._phases: dict[str, Phase] = {}
        # Nodes in the order Ansible starts them on a task (the inventory's), for the phase lines.
        self._order: dict[str, int] = {}
        self._task_started: dict[str, float] = {}
        self._play = ""
        self._width = 6
        self._said: set[str] = set()
        self._pending: str | None = None
        # Per node: the roles a role's task included (their tasks continue its phase), and that phase.
        self._included: dict[str, tuple[set[str], str]] = {}

    def handle(self, event: Mapping) -> bool:
        """Take one event. Returns False: ansible-runner need not keep it (the log has the output)."""
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if kind in ("verbose", "warning", "deprecated", "error"):
            self._message(str(event.get("stdout") or ""))
            return False
        self._say_pending()
        if kind == "playbook_on_play_start":
            self._close_phases()
            self._included = {}
            self._play = str(data.get("play") or data.get("name") or data.get("play_pattern") or "")
            self.console.line(f"PLAY {self._play}")
        elif kind == "playbook_on_no_hosts_matched":
            self.console.line("  no hosts matched")
        elif kind in ("playbook_on_task_start", "playbook_on_handler_task_start"):
            # With Ansible's linear strategy every node is done with the tasks before this one: the phases
            # this task does not continue are over.
            if _module(data) != ARGUMENT_CHECK:
                self._close_phases(task=data)
            self.console.status(f"  ... {task_name(data)}")
        elif kind == "runner_on_start":
            host = str(data.get("host") or "?")
            self._order.setdefault(host, len(self._order))
            self._task_started[host] = self.clock()
        elif kind in ("runner_on_ok", "runner_on_skipped", "runner_on_failed", "runner_on_unreachable"):
            self._result(kind, data)
        elif kind == "playbook_on_stats":
            self._close_phases()
            hosts = sorted(set().union(*(data.get(key) or {} for _, key in RECAP)))
            self.recap = {
                host: {name: int((data.get(key) or {}).get(host, 0)) for name, key in RECAP} for host in hosts
            }
        return False

    def close(self) -> None:
        """Write what is still open (a run that ended without its recap)."""
        self._say_pending()
        self._close_phases()

    # ---- results ----------------------------------------------------------------------------------------
    def _result(self, kind: str, data: Mapping) -> None:
        host = str(data.get("host") or "?")
        result = data.get("res") or {}
        if _module(data) == ARGUMENT_CHECK and kind != "runner_on_failed":
            return
        name = self._phase_name(host, data)
        if data.get("role") not in self._included.get(host, (set(), ""))[0] and not _handler(data):
            self._included.pop(host, None)  # the included roles' tasks are over
        phase = self._phase(host, name)
        if _module(data) in INCLUDES:
            self._include(host, data, result, phase.name)
        if kind == "runner_on_unreachable":
            phase.add("unreachable")
            self._failure(Failure(host, task_name(data), failure_message(result), unreachable=True))
        elif kind == "runner_on_failed" and data.get("ignore_errors"):
            phase.add("ignored")
        elif kind == "runner_on_failed":
            phase.add("failed")
            self._failure(Failure(host, task_name(data), failure_message(result)))
        elif kind == "runner_on_skipped":
            phase.add("skipped")
        else:
            # As in Ansible's recap, a task that changed something is ok too.
            phase.add("ok")
            if isinstance(result, Mapping) and result.get("changed"):
                phase.add("changed")
            if _module(data) == STAGE_MODULE and isinstance(result, Mapping) and result.get("stage"):
                self.stages[host] = str(result["stage"])
        if isinstance(result, Mapping):
            notes = [*(result.get("warnings") or []), *(result.get("deprecations") or [])]
            for note in notes:
                text = note.get("msg", "") if isinstance(note, Mapping) else note
                self._pending = f"warning: {host}: {one_line(str(text), MESSAGE_LIMIT)}"
                self._say_pending()

    def _phase(self, host: str, name: str) -> Phase:
        current = self._phases.get(host)
        if current is not None and current.name == name:
            return current
        if current is not None:
            self._say_phase(host, current)
        self._width = max(self._width, len(host))
        self._phases[host] = Phase(name, self._task_started.get(host, self.clock()))
        return self._phases[host]

    def _phase_name(self, host: str, data: Mapping) -> str:
        """The phase a task of DATA's is part of on HOST: its role's, or its play's own tasks; the phase
        under way for a handler or a task of a role a role included."""
        role = data.get("role")
        current = self._phases.get(host)
        if current is not None and _handler(data):
            return current.name
        roles, phase = self._included.get(host, (set(), ""))
        if role in roles:
            return phase
        return str(role or "tasks")

    def _include(self, host: str, data: Mapping, result: Mapping, phase: str) -> None:
        """A role's task included a role: its tasks on HOST are part of PHASE. (What a play's own tasks
        include is a phase of its own, the play's main role often: playbooks/mesh.yml.)"""
        included = (result.get("include_args") or {}).get("name") if isinstance(result, Mapping) else None
        if included and data.get("role"):
            roles, _ = self._included.get(host, (set(), phase))
            self._included[host] = (roles | {str(included)}, phase)

    def _close_phases(self, task: Mapping | None = None) -> None:
        """Say and forget every node's phase, but those TASK continues."""
        for host in sorted(self._phases, key=lambda host: self._order.get(host, len(self._order))):
            if task is None or self._phases[host].name != self._phase_name(host, task):
                self._say_phase(host, self._phases.pop(host))

    def _say_phase(self, host: str, phase: Phase) -> None:
        took = self.clock() - phase.started
        self.console.line(f"  {host:<{self._width}}  {phase.name:<20}  {phase.summary():<30}  {took:.1f}s")

    def _failure(self, failure: Failure) -> None:
        self.failures.append(failure)
        self.console.line(f"  {failure.line()}")

    # ---- Ansible's own messages -------------------------------------------------------------------------
    def _message(self, text: str) -> None:
        """Ansible's warnings and errors, one line each: the message, with where it comes from when Ansible
        says so on the next line. Everything else it prints is for the log."""
        for raw in text.splitlines():
            line = raw.strip()
            if line.startswith("Origin:") and self._pending is not None:
                self._pending += f" ({line.removeprefix('Origin:').strip()})"
                self._say_pending()
                continue
            for prefix, label in (
                ("[ERROR]:", "error"),
                ("ERROR!", "error"),
                ("[WARNING]:", "warning"),
                ("[DEPRECATION WARNING]:", "warning"),
            ):
                if line.startswith(prefix):
                    self._say_pending()
                    self._pending = f"{label}: {one_line(line.removeprefix(prefix).strip(), MESSAGE_LIMIT)}"
                    break

    def _say_pending(self) -> None:
        if self._pending is not None and self._pending not in self._said:
            self._said.add(self._pending)
            self.console.line(f"  {self._pending}")
        self._pending = None
