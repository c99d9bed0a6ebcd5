"""The verifier's reading of a node's measurement log: replay against the quoted PCR, then each entry
against the policy's allowed digests."""

from __future__ import annotations

import hashlib

import pytest

from edgewright.attest import measurements
from edgewright.attest.measurements import Entry, LogError, log_problem, parse_log
from edgewright.attest.node_tpm import event_hash

A, B, C = (hashlib.sha256(x).digest() for x in (b"a", b"b", b"c"))
PCR = 13
POLICY = {"/a": [A.hex()], "/b": [B.hex(), C.hex()]}


def line(path: str, digest: bytes, pcr: int = PCR) -> str:
    return f"{pcr} {event_hash(path, digest).hex()} ima-ng sha256:{digest.hex()} {path}"


def log(*events: tuple[str, bytes]) -> list[Entry]:
    return parse_log("\n".join(line(p, d) for p, d in events))


def quoted(entries: list[Entry]) -> dict[int, bytes]:
    return {0: bytes(32), PCR: measurements.replay(entries)}


def test_a_log_that_replays_with_allowed_digests_passes():
    entries = log(("/a", A), ("/b", C))
    assert log_problem(entries, PCR, quoted(entries), POLICY) is None


def test_an_entry_the_policy_does_not_allow_is_named():
    entries = log(("/a", A), ("/b", A))
    problem = log_problem(entries, PCR, quoted(entries), POLICY)
    assert problem.startswith(
        f"entry 2 (/b, sha256 {A.hex()}): the policy allows {B.hex()}, {C.hex()} for /b"
    )


def test_a_file_the_policy_does_not_name_is_named():
    entries = log(("/a", A), ("/b", B), ("/usr/bin/implant", C))
    assert "entry 3 (/usr/bin/implant" in log_problem(entries, PCR, quoted(entries), POLICY)


def test_a_log_that_does_not_replay_to_the_quote_fails():
    entries = log(("/a", A), ("/b", B))
    outside = {PCR: hashlib.sha256(measurements.replay(entries) + C).digest()}
    assert "does not replay to the quoted value of PCR 13" in log_problem(entries, PCR, outside, POLICY)


def test_the_same_artefact_measured_twice_fails_even_with_golden_digests():
    entries = log(("/a", A), ("/b", B), ("/a", A), ("/b", B))
    assert "entry 3 (/a" in (problem := log_problem(entries, PCR, quoted(entries), POLICY))
    assert "a second time since the TPM started" in problem


def test_a_log_missing_an_artefact_fails():
    entries = log(("/a", A))
    assert "no entry for /b" in log_problem(entries, PCR, quoted(entries), POLICY)


def test_entries_for_another_pcr_fail():
    entries = parse_log(line("/a", A, pcr=16))
    assert "is for PCR 16, the measurement PCR of the policy is 13" in log_problem(
        entries, PCR, {PCR: bytes(32), 16: measurements.replay(entries)}, POLICY
    )


def test_the_measurement_pcr_must_be_quoted():
    entries = log(("/a", A), ("/b", B))
    assert "measurement PCR 13 is not in the quote" in log_problem(entries, PCR, {0: bytes(32)}, POLICY)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("13 zz ima-ng sha256:00 /a", "line 1 is not an ima-ng sha256 entry"),
        (line("/a", A) + "\n13 " + "0" * 64 + " ima sha1:00 /b", "line 2 is not an ima-ng sha256 entry"),
        (
            line("/a", A).replace(" /a", " /b"),
            r"entry 1 \(/b, sha256 [0-9a-f]{64}\): its event hash is not that of",
        ),
    ],
)
def test_a_malformed_or_altered_log_is_named(text, message):
    with pytest.raises(LogError, match=message):
        parse_log(text)
