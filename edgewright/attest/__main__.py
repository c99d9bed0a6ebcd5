"""`python -m edgewright.attest ...`: the same commands as `edgewright attest ...`, without the CLI entry point."""

from __future__ import annotations

import argparse
import sys

from edgewright.attest import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgewright.attest")
    commands = parser.add_subparsers(dest="command", required=True)
    cli.register(commands)
    args = parser.parse_args(["attest", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
