"""Parsing TPM structures: malformed input is refused with a reason, never half-read."""

from __future__ import annotations

import struct

import pytest

from edgewright.attest import structures as s


def quote_message(nonce: bytes = b"n" * 8, bank: int = s.TPM_ALG_SHA256, trailing: bytes = b"") -> bytes:
    name = b"\x00\x0b" + b"\x11" * 32
    body = struct.pack(">IH", s.TPM_GENERATED_VALUE, s.TPM_ST_ATTEST_QUOTE)
    body += struct.pack(">H", len(name)) + name + struct.pack(">H", len(nonce)) + nonce
    body += struct.pack(">QIIB", 1, 2, 3, 1) + struct.pack(">Q", 7)
    body += struct.pack(">IHB", 1, bank, 3) + bytes([0x81, 0x00, 0x01])  # PCRs 0, 7, 16
    body += struct.pack(">H", 32) + b"\x22" * 32
    return body + trailing


def test_quote_fields():
    q = s.parse_quote(quote_message())
    assert (q.nonce, q.pcr_indexes, q.reset_count, q.restart_count) == (b"n" * 8, (0, 7, 16), 2, 3)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"\x00" * 10, "magic value missing"),
        (quote_message()[:40], "truncated"),
        (quote_message(trailing=b"x"), "trailing bytes"),
        (quote_message(bank=0x0004), "is not SHA-256"),
        (struct.pack(">IH", s.TPM_GENERATED_VALUE, 0x8017), "not a quote"),
    ],
)
def test_malformed_quotes(message, reason):
    with pytest.raises(s.StructureError, match=reason):
        s.parse_quote(message)


def test_public_area_must_be_rsa_sha256():
    ecc = struct.pack(">HHI", 0x0023, s.TPM_ALG_SHA256, 0)
    with pytest.raises(s.StructureError, match="not RSA"):
        s.parse_rsa_public(struct.pack(">H", len(ecc)) + ecc)
