"""Which images a device twin may run. Whoever may create an EdgeDevice must not be able to run any image
on an edge node: a twin's image comes from the site registry, or is on the operator's allowlist, or is
one of edgewright's own protocol defaults (manifests.TWIN_IMAGES)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from edgewright.errors import EdgewrightError
from edgewright.twins.device import EdgeDevice
from edgewright.twins.manifests import TWIN_IMAGES

# A reference: [registry/]path[:tag][@sha256:digest], in the distribution spec's characters.
_REFERENCE = re.compile(
    r"(?P<repository>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]{1,5})?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?"
)
_REGISTRY = re.compile(r"[a-z0-9.-]+(?::[0-9]{1,5})?|\[[0-9a-f:]+\](?::[0-9]{1,5})?")


class ImageError(EdgewrightError, ValueError):
    """A bad image policy (the operator's registry or allowlist); the message names it."""


def repository(image: str) -> str | None:
    """IMAGE's repository (without tag or digest), or None when IMAGE is not an image reference."""
    match = _REFERENCE.fullmatch(image) if isinstance(image, str) else None
    return match.group("repository") if match else None


def registry(image: str) -> str:
    """The registry IMAGE is pulled from: its first component when that names a host, else docker.io."""
    first, _, rest = image.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else "docker.io"


@dataclass(frozen=True)
class ImagePolicy:
    """The site registry (host[:port]) and the allowlist: repositories, or prefixes ending in '/'."""

    site_registry: str | None = None
    allowed: tuple[str, ...] = ()
    defaults: tuple[str, ...] = ()

    @classmethod
    def of(cls, site_registry: str | None, allowed: Iterable[str], defaults: Iterable[str]) -> ImagePolicy:
        """A policy; ImageError naming a registry or allowlist entry that is not one."""
        if site_registry is not None and not _REGISTRY.fullmatch(site_registry):
            raise ImageError(f"site registry {site_registry!r} is not host[:port]")
        entries = tuple(allowed)
        for entry in entries:
            if not (entry.endswith("/") and repository(entry.rstrip("/"))) and repository(entry) != entry:
                raise ImageError(
                    f"allowed image {entry!r} is neither a repository (without tag) nor a prefix ending in '/'"
                )
        return cls(site_registry, entries, tuple(defaults))

    def refusal(self, device: EdgeDevice) -> str | None:
        """Why DEVICE's image may not run, or None when it may."""
        image = device.image
        if image is None or image in self.defaults:
            return None
        repo = repository(image)
        if repo is None:
            return f"device {device.name!r}: image {image!r} is not an image reference"
        if self.site_registry is not None and registry(image) == self.site_registry:
            return None
        if any(repo == entry or (entry.endswith("/") and repo.startswith(entry)) for entry in self.allowed):
            return None
        where = f"the site registry {self.site_registry}" if self.site_registry else "no site registry set"
        return (
            f"device {device.name!r}: image {image!r} is neither from the site registry ({where}) "
            f"nor on the allowlist ({', '.join(self.allowed) or 'empty'})"
        )


def default_image_policy(site_registry: str | None = None, allowed: Iterable[str] = ()) -> ImagePolicy:
    """The policy twins run under: edgewright's protocol images, the site registry's, the allowlist's."""
    return ImagePolicy.of(site_registry, allowed, TWIN_IMAGES.values())
