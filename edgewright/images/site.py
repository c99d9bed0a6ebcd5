"""Build the catalog's images with podman, push them to the site registry, and record their digests.

The digests file is what manifests and node configurations take images from: every image by digest
(`registry.k8s.io/pause@sha256:...`), never by a tag that could move. Each step does only what is
missing: an image whose recipe is unchanged is not rebuilt, one the registry already holds at the
recorded digest is not pushed again.
"""

from __future__ import annotations

import json
import re
import ssl
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from edgewright.controller.files import write_atomic
from edgewright.images.catalog import ImageError, Recipe, containerfile
from edgewright.lab import podman

RECIPE_LABEL = "io.edgewright.image-recipe"
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    )
)
_REGISTRY = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:]+\](:[0-9]{1,5})?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class PushedImage:
    """An image in the site registry: what the cluster calls it and the digest it is pinned to."""

    reference: str
    digest: str
    fingerprint: str

    @property
    def pinned(self) -> str:
        """The reference by digest, as manifests and the containerd config use it."""
        return f"{self.reference.rsplit(':', 1)[0]}@{self.digest}"


@dataclass(frozen=True)
class SiteRegistry:
    """Where the controller pushes: ADDRESS (host:port of the push listener) and CERT_DIR, a podman
    certificate directory with the site CA (ca.crt) and the controller's client certificate
    (client.cert, client.key)."""

    address: str
    cert_dir: Path

    def validate(self) -> None:
        if not _REGISTRY.match(self.address):
            raise ImageError(f"--registry {self.address!r} is not HOST:PORT")
        if not (self.cert_dir / "ca.crt").is_file():
            raise ImageError(
                f"--cert-dir {self.cert_dir} has no ca.crt (the site CA the registry serves under)"
            )

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.cert_dir / "ca.crt"))
        if (self.cert_dir / "client.cert").is_file():
            context.load_cert_chain(str(self.cert_dir / "client.cert"), str(self.cert_dir / "client.key"))
        return context

    def _request(self, method: str, path: str) -> urllib.request.Request:
        request = urllib.request.Request(f"https://{self.address}{path}", method=method)
        request.add_header("Accept", MANIFEST_TYPES)
        return request

    def digest(self, repository: str, tag: str) -> str | None:
        """The digest the registry serves REPOSITORY:TAG at, or None when it does not have it."""
        try:
            with urllib.request.urlopen(
                self._request("HEAD", f"/v2/{repository}/manifests/{tag}"),
                context=self._context(),
                timeout=10,
            ) as response:
                return response.headers.get("Docker-Content-Digest")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise ImageError(
                f"the site registry {self.address} answered {exc.code} for {repository}:{tag}"
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise ImageError(f"cannot reach the site registry {self.address}: {_reason(exc)}") from None

    def catalog(self) -> list[str]:
        """The repositories the registry holds."""
        try:
            with urllib.request.urlopen(
                self._request("GET", "/v2/_catalog"), context=self._context(), timeout=10
            ) as response:
                return json.load(response).get("repositories") or []
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ImageError(f"cannot list the site registry {self.address}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason if reason is not None else exc)


# ---- building ------------------------------------------------------------------------------------------
def built_fingerprint(recipe: Recipe) -> str | None:
    """The recipe fingerprint of the local image, or None when there is no local image."""
    if not podman.exists("image", recipe.reference):
        return None
    data = podman.as_json(["image", "inspect", recipe.reference])
    return ((data[0].get("Labels") or {}) if data else {}).get(RECIPE_LABEL)


def build(recipe: Recipe, log: Callable[[str], None] = print) -> bool:
    """Build RECIPE into the local image store unless an image of the same recipe is there. Returns
    whether it built."""
    fingerprint = recipe.fingerprint()
    if built_fingerprint(recipe) == fingerprint:
        return False
    log(f"building {recipe.reference}")
    with tempfile.TemporaryDirectory(prefix="edgewright-image-") as work:
        context = Path(work)
        recipe.build(context)
        (context / "Containerfile").write_text(containerfile(recipe))
        # A fixed timestamp: the same program gives the same image, whoever builds it and when.
        podman.run(
            [
                "build", "--quiet", "--timestamp", "0", "--label", f"{RECIPE_LABEL}={fingerprint}",
                "--tag", recipe.reference, "--file", str(context / "Containerfile"), str(context),
            ]
        )  # fmt: skip
    return True


# ---- pushing and the digests file ----------------------------------------------------------------------
def read_digests(path: Path) -> dict[str, PushedImage]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        return {
            name: PushedImage(entry["reference"], entry["digest"], entry["fingerprint"])
            for name, entry in data.items()
        }
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ImageError(
            f"the digests file {path} is not what `edgewright images push` writes: {exc}"
        ) from None


def write_digests(path: Path, images: dict[str, PushedImage]) -> None:
    # `pinned` is there for the readers (Ansible, manifests) that take the image by digest as it is.
    entries = {name: asdict(image) | {"pinned": image.pinned} for name, image in sorted(images.items())}
    write_atomic(path, json.dumps(entries, indent=2) + "\n", mode=0o644, dir_mode=0o755)


def push(
    recipe: Recipe, registry: SiteRegistry, recorded: PushedImage | None, log: Callable[[str], None] = print
) -> tuple[PushedImage, bool]:
    """Push RECIPE's local image to the site registry unless the registry already serves the recorded
    digest of this very recipe. Returns the pushed image and whether it pushed."""
    fingerprint = recipe.fingerprint()
    serving = registry.digest(recipe.repository, recipe.tag)
    if recorded and recorded.fingerprint == fingerprint and serving == recorded.digest:
        return recorded, False
    log(f"pushing {recipe.reference} to {registry.address}")
    with tempfile.TemporaryDirectory(prefix="edgewright-push-") as work:
        digest_file = Path(work) / "digest"
        podman.run(
            [
                "push", "--quiet", "--cert-dir", str(registry.cert_dir), "--digestfile", str(digest_file),
                recipe.reference, f"docker://{registry.address}/{recipe.repository}:{recipe.tag}",
            ]
        )  # fmt: skip
        digest = digest_file.read_text().strip()
    if not _DIGEST.match(digest):
        raise ImageError(f"podman push of {recipe.reference} reported no digest ({digest!r})")
    return PushedImage(recipe.reference, digest, fingerprint), True
