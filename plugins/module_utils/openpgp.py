"""OpenPGP public keys as a package repository's signing key (stdlib only): which primary keys a key file
holds, by fingerprint, so a node trusts a repository's key only when it is the one the operator pinned."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

ARMOR = re.compile(
    rb"-----BEGIN PGP PUBLIC KEY BLOCK-----\r?\n(.*?)\r?\n-----END PGP PUBLIC KEY BLOCK-----", re.DOTALL
)
PUBLIC_KEY, PUBLIC_SUBKEY = 6, 14
FINGERPRINT = re.compile(r"[0-9A-F]{40}|[0-9A-F]{64}")


class KeyError_(ValueError):
    """The file is not an OpenPGP public key as expected; the message says why."""


def dearmor(data):
    """The binary packets of DATA, ASCII-armored or already binary."""
    match = ARMOR.search(data)
    if not match:
        if data[:1] and data[0] & 0x80:
            return data
        raise KeyError_("not an OpenPGP public key (neither armored nor binary packets)")
    lines = match.group(1).decode("ascii", "replace").splitlines()
    # Armor headers (Version: ...) end at the first blank line; the last line may be the =CRC24 checksum.
    if "" in lines:
        lines = lines[lines.index("") + 1 :]
    body = "".join(line.strip() for line in lines if not line.startswith("="))
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        raise KeyError_(f"the armored key does not decode: {exc}") from None


def packets(data):
    """(tag, body) of each OpenPGP packet in DATA (RFC 4880 / 9580 framing)."""
    i = 0
    while i < len(data):
        header = data[i]
        if not header & 0x80:
            raise KeyError_(f"byte {i} is not a packet header")
        if header & 0x40:  # new format
            tag, first = header & 0x3F, data[i + 1] if i + 1 < len(data) else None
            if first is None:
                raise KeyError_("truncated packet header")
            if first < 192:
                length, i = first, i + 2
            elif first < 224:
                length, i = ((first - 192) << 8) + data[i + 2] + 192, i + 3
            elif first == 255:
                length, i = int.from_bytes(data[i + 2 : i + 6], "big"), i + 6
            else:
                raise KeyError_("partial body lengths do not occur in a public key")
        else:  # old format
            tag, kind = (header >> 2) & 0x0F, header & 0x03
            if kind == 3:
                raise KeyError_("indeterminate packet lengths do not occur in a public key")
            size = 1 << kind
            length, i = int.from_bytes(data[i + 1 : i + 1 + size], "big"), i + 1 + size
        if i + length > len(data):
            raise KeyError_("truncated packet")
        yield tag, data[i : i + length]
        i += length


def fingerprint(body):
    """The fingerprint of a public key packet BODY: v4 SHA-1, v6 SHA-256 (RFC 9580), upper-case hex."""
    version = body[:1]
    if version == b"\x04":
        return hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest().upper()
    if version == b"\x06":
        return hashlib.sha256(b"\x9b" + len(body).to_bytes(4, "big") + body).hexdigest().upper()
    raise KeyError_(f"public key version {body[0] if body else 'none'} is not supported (4 or 6)")


def primary_fingerprints(data):
    """The fingerprints of the primary keys in DATA (bytes of a key file), in order."""
    found = [fingerprint(body) for tag, body in packets(dearmor(data)) if tag == PUBLIC_KEY]
    if not found:
        raise KeyError_("the file holds no public key")
    return found


def normalise_fingerprint(text):
    """TEXT (spaces allowed, any case) as upper-case hex; ValueError unless 40 or 64 hex digits."""
    value = re.sub(r"\s+", "", str(text)).upper()
    if not FINGERPRINT.fullmatch(value):
        raise ValueError(f"fingerprint {text!r} is not 40 (v4) or 64 (v6) hex digits")
    return value
