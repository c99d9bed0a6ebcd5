"""Where the verifier keeps what it knows: plain files under one controller directory.

    DIR/nodes/NODE.json       one record per node: its enrolled keys, status, pending challenge or nonce
    DIR/policies/CLASS.json   the golden PCR values of a node class
    DIR/evidence.jsonl        every enrollment, attestation, quarantine and release, one JSON object a line

Files because the verifier runs where Ansible runs, with no service to keep up; an operator can read
every record and the whole history with cat/jq, and back them up with the rest of the site's state. Each
change takes one lock over the directory (changes are small and rare next to a TPM quote), and records are
replaced atomically so a crash leaves the old record or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class StoreError(ValueError):
    """A name or a file in the verifier's directory that cannot be used; the message says which."""


def check_name(kind: str, name: str) -> str:
    """NAME when it is a usable node or class name (it becomes a file name), else StoreError."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise StoreError(f"{kind} name {name!r} is not valid: use letters, digits, '.', '_' and '-'")
    return name


class Store:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.root = Path(directory)

    def _ensure_dirs(self) -> None:
        for sub in ("nodes", "policies"):
            (self.root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the directory's lock: one change at a time, across processes (Ansible forks)."""
        self._ensure_dirs()
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except json.JSONDecodeError as exc:
            raise StoreError(f"{path} is not valid JSON: {exc}") from exc

    def _write(self, path: Path, record: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as out:
            json.dump(record, out, indent=2, sort_keys=True)
            out.write("\n")
        os.replace(tmp, path)

    def node(self, node: str) -> dict[str, Any] | None:
        return self._read(self.root / "nodes" / f"{check_name('node', node)}.json")

    def save_node(self, record: dict[str, Any]) -> None:
        self._write(self.root / "nodes" / f"{check_name('node', record['node'])}.json", record)

    def delete_node(self, node: str) -> bool:
        """Remove a node's record; True when there was one."""
        path = self.root / "nodes" / f"{check_name('node', node)}.json"
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    def nodes(self) -> list[dict[str, Any]]:
        return [r for p in sorted((self.root / "nodes").glob("*.json")) if (r := self._read(p)) is not None]

    def policy(self, node_class: str) -> dict[str, Any] | None:
        return self._read(self.root / "policies" / f"{check_name('node class', node_class)}.json")

    def save_policy(self, node_class: str, policy: dict[str, Any]) -> None:
        self._write(self.root / "policies" / f"{check_name('node class', node_class)}.json", policy)

    @property
    def ek_trust_dir(self) -> Path:
        """The manufacturer CA certificates (PEM files) whose EK certificates the verifier accepts."""
        return self.root / "ek-ca"

    @property
    def ek_allowlist(self) -> Path:
        """EKs the operator trusts without a certificate: one sha256 (of the EK's TPM2B_PUBLIC) a line."""
        return self.root / "ek-allowlist.txt"

    def ek_allowlisted(self, ek_sha256: str) -> bool:
        """Whether the operator allowlisted this EK: the way in for a TPM whose vendor ships no EK
        certificate."""
        try:
            lines = self.ek_allowlist.read_text().splitlines()
        except FileNotFoundError:
            return False
        return ek_sha256 in {line.split("#")[0].strip().lower() for line in lines}

    def append_evidence(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, sort_keys=True) + "\n"
        # One write of one line in append mode: lines from concurrent writers never interleave.
        with open(self.root / "evidence.jsonl", "a") as log:
            log.write(line)

    def evidence(self, node: str | None = None) -> list[dict[str, Any]]:
        try:
            lines = (self.root / "evidence.jsonl").read_text().splitlines()
        except FileNotFoundError:
            return []
        entries = [json.loads(line) for line in lines if line.strip()]
        return [e for e in entries if node is None or e.get("node") == node]
