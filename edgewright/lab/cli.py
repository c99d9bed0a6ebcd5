"""`edgewright lab ...`: the local lab, edge nodes as systemd containers.

edgewright lab up [--nodes N] [--name NAME] [--subnet CIDR] [--kubernetes]   create or complete the lab
edgewright lab status [--json]          nodes, their state, the stage each reached
edgewright lab down                     remove what the lab created, nothing else
edgewright lab image | check | cut NODE PEER | tpm CONTAINER...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgewright.cli import default_inventory, format_table
from edgewright.lab import capabilities, podman, tpm
from edgewright.lab.image import IMAGE, ensure_image
from edgewright.lab.kube import DEFAULT_PORT_BASE, ControlPlane
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


def _node_count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--nodes must be a whole number, not {value!r}") from None
    if not 1 <= count <= MAX_NODES:
        raise argparse.ArgumentTypeError(f"--nodes must be between 1 and {MAX_NODES}, not {count}")
    return count


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `lab` command and its subcommands."""
    lab = commands.add_parser("lab", help="the local lab: edge nodes as systemd containers")
    lab_commands = lab.add_subparsers(dest="lab_command", required=True, metavar="COMMAND")
    for verb, text, func in (
        ("up", "create or complete the lab (idempotent)", run_up),
        ("status", "show the lab's nodes and the stage each reached", run_status),
        ("down", "remove everything the lab created, and nothing else", run_down),
    ):
        sub = lab_commands.add_parser(verb, help=text)
        sub.set_defaults(func=func)
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
    cut_cmd.set_defaults(func=run_cut)
    image = lab_commands.add_parser("image", help="build the lab's node image unless it is already there")
    image.set_defaults(func=run_image)
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
    tpm_cmd.set_defaults(func=run_tpm)
    check = lab_commands.add_parser(
        "check", help="prove this machine can run the lab: rootful podman with runc, TUN, container DNS"
    )
    check.set_defaults(func=run_check)


def _log(line: str) -> None:
    print(line, file=sys.stderr)


def _spec(args: argparse.Namespace) -> LabSpec:
    return LabSpec(
        name=args.name,
        nodes=getattr(args, "nodes", 1),
        subnet=getattr(args, "subnet", DEFAULT_SUBNET),
        kubernetes=getattr(args, "kubernetes", False),
        kube_port_base=getattr(args, "kube_port_base", DEFAULT_PORT_BASE),
    )


def run_up(args: argparse.Namespace) -> int:
    lab = Lab(_spec(args), log=_log)
    print(format_table(as_rows(lab.up(args.inventory or default_inventory()))))
    return 0


def status_report(name: str, log=_log) -> str:
    """Lab NAME's table of nodes (container, systemd, TPM, stage, hello pod), then its control plane and
    cluster DNS when the control plane runs: what `lab status` prints, and what `edgewright run` ends with."""
    spec = LabSpec(name=name)
    lab = Lab(spec, log=log)
    lines = [format_table(as_rows(lab.status()))]
    plane = ControlPlane(control_plane_spec(spec)).status()
    if "running" in plane.values():
        lines.append("kubernetes: " + ", ".join(f"{component} {state}" for component, state in plane.items()))
        dns = lab.cluster_dns()
        if dns:
            lines.append(cluster_dns_line(dns))
    return "\n".join(lines)


def run_status(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(as_rows(Lab(_spec(args), log=_log).status()), indent=2))
    else:
        print(status_report(args.name))
    return 0


def run_down(args: argparse.Namespace) -> int:
    spec = _spec(args)
    removed = Lab(spec, log=_log).down(args.inventory or default_inventory())
    print(
        "\n".join(f"removed {item}" for item in removed)
        if removed
        else f"lab {spec.name!r} has nothing to remove"
    )
    return 0


def run_cut(args: argparse.Namespace) -> int:
    print(Lab(LabSpec(name=args.name)).cut(args.node, args.peer, args.keep_port, args.restore))
    return 0


def run_image(args: argparse.Namespace) -> int:
    podman.ensure_usable()
    built = ensure_image(log=_log)
    print(f"{IMAGE} {'built' if built else 'is up to date'}")
    return 0


def run_tpm(args: argparse.Namespace) -> int:
    manufacturer = tpm.trusted_manufacturer(args.manufacturer, args.verifier)
    for container in args.containers:
        tpm.install(container, manufacturer, running=True)
        print(f"{container}: a new TPM from {args.manufacturer}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    """Print each capability the lab relies on; an error naming those missing (the node image must exist)."""
    results = capabilities.check_all()
    for result in results:
        print(result.line())
    missing = [result.name for result in results if not result.ok]
    if missing:
        raise LabError(f"this machine cannot run the lab: missing {', '.join(missing)}")
    return 0
