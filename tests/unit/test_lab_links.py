"""Cutting a lab node's direct link: only the kept TCP ports pass between the two addresses."""

from __future__ import annotations

import pytest

from edgewright.lab.links import LinkError, cut_rules


def test_only_the_kept_tcp_port_passes_either_way_and_everything_else_is_dropped():
    rules = cut_rules("10.231.140.12", [7701])
    assert rules[-1] == ["-s", "10.231.140.12", "-j", "DROP"]
    assert ["-d", "10.231.140.12", "-j", "DROP"] in rules
    kept = [r for r in rules if r[-1] == "RETURN"]
    assert len(kept) == 4 and all(r[2:4] == ["-p", "tcp"] and "7701" in r for r in kept)
    # The drops come after what is kept, in each direction.
    assert rules.index(["-d", "10.231.140.12", "-j", "DROP"]) > max(
        i for i, r in enumerate(rules) if r[0] == "-d" and r[-1] == "RETURN"
    )


def test_no_kept_port_cuts_everything():
    assert cut_rules("10.0.0.2", []) == [["-d", "10.0.0.2", "-j", "DROP"], ["-s", "10.0.0.2", "-j", "DROP"]]


@pytest.mark.parametrize(
    ("peer", "ports", "message"),
    [("fd00::1", [1], "IPv4"), ("10.0.0.2", [0], "not a TCP port"), ("x", [], "does not appear")],
)
def test_bad_input_is_named(peer, ports, message):
    with pytest.raises(ValueError, match=message):
        cut_rules(peer, ports)
    assert issubclass(LinkError, ValueError)
