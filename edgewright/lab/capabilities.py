"""Proof that this machine can run the lab: each capability the lab and the tests rely on, tried for real.

Installed packages say little (a fresh machine has podman but no container name resolution), so each check
does what the lab will do and reports, when it fails, what is missing and what provides it. The checks leave
nothing behind: the throwaway network and containers carry the label `io.edgewright.capability-check` and
are removed even when a check fails.
"""

from __future__ import annotations

import json
import os
import stat
import uuid
from dataclasses import dataclass

from edgewright.lab import podman
from edgewright.lab.image import IMAGE

CHECK_LABEL = "io.edgewright.capability-check"


@dataclass(frozen=True)
class Capability:
    name: str
    ok: bool
    detail: str
    # What provides the capability when it is missing: a Debian package, or what to change on the host.
    remedy: str = ""

    def line(self) -> str:
        mark = "ok     " if self.ok else "MISSING"
        text = f"{mark} {self.name}: {self.detail}"
        return text if self.ok else f"{text}\n        provided by: {self.remedy}"


def _run(*args: str, network: str = "none") -> list[str]:
    """`podman run` arguments for a labelled throwaway container on NETWORK."""
    return ["run", "--label", CHECK_LABEL, "--network", network, *args]


def rootful_podman() -> Capability:
    """podman runs as root with runc: the lab needs static addresses, TUN devices and NET_ADMIN, and crun
    fails on these hosts' hybrid cgroups."""
    name = "rootful podman with runc"
    try:
        info = podman.run(["info", "--format", "json"], check=False)
    except podman.PodmanError as exc:
        return Capability(name, False, str(exc), "Debian package podman")
    if info.returncode != 0:
        detail = info.stderr.decode(errors="replace").strip()
        return Capability(
            name,
            False,
            f"podman info failed: {detail}",
            "Debian packages podman and runc, and edgewright/lab/containers.conf as CONTAINERS_CONF",
        )
    host = json.loads(info.stdout).get("host", {})
    if host.get("security", {}).get("rootless"):
        return Capability(name, False, "podman runs rootless", "run scripts/setup and the lab as root")
    runtime = host.get("ociRuntime", {})
    if runtime.get("name") != "runc":
        found = runtime.get("name") or "none"
        return Capability(
            name,
            False,
            f"podman's OCI runtime is {found}, not runc (CONTAINERS_CONF={podman.podman_env()['CONTAINERS_CONF']})",
            "Debian package runc, and edgewright/lab/containers.conf as CONTAINERS_CONF",
        )
    backend = host.get("networkBackend", "?")
    return Capability(name, True, f"runc at {runtime.get('path', '?')}, {backend} networks")


def tun_device(image: str = IMAGE, device: str = "/dev/net/tun") -> Capability:
    """A container given the host's TUN device can open it: mesh daemons (yggdrasil, wireguard-go) need it."""
    name = "TUN device"
    remedy = "the kernel's tun module on the host (modprobe tun), with /dev/net/tun as a character device"
    try:
        mode = os.stat(device).st_mode
    except OSError as exc:
        return Capability(name, False, f"{device}: {exc.strerror}", remedy)
    if not stat.S_ISCHR(mode):
        return Capability(name, False, f"{device} is not a character device", remedy)
    probe = "import os; os.close(os.open('/dev/net/tun', os.O_RDWR))"
    proc = podman.run(_run("--rm", "--device", device, image, "python3", "-c", probe), check=False)
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return Capability(name, False, f"a container cannot open {device}: {detail[0]}", remedy)
    return Capability(name, True, f"{device} opens inside a container")


def container_dns(image: str = IMAGE, *, network_options: tuple[str, ...] = ()) -> Capability:
    """On a throwaway network, one container resolves another by name: the Molecule scenarios and the lab's
    nodes reach each other by container name. NETWORK_OPTIONS are extra `podman network create` options
    (a test passes --disable-dns to see the failure)."""
    name = "container name resolution"
    remedy = "Debian package golang-github-containernetworking-plugin-dnsname (DNS for podman's CNI networks)"
    suffix = uuid.uuid4().hex[:8]
    network, target = f"ewcheck-{suffix}", f"ewcheck-{suffix}-target"
    try:
        podman.run(
            # podman picks a subnet and a bridge that nothing on the host uses, so checks run side by side.
            ["network", "create", "--label", CHECK_LABEL, *network_options, network]
        )
        podman.run(_run("-d", "--name", target, image, "sleep", "120", network=network))
        lookup = podman.run(_run("--rm", image, "getent", "hosts", target, network=network), check=False)
        dns_enabled = podman.as_json(["network", "inspect", network])[0].get("dns_enabled")
    except podman.PodmanError as exc:
        # The network or the container could not be made: podman's message says why.
        return Capability(name, False, str(exc), "Debian packages podman and containernetworking-plugins")
    finally:
        podman.run(["rm", "-f", "-t", "0", target], check=False)
        podman.run(["network", "rm", "-f", network], check=False)
    if lookup.returncode != 0:
        return Capability(
            name,
            False,
            f"a container on a new network cannot resolve another by name (dns_enabled: {dns_enabled})",
            remedy,
        )
    return Capability(name, True, f"{target} resolves to {lookup.stdout.decode().split()[0]}")


def check_all() -> list[Capability]:
    """Every capability, in order; after a podman that does not run, the others cannot be tried."""
    podman_runs = rootful_podman()
    if not podman_runs.ok:
        return [podman_runs]
    return [podman_runs, tun_device(), container_dns()]
