"""The images a site runs, each built on the controller from source with nothing pulled.

Every image is a recipe: a name as the cluster refers to it (the registry it would come from upstream,
which containerd on the nodes mirrors to the site registry), how to make its files, and the Containerfile
that puts them in an image FROM scratch. Later images (CoreDNS, device twins) plug in with a recipe of
their own in `RECIPES`: a builder is any function that fills a build directory.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

# The registries whose names the cluster uses and the site registry stands in for.
UPSTREAM_REGISTRIES = ("registry.k8s.io", "docker.io", "edgewright.io")


class ImageError(RuntimeError):
    """An image cannot be built, pushed or listed; the message names the image or registry and why."""


@dataclass(frozen=True)
class Recipe:
    """One image: REFERENCE (registry/repository:tag) built by BUILD into a directory with a Containerfile."""

    reference: str
    build: Callable[[Path], None]
    sources: tuple[str, ...] = ()
    summary: str = ""

    @property
    def registry(self) -> str:
        return self.reference.split("/", 1)[0]

    @property
    def repository(self) -> str:
        """The repository path in the site registry: the upstream path without its registry host."""
        return self.reference.split("/", 1)[1].rsplit(":", 1)[0]

    @property
    def tag(self) -> str:
        return self.reference.rsplit(":", 1)[1]

    def fingerprint(self) -> str:
        """A hash of everything the image is made from, so an unchanged recipe is not rebuilt."""
        digest = hashlib.sha256(self.reference.encode())
        for name in self.sources:
            digest.update(name.encode() + b"\0" + program_source(name).read_bytes())
        digest.update(containerfile(self).encode())
        return digest.hexdigest()[:32]


def program_source(name: str) -> Path:
    return Path(str(resources.files("edgewright.images") / "programs" / name))


def static_c_program(source: str, binary: str) -> Callable[[Path], None]:
    """A builder that compiles one C file into a static, stripped binary: it runs FROM scratch."""

    def build(context: Path) -> None:
        compiler = shutil.which("gcc")
        if compiler is None:
            raise ImageError(f"building {binary} needs gcc and libc6-dev (on Debian: apt-get install gcc)")
        proc = subprocess.run(
            [
                compiler,
                "-static",
                "-Os",
                "-s",
                "-Wall",
                "-o",
                str(context / binary),
                str(program_source(source)),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise ImageError(f"compiling {source} failed: {proc.stderr.strip()}")

    return build


def containerfile(recipe: Recipe) -> str:
    """FROM scratch: the built program and how to run it, as the nobody user."""
    binary = recipe.repository.rsplit("/", 1)[-1]
    return (
        f"FROM scratch\nCOPY {binary} /{binary}\nUSER 65534:65534\nENTRYPOINT {json.dumps(['/' + binary])}\n"
    )


RECIPES: dict[str, Recipe] = {
    # The pod sandbox image: Kubernetes' pause, as an equivalent static program.
    "pause": Recipe(
        reference="registry.k8s.io/pause:3.10",
        build=static_c_program("pause.c", "pause"),
        sources=("pause.c",),
        summary="the pod sandbox (holds a pod's namespaces, reaps its zombies)",
    ),
    # edgewright's own: the workload that proves every node runs pods.
    "hello": Recipe(
        reference="edgewright.io/hello:1.0",
        build=static_c_program("hello.c", "hello"),
        sources=("hello.c",),
        summary="answers each TCP connection on $PORT with its pod and node name",
    ),
}


def select(names: list[str] | None) -> dict[str, Recipe]:
    """The recipes named (all when none), refusing a name the catalog does not have."""
    if not names:
        return dict(RECIPES)
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        raise ImageError(f"no image called {', '.join(unknown)}: the catalog has {', '.join(RECIPES)}")
    return {n: RECIPES[n] for n in names}
