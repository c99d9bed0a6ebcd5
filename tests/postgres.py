"""A throwaway PostgreSQL server for tests: Debian's postgresql-15 binaries, a fresh cluster in a private
directory, reached only through a Unix socket in that directory (no TCP listener), run as an unprivileged
user (PostgreSQL refuses to run as root), stopped and removed by the caller."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")
SUPERUSER = "edgewright"
PORT = 5432  # names the socket file only: nothing listens on TCP


@dataclass
class Postgres:
    directory: Path
    run_as: str | None

    @property
    def socket_dir(self) -> Path:
        return self.directory / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.socket_dir}&port={PORT}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        proc = subprocess.run(
            [
                str(BIN / "psql"),
                "-h",
                str(self.socket_dir),
                "-p",
                str(PORT),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-Atc",
                sql,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return proc.stdout

    def new_database(self) -> str:
        """The URL of a new, empty database of this server."""
        name = f"verifier_{secrets.token_hex(6)}"
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        self._run(
            [str(BIN / "pg_ctl"), "-D", str(self.socket_dir), "-m", "immediate", "-w", "stop"], check=False
        )
        shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(argv, capture_output=True, text=True, check=check, user=self.run_as)


def available() -> bool:
    return (BIN / "initdb").exists()


def start() -> Postgres:
    """Initialize and start a new cluster; the caller stops it."""
    run_as = None
    directory = Path(tempfile.mkdtemp(prefix="edgewright-pg-"))
    if os.geteuid() == 0:
        account = next((u for u in ("postgres", "nobody") if _exists(u)), None)
        if account is None:
            raise RuntimeError(
                "running as root and no unprivileged account (postgres, nobody) to run PostgreSQL"
            )
        run_as = account
        os.chown(directory, pwd.getpwnam(account).pw_uid, pwd.getpwnam(account).pw_gid)
    server = Postgres(directory, run_as)
    data = server.socket_dir
    try:
        server._run([str(BIN / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8"])
        settings = [
            "listen_addresses=''",
            f"unix_socket_directories='{data}'",
            f"port={PORT}",
            "max_connections=200",
            "fsync=on",
        ]
        (data / "postgresql.auto.conf").write_text("\n".join(settings) + "\n")
        server._run([str(BIN / "pg_ctl"), "-D", str(data), "-l", str(directory / "log"), "-w", "start"])
    except subprocess.CalledProcessError as exc:
        log = (directory / "log").read_text() if (directory / "log").exists() else ""
        server.stop()
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr}{log}") from None
    return server


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True
