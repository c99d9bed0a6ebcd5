"""Virtual TPMs for lab containers, made by a manufacturer the lab's verifier trusts.

A container of the node image runs swtpm (its swtpm.service keeps the TPM's state in /var/lib/swtpm). Here
that state comes from a Manufacturer, with an EK certificate in its NV index, as a hardware TPM comes from
its vendor; the manufacturer's CA goes into the verifier's trust store, and nothing else does.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from edgewright.attest.manufacturer import Manufacturer
from edgewright.attest.store import Store
from edgewright.lab import podman

# Where the node image's swtpm keeps its state (its swtpm.service: StateDirectory=swtpm).
SWTPM_STATE = "/var/lib/swtpm"
TRUSTED_NAME = "lab-manufacturer.pem"


def trusted_manufacturer(directory: Path, verifier_dir: Path) -> Manufacturer:
    """The manufacturer whose CA lives in DIRECTORY, its CA certificate put into VERIFIER_DIR's trust store."""
    manufacturer = Manufacturer(directory)
    ca = manufacturer.ensure_ca()
    trusted = Store(verifier_dir).ek_trust_dir / TRUSTED_NAME
    if not trusted.exists() or trusted.read_bytes() != ca:
        trusted.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        trusted.write_bytes(ca)
    return manufacturer


def install(container: str, manufacturer: Manufacturer, *, running: bool) -> None:
    """Give CONTAINER a new TPM made by MANUFACTURER. A RUNNING container's swtpm is stopped, its old TPM
    removed, and swtpm started on the new one; a created container gets the state before its first start."""
    with tempfile.TemporaryDirectory(prefix="edgewright-tpm-") as tmp:
        state = Path(tmp, "swtpm")
        manufacturer.manufacture(state)
        if running:
            podman.run(["exec", container, "systemctl", "stop", "swtpm.service"])
            podman.run(["exec", container, "rm", "-rf", SWTPM_STATE])
        podman.run(["cp", str(state), f"{container}:{SWTPM_STATE}"])
        if running:
            # systemd gives the state directory to the tss user (StateDirectory=) as swtpm starts.
            podman.run(["exec", container, "systemctl", "start", "swtpm.service"])
