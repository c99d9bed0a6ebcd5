"""A TPM manufacturer for virtual TPMs: what a TPM vendor does at the factory, for swtpm.

A hardware TPM leaves the factory with an endorsement key certificate in its NV index 0x01c00002, signed by
the vendor's CA; a site's verifier trusts that CA and so knows an EK lives in a real TPM. The lab and the
tests make their TPMs the same way: swtpm's own tooling (swtpm_setup with swtpm_localca) makes the TPM's
state with an EK certificate signed by this manufacturer's CA, and the verifier's trust store holds the CA
certificate. The CA's key never leaves the manufacturer's directory (on the controller).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from edgewright.errors import EdgewrightError
from edgewright.pki import self_signed_ca

CA_YEARS = 20


class ManufacturerError(EdgewrightError, RuntimeError):
    """The TPM could not be made; the message says which step failed and why."""


@dataclass(frozen=True)
class Manufacturer:
    """The manufacturer whose CA key and certificate live in DIRECTORY (made on first use, mode 0700)."""

    directory: Path
    name: str = "edgewright lab TPM manufacturer"

    @property
    def ca_certificate(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def _ca_key(self) -> Path:
        return self.directory / "ca-key.pem"

    def ensure_ca(self) -> bytes:
        """The CA certificate (PEM), made with its key on first use."""
        if self.ca_certificate.exists() and self._ca_key.exists():
            return self.ca_certificate.read_bytes()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = self_signed_ca(key, self.name, 365 * CA_YEARS, path_length=0)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(self._ca_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key_pem)
        pem = cert.public_bytes(serialization.Encoding.PEM)
        self.ca_certificate.write_bytes(pem)
        return pem

    def manufacture(self, state: Path) -> None:
        """Make a new TPM's state in STATE (which must be empty or absent): its endorsement keys, and their
        certificates signed by this manufacturer in the TPM's NV indexes, as a vendor ships a TPM."""
        self.ensure_ca()
        state.mkdir(parents=True, exist_ok=True)
        if any(state.iterdir()):
            raise ManufacturerError(f"{state} already holds a TPM; a TPM is manufactured once")
        with tempfile.TemporaryDirectory(prefix="edgewright-tpm-factory-") as tmp:
            conf, options, setup = (
                Path(tmp, "localca.conf"),
                Path(tmp, "localca.options"),
                Path(tmp, "setup.conf"),
            )
            conf.write_text(
                f"statedir = {self.directory}\n"
                f"signingkey = {self._ca_key}\n"
                f"issuercert = {self.ca_certificate}\n"
                f"certserial = {self.directory / 'certserial'}\n"
            )
            options.write_text(
                "--platform-manufacturer edgewright\n--platform-version 1\n--platform-model lab\n"
            )
            setup.write_text(
                "create_certs_tool = /usr/bin/swtpm_localca\n"
                f"create_certs_tool_config = {conf}\n"
                f"create_certs_tool_options = {options}\n"
                "active_pcr_banks = sha256\n"
            )
            try:
                proc = subprocess.run(
                    [
                        "swtpm_setup",
                        "--tpm2",
                        "--tpmstate",
                        str(state.resolve()),
                        "--create-ek-cert",
                        "--config",
                        str(setup),
                        "--not-overwrite",
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=120,
                )
            except FileNotFoundError:
                raise ManufacturerError("swtpm_setup not found: install swtpm-tools") from None
        if proc.returncode != 0:
            raise ManufacturerError(f"swtpm_setup failed: {(proc.stderr or proc.stdout).strip()[-800:]}")
