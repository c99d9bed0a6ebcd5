"""`edgewright metrics verifier` (also `python -m edgewright.metrics verifier`): serve the attestation
verifier's results as Prometheus metrics."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from edgewright.attest.store import Store
from edgewright.metrics.exposition import serve_metrics
from edgewright.metrics.verifier import verifier_registry


def register(subparsers) -> None:
    """Add the `metrics` command (with `verifier`) to an argparse subparsers object."""
    metrics = subparsers.add_parser("metrics", help="Prometheus metrics of edgewright's services")
    commands = metrics.add_subparsers(dest="metrics_command", required=True)
    verifier = commands.add_parser("verifier", help="the verifier's attestation results, read from its store")
    verifier.add_argument("--store", required=True, help="the verifier's directory")
    verifier.add_argument("--listen", default="127.0.0.1:9816", help="host:port to serve on (%(default)s)")
    verifier.set_defaults(func=serve_verifier)


def serve_verifier(args: argparse.Namespace) -> int:
    try:
        server = serve_metrics(verifier_registry(Store(args.store)), args.listen)
    except (OSError, ValueError) as err:
        print(f"edgewright metrics verifier: cannot serve on {args.listen}: {err}", file=sys.stderr)
        return 1
    print(f"serving the verifier's metrics from {args.store} on {args.listen}", file=sys.stderr, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="edgewright")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["metrics", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)
