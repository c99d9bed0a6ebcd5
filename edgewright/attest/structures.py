"""The TPM 2.0 wire structures the verifier reads: an attestation key's public area and a quote.

Parsed here rather than trusted from the node: the verifier derives an AK's name and RSA key from the public
area itself, and reads the nonce and PCR digest out of the signed quote message.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers

TPM_ALG_RSA = 0x0001
TPM_ALG_SHA256 = 0x000B
TPM_ALG_NULL = 0x0010
TPM_GENERATED_VALUE = 0xFF544347
TPM_ST_ATTEST_QUOTE = 0x8018

# TPMA_OBJECT bits an attestation key must have: it lives only in its TPM (fixedTPM, fixedParent), its
# private part was made there (sensitiveDataOrigin), and it signs only TPM-generated data (restricted, sign).
FIXED_TPM = 1 << 1
FIXED_PARENT = 1 << 4
SENSITIVE_DATA_ORIGIN = 1 << 5
RESTRICTED = 1 << 16
DECRYPT = 1 << 17
SIGN = 1 << 18
AK_REQUIRED_ATTRIBUTES = FIXED_TPM | FIXED_PARENT | SENSITIVE_DATA_ORIGIN | RESTRICTED | SIGN

PCR_COUNT = 24
SHA256_SIZE = 32


class StructureError(ValueError):
    """Bytes that are not the TPM structure they claim to be; the message says what is wrong."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise StructureError(f"truncated: wanted {n} bytes at offset {self.pos} of {len(self.data)}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack(">H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack(">Q", self.take(8))[0]

    def sized(self) -> bytes:
        return self.take(self.u16())


@dataclass(frozen=True)
class AkPublic:
    """An RSA attestation key as the TPM describes it (TPM2B_PUBLIC)."""

    name: bytes
    attributes: int
    modulus: int
    exponent: int

    def public_key(self) -> RSAPublicKey:
        return RSAPublicNumbers(self.exponent, self.modulus).public_key()

    def is_restricted_signing_key(self) -> bool:
        return (self.attributes & AK_REQUIRED_ATTRIBUTES) == AK_REQUIRED_ATTRIBUTES and not (
            self.attributes & DECRYPT
        )


def parse_rsa_public(tpm2b_public: bytes) -> AkPublic:
    """Parse a TPM2B_PUBLIC of an RSA key (as tpm2_readpublic -f tss writes it)."""
    outer = _Reader(tpm2b_public)
    public_area = outer.sized()
    if outer.pos != len(tpm2b_public):
        raise StructureError("trailing bytes after the public area")
    r = _Reader(public_area)
    key_type, name_alg, attributes = r.u16(), r.u16(), r.u32()
    if key_type != TPM_ALG_RSA:
        raise StructureError(f"key type 0x{key_type:04x} is not RSA")
    if name_alg != TPM_ALG_SHA256:
        raise StructureError(f"name algorithm 0x{name_alg:04x} is not SHA-256")
    r.sized()  # authPolicy
    if r.u16() != TPM_ALG_NULL:  # symmetric: a signing key has none; a storage key has keyBits and mode
        r.u16()
        r.u16()
    if r.u16() != TPM_ALG_NULL:  # scheme, then its hash algorithm
        r.u16()
    r.u16()  # keyBits
    exponent = r.u32() or 65537
    modulus = int.from_bytes(r.sized(), "big")
    name = struct.pack(">H", name_alg) + hashlib.sha256(public_area).digest()
    return AkPublic(name=name, attributes=attributes, modulus=modulus, exponent=exponent)


@dataclass(frozen=True)
class Quote:
    """The signed part of a TPM2_Quote (TPMS_ATTEST of type quote)."""

    nonce: bytes
    pcr_indexes: tuple[int, ...]
    pcr_digest: bytes
    reset_count: int
    restart_count: int


def parse_quote(message: bytes) -> Quote:
    """Parse the quote message (tpm2_quote -m); only SHA-256 banks are accepted."""
    r = _Reader(message)
    if r.u32() != TPM_GENERATED_VALUE:
        raise StructureError("not TPM-generated data (magic value missing)")
    if r.u16() != TPM_ST_ATTEST_QUOTE:
        raise StructureError("not a quote")
    r.sized()  # qualifiedSigner
    nonce = r.sized()
    r.u64()  # clock
    reset_count, restart_count = r.u32(), r.u32()
    r.u8()  # safe
    r.u64()  # firmwareVersion
    indexes: list[int] = []
    for _ in range(r.u32()):
        hash_alg = r.u16()
        bitmap = r.take(r.u8())
        if hash_alg != TPM_ALG_SHA256:
            raise StructureError(f"PCR bank 0x{hash_alg:04x} is not SHA-256")
        indexes.extend(i for i in range(len(bitmap) * 8) if bitmap[i // 8] & (1 << (i % 8)))
    pcr_digest = r.sized()
    if r.pos != len(message):
        raise StructureError("trailing bytes after the quote")
    return Quote(nonce, tuple(indexes), pcr_digest, reset_count, restart_count)


def composite_digest(pcr_values: list[bytes]) -> bytes:
    """The digest a quote signs over its selected PCR values (in ascending index order)."""
    return hashlib.sha256(b"".join(pcr_values)).digest()
