"""What the push service takes from a node before the verifier sees it (edgewright.attest.push.parse_quote):
anything malformed is refused by name."""

from __future__ import annotations

import base64
import json

import pytest

from edgewright.attest.push import PushError, parse_quote

GOOD = {
    "message": base64.b64encode(b"quoted").decode(),
    "signature": base64.b64encode(b"signed").decode(),
    "pcrs": {"16": "ab" * 32},
}


def test_a_well_formed_quote_is_taken_apart():
    assert parse_quote(json.dumps(GOOD).encode()) == (
        b"quoted",
        b"signed",
        {16: bytes.fromhex("ab" * 32)},
        None,
    )


@pytest.mark.parametrize(
    "body,says",
    [
        (b"not json", "the body is not JSON"),
        (b"[]", "must be an object with message, signature and pcrs"),
        (json.dumps({**GOOD, "pcrs": "16=ab"}).encode(), "must be an object"),
        (json.dumps({**GOOD, "message": "%%%"}).encode(), "must be base64"),
        (json.dumps({**GOOD, "pcrs": {"sixteen": "ab"}}).encode(), "pcrs PCR=HEX"),
        (json.dumps({**GOOD, "pcrs": {"16": "zz"}}).encode(), "pcrs PCR=HEX"),
        (json.dumps({**GOOD, "signature": ""}).encode(), "must not be empty"),
        (json.dumps({**GOOD, "pcrs": {}}).encode(), "must not be empty"),
    ],
)
def test_a_malformed_push_is_refused_by_name(body, says):
    with pytest.raises(PushError, match=says):
        parse_quote(body)
