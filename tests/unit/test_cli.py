"""The command line's one error path: every kind of error is one line on standard error with its own exit
status, and every command plugs in the same way."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgewright import cli
from edgewright.errors import EdgewrightError, ExitStatus, describe, one_line

ROOT = Path(__file__).resolve().parents[2]


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_a_bad_command_line_is_one_line_naming_the_command(capsys):
    assert cli.main(["lab", "up", "--nodes", "three"]) == ExitStatus.USAGE == 64
    line = one_error_line(capsys)
    assert line.startswith("edgewright lab up: error: ")
    assert "--nodes must be a whole number, not 'three'" in line and "`edgewright lab up --help`" in line


def test_an_unknown_command_and_a_missing_one_are_usage_errors(capsys):
    assert cli.main(["nosuch"]) == 64
    assert "invalid choice: 'nosuch'" in one_error_line(capsys)
    assert cli.main(["lab"]) == 64
    assert one_error_line(capsys).startswith("edgewright lab: error: the following arguments are required")


def test_options_that_do_not_go_together_are_a_usage_error(tmp_path, capsys):
    edge_map = tmp_path / "map.json"
    edge_map.write_text(json.dumps({"vertices": []}))
    assert cli.main(["edgemap", "render", "--input", str(edge_map), "-o", str(tmp_path / "map.png")]) == 64
    assert one_error_line(capsys) == (
        f"edgewright edgemap render: error: --output {tmp_path / 'map.png'} must end in .svg or .html"
    )


def test_a_domain_error_is_one_line_with_status_1(tmp_path, capsys):
    assert cli.main(["attest", "--store", str(tmp_path), "release", "att-9"]) == ExitStatus.FAILED == 1
    assert (
        one_error_line(capsys) == "edgewright attest release: error: node att-9 is not known to the verifier"
    )


def test_a_missing_file_is_one_line_naming_it(tmp_path, capsys):
    missing = tmp_path / "absent.yaml"
    assert cli.main(["twins", "manifests", str(missing), "--node", "n-1"]) == ExitStatus.NO_INPUT == 66
    assert (
        one_error_line(capsys) == f"edgewright twins manifests: error: {missing}: No such file or directory"
    )


def test_another_os_error_is_one_line_with_its_own_status(tmp_path, capsys):
    assert cli.main(["twins", "manifests", str(tmp_path), "--node", "n-1"]) == ExitStatus.IO == 74
    assert one_error_line(capsys) == f"edgewright twins manifests: error: {tmp_path}: Is a directory"


def test_a_permission_error_is_one_line_with_its_own_status(tmp_path):
    device = tmp_path / "device.yaml"
    device.write_text("metadata: {name: thermometer}\nspec: {protocol: http, address: 'http://t'}\n")
    device.chmod(0o000)
    # As root, drop the capabilities that override file modes, so the modes apply as to any operator.
    unprivileged = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    proc = subprocess.run(
        [
            *unprivileged,
            sys.executable,
            "-m",
            "edgewright.cli",
            "twins",
            "manifests",
            str(device),
            "--node",
            "n",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert proc.returncode == ExitStatus.NO_PERMISSION == 77, proc.stderr
    assert proc.stderr == f"edgewright twins manifests: error: {device}: Permission denied\n"


def _failing_build(error: BaseException):
    def build(tree, output):
        raise error

    return build


def test_an_unexpected_error_is_one_line_that_says_how_to_see_more(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("EDGEWRIGHT_DEBUG", raising=False)
    monkeypatch.setattr("edgewright.collection.cli.build", _failing_build(TypeError("a bug\nover lines")))
    assert cli.main(["collection", "build", "--output", str(tmp_path)]) == ExitStatus.INTERNAL == 70
    assert one_error_line(capsys) == (
        "edgewright collection build: error: unexpected TypeError: a bug; over lines "
        "(a bug; EDGEWRIGHT_DEBUG=1 shows where it happened)"
    )


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_debug_adds_the_traceback_and_keeps_the_status(how, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr("edgewright.collection.cli.build", _failing_build(EdgewrightError("refused")))
    argv = ["collection", "build", "--output", str(tmp_path)]
    if how == "flag":
        argv.insert(0, "--debug")
    else:
        monkeypatch.setenv("EDGEWRIGHT_DEBUG", "1")
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "raise error" in err
    assert err.splitlines()[-1] == "edgewright collection build: error: refused"


def test_an_interrupt_is_one_line_with_the_shells_status(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr("edgewright.collection.cli.build", _failing_build(KeyboardInterrupt()))
    assert cli.main(["collection", "build", "--output", str(tmp_path)]) == ExitStatus.INTERRUPTED == 130
    assert one_error_line(capsys) == "edgewright collection build: error: interrupted"


def test_help_still_exits_as_help_does(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["lab", "--help"])
    assert exited.value.code == 0
    assert "usage: edgewright lab" in capsys.readouterr().out


def _leaves(parser: argparse.ArgumentParser):
    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subcommands:
        yield parser
    for action in subcommands:
        for sub in action.choices.values():
            yield from _leaves(sub)


def test_every_command_plugs_in_the_same_way():
    leaves = list(_leaves(cli.build_parser()))
    assert len(leaves) > 20
    for leaf in leaves:
        # Every parser is the command line's own, so its errors take the one path...
        assert isinstance(leaf, cli.Parser), leaf.prog
        # ...and every command is a function of the parsed arguments.
        assert callable(leaf.get_default("func")), leaf.prog
    for name in cli.COMMAND_MODULES:
        module = importlib.import_module(name)
        # No command module has a parser or an error path of its own.
        assert callable(module.register)
        assert not hasattr(module, "main"), f"{name} has a main() of its own"


def test_describe_names_the_file_of_an_os_error():
    assert describe(FileNotFoundError(2, "No such file or directory", "/x")) == (
        ExitStatus.NO_INPUT,
        "/x: No such file or directory",
    )
    assert describe(PermissionError(13, "Permission denied", "/a", None, "/b")) == (
        ExitStatus.NO_PERMISSION,
        "/a -> /b: Permission denied",
    )
    assert describe(ConnectionRefusedError(111, "Connection refused")) == (
        ExitStatus.IO,
        "Connection refused",
    )


def test_one_line_joins_lines_and_cuts_what_is_too_long():
    assert one_line("first\n\n  second  \n") == "first; second"
    assert one_line("x" * 20, limit=10) == "x" * 9 + "…"
