"""`python -m edgewright.attest ...`: the same commands as `edgewright attest ...`, without the CLI entry point."""

from __future__ import annotations

import sys

from edgewright import cli


def main(argv: list[str] | None = None) -> int:
    """`edgewright attest ARGV...`, through the command line's one parser and error path."""
    return cli.main(["attest", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
