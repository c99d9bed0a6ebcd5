"""`edgewright xds serve`: run the control plane from a declarative source file, over mutual TLS.

`edgewright xds client-ca` makes the site's xDS client CA the envoy role signs node certificates with.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from edgewright.errors import EdgewrightError, UsageError, os_error
from edgewright.xds.server import (
    AggregatedDiscovery,
    ServerTls,
    SnapshotCache,
    SourceWatcher,
    load_source,
    start_server,
    verifier_standing,
)


def register(subparsers) -> None:
    """Add the `xds` command (with `serve`) to an argparse subparsers object."""
    xds = subparsers.add_parser("xds", help="the L7 control plane (Envoy xDS)")
    commands = xds.add_subparsers(dest="xds_command", required=True)
    serve = commands.add_parser("serve", help="serve Envoy nodes over gRPC ADS from a source file")
    serve.add_argument(
        "--source", required=True, type=Path, help="YAML file: clusters and each node's listeners"
    )
    serve.add_argument(
        "--listen", default="127.0.0.1:18000", help="host:port to serve ADS on (default: %(default)s)"
    )
    serve.add_argument(
        "--poll-interval",
        type=float,
        default=1.0,
        help="seconds between checks of the source (default: %(default)s)",
    )
    serve.add_argument(
        "--max-nodes",
        type=int,
        default=512,
        help="Envoy nodes served at once; each holds one stream thread (default: %(default)s)",
    )
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate the server proves itself with")
    serve.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    serve.add_argument(
        "--client-ca",
        type=Path,
        help="PEM CA every node's client certificate must come from (the site's xDS client CA, "
        "`edgewright xds client-ca`); a node gets only the snapshot its certificate names",
    )
    serve.add_argument(
        "--insecure-plaintext",
        action="store_true",
        help="serve plaintext gRPC and believe every client's node.id (for a lab, never a site)",
    )
    serve.add_argument(
        "--metrics-listen", help="host:port to serve Prometheus metrics on (default: no metrics)"
    )
    serve.add_argument(
        "--kubeconfig",
        type=Path,
        help="the cluster whose Services the source's service clusters name: their endpoints are watched "
        "and pushed over EDS (needs only get/list/watch on services and endpointslices)",
    )
    serve.add_argument(
        "--verifier-dir",
        type=Path,
        help="the attestation verifier's directory: serve a node only while it is attested, checked at "
        "connect and during its stream (default: no attestation check)",
    )
    serve.add_argument(
        "--attest-max-age",
        type=float,
        help="seconds an attestation stays good enough to be served (default: the verifier's)",
    )
    serve.add_argument("--check", action="store_true", help="only check the source and exit")
    serve.set_defaults(func=serve_command)
    client_ca = commands.add_parser(
        "client-ca", help="make the site's xDS client CA unless it exists; print its certificate's path"
    )
    client_ca.add_argument(
        "--dir",
        type=Path,
        default=Path("~/.local/state/edgewright/xds-ca"),
        help="the CA's directory on the controller (default: %(default)s)",
    )
    client_ca.set_defaults(func=client_ca_command)


def client_ca_command(args: argparse.Namespace) -> int:
    from edgewright.xds.identity import CA_CERT, ensure_client_ca

    ensure_client_ca(args.dir)
    print(args.dir.expanduser() / CA_CERT)
    return 0


def serve_command(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    source = load_source(args.source)
    if args.check:
        print(f"{args.source}: {len(source.clusters)} clusters, {len(source.nodes)} nodes: ok")
        return 0
    if args.poll_interval <= 0 or args.max_nodes < 1:
        raise UsageError("--poll-interval and --max-nodes must be positive")
    tls_args = (args.tls_cert, args.tls_key, args.client_ca)
    if args.insecure_plaintext:
        if any(tls_args):
            raise UsageError("--insecure-plaintext goes without --tls-cert, --tls-key and --client-ca")
        tls = None
    elif not all(tls_args):
        raise UsageError(
            "mutual TLS needs --tls-cert, --tls-key and --client-ca (or, for a lab only, --insecure-plaintext)"
        )
    else:
        tls = ServerTls(*tls_args)
    cache = SnapshotCache(source)
    watcher, discovery = SourceWatcher(args.source, cache), None
    if args.metrics_listen:
        from edgewright.metrics.xds import instrumented

        try:
            watcher, discovery = instrumented(
                args.source, cache, args.metrics_listen, insecure_plaintext=args.insecure_plaintext
            )
        except OSError as err:
            raise os_error(f"cannot serve metrics on {args.metrics_listen}", err) from None
        except ValueError as err:  # the address is not host:port
            raise UsageError(str(err)) from None
    followers = None
    if args.kubeconfig:
        from edgewright.twins.kube import connect
        from edgewright.xds.kube import ServiceEndpointsWatcher

        followers = ServiceEndpointsWatcher(connect(str(args.kubeconfig)), cache)
    elif source.services():
        raise UsageError(
            "the source's clusters follow Services "
            f"({', '.join(sorted(map(str, source.services())))}): give --kubeconfig"
        )
    if args.verifier_dir is not None:
        discovery = discovery or AggregatedDiscovery(cache, insecure_plaintext=args.insecure_plaintext)
        discovery.standing = verifier_standing(args.verifier_dir, args.attest_max_age)
    watcher.poll()
    if followers is not None:
        followers.start()
    try:
        server, port = start_server(
            cache,
            args.listen,
            max_nodes=args.max_nodes,
            tls=tls,
            discovery=discovery,
            insecure_plaintext=args.insecure_plaintext,
        )
    except OSError as err:
        raise os_error(f"cannot listen on {args.listen}", err) from None
    except RuntimeError as err:  # grpc's word for an address it cannot bind
        raise EdgewrightError(f"cannot listen on {args.listen}: {err}") from None
    logging.getLogger("edgewright.xds").info("serving ADS on %s (port %d)", args.listen, port)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(args.poll_interval):
        # A source that now follows another Service gets its endpoints at once, not at the next event.
        if watcher.poll() and followers is not None:
            followers.push()
    if followers is not None:
        followers.stop()
    server.stop(grace=2).wait()
    return 0
