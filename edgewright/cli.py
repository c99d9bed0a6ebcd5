"""The `edgewright` command line."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from edgewright.attest.manufacturer import ManufacturerError
from edgewright.lab import capabilities, podman, tpm
from edgewright.lab.image import IMAGE, ensure_image
from edgewright.lab.kube import DEFAULT_PORT_BASE, ControlPlane, ControlPlaneError
from edgewright.lab.nodes import (
    DEFAULT_NAME,
    DEFAULT_SUBNET,
    MAX_NODES,
    Lab,
    LabError,
    LabSpec,
    as_rows,
    cluster_dns_line,
    control_plane_spec,
)


def any_running(plane: dict[str, str]) -> bool:
    return "running" in plane.values()


def project_root(start: Path | None = None) -> Path:
    """The edgewright checkout the command runs in: the nearest directory up with ansible.cfg and roles/."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "ansible.cfg").is_file() and (candidate / "roles").is_dir():
            return candidate
    return Path(__file__).resolve().parent.parent


def default_inventory() -> Path:
    return project_root() / "inventories" / "local" / "hosts.yml"


def format_table(rows: list[dict]) -> str:
    """A plain text table, one row per node, for people reading a terminal."""
    if not rows:
        return "no lab nodes"
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def _node_count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--nodes must be a whole number, not {value!r}") from None
    if not 1 <= count <= MAX_NODES:
        raise argparse.ArgumentTypeError(f"--nodes must be between 1 and {MAX_NODES}, not {count}")
    return count


# Modules that add their own subcommands: each has `register(subparsers)`, and every command it adds sets
# `func`, a callable taking the parsed arguments and returning the exit code.
COMMAND_MODULES: tuple[str, ...] = (
    "edgewright.attest.cli",
    "edgewright.metrics.cli",
    "edgewright.xds.cli",
    "edgewright.twins.cli",
    "edgewright.images.cli",
    "edgewright.collection.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgewright", description="Infrastructure as code for edge clouds.")
    commands = parser.add_subparsers(dest="command", required=True)
    register_lab(commands)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(commands)
    return parser


def register_lab(commands: argparse._SubParsersAction) -> None:
    lab = commands.add_parser("lab", help="the local lab: edge nodes as systemd containers")
    lab.set_defaults(func=run_lab)
    lab_commands = lab.add_subparsers(dest="lab_command", required=True)
    for verb, text in (
        ("up", "create or complete the lab (idempotent)"),
        ("status", "show the lab's nodes and the stage each reached"),
        ("down", "remove everything the lab created, and nothing else"),
    ):
        sub = lab_commands.add_parser(verb, help=text)
        sub.add_argument(
            "--name", default=DEFAULT_NAME, help=f"lab name, prefix of its nodes (default {DEFAULT_NAME})"
        )
        sub.add_argument(
            "--inventory", type=Path, help="inventory file to write (default inventories/local/hosts.yml)"
        )
        if verb == "up":
            sub.add_argument("--nodes", type=_node_count, default=3, help="number of edge nodes (default 3)")
            sub.add_argument(
                "--subnet", default=DEFAULT_SUBNET, help=f"lab network (default {DEFAULT_SUBNET})"
            )
            sub.add_argument(
                "--kubernetes",
                action="store_true",
                help="also run a Kubernetes control plane (etcd, API server, controller manager, scheduler) "
                "for the nodes",
            )
            sub.add_argument(
                "--kube-port-base",
                type=int,
                default=DEFAULT_PORT_BASE,
                help=f"control plane ports are offsets from this (default {DEFAULT_PORT_BASE}: API on "
                f"{DEFAULT_PORT_BASE + 43})",
            )
        if verb == "status":
            sub.add_argument("--json", action="store_true", help="print JSON instead of a table")
    cut_cmd = lab_commands.add_parser(
        "cut",
        help="drop everything between two nodes' lab addresses but the mesh daemon's TCP port, inside both "
        "nodes, so only the overlay joins them (--restore gives the link back)",
    )
    cut_cmd.add_argument("node")
    cut_cmd.add_argument("peer")
    cut_cmd.add_argument("--name", default=DEFAULT_NAME, help=f"lab name (default {DEFAULT_NAME})")
    cut_cmd.add_argument(
        "--keep-port", type=int, action="append", default=[], help="a TCP port that still passes (repeatable)"
    )
    cut_cmd.add_argument("--restore", action="store_true", help="take the cut's rules out again")
    lab_commands.add_parser("image", help="build the lab's node image unless it is already there")
    tpm_cmd = lab_commands.add_parser(
        "tpm",
        help="give running node-image containers new TPMs from a manufacturer the verifier trusts "
        "(`lab up` does this for its own nodes)",
    )
    tpm_cmd.add_argument("containers", nargs="+", metavar="CONTAINER")
    tpm_cmd.add_argument(
        "--manufacturer",
        type=Path,
        required=True,
        help="the manufacturer's directory (its CA, made on first use)",
    )
    tpm_cmd.add_argument(
        "--verifier", type=Path, required=True, help="the verifier's store, whose trust store gets the CA"
    )
    lab_commands.add_parser(
        "check", help="prove this machine can run the lab: rootful podman with runc, TUN, container DNS"
    )


def check_capabilities() -> int:
    """Print each capability the lab relies on; 1 when any is missing (the node image must exist)."""
    results = capabilities.check_all()
    for result in results:
        print(result.line())
    missing = [result.name for result in results if not result.ok]
    if missing:
        print(
            f"edgewright: error: this machine cannot run the lab: missing {', '.join(missing)}",
            file=sys.stderr,
        )
        return 1
    return 0


def run_lab(args: argparse.Namespace) -> int:
    if args.lab_command == "tpm":
        manufacturer = tpm.trusted_manufacturer(args.manufacturer, args.verifier)
        for container in args.containers:
            tpm.install(container, manufacturer, running=True)
            print(f"{container}: a new TPM from {args.manufacturer}")
        return 0
    if args.lab_command == "image":
        podman.ensure_usable()
        built = ensure_image(log=lambda line: print(line, file=sys.stderr))
        print(f"{IMAGE} {'built' if built else 'is up to date'}")
        return 0
    if args.lab_command == "check":
        return check_capabilities()
    if args.lab_command == "cut":
        print(Lab(LabSpec(name=args.name)).cut(args.node, args.peer, args.keep_port, args.restore))
        return 0
    spec = LabSpec(
        name=args.name,
        nodes=getattr(args, "nodes", 1),
        subnet=getattr(args, "subnet", DEFAULT_SUBNET),
        kubernetes=getattr(args, "kubernetes", False),
        kube_port_base=getattr(args, "kube_port_base", DEFAULT_PORT_BASE),
    )
    lab = Lab(spec, log=lambda line: print(line, file=sys.stderr))
    inventory = args.inventory or default_inventory()
    if args.lab_command == "up":
        print(format_table(as_rows(lab.up(inventory))))
    elif args.lab_command == "status":
        rows = as_rows(lab.status())
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            print(format_table(rows))
            plane = ControlPlane(control_plane_spec(spec)).status()
            if any_running(plane):
                print("kubernetes: " + ", ".join(f"{name} {state}" for name, state in plane.items()))
                dns = lab.cluster_dns()
                if dns:
                    print(cluster_dns_line(dns))
    else:
        removed = lab.down(inventory)
        print(
            "\n".join(f"removed {item}" for item in removed)
            if removed
            else f"lab {spec.name!r} has nothing to remove"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (LabError, ControlPlaneError, podman.PodmanError, ManufacturerError) as exc:
        print(f"edgewright: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
