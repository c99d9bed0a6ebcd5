"""`edgewright metrics verifier` (also `python -m edgewright.metrics verifier`): serve the attestation
verifier's results as Prometheus metrics."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from edgewright.attest.store import Store
from edgewright.errors import UsageError, os_error
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
    registry = verifier_registry(Store(args.store))
    try:
        server = serve_metrics(registry, args.listen)
    except OSError as err:
        raise os_error(f"cannot serve on {args.listen}", err) from None
    except ValueError as err:  # the address is not host:port
        raise UsageError(str(err)) from None
    print(f"serving the verifier's metrics from {args.store} on {args.listen}", file=sys.stderr, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    return 0
