"""Denied certificate signing requests, told to the operator and written to the verifier's evidence log:
one path for every action plugin that decides on a node's requests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from edgewright.attest.store import Store, StoreError
from edgewright.attest.verifier import Verifier, VerifierError


def record_denied_csrs(
    warnings: list[str],
    verifier_dir,
    node: str,
    denied: Iterable[Mapping[str, Any]],
    kind: str,
    **details: str,
) -> None:
    """Warn of each DENIED request ({name, reason, and any detail of its own, such as token_id}) of NODE and
    write it to the evidence log of the verifier in VERIFIER_DIR (none: warnings only), with DETAILS. The
    denial stands whatever happens here: a log that cannot be written is a warning, not a failure."""
    denied = list(denied)
    for entry in denied:
        warnings.append(f"denied {kind} {entry['name']} of {node}: {entry['reason']}")
    if not verifier_dir or not denied:
        return
    try:
        verifier = Verifier(Store(verifier_dir))
        for entry in denied:
            own = {k: v for k, v in entry.items() if k not in ("name", "reason")}
            verifier.record_denied_csr(node, entry["reason"], csr=entry["name"], **own, **details)
    except (StoreError, VerifierError, OSError) as exc:
        warnings.append(f"could not record the denial in the verifier's evidence log: {exc}")
