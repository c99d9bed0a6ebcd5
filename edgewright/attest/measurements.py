"""The measurement log a node sends with its quote: parsed, replayed against the quoted PCR, and judged
entry by entry against the policy of the node's class.

The log has the layout of IMA's ascii_runtime_measurements with the ima-ng template (one event a line:
PCR, event hash, template, sha256:digest of the file, path), and is checked the way Keylime checks IMA's
log (keylime/ima/ima.py, _process_measurement_list): replay the event hashes from the PCR's reset value,
require the replay to reach the quoted value, and look up each entry's digest in the policy's allowed
digests for its path (Keylime's runtime policy "digests": {path: [hex, ...]}). Stricter than IMA's
check, because edgewright measures a fixed set of artefacts once per TPM start: every artefact the policy
names must be measured, each exactly once, so re-extending the PCR with the golden events (what root can do
to a PCR it cannot reset) does not pass.

Nothing in the log is trusted: only its replay against the TPM's signed PCR value makes it evidence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# The node's own code (plugins/module_utils/tpm.py): the log's template, the event hash the node extends
# into the PCR and the PCR arithmetic, which the verifier must compute exactly as the node does.
from edgewright.attest import node_tpm

TEMPLATE = node_tpm.TEMPLATE
MEASURED_PATH = re.compile(r"/[^\x00-\x1f\x7f]*")
_LINE = re.compile(
    rf"^(\d{{1,2}}) ([0-9a-f]{{64}}) {TEMPLATE} sha256:([0-9a-f]{{64}}) ({MEASURED_PATH.pattern})$"
)


class LogError(ValueError):
    """A measurement log that cannot be evidence; the message names the entry."""


@dataclass(frozen=True)
class Entry:
    """One measurement: DIGEST of the file at PATH extended into PCR (as its event hash)."""

    number: int
    pcr: int
    path: str
    digest: bytes

    def __str__(self) -> str:
        return f"entry {self.number} ({self.path}, sha256 {self.digest.hex()})"


def parse_log(text: str) -> list[Entry]:
    """The entries of a measurement log; LogError naming the first line that is not an entry, or whose
    event hash is not that of its digest and path."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _LINE.match(line)
        if not match:
            raise LogError(f"measurement log line {number} is not an {TEMPLATE} sha256 entry: {line[:200]!r}")
        pcr, extended, digest, path = match.groups()
        entry = Entry(number, int(pcr), path, bytes.fromhex(digest))
        if node_tpm.event_hash(path, entry.digest).hex() != extended:
            raise LogError(
                f"{entry}: its event hash is not that of its digest and path (the log was altered)"
            )
        entries.append(entry)
    return entries


def replay(entries: Sequence[Entry]) -> bytes:
    """What the PCR holds when these entries are every extension since the TPM started."""
    return node_tpm.replay(node_tpm.ZERO_PCR, [node_tpm.event_hash(e.path, e.digest) for e in entries])


def log_problem(
    entries: Sequence[Entry],
    pcr: int,
    pcr_values: Mapping[int, bytes],
    digests: Mapping[str, Sequence[str]] | None,
) -> str | None:
    """Why this log fails against the quoted PCR values and the policy's allowed DIGESTS per path (None when
    it passes). Without DIGESTS (learning) only the replay and the one-measurement-per-artefact rule apply."""
    for entry in entries:
        if entry.pcr != pcr:
            return f"{entry} is for PCR {entry.pcr}, the measurement PCR of the policy is {pcr}"
    if pcr not in pcr_values:
        return f"the measurement PCR {pcr} is not in the quote"
    if replay(entries) != pcr_values[pcr]:
        return (
            f"the measurement log does not replay to the quoted value of PCR {pcr} "
            f"({len(entries)} entries): the PCR was extended outside the log, or the log was altered"
        )
    seen: set[str] = set()
    for entry in entries:
        if digests is not None:
            allowed = digests.get(entry.path)
            if allowed is None:
                return f"{entry} measures a file the policy does not name"
            if entry.digest.hex() not in allowed:
                return f"{entry}: the policy allows {', '.join(allowed)} for {entry.path}"
        if entry.path in seen:
            return (
                f"{entry} measures {entry.path} a second time since the TPM started "
                "(it changed, or the PCR was extended again)"
            )
        seen.add(entry.path)
    missing = sorted(set(digests or ()) - seen)
    if missing:
        return f"the measurement log has no entry for {', '.join(missing)}, which the policy requires"
    return None


def learned_digests(entries: Sequence[Entry]) -> dict[str, list[str]]:
    """The allowed digests a policy learns from a reference node's (replayed, checked) log."""
    return {e.path: [e.digest.hex()] for e in entries}
