"""`edgewright attest ...`: the verifier's operator commands.

edgewright attest [--store DIR | --inventory FILE] status [NODE]   who is attested or quarantined, and why
edgewright attest [--store DIR | --inventory FILE] quarantine NODE [--reason TEXT] [--verifier-only]
edgewright attest [--store DIR] release NODE [--forget-keys]
edgewright attest [--store DIR] serve --listen HOST:PORT --tls-cert F --tls-key F --client-ca F [--deadline S]
edgewright attest [--store DIR] evidence [NODE]      the evidence log, as JSON lines
edgewright attest [--store DIR] policy CLASS [PCR=HEX ...] [--allow PATH=SHA256 ...]

Without --store, the store is $EDGEWRIGHT_VERIFIER_DIR, else the one the inventory (--inventory, else the
one ansible.cfg names here, as ansible-playbook would use) gives NODE or its first edge node, else
~/.local/state/edgewright/verifier.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import TextIO

from edgewright.attest.store import Store
from edgewright.attest.verifier import Verifier
from edgewright.controller.dirs import Directories
from edgewright.controller.inventory import inventory_directories
from edgewright.errors import EdgewrightError, UsageError, describe, os_error


def find_store(store: str | None, inventory: str | None, node: str | None) -> str:
    """The verifier's directory: STORE if given, else the environment's, else the inventory's, else the
    default (see the module's docstring)."""
    if store:
        return store
    directories = Directories.from_environment()
    if os.environ.get("EDGEWRIGHT_VERIFIER_DIR"):
        return str(directories.verifier)
    return str((inventory_directories(inventory, node) or directories).verifier)


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `attest` command and its subcommands."""
    attest = commands.add_parser(
        "attest", help="the attestation verifier: status, release, evidence, policies"
    )
    attest.add_argument("--store", help="the verifier's directory (default: the inventory's, see below)")
    attest.add_argument(
        "--inventory",
        help="the inventory whose verifier to use, and that quarantine runs revoke.yml on (default: ansible.cfg's)",
    )
    sub = attest.add_subparsers(dest="attest_command", required=True, metavar="COMMAND")
    status = sub.add_parser("status", help="one node's record, or a line per node")
    status.add_argument("node", nargs="?")
    status.set_defaults(func=run_status)
    quarantine = sub.add_parser(
        "quarantine", help="quarantine a node and revoke what it was given (playbooks/revoke.yml)"
    )
    quarantine.add_argument("node")
    quarantine.add_argument(
        "--reason", default="quarantined by the operator", help="kept in the evidence log"
    )
    quarantine.add_argument(
        "--verifier-only",
        action="store_true",
        help="only mark it quarantined in the verifier (every gate refuses it); revoke.yml does the rest",
    )
    quarantine.set_defaults(func=run_quarantine)
    release = sub.add_parser("release", help="lift a node's quarantine; it must attest again")
    release.add_argument("node")
    release.add_argument("--forget-keys", action="store_true", help="make it enroll again (new TPM or keys)")
    release.set_defaults(func=run_release)
    serve = sub.add_parser(
        "serve",
        help="continuous attestation: take the quotes joined nodes push (mutual TLS), revoke on failure",
    )
    serve.add_argument(
        "--listen", required=True, help="HOST:PORT to listen on (the address nodes dial, only)"
    )
    serve.add_argument("--tls-cert", required=True, help="PEM certificate the service proves itself with")
    serve.add_argument("--tls-key", required=True, help="PEM private key of --tls-cert")
    serve.add_argument(
        "--client-ca", required=True, help="PEM CA of the nodes' client certificates (the site's node CA)"
    )
    serve.add_argument(
        "--deadline",
        type=float,
        default=900.0,
        help="seconds a node may go without a passing quote before it is quarantined (%(default)s)",
    )
    serve.add_argument("-i", "--inventory", help="the inventory revoke.yml runs on (default: ansible.cfg's)")
    serve.set_defaults(func=run_serve)
    evidence = sub.add_parser("evidence", help="the evidence log, as JSON lines")
    evidence.add_argument("node", nargs="?")
    evidence.set_defaults(func=run_evidence)
    policy = sub.add_parser("policy", help="show or set a node class's golden PCR values")
    policy.add_argument("node_class")
    policy.add_argument("pcrs", nargs="*", metavar="PCR=HEX")
    policy.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="PATH=SHA256",
        help="also allow this digest of a measured file (a new version rolled out)",
    )
    policy.set_defaults(func=run_policy)


def _verifier(args: argparse.Namespace) -> Verifier:
    """The verifier of the store the arguments name (see find_store); revoke.yml and the push service's
    revocations work on the same store."""
    args.store = find_store(args.store, args.inventory, getattr(args, "node", None))
    return Verifier(Store(args.store))


def run_status(args: argparse.Namespace) -> int:
    verifier = _verifier(args)
    if args.node:
        print(json.dumps(verifier.status(args.node), indent=2))
        return 0
    for record in verifier.store.nodes():
        print(f"{record['node']:<24} {record['status']:<12} {record.get('reason', '')}")
    for node, problem in verifier.store.corrupt_records().items():
        print(f"{node:<24} {'corrupt':<12} {problem}")
    return 0


def run_quarantine(args: argparse.Namespace) -> int:
    verdict = _verifier(args).quarantine(args.node, args.reason)
    print(f"{args.node}: quarantined ({verdict.reason})")
    return 0 if args.verifier_only else revoke(args.node, args.reason, args.store, args.inventory)


def run_release(args: argparse.Namespace) -> int:
    verdict = _verifier(args).release(args.node, by=getpass.getuser(), forget_keys=args.forget_keys)
    print(f"{args.node}: {verdict.reason}")
    if verdict.changed:
        print(
            f"{args.node}: it gets its Node standing, certificate renewal and mesh keys back at its "
            "next passing quote (playbooks/site.yml)"
        )
    return 0


def run_evidence(args: argparse.Namespace) -> int:
    for entry in _verifier(args).store.evidence(args.node):
        print(json.dumps(entry, sort_keys=True))
    return 0


def run_policy(args: argparse.Namespace) -> int:
    verifier = _verifier(args)
    if args.allow:
        allowed: dict[str, list[str]] = {}
        for item in args.allow:
            path, _, digest = item.rpartition("=")
            allowed.setdefault(path, []).append(digest)
        changed = verifier.allow_digests(args.node_class, allowed)
        print(f"{args.node_class}: {'updated' if changed else 'unchanged'}")
    elif args.pcrs:
        pairs = dict(p.split("=", 1) if "=" in p else (p, "") for p in args.pcrs)
        changed = verifier.set_policy(args.node_class, pairs)
        print(f"{args.node_class}: {'updated' if changed else 'unchanged'}")
    else:
        print(json.dumps(verifier.store.policy(args.node_class), indent=2))
    return 0


def revoke(
    node: str,
    reason: str,
    store: str,
    inventory: str | None,
    out: TextIO | None = None,
    live: bool | None = None,
) -> int:
    """Run the revocation playbook for NODE with the same verifier directory, its progress to OUT
    (standard output by default); returns the playbook's exit status."""
    from edgewright.cli import project_root
    from edgewright.playbooks.cli import converge
    from edgewright.playbooks.runner import PlaybookRun

    root = project_root()
    extra = {"nodes": node, "reason": reason, "edgewright_verifier_dir": store}
    run = PlaybookRun(
        root / "playbooks" / "revoke.yml",
        inventories=(inventory,) if inventory else (),
        extra_vars=(json.dumps(extra),),
    )
    return converge(run, root, out or sys.stdout, live)


def run_serve(args: argparse.Namespace) -> int:
    """Serve push-mode attestation until SIGTERM or SIGINT; each quarantine runs revoke.yml for its node."""
    import logging
    import signal
    import threading

    from edgewright.attest import push

    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit() or args.deadline <= 0:
        raise UsageError(f"--listen {args.listen!r} must be HOST:PORT and --deadline positive")
    verifier = _verifier(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    log = logging.getLogger("edgewright.attest.push")

    def revoke_node(node: str, reason: str) -> None:
        # From the service's threads: the run's lines go to the service's log stream, with no status line.
        try:
            revoke(node, reason, args.store, args.inventory, out=sys.stderr, live=False)
        except (EdgewrightError, OSError) as error:
            log.error("revoke.yml did not run for %s (it stays quarantined): %s", node, describe(error)[1])

    try:
        context = push.tls_context(Path(args.tls_cert), Path(args.tls_key), Path(args.client_ca))
        service = push.PushService(verifier, deadline_s=args.deadline, on_quarantined=revoke_node)
        server = push.start_server(service, host.strip("[]"), int(port), context)
        service.arm_joined()
    except OSError as exc:  # ssl.SSLError too
        raise os_error(f"cannot serve on {args.listen}", exc) from None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("taking pushed quotes on %s", args.listen)
    stop.wait()
    server.shutdown()
    service.stop()
    return 0
