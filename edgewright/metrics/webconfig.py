"""Prometheus's web configuration (`--web.config.file`): TLS and basic auth in front of its HTTP API,
the remote-write receiver included.

Prometheus keeps only bcrypt hashes of the passwords. A hash is salted, so making it afresh on every run
would change the file each time: a user's current hash is kept while the password still matches it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import bcrypt

from edgewright.errors import EdgewrightError

# Prometheus's exporter toolkit compares with bcrypt at its default cost; 10 keeps each request cheap.
BCRYPT_ROUNDS = 10
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class WebConfigError(EdgewrightError, ValueError):
    """Users that cannot become basic auth entries; the message names the user, never the password."""


def password_matches(password: str, password_hash: str) -> bool:
    """Whether PASSWORD is the one PASSWORD_HASH (a bcrypt hash) was made from."""
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except (ValueError, TypeError):  # not a bcrypt hash at all
        return False


def basic_auth_users(
    passwords: Mapping[str, Any], current: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """{user: bcrypt hash} for PASSWORDS ({user: password}), keeping the hash of CURRENT (the users of the
    file in place) for every user whose password still matches it, so an unchanged password changes nothing."""
    if not isinstance(passwords, Mapping) or not passwords:
        raise WebConfigError("give at least one user and password ({user: password})")
    current = current if isinstance(current, Mapping) else {}
    users = {}
    for user, password in passwords.items():
        if not isinstance(user, str) or not USERNAME.match(user):
            raise WebConfigError(f"user name {user!r} must be 1-64 letters, digits, '.', '_' or '-'")
        if not isinstance(password, str) or len(password) < 12:
            raise WebConfigError(f"the password of user {user} must be a string of at least 12 characters")
        kept = current.get(user)
        if isinstance(kept, str) and password_matches(password, kept):
            users[user] = kept
        else:
            users[user] = bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()
    return dict(sorted(users.items()))


def web_config(cert_file: str, key_file: str, users: Mapping[str, str]) -> dict[str, Any]:
    """The web configuration: TLS with this certificate and key, and basic auth for USERS' hashes."""
    return {
        "tls_server_config": {"cert_file": cert_file, "key_file": key_file, "min_version": "TLS12"},
        "basic_auth_users": dict(users),
    }
