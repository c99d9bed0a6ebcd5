"""Where the verifier keeps what it knows: a database, through SQLAlchemy.

    DIR/verifier.db           the embedded default: SQLite, one file under the verifier's directory
    DIR/store.json            settings (optional, 0600): {"database_url": "postgresql+psycopg://...",
                              "evidence_retention": 100000}; a PostgreSQL URL when a fleet outgrows one
                              controller, so verifiers on several controllers share one state
    DIR/ek-ca/, DIR/ek-allowlist.txt   the operator's trust store, plain files as before

Tables: `nodes` (one JSON record per node: its enrolled keys, status, pending challenge or nonce; its EK's
sha256 in a UNIQUE column), `policies` (the golden PCR values of each node class), `evidence` (every
enrollment, attestation, quarantine and release, oldest dropped beyond the retention setting).

Several verifier processes, on one controller or several, share the store safely because the database
keeps the rules, not a file lock: each `locked()` block is one database transaction. On SQLite it begins
IMMEDIATE (one writer at a time, the others wait on the database's own lock); on PostgreSQL reading a node
or a policy inside the transaction takes a transaction-scoped advisory lock on that one name, so changes to
different nodes run side by side while the read-check-write of one node (a nonce used once) or one class's
policy (learned once) is serialized. The UNIQUE EK column holds one enrollment per EK whatever the code
above it does. Every commit is durable (SQLite WAL with synchronous=FULL; PostgreSQL's own fsync).

A verifier directory from before the database (DIR/nodes/*.json, DIR/policies/*.json, DIR/evidence.jsonl)
is imported on first use, in one transaction recorded in `json_imports`, and its files are then moved to
DIR/json-imported/ (kept as a backup, never read again).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    delete,
    event,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError

from edgewright.errors import EdgewrightError, PermissionDenied

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
DATABASE_FILE = "verifier.db"
SETTINGS_FILE = "store.json"
IMPORTED_DIR = "json-imported"
# Entries of the evidence log kept; older ones are dropped as new ones arrive. 100,000 entries is months of
# hourly attestations of a hundred nodes, about 50 MB.
DEFAULT_EVIDENCE_RETENTION = 100_000
# How long a writer waits for another's transaction on SQLite before it reports the store busy.
SQLITE_BUSY_TIMEOUT = 60.0

ABSENT = object()  # no row for the node (as opposed to a row whose EK column is NULL)

SCHEMA = MetaData()
NODES = Table(
    "nodes",
    SCHEMA,
    Column("node", String(128), primary_key=True),
    # NULL until the node presents an EK; UNIQUE allows many NULLs on both SQLite and PostgreSQL.
    Column("ek_sha256", String(64), unique=True, nullable=True),
    Column("record", Text, nullable=False),
)
POLICIES = Table(
    "policies",
    SCHEMA,
    Column("node_class", String(128), primary_key=True),
    Column("policy", Text, nullable=False),
)
EVIDENCE = Table(
    "evidence",
    SCHEMA,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("node", String(128), index=True),
    Column("entry", Text, nullable=False),
)
JSON_IMPORTS = Table(
    "json_imports",
    SCHEMA,
    Column("source", Text, primary_key=True),
    Column("at", String(32), nullable=False),
)

# The statements of every verifier step, built once: building a statement costs more than running it.
NODE_ROW = select(NODES.c.ek_sha256, NODES.c.record).where(NODES.c.node == bindparam("name"))
NODE_EK = select(NODES.c.ek_sha256).where(NODES.c.node == bindparam("name"))
NODE_RECORD_UPDATE = update(NODES).where(NODES.c.node == bindparam("name")).values(record=bindparam("raw"))
POLICY_ROW = select(POLICIES.c.policy).where(POLICIES.c.node_class == bindparam("name"))
EVIDENCE_PRUNE = delete(EVIDENCE).where(EVIDENCE.c.id <= bindparam("upto"))
ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


class StoreError(EdgewrightError, ValueError):
    """A name, a record or a setting of the verifier's store that cannot be used; the message says which."""


class StoreAccessDenied(StoreError, PermissionDenied):
    """The operating system refused the store's file or directory to the user running the verifier."""


class EkConflict(StoreError):
    """The EK is already held by another node's record (the database's UNIQUE constraint said so)."""

    def __init__(self, ek_sha256: str, holder: str | None) -> None:
        self.ek_sha256, self.holder = ek_sha256, holder
        super().__init__(f"EK {ek_sha256} is already enrolled by node {holder or '(another node)'}")


def check_name(kind: str, name: str) -> str:
    """NAME when it is a usable node or class name, else StoreError."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise StoreError(f"{kind} name {name!r} is not valid: use letters, digits, '.', '_' and '-'")
    return name


def parse_record(kind: str, name: str, raw: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON object stored for NAME, or StoreError naming it when it is corrupt or lacks a key."""
    try:
        record = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"the verifier's record of {kind} {name} is corrupt (not JSON: {exc})") from None
    if not isinstance(record, dict):
        raise StoreError(f"the verifier's record of {kind} {name} is corrupt (not a JSON object)")
    missing = [key for key in required if key not in record]
    if missing:
        raise StoreError(
            f"the verifier's record of {kind} {name} is corrupt (it has no {', '.join(missing)})"
        )
    return record


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


class Store:
    """The verifier's state. Methods called inside `locked()` are part of its transaction; called outside,
    each is a transaction of its own."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        url: str | None = None,
        evidence_retention: int | None = None,
    ) -> None:
        self.root = Path(directory)
        self._url, self._retention = url, evidence_retention
        self._engine: Engine | None = None
        self._settings_read: dict[str, Any] | None = None
        self._advisory = False
        # A transaction belongs to the thread that opened it: threads sharing one Store (the xDS server's
        # checks, the metrics endpoint) each get their own connection, never another's.
        self._thread = threading.local()
        self._engine_lock = threading.Lock()

    @property
    def _tx(self) -> Connection | None:
        return getattr(self._thread, "tx", None)

    @_tx.setter
    def _tx(self, conn: Connection | None) -> None:
        self._thread.tx = conn

    @property
    def _row_ek(self) -> dict[str, str | object | None]:
        """Within a transaction: each node row's EK column as read or written (ABSENT: no row)."""
        if not hasattr(self._thread, "row_ek"):
            self._thread.row_ek = {}
        return self._thread.row_ek

    @property
    def _unwritten(self) -> dict[str, str]:
        """Within a transaction: the node records changed with their EK unchanged, written once at commit
        however often a step saves."""
        if not hasattr(self._thread, "unwritten"):
            self._thread.unwritten = {}
        return self._thread.unwritten

    # -- settings and connection ------------------------------------------------------------------------

    def _settings(self) -> dict[str, Any]:
        if self._settings_read is None:
            self._settings_read = self._read_settings()
        return self._settings_read

    def _read_settings(self) -> dict[str, Any]:
        path = self.root / SETTINGS_FILE
        try:
            mode = path.stat().st_mode
            raw = path.read_text()
        except FileNotFoundError:
            return {}
        except PermissionError:
            raise StoreAccessDenied(f"cannot read {path}: permission denied") from None
        if mode & 0o077:
            # It may hold the database's password: refuse rather than use a secret others can read.
            raise StoreError(f"{path} is readable by group or others: chmod 600 it")
        settings = parse_record("settings file", str(path), raw)
        unknown = sorted(set(settings) - {"database_url", "evidence_retention"})
        if unknown:
            raise StoreError(
                f"{path}: unknown setting {unknown[0]!r} (known: database_url, evidence_retention)"
            )
        return settings

    @property
    def url(self) -> str:
        """The database URL: the one given, else the settings file's, else SQLite under the directory."""
        return self._url or self._settings().get("database_url") or f"sqlite:///{self.root / DATABASE_FILE}"

    @property
    def evidence_retention(self) -> int:
        retention = self._retention
        if retention is None:
            retention = self._settings().get("evidence_retention", DEFAULT_EVIDENCE_RETENTION)
        if not isinstance(retention, int) or isinstance(retention, bool) or retention < 1:
            raise StoreError(f"evidence_retention must be a positive number of entries, not {retention!r}")
        return retention

    def _where(self) -> str:
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except ArgumentError:
            return "(unreadable URL)"

    def _ensure_dir(self, path: Path) -> None:
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except PermissionError:
            raise StoreAccessDenied(
                f"cannot create the verifier's directory {path}: permission denied"
            ) from None

    def engine(self) -> Engine:
        """The database engine, made (with the schema, and any old JSON store imported) on first use."""
        if self._engine is not None:
            return self._engine
        with self._engine_lock:
            return self._engine if self._engine is not None else self._make_engine()

    def _make_engine(self) -> Engine:
        url = self.url
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise StoreError(f"database_url {url!r} is not a database URL") from None
        sqlite = parsed.get_backend_name() == "sqlite"
        if sqlite:
            self._ensure_dir(self.root)
            self._create_private(Path(parsed.database or self.root / DATABASE_FILE))
        try:
            if sqlite:
                engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})
                self._sqlite_transactions(engine)
            else:
                # As Keylime does for a server database: check a pooled connection before using it.
                engine = create_engine(url, pool_pre_ping=True)
            advisory = parsed.get_backend_name() == "postgresql"
            with engine.connect().execution_options(edgewright_write=True) as conn, conn.begin():
                if advisory:  # verifiers starting together on an empty database make the schema once
                    conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('schema', 0))"))
                SCHEMA.create_all(conn)
        except NoSuchModuleError:
            raise StoreError(
                f"database_url {self._where()}: no driver for it (use postgresql+psycopg)"
            ) from None
        except DBAPIError as exc:
            raise StoreError(
                f"cannot open the verifier's database {self._where()}: {_first_line(exc)}"
            ) from None
        self._engine, self._advisory = engine, advisory
        self._import_json()
        return engine

    @staticmethod
    def _create_private(path: Path) -> None:
        """Create the SQLite file 0600 before SQLite does (its journal and WAL files copy its mode).

        An existing file is never opened here: closing any descriptor of the database drops every POSIX
        lock this process holds on it, SQLite's among them. Another process would then take itself for the
        last user, checkpoint and delete the WAL, and this process's later commits would go into the
        deleted file: lost, as a deregistration or a quarantine once was."""
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
            denied = False
        except FileExistsError:
            denied = not os.access(path, os.R_OK | os.W_OK)
        except PermissionError:
            denied = True
        if denied:
            raise StoreAccessDenied(f"cannot open the verifier's database {path}: permission denied")

    @staticmethod
    def _sqlite_transactions(engine: Engine) -> None:
        # pysqlite's own transaction handling begins late and never IMMEDIATE; take it over (SQLAlchemy's
        # documented recipe) so that a write transaction holds the write lock from its first read.
        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            # Switching a new file to WAL takes a lock SQLite does not wait for (no busy handler): when
            # several verifiers open the same new database at once, the ones that lose try again.
            deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT
            while True:
                try:
                    dbapi_connection.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            for pragma in ("synchronous=FULL", "foreign_keys=ON"):
                dbapi_connection.execute(f"PRAGMA {pragma}")

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            options = conn.get_execution_options()
            # In WAL mode, FULL syncs the log at every commit; NORMAL leaves it to the next sync, so an OS
            # crash or power loss (not a process crash) may lose such a commit, never corrupt the file.
            sync = "FULL" if options.get("edgewright_durable", True) else "NORMAL"
            if conn.info.get("synchronous") != sync:
                conn.exec_driver_sql(f"PRAGMA synchronous={sync}")
                conn.info["synchronous"] = sync
            conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("edgewright_write", False) else "BEGIN")

    def close(self) -> None:
        """Close the store's database connections (a new use opens them again)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- transactions -----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, *, durable: bool = True) -> Iterator[None]:
        """One write transaction: no other verifier changes what it reads meanwhile (across processes and
        controllers), and its changes commit together. As with the files before, changes made before the
        verifier raises (a refusal, which quarantines the node first) are kept; a database error keeps none.

        Its commit is on disk when this returns, unless DURABLE is False: for a change whose loss in a
        crash of the machine (not of the process) is safe, such as a nonce issued, which can only make
        the quote over it fail. That saves a disk sync, the bound on how many steps a second commit.
        """
        if self._tx is not None:
            yield
            return
        try:
            options = {"edgewright_write": True, "edgewright_durable": durable}
            with self.engine().connect().execution_options(**options) as conn:
                conn.begin()
                if self._advisory and not durable:
                    conn.execute(text("SET LOCAL synchronous_commit TO off"))
                self._tx = conn
                try:
                    yield
                except DBAPIError:
                    conn.rollback()
                    raise
                except Exception:
                    self._write_unwritten(conn)
                    conn.commit()
                    raise
                except BaseException:
                    conn.rollback()
                    raise
                else:
                    self._write_unwritten(conn)
                    conn.commit()
                finally:
                    self._tx = None
                    self._row_ek.clear()
                    self._unwritten.clear()
        except DBAPIError as exc:
            if isinstance(exc, IntegrityError):
                raise StoreError(f"the verifier's database refused a change: {_first_line(exc)}") from None
            raise StoreError(f"the verifier's database {self._where()} failed: {_first_line(exc)}") from None

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connection]:
        if self._tx is not None:
            yield self._tx
            return
        with self.locked():
            assert self._tx is not None
            yield self._tx

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Connection]:
        """The open transaction, or a short read-only one."""
        if self._tx is not None:
            yield self._tx
            return
        try:
            with self.engine().connect() as conn, conn.begin():
                yield conn
        except DBAPIError as exc:
            raise StoreError(f"the verifier's database {self._where()} failed: {_first_line(exc)}") from None

    def _hold(self, conn: Connection, kind: str, name: str) -> None:
        """On PostgreSQL, inside a write transaction: wait for, then hold until commit, the lock on one
        node or class (SQLite's IMMEDIATE transaction already holds the whole database)."""
        if self._advisory and conn is self._tx:
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"{kind}:{name}"}
            )

    # -- nodes --------------------------------------------------------------------------------------------

    def node(self, node: str) -> dict[str, Any] | None:
        check_name("node", node)
        if node in self._unwritten:
            return parse_record("node", node, self._unwritten[node], ("node", "status"))
        with self._reading() as conn:
            self._hold(conn, "node", node)
            row = conn.execute(NODE_ROW, {"name": node}).first()
            if conn is self._tx:
                self._row_ek[node] = ABSENT if row is None else row.ek_sha256
        return None if row is None else parse_record("node", node, row.record, ("node", "status"))

    def save_node(self, record: dict[str, Any]) -> None:
        node = check_name("node", record["node"])
        ek = record.get("ek_sha256")
        with self._connection() as conn:
            if node not in self._row_ek:
                self._hold(conn, "node", node)
                held = conn.execute(NODE_EK, {"name": node}).first()
                self._row_ek[node] = ABSENT if held is None else held.ek_sha256
            if self._row_ek[node] is not ABSENT and self._row_ek[node] == ek:
                self._unwritten[node] = _dumps(record)
                return
            self._unwritten.pop(node, None)
            values = {"ek_sha256": ek, "record": _dumps(record)}
            # A new row or a new EK: the UNIQUE constraint decides, in a savepoint so that the transaction
            # goes on (to record the refusal) when another node holds the EK.
            try:
                with conn.begin_nested():
                    if self._row_ek[node] is ABSENT:
                        conn.execute(NODES.insert().values(node=node, **values))
                    else:
                        conn.execute(update(NODES).where(NODES.c.node == node).values(**values))
            except IntegrityError:
                holder = self.ek_holder(ek) if ek else None
                if ek is None or holder is None:
                    raise
                raise EkConflict(ek, holder) from None
            self._row_ek[node] = ek

    def _write_unwritten(self, conn: Connection) -> None:
        if self._unwritten:
            conn.execute(NODE_RECORD_UPDATE, [{"name": n, "raw": raw} for n, raw in self._unwritten.items()])
            self._unwritten.clear()

    def ek_holder(self, ek_sha256: str) -> str | None:
        """The node whose record holds this EK, if any."""
        with self._reading() as conn:
            self._write_unwritten(conn)
            return conn.execute(select(NODES.c.node).where(NODES.c.ek_sha256 == ek_sha256)).scalar()

    def delete_node(self, node: str) -> bool:
        """Remove a node's record; True when there was one."""
        check_name("node", node)
        with self._connection() as conn:
            self._hold(conn, "node", node)
            self._unwritten.pop(node, None)
            self._row_ek[node] = ABSENT
            return conn.execute(delete(NODES).where(NODES.c.node == node)).rowcount > 0

    def nodes(self) -> list[dict[str, Any]]:
        """Every readable node record, by name. A corrupt record is left out (corrupt_records() names it),
        so one bad record hides no other node."""
        with self._reading() as conn:
            self._write_unwritten(conn)
            rows = conn.execute(select(NODES.c.node, NODES.c.record).order_by(NODES.c.node)).all()
        records = []
        for name, raw in rows:
            with contextlib.suppress(StoreError):
                records.append(parse_record("node", name, raw, ("node", "status")))
        return records

    def corrupt_records(self) -> dict[str, str]:
        """The node records that cannot be read, by node name, with what is wrong with each."""
        with self._reading() as conn:
            self._write_unwritten(conn)
            rows = conn.execute(select(NODES.c.node, NODES.c.record).order_by(NODES.c.node)).all()
        problems = {}
        for name, raw in rows:
            try:
                parse_record("node", name, raw, ("node", "status"))
            except StoreError as exc:
                problems[name] = str(exc)
        return problems

    # -- policies -----------------------------------------------------------------------------------------

    def policy(self, node_class: str) -> dict[str, Any] | None:
        check_name("node class", node_class)
        with self._reading() as conn:
            self._hold(conn, "policy", node_class)
            raw = conn.execute(POLICY_ROW, {"name": node_class}).scalar()
        return None if raw is None else parse_record("node class", node_class, raw, ("pcrs",))

    def save_policy(self, node_class: str, policy: dict[str, Any]) -> None:
        check_name("node class", node_class)
        with self._connection() as conn:
            self._hold(conn, "policy", node_class)
            changed = conn.execute(
                update(POLICIES).where(POLICIES.c.node_class == node_class).values(policy=_dumps(policy))
            )
            if changed.rowcount == 0:
                conn.execute(POLICIES.insert().values(node_class=node_class, policy=_dumps(policy)))

    # -- the operator's trust store (files) ---------------------------------------------------------------

    @property
    def ek_trust_dir(self) -> Path:
        """The manufacturer CA certificates (PEM files) whose EK certificates the verifier accepts."""
        return self.root / "ek-ca"

    @property
    def ek_allowlist(self) -> Path:
        """EKs the operator trusts without a certificate: one sha256 (of the EK's TPM2B_PUBLIC) a line."""
        return self.root / "ek-allowlist.txt"

    def ek_allowlisted(self, ek_sha256: str) -> bool:
        """Whether the operator allowlisted this EK: the way in for a TPM whose vendor ships no EK
        certificate."""
        try:
            lines = self.ek_allowlist.read_text().splitlines()
        except FileNotFoundError:
            return False
        except PermissionError:
            raise StoreAccessDenied(f"cannot read {self.ek_allowlist}: permission denied") from None
        return ek_sha256 in {line.split("#")[0].strip().lower() for line in lines}

    # -- evidence -----------------------------------------------------------------------------------------

    def append_evidence(self, entry: dict[str, Any]) -> None:
        """Add ENTRY to the evidence log, dropping the oldest entries beyond the retention setting."""
        retention = self.evidence_retention
        with self._connection() as conn:
            added = conn.execute(EVIDENCE.insert(), {"node": entry.get("node"), "entry": _dumps(entry)})
            newest = added.inserted_primary_key[0]
            if newest > retention:
                conn.execute(EVIDENCE_PRUNE, {"upto": newest - retention})

    def evidence(self, node: str | None = None) -> list[dict[str, Any]]:
        """The evidence log, oldest first (one node's entries with NODE). A corrupt entry is reported in
        its place, by its number, rather than hiding the rest."""
        query = select(EVIDENCE.c.id, EVIDENCE.c.entry).order_by(EVIDENCE.c.id)
        if node is not None:
            query = query.where(EVIDENCE.c.node == node)
        with self._reading() as conn:
            rows = conn.execute(query).all()
        entries = []
        for number, raw in rows:
            try:
                entries.append(parse_record("evidence entry", str(number), raw))
            except StoreError as exc:
                entries.append({"node": node, "outcome": "corrupt", "reason": str(exc)})
        return entries

    # -- the JSON store of earlier versions ---------------------------------------------------------------

    def _import_json(self) -> None:
        """Import DIR/nodes, DIR/policies and DIR/evidence.jsonl once, then move them aside."""
        old = [
            p
            for p in (self.root / "nodes", self.root / "policies", self.root / "evidence.jsonl")
            if p.exists()
        ]
        if not old:
            return
        source = str(self.root.resolve())
        with self.locked():
            conn = self._tx
            assert conn is not None
            self._hold(conn, "import", source)
            done = conn.execute(select(JSON_IMPORTS.c.source).where(JSON_IMPORTS.c.source == source)).scalar()
            if done is None:
                for path in sorted((self.root / "nodes").glob("*.json")):
                    if NAME_PATTERN.match(path.stem) and self._absent(conn, NODES.c.node, path.stem):
                        raw = path.read_text(errors="replace")
                        try:
                            ek = parse_record("node", path.stem, raw).get("ek_sha256")
                        except StoreError:
                            ek = None  # kept as it is, so the node is reported corrupt by name
                        if ek is not None and not self._absent(conn, NODES.c.ek_sha256, ek):
                            ek = None
                        conn.execute(NODES.insert().values(node=path.stem, ek_sha256=ek, record=raw))
                for path in sorted((self.root / "policies").glob("*.json")):
                    if NAME_PATTERN.match(path.stem) and self._absent(conn, POLICIES.c.node_class, path.stem):
                        conn.execute(
                            POLICIES.insert().values(
                                node_class=path.stem, policy=path.read_text(errors="replace")
                            )
                        )
                with contextlib.suppress(FileNotFoundError):
                    for line in (self.root / "evidence.jsonl").read_text(errors="replace").splitlines():
                        if line.strip():
                            try:
                                node = parse_record("evidence entry", "(imported)", line).get("node")
                            except StoreError:
                                node = None
                            conn.execute(EVIDENCE.insert().values(node=node, entry=line))
                stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                conn.execute(JSON_IMPORTS.insert().values(source=source, at=stamp))
            else:
                return  # imported before: files put back by hand are not imported twice
        aside = self.root / IMPORTED_DIR
        self._ensure_dir(aside)
        for path in old:
            with contextlib.suppress(FileNotFoundError):
                shutil.move(path, aside / path.name)

    @staticmethod
    def _absent(conn: Connection, column: Column, value: str) -> bool:
        return conn.execute(select(column).where(column == value)).first() is None


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc).splitlines()[0]
