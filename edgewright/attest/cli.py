"""`edgewright attest ...`: the verifier's operator commands.

edgewright attest [--store DIR | --inventory FILE] status [NODE]   who is attested or quarantined, and why
edgewright attest [--store DIR] release NODE [--forget-keys]
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

from edgewright.attest.store import Store, StoreError
from edgewright.attest.verifier import Verifier, VerifierError
from edgewright.controller.dirs import Directories
from edgewright.controller.inventory import inventory_directories


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
    attest.add_argument("--inventory", help="the inventory whose verifier to use (default: ansible.cfg's)")
    attest.set_defaults(func=run)
    sub = attest.add_subparsers(dest="attest_command", required=True)
    status = sub.add_parser("status", help="one node's record, or a line per node")
    status.add_argument("node", nargs="?")
    release = sub.add_parser("release", help="lift a node's quarantine; it must attest again")
    release.add_argument("node")
    release.add_argument("--forget-keys", action="store_true", help="make it enroll again (new TPM or keys)")
    evidence = sub.add_parser("evidence", help="the evidence log, as JSON lines")
    evidence.add_argument("node", nargs="?")
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


def run(args: argparse.Namespace) -> int:
    node = getattr(args, "node", None)
    verifier = Verifier(Store(find_store(args.store, args.inventory, node)))
    try:
        if args.attest_command == "status" and args.node:
            print(json.dumps(verifier.status(args.node), indent=2))
        elif args.attest_command == "status":
            for record in verifier.store.nodes():
                print(f"{record['node']:<24} {record['status']:<12} {record.get('reason', '')}")
            for node, problem in verifier.store.corrupt_records().items():
                print(f"{node:<24} {'corrupt':<12} {problem}")
        elif args.attest_command == "release":
            verdict = verifier.release(args.node, by=getpass.getuser(), forget_keys=args.forget_keys)
            print(f"{args.node}: {verdict.reason}")
        elif args.attest_command == "evidence":
            for entry in verifier.store.evidence(args.node):
                print(json.dumps(entry, sort_keys=True))
        elif args.allow:
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
    except (StoreError, VerifierError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
