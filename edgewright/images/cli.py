"""`edgewright images build|push|list`: the site's images, built here without pulling anything."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgewright.cli import format_table
from edgewright.images.catalog import RECIPES, ImageError, select
from edgewright.images.site import SiteRegistry, build, built_fingerprint, push, read_digests, write_digests
from edgewright.lab import podman
from edgewright.lab.kube import edgewright_home


def default_digests() -> Path:
    return edgewright_home() / "images" / "digests.json"


def register(subparsers) -> None:
    images = subparsers.add_parser("images", help="build the site's images and push them to its registry")
    commands = images.add_subparsers(dest="images_command", required=True)
    for verb, text in (
        ("build", "build images from source into the local image store (only what changed)"),
        ("push", "build, then push to the site registry and record each image's digest"),
        ("list", "the catalog: each image, whether it is built, and its recorded digest"),
    ):
        sub = commands.add_parser(verb, help=text)
        sub.set_defaults(func=run, needs_registry=verb == "push")
        if verb != "list":
            sub.add_argument(
                "names", nargs="*", metavar="NAME", help=f"images (default all: {', '.join(RECIPES)})"
            )
        if verb in ("push", "list"):
            sub.add_argument("--registry", help="the site registry's push listener, HOST:PORT")
            sub.add_argument(
                "--cert-dir",
                type=Path,
                help="the site CA (ca.crt) and the controller's client certificate (client.cert, client.key)",
            )
            sub.add_argument(
                "--digests", type=Path, help=f"the digests file to write/read (default {default_digests()})"
            )
        sub.add_argument("--json", action="store_true", help="print JSON (with `changed`) instead of text")


def _registry(args: argparse.Namespace) -> SiteRegistry | None:
    if not getattr(args, "registry", None):
        if getattr(args, "needs_registry", False):
            raise ImageError("push needs --registry HOST:PORT and --cert-dir DIR")
        return None
    if args.cert_dir is None:
        raise ImageError(f"--registry {args.registry} needs --cert-dir with the site CA (ca.crt)")
    registry = SiteRegistry(args.registry, args.cert_dir)
    registry.validate()
    return registry


def run(args: argparse.Namespace) -> int:
    def log(line: str) -> None:
        print(line, file=sys.stderr)

    recipes = select(getattr(args, "names", None))
    registry = _registry(args)
    digests_file = getattr(args, "digests", None) or default_digests()
    if args.images_command == "list":
        recorded = read_digests(digests_file)
        rows = []
        for name, recipe in recipes.items():
            local = built_fingerprint(recipe)
            row = {
                "name": name,
                "reference": recipe.reference,
                "built": "current" if local == recipe.fingerprint() else ("stale" if local else "no"),
                "pinned": recorded[name].pinned if name in recorded else "-",
            }
            if registry is not None:
                serving = registry.digest(recipe.repository, recipe.tag)
                row["registry"] = serving or "missing"
            rows.append(row)
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            print(format_table(rows, empty="no images"))
        return 0
    podman.ensure_usable()
    changed = [name for name, recipe in recipes.items() if build(recipe, log=log)]
    result: dict = {"built": changed}
    if args.images_command == "push":
        assert registry is not None
        recorded = read_digests(digests_file)
        pushed = []
        for name, recipe in recipes.items():
            recorded[name], did_push = push(recipe, registry, recorded.get(name), log=log)
            if did_push:
                pushed.append(name)
        write_digests(digests_file, recorded)
        changed += pushed
        result |= {"pushed": pushed, "images": {name: recorded[name].pinned for name in recipes}}
    result["changed"] = bool(changed)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, pinned in result.get("images", {}).items():
            print(f"{name}  {pinned}")
        if not changed:
            print("nothing to build" + (" or push" if args.images_command == "push" else ""))
    return 0
