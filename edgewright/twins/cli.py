"""The `edgewright twins` and `edgewright edgemap` commands.

edgewright twins reconcile [--kubeconfig K] [--namespace NS] [--dry-run]
edgewright twins crd                       print the EdgeDevice CRD
edgewright twins manifests DEVICE.yaml --node NODE   print a device's twin (for sites without API access)
edgewright edgemap export [-o map.json]    the live cluster's edge map as an adjacency list
edgewright edgemap render [--input map.json] -o map.html|map.svg
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml

from edgewright.errors import UsageError
from edgewright.twins.device import DeviceError, device_from_resource
from edgewright.twins.edgemap import EdgeMapError, edge_map_from_json
from edgewright.twins.manifests import crd, twin_objects
from edgewright.twins.placement import Guard
from edgewright.twins.render import render_html, render_svg


def _non_negative(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r} must not be negative")
    return number


def _positive(value: str) -> float:
    number = _non_negative(value)
    if number == 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be more than 0")
    return number


def _whole(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be a whole number of at least 1")
    return int(value)


def _cluster_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig", help="kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)"
    )
    parser.add_argument("--context", help="kubeconfig context to use")
    parser.add_argument(
        "--namespace", default="default", help="namespace of the EdgeDevices (default: default)"
    )


def _image_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--site-registry",
        metavar="HOST[:PORT]",
        help="twins may run images from this registry (the site's); besides it only edgewright's own",
    )
    parser.add_argument(
        "--allow-image",
        action="append",
        default=[],
        metavar="REPOSITORY",
        help="twins may run this repository, or every repository under a prefix ending in '/' (repeatable)",
    )


def _image_policy(args: argparse.Namespace):
    from edgewright.twins.images import default_image_policy

    return default_image_policy(args.site_registry, args.allow_image)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `twins` and `edgemap` commands to the edgewright command line."""
    twins = subparsers.add_parser("twins", help="device twins: one workload per edge device, placed by rules")
    twin_commands = twins.add_subparsers(dest="twins_command", required=True)
    reconcile = twin_commands.add_parser("reconcile", help="bring the cluster's twins to what the rules say")
    _cluster_options(reconcile)
    reconcile.add_argument("--dry-run", action="store_true", help="say what would change; change nothing")
    reconcile.add_argument(
        "--min-dwell",
        type=_non_negative,
        default=Guard.min_dwell_s,
        metavar="SECONDS",
        help=f"anti-flapping: a twin stays this long before a better node may take it "
        f"(default {Guard.min_dwell_s:g})",
    )
    reconcile.add_argument(
        "--min-gain-km",
        type=_non_negative,
        default=Guard.min_gain_km,
        metavar="KM",
        help=f"anti-flapping: a move must bring the twin this much closer (default {Guard.min_gain_km:g})",
    )
    reconcile.add_argument("--edgemap", type=Path, metavar="FILE", help="also write the edge map JSON here")
    reconcile.add_argument(
        "--every",
        type=_positive,
        metavar="SECONDS",
        help="keep reconciling, once every SECONDS (devices and nodes coming and going), until interrupted",
    )
    reconcile.add_argument("--rounds", type=_whole, metavar="N", help="with --every: stop after N rounds")
    _image_options(reconcile)
    reconcile.set_defaults(func=run_reconcile)
    definition = twin_commands.add_parser("crd", help="print the EdgeDevice CustomResourceDefinition")
    definition.set_defaults(func=lambda args: _print_yaml([crd()]))
    manifests = twin_commands.add_parser("manifests", help="print the twin of a device on a node")
    manifests.add_argument("device", type=Path, help="EdgeDevice YAML file")
    manifests.add_argument("--node", required=True, help="node the twin runs on")
    manifests.add_argument("--namespace", default="default")
    _image_options(manifests)
    manifests.set_defaults(func=run_manifests)

    edgemap = subparsers.add_parser("edgemap", help="the edge map: nodes, devices and their links")
    edgemap_commands = edgemap.add_subparsers(dest="edgemap_command", required=True)
    export = edgemap_commands.add_parser("export", help="write the live cluster's edge map as JSON")
    _cluster_options(export)
    export.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(func=run_export)
    render = edgemap_commands.add_parser("render", help="draw the edge map as SVG or HTML")
    render.add_argument("--input", type=Path, help="edge map JSON (default: read the live cluster)")
    _cluster_options(render)
    render.add_argument("-o", "--output", type=Path, required=True, help="picture to write: .svg or .html")
    render.add_argument("--title", default="edge map", help="title of the picture")
    render.set_defaults(func=run_render)


def _print_yaml(documents: list[dict]) -> int:
    print(yaml.safe_dump_all(documents, sort_keys=False), end="")
    return 0


def run_manifests(args: argparse.Namespace) -> int:
    text = args.device.read_text()
    try:
        device = device_from_resource(yaml.safe_load(text))
    except (yaml.YAMLError, DeviceError, AttributeError) as exc:
        raise DeviceError(f"{args.device}: {exc}") from None
    refusal = _image_policy(args).refusal(device)
    if refusal:
        raise DeviceError(f"{args.device}: {refusal}")
    return _print_yaml(twin_objects(device, args.node, args.namespace))


def _live_edge_map(args: argparse.Namespace):
    from edgewright.twins import kube

    state = kube.read_state(kube.connect(args.kubeconfig, args.context), args.namespace)
    return kube.edge_map_of(state)


def _cluster_call(fn, args):
    """FN(ARGS), the Kubernetes client's errors (it raises many kinds) made a ClusterError that says which."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    from edgewright.twins import kube

    try:
        return fn(args)
    except (ApiException, HTTPError, OSError) as exc:
        raise kube.wrap_api_errors(exc) from None


def run_reconcile(args: argparse.Namespace) -> int:
    """One reconcile, or with --every one every so many seconds (the controller loop), --rounds times."""
    rounds = 0
    while True:
        code = _reconcile_once(args, quiet=args.every is not None and rounds > 0)
        rounds += 1
        if args.every is None or (args.rounds is not None and rounds >= args.rounds):
            return code
        try:
            time.sleep(args.every)
        except KeyboardInterrupt:
            return code


def _reconcile_once(args: argparse.Namespace, quiet: bool) -> int:
    from edgewright.twins import kube

    def work(args):
        dyn = kube.connect(args.kubeconfig, args.context)
        if not args.dry_run and kube.ensure_crd(dyn):
            print("installed the EdgeDevice CRD")
        guard = Guard(min_dwell_s=args.min_dwell, min_gain_km=args.min_gain_km)
        return kube.reconcile(dyn, args.namespace, guard, dry_run=args.dry_run, images=images)

    images = _image_policy(args)
    report, state = _cluster_call(work, args)
    prefix = "would " if args.dry_run else ""
    for change in report.changes:
        print(f"{prefix}{change}", flush=True)
    if not report.changes and not quiet:
        print("twins are as the rules say: nothing to change", flush=True)
    for problem in report.problems:
        print(f"problem: {problem}", file=sys.stderr, flush=True)
    if args.edgemap:
        args.edgemap.write_text(kube.edge_map_of(state, report.plan).dumps())
    return 1 if report.problems else 0


def run_export(args: argparse.Namespace) -> int:
    edge_map = _cluster_call(_live_edge_map, args)
    text = edge_map.dumps()
    if args.output:
        args.output.write_text(text)
    else:
        print(text, end="")
    return 0


def run_render(args: argparse.Namespace) -> int:
    if args.output.suffix not in (".svg", ".html"):
        raise UsageError(f"--output {args.output} must end in .svg or .html")
    if args.input:
        text = args.input.read_text()
        try:
            edge_map = edge_map_from_json(json.loads(text))
        except (json.JSONDecodeError, EdgeMapError) as exc:
            raise EdgeMapError(f"{args.input}: {exc}") from None
    else:
        edge_map = _cluster_call(_live_edge_map, args)
    render = render_svg if args.output.suffix == ".svg" else render_html
    args.output.write_text(render(edge_map, args.title))
    print(f"wrote {args.output} ({len(edge_map.vertices)} vertices, {len(edge_map.edges())} links)")
    return 0
