"""Serve the attestation verifier's results as Prometheus metrics.

python -m edgewright.metrics verifier --store DIR --listen HOST:PORT
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from edgewright.attest.store import Store
from edgewright.metrics.exposition import serve_metrics
from edgewright.metrics.verifier import verifier_registry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgewright.metrics", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    verifier = sub.add_parser("verifier", help="the verifier's attestation results, read from its store")
    verifier.add_argument("--store", required=True, help="the verifier's directory")
    verifier.add_argument("--listen", default="127.0.0.1:9816", help="host:port to serve on (%(default)s)")
    args = parser.parse_args(argv)
    try:
        server = serve_metrics(verifier_registry(Store(args.store)), args.listen)
    except (OSError, ValueError) as err:
        print(f"python -m edgewright.metrics: cannot serve on {args.listen}: {err}", file=sys.stderr)
        return 1
    print(f"serving the verifier's metrics from {args.store} on {args.listen}", file=sys.stderr, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
