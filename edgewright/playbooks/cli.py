"""`edgewright run PLAYBOOK`: run one of the lifecycle playbooks through ansible-runner.

edgewright run site [-i INVENTORY] [-e VARS] [--limit PATTERN] [--check] [--diff] [-v]

While the playbook runs it shows a line per play and, per node, one per phase (a role, or a play's own
tasks) and one per failed task; Ansible's whole output goes to a log it names. It ends with Ansible's
recap per node and the stage table: `edgewright lab status` of the lab the inventory belongs to, else each
node's lifecycle stage as the run's edge_stage tasks reported it. Its exit status is the playbook's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from edgewright.cli import format_table, project_root, report
from edgewright.errors import EdgewrightError, describe
from edgewright.lab.nodes import inventory_lab
from edgewright.playbooks.progress import Console, Progress
from edgewright.playbooks.runner import PlaybookRun, find_playbook, inventory_sources, run_playbook


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `run` command."""
    run = commands.add_parser(
        "run",
        help="run a playbook through ansible-runner: progress per node and phase, then the recap and the "
        "stage table",
    )
    run.add_argument(
        "playbook", metavar="PLAYBOOK", help="a playbook of playbooks/ (`site`, `scale.yml`) or a file"
    )
    run.add_argument(
        "-i",
        "--inventory",
        action="append",
        default=[],
        help="inventory file, directory or host list (repeatable; default: the one ansible.cfg names)",
    )
    run.add_argument(
        "-e",
        "--extra-vars",
        action="append",
        default=[],
        metavar="VARS",
        help="KEY=VALUE, JSON, YAML or @FILE, as ansible-playbook takes them (repeatable)",
    )
    run.add_argument(
        "-l", "--limit", metavar="PATTERN", help="only these hosts, as ansible-playbook's --limit"
    )
    run.add_argument("-C", "--check", action="store_true", help="change nothing; say what would change")
    run.add_argument("-D", "--diff", action="store_true", help="put the changes to files in the log")
    run.add_argument("-v", "--verbose", action="count", default=0, help="more detail in the log (repeatable)")
    run.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    root = project_root()
    run = PlaybookRun(
        playbook=find_playbook(args.playbook, root),
        inventories=tuple(args.inventory),
        extra_vars=tuple(args.extra_vars),
        limit=args.limit,
        check=args.check,
        diff=args.diff,
        verbosity=args.verbose,
    )
    return converge(run, root, sys.stdout)


def converge(run: PlaybookRun, root: Path, out: TextIO, live: bool | None = None) -> int:
    """Run RUN with its progress, recap and stage table written to OUT (a status line too when OUT is a
    terminal, unless LIVE says otherwise); returns the playbook's exit status."""
    console = Console(out, live)
    progress = Progress(console)
    shown = _shown(run.playbook, root)
    result = run_playbook(
        run,
        root,
        progress.handle,
        on_start=lambda log: console.line(f"{shown}: Ansible's output goes to {log}"),
    )
    progress.close()
    if progress.recap:
        console.line("")
        console.line(format_table([{"node": node, **counts} for node, counts in progress.recap.items()]))
    stage_table(run, root, progress, console)
    outcome = "ok" if result.status == 0 else f"{result.state} (exit status {result.status})"
    failed = sorted({failure.node for failure in progress.failures})
    console.line(
        f"{shown}: {outcome}" + (f" on {', '.join(failed)}" if failed else "") + f"; log: {result.log}"
    )
    return result.status


def stage_table(run: PlaybookRun, root: Path, progress: Progress, console: Console) -> None:
    """The lab's status when the inventory is a lab's (`lab up` wrote it), else each node's stage as the
    run's edge_stage tasks reported it. A table that cannot be made is one line on standard error: the
    run's status stays the playbook's."""
    labs = sorted({lab for source in inventory_sources(run, root) if (lab := inventory_lab(Path(source)))})
    if labs:
        from edgewright.lab.cli import status_report

        for lab in labs:
            console.line("")
            try:
                console.line(status_report(lab, log=lambda line: print(line, file=sys.stderr)))
            except (EdgewrightError, OSError) as error:
                report(
                    EdgewrightError(f"no stage table for lab {lab!r}: {describe(error)[1]}"), "edgewright run"
                )
    elif progress.stages:
        console.line("")
        nodes = sorted(set(progress.recap) | set(progress.stages))
        console.line(
            format_table([{"node": node, "stage": progress.stages.get(node, "-")} for node in nodes])
        )


def _shown(playbook: Path, root: Path) -> str:
    return str(playbook.relative_to(root)) if playbook.is_relative_to(root) else str(playbook)
