"""Signing keys pinned by fingerprint (plugins/module_utils/openpgp): fingerprints as gpg computes them."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpgp import KeyError_, normalise_fingerprint, primary_fingerprints

GOLDEN = Path(__file__).parent / "golden" / "openpgp"
# `gpg --with-colons --fingerprint` of the keys made for these tests.
ED25519 = "B33BC917B00DA8C70B507A79C1AB173DA7EADF2F"
RSA2048 = "2DBB0E46886475332EDB2DD05FFB0CD9C75259DE"


def test_fingerprints_of_armored_and_binary_keys_are_gpg_s():
    assert primary_fingerprints((GOLDEN / "ed25519.asc").read_bytes()) == [ED25519]
    assert primary_fingerprints((GOLDEN / "rsa2048.gpg").read_bytes()) == [RSA2048]


def test_a_file_with_two_keys_names_both():
    assert sorted(primary_fingerprints((GOLDEN / "two-keys.asc").read_bytes())) == sorted([ED25519, RSA2048])


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "neither armored nor binary"),
        (b"<html>not found</html>", "neither armored nor binary"),
        (
            b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!\n-----END PGP PUBLIC KEY BLOCK-----",
            "does not decode",
        ),
        (bytes([0xC6, 0x40]) + b"\x04", "truncated packet"),
        (bytes([0xCD, 0x01, 0x00]), "holds no public key"),  # a user id packet alone
    ],
)
def test_what_is_not_a_public_key_is_named(data, problem):
    with pytest.raises(KeyError_, match=problem):
        primary_fingerprints(data)


def test_fingerprints_are_compared_in_one_form():
    assert normalise_fingerprint("de15 b144 86cd 377b 9e87  6e1a 2346 54da 9a29 6436") == (
        "DE15B14486CD377B9E876E1A234654DA9A296436"
    )
    for bad in ["", "DE15", "Z" * 40, "0x" + "0" * 40]:
        with pytest.raises(ValueError, match="is not 40"):
            normalise_fingerprint(bad)
