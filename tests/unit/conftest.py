"""Fixtures shared by the unit tests: the verifier's store on each of its backends."""

from __future__ import annotations

import json
import os

import pytest

from edgewright.attest.store import SETTINGS_FILE, Store
from tests import postgres


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server for the session (each store gets its own database in it)."""
    server = postgres.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def make_store(request):
    """Make a verifier store in a directory, on SQLite (the embedded default) or on a new PostgreSQL
    database named by the directory's settings file, so that every code path opening that directory (the
    CLI, the modules) uses the same database."""
    made: list[Store] = []

    def make(path, **kwargs) -> Store:
        settings = path / SETTINGS_FILE
        if request.param == "postgresql" and not settings.exists():
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            url = request.getfixturevalue("postgres_server").new_database()
            fd = os.open(settings, os.O_CREAT | os.O_WRONLY, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump({"database_url": url}, out)
        store = Store(path, **kwargs)
        made.append(store)
        return store

    make.backend = request.param
    yield make
    for store in made:
        store.close()
