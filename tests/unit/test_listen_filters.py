"""Listen address checks: one interface's IP address, every interface only by a named setting."""

from __future__ import annotations

import pytest

from plugins.filter.listen import FilterModule, listen_address_problem, listen_endpoint_problem, listen_host


@pytest.mark.parametrize("value", ["10.231.120.5", "200:1234::1", "127.0.0.1", "fd00::5"])
def test_an_interface_address_may_be_bound(value):
    assert listen_address_problem(value, "x_address") == ""


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0.0.0.0", "x_address 0.0.0.0 listens on every interface; give the one address it serves on unless"),
        ("::", "x_address :: listens on every interface"),
        ("node-1", "x_address must be an IP address (not a hostname or a network), not 'node-1'"),
        ("10.0.0.0/24", "must be an IP address"),
        ("10.0.0.1 ", "must be an IP address"),
        ("", "must be an IP address"),
        (0, "must be an IP address"),
        (None, "must be an IP address"),
        ("[::1]", "must be an IP address"),
    ],
)
def test_what_is_not_one_address_is_refused_by_name(value, message):
    assert message in listen_address_problem(value, "x_address", any_setting="x_listen_any")


def test_every_interface_only_by_the_named_setting():
    assert listen_address_problem("0.0.0.0", "x_address", allow_any=True) == ""
    assert "unless x_listen_any is true" in listen_address_problem(
        "::", "x_address", any_setting="x_listen_any"
    )


@pytest.mark.parametrize("value", ["10.0.0.1:9090", "[fd00::1]:9090", "127.0.0.1:1"])
def test_an_endpoint_may_be_bound(value):
    assert listen_endpoint_problem(value, "x_listen_address") == ""


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0.0.0.0:9090", "x_listen_address 0.0.0.0:9090 listens on every interface"),
        (":9090", "x_listen_address must be an IP address"),
        ("[::]:9090", "listens on every interface"),
        ("central:9090", "must be an IP address (not a hostname or a network), not 'central'"),
        ("10.0.0.1", "must be ADDRESS:PORT"),
        ("10.0.0.1:70000", "must be ADDRESS:PORT"),
        ("fd00::1:9090", "IPv6 address in brackets"),
        (9090, "must be ADDRESS:PORT"),
    ],
)
def test_a_bad_endpoint_is_refused_by_name(value, message):
    assert message in listen_endpoint_problem(value, "x_listen_address")


def test_the_host_of_an_endpoint_keeps_v6_brackets():
    assert listen_host("[fd00::1]:9090") == "[fd00::1]"
    assert listen_host("10.0.0.1:9090") == "10.0.0.1"


def test_the_filters_are_registered():
    assert set(FilterModule().filters()) == {
        "edgewright_listen_address_problem",
        "edgewright_listen_endpoint_problem",
        "edgewright_listen_host",
    }
