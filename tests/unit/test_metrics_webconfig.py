"""Prometheus's web configuration: bcrypt hashes of the users' passwords, stable while a password is."""

from __future__ import annotations

import bcrypt
import pytest
import yaml

from edgewright.metrics.webconfig import WebConfigError, basic_auth_users, password_matches, web_config
from plugins.filter.edgewright_metrics import prometheus_web_config

PASSWORD = "correct horse battery"


def test_a_user_gets_a_bcrypt_hash_of_its_password_and_never_the_password():
    users = basic_auth_users({"remote-write": PASSWORD})
    assert PASSWORD not in users["remote-write"]
    assert bcrypt.checkpw(PASSWORD.encode(), users["remote-write"].encode())


def test_an_unchanged_password_keeps_its_hash_and_a_changed_one_gets_a_new_hash():
    first = basic_auth_users({"remote-write": PASSWORD, "operator": "another long secret"})
    assert basic_auth_users({"remote-write": PASSWORD, "operator": "another long secret"}, first) == first
    changed = basic_auth_users(
        {"remote-write": "a different password", "operator": "another long secret"}, first
    )
    assert changed["operator"] == first["operator"]
    assert changed["remote-write"] != first["remote-write"]
    assert password_matches("a different password", changed["remote-write"])
    assert not password_matches(PASSWORD, changed["remote-write"])


def test_a_hash_in_place_that_is_not_bcrypt_is_replaced():
    users = basic_auth_users({"remote-write": PASSWORD}, {"remote-write": PASSWORD})
    assert users["remote-write"].startswith("$2b$")
    assert not password_matches(PASSWORD, "not a hash")


def test_a_removed_user_is_dropped():
    first = basic_auth_users({"a-user": PASSWORD, "b-user": PASSWORD})
    assert set(basic_auth_users({"a-user": PASSWORD}, first)) == {"a-user"}


@pytest.mark.parametrize(
    ("passwords", "message"),
    [
        ({}, "at least one user"),
        ([], "at least one user"),
        ({"bad user": PASSWORD}, "user name 'bad user'"),
        ({"x:y": PASSWORD}, "user name 'x:y'"),
        ({"remote-write": "short"}, "the password of user remote-write must be a string of at least 12"),
        ({"remote-write": 1234567890123}, "the password of user remote-write"),
    ],
)
def test_bad_users_are_named_without_their_password(passwords, message):
    with pytest.raises(WebConfigError) as err:
        basic_auth_users(passwords)
    assert message in str(err.value)
    assert "short" not in str(err.value) and PASSWORD not in str(err.value)


def test_the_web_configuration_holds_tls_and_the_hashes():
    config = web_config("/c.crt", "/c.key", {"u": "$2b$10$x"})
    assert config == {
        "tls_server_config": {"cert_file": "/c.crt", "key_file": "/c.key", "min_version": "TLS12"},
        "basic_auth_users": {"u": "$2b$10$x"},
    }


def test_the_filter_keeps_the_hashes_of_the_file_in_place():
    first = prometheus_web_config({"remote-write": PASSWORD}, "", "/c.crt", "/c.key")
    again = prometheus_web_config({"remote-write": PASSWORD}, yaml.safe_dump(first), "/c.crt", "/c.key")
    assert again == first
    assert prometheus_web_config({"remote-write": PASSWORD}, "{not: [yaml", "/c.crt", "/c.key")
