"""`edgewright collection build`: the edgewright.edge collection tarball, built from this checkout."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgewright.cli import project_root
from edgewright.collection.build import build


def register(subparsers) -> None:
    collection = subparsers.add_parser(
        "collection", help="the edgewright.edge Ansible collection, built from this checkout"
    )
    commands = collection.add_subparsers(dest="collection_command", required=True)
    build_cmd = commands.add_parser(
        "build",
        help="stage the roles, modules and plugins as edgewright.edge and build its tarball with "
        "ansible-galaxy (install it with `ansible-galaxy collection install TARBALL`)",
    )
    build_cmd.add_argument(
        "--output", type=Path, help="directory for the tarball (default build/collection in the checkout)"
    )
    build_cmd.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    tree = project_root()
    print(build(tree, args.output or tree / "build" / "collection"))
    return 0
