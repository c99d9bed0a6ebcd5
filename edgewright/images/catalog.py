"""The images a site runs, each built on the controller from source with nothing pulled.

Every image is a recipe: a name as the cluster refers to it (the registry it would come from upstream,
which containerd on the nodes mirrors to the site registry), how to make its files, and the Containerfile
that puts them in an image FROM scratch. Later images (CoreDNS, device twins) plug in with a recipe of
their own in `RECIPES`: a builder is any function that fills a build directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from edgewright.errors import EdgewrightError

# The registries whose names the cluster uses and the site registry stands in for.
UPSTREAM_REGISTRIES = ("registry.k8s.io", "docker.io", "edgewright.io")


class ImageError(EdgewrightError, RuntimeError):
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


def static_c_program(source: str, binary: str, compiler_name: str = "gcc") -> Callable[[Path], None]:
    """A builder that compiles one C file into a static, stripped binary: it runs FROM scratch."""

    def build(context: Path) -> None:
        compiler = shutil.which(compiler_name)
        if compiler is None:
            package = {"gcc": "gcc libc6-dev", "musl-gcc": "musl-tools"}.get(compiler_name, compiler_name)
            raise ImageError(
                f"building {binary} needs {compiler_name} (on Debian: apt-get install {package}): run scripts/setup"
            )
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


def coredns_version() -> str:
    return (resources.files("edgewright.images") / "coredns.version").read_text().strip()


def coredns_binary(version: str | None = None) -> Path:
    """Where scripts/setup.d/62-coredns.sh leaves the CoreDNS it built from the Go module proxy."""
    from edgewright.lab.kube import edgewright_home

    return edgewright_home() / "coredns" / (version or coredns_version()) / "bin" / "coredns"


# A file capability granting CAP_NET_BIND_SERVICE alone (VFS_CAP_REVISION_2, permitted, not effective-only
# flags): what `setcap cap_net_bind_service=+ep` writes. The image carries it in its layer.
_CAP_NET_BIND_SERVICE = bytes.fromhex("0100000200040000000000000000000000000000")


def prebuilt_program(
    binary: Callable[[], Path], setup: str, bind_low_ports: bool = False
) -> Callable[[Path], None]:
    """A builder that takes a static binary another build made (SETUP names the drop-in that builds it).
    BIND_LOW_PORTS gives the file CAP_NET_BIND_SERVICE, so the program binds a port below 1024 as a non-root
    user whose container grants that capability and nothing else."""

    def build(context: Path) -> None:
        source = binary()
        if not source.is_file():
            raise ImageError(f"{source} is not built: run scripts/setup ({setup} builds it)")
        target = context / source.name
        shutil.copy2(source, target)
        if bind_low_ports:
            try:
                os.setxattr(target, "security.capability", _CAP_NET_BIND_SERVICE)
            except OSError as exc:
                raise ImageError(
                    f"cannot give {target.name} its file capability (needs root): {exc}"
                ) from None

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
    # The cluster's DNS, at the version scripts/setup.d/62-coredns.sh builds (the tag names it, so a new
    # pin is a new image).
    "coredns": Recipe(
        reference=f"registry.k8s.io/coredns/coredns:{coredns_version()}",
        # It serves DNS on port 53 as nobody: the file capability, granted by the pod's securityContext.
        build=prebuilt_program(coredns_binary, "scripts/setup.d/62-coredns.sh", bind_low_ports=True),
        summary="the cluster DNS (CoreDNS, static, from the Go module proxy)",
    ),
    # edgewright's own: resolves names from inside a pod, through the pod's resolv.conf.
    "lookup": Recipe(
        reference="edgewright.io/lookup:1.0",
        build=static_c_program("lookup.c", "lookup", compiler_name="musl-gcc"),
        sources=("lookup.c",),
        summary="resolves names as a pod does (its cluster DNS and search domains) and prints the answers",
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
