"""The `edgewright` command line.

Every command plugs in the same way: a module of COMMAND_MODULES has `register(commands)`, which adds its
parsers to the top-level subparsers, and every command it adds sets `func`, a callable taking the parsed
arguments and returning the exit status. A command reports what goes wrong by raising: a domain error
(edgewright.errors.EdgewrightError), an OSError, or a UsageError for a bad command line. main() is the one
place that turns each into one line on standard error and an exit status of its kind (edgewright.errors);
`--debug` or EDGEWRIGHT_DEBUG=1 also prints the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from edgewright.errors import ExitStatus, UsageError, describe

COMMAND_MODULES: tuple[str, ...] = (
    "edgewright.lab.cli",
    "edgewright.playbooks.cli",
    "edgewright.attest.cli",
    "edgewright.metrics.cli",
    "edgewright.xds.cli",
    "edgewright.twins.cli",
    "edgewright.images.cli",
    "edgewright.collection.cli",
)


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors take main()'s one path (a UsageError, not argparse's usage text and
    exit), and that remembers which command a parse reached, to name it in an error."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The innermost command's default wins: after a parse, `command_prog` names the command that runs.
        self.set_defaults(command_prog=self.prog)

    def error(self, message: str):
        raise UsageError(f"{message} (see `{self.prog} --help`)", prog=self.prog)


def build_parser() -> Parser:
    parser = Parser(prog="edgewright", description="Infrastructure as code for edge clouds.")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on an error, also print its traceback (as EDGEWRIGHT_DEBUG=1 does)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every error it raises ends as one line on standard error and its exit status."""
    debug = os.environ.get("EDGEWRIGHT_DEBUG", "") not in ("", "0")
    prog = "edgewright"
    try:
        args = build_parser().parse_args(argv)
        prog, debug = args.command_prog, debug or args.debug
        return args.func(args)
    except SystemExit:
        raise
    except BaseException as error:  # the one place every error of a command ends, Ctrl-C included
        if debug:
            traceback.print_exc()
        return int(report(error, getattr(error, "prog", None) or prog))


def report(error: BaseException, prog: str) -> ExitStatus:
    """Print ERROR as the one line PROG's error is (`edgewright lab up: error: ...`); returns its exit
    status."""
    status, message = describe(error)
    print(f"{prog}: error: {message}", file=sys.stderr)
    return status


def project_root(start: Path | None = None) -> Path:
    """The edgewright checkout the command runs in: the nearest directory up with ansible.cfg and roles/."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "ansible.cfg").is_file() and (candidate / "roles").is_dir():
            return candidate
    return Path(__file__).resolve().parent.parent


def default_inventory() -> Path:
    return project_root() / "inventories" / "local" / "hosts.yml"


def format_table(rows: list[dict], empty: str = "no lab nodes") -> str:
    """A plain text table, one row per item, for people reading a terminal."""
    if not rows:
        return empty
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
