"""The lab's node image: Debian bookworm with systemd, built from Debian's packages and cached.

No registry image is pulled: the root filesystem comes from debootstrap, then podman imports it. The image
carries a label with the hash of its recipe, so it is rebuilt only when the recipe changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from edgewright.lab import podman

IMAGE = "localhost/edgewright-node:bookworm"
RECIPE_LABEL = "io.edgewright.image-recipe"

# What a bare edge node of the lab has before edgewright touches it: an init, SSH, python3 for Ansible,
# and a (virtual) TPM. Everything else is the roles' job, so the roles are tested installing it.
NODE_PACKAGES = (
    "python3",
    "python3-apt",
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "sudo",
    "iproute2",
    "iputils-ping",
    "curl",
    "ca-certificates",
    "procps",
    "swtpm",
    "swtpm-tools",
    "tpm2-tools",
)

UNIT_FILES = ("swtpm.service", "ssh-hostkeys.service")

# Bump when _customize changes what goes into the image; the package list and unit files count by themselves.
CUSTOMIZE_VERSION = 2


@dataclass(frozen=True)
class ImageRecipe:
    suite: str = "bookworm"
    mirror: str = field(
        default_factory=lambda: os.environ.get("EDGEWRIGHT_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    )
    packages: tuple[str, ...] = NODE_PACKAGES

    def digest(self) -> str:
        """A hash of everything that shapes the image (not the mirror: any mirror gives the same image)."""
        h = hashlib.sha256()
        h.update(self.suite.encode())
        h.update(" ".join(sorted(self.packages)).encode())
        h.update(str(CUSTOMIZE_VERSION).encode())
        for unit in UNIT_FILES:
            h.update(_unit_text(unit).encode())
        return h.hexdigest()[:16]


def _unit_text(name: str) -> str:
    return (resources.files("edgewright.lab") / "image" / name).read_text()


def current_digest(image: str = IMAGE) -> str | None:
    """The recipe hash of the image in podman's store, or None when there is no such image."""
    if not podman.exists("image", image):
        return None
    return (
        podman.text(["image", "inspect", "--format", f'{{{{index .Labels "{RECIPE_LABEL}"}}}}', image])
        or None
    )


def ensure_image(recipe: ImageRecipe | None = None, image: str = IMAGE, log=print) -> bool:
    """Build IMAGE from RECIPE unless an image of the same recipe is already there. True when built."""
    recipe = recipe or ImageRecipe()
    digest = recipe.digest()
    if current_digest(image) == digest:
        return False
    if shutil.which("debootstrap") is None:
        raise podman.PodmanError("debootstrap is not installed (on Debian: apt-get install debootstrap)")
    log(f"building the lab node image {image} from Debian {recipe.suite} (a few minutes, once)")
    with tempfile.TemporaryDirectory(prefix="edgewright-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        proc = subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(recipe.packages)}",
                recipe.suite,
                str(rootfs),
                recipe.mirror,
            ],
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = proc.stdout.decode(errors="replace")[-2000:]
            raise podman.PodmanError(f"debootstrap failed building the node image:\n{tail}")
        _customize(rootfs)
        with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
            podman.run(
                [
                    "import",
                    "--change",
                    'CMD ["/sbin/init"]',
                    "--change",
                    "STOPSIGNAL SIGRTMIN+3",
                    "--change",
                    f"LABEL {RECIPE_LABEL}={digest}",
                    "-",
                    image,
                ],
                stdin=tar.stdout,
            )
    return True


def _customize(rootfs: Path) -> None:
    """Make the debootstrapped tree a bootable lab node: own host keys per node, a virtual TPM, no caches."""
    for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    # Every node must make its own host keys at first boot; keys baked into an image would be shared.
    for key in (rootfs / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    units = rootfs / "etc/systemd/system"
    wants = units / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    for unit in UNIT_FILES:
        (units / unit).write_text(_unit_text(unit))
        link = wants / unit
        if not link.is_symlink():
            link.symlink_to(f"/etc/systemd/system/{unit}")
    # Likewise the machine id: empty, so systemd gives each node its own at boot (it seeds MAC addresses,
    # journal ids and the kubelet's machine id).
    (rootfs / "etc/machine-id").write_text("")
    (rootfs / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    root_ssh = rootfs / "root/.ssh"
    root_ssh.mkdir(mode=0o700, exist_ok=True)
    # A container has no consoles to serve; these units would only fail or spin.
    for unit in ("getty@tty1.service", "serial-getty@ttyS0.service"):
        (units / unit).unlink(missing_ok=True)
        (units / unit).symlink_to("/dev/null")
