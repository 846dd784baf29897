"""The ledger's database: engines from URLs, the tables, locked write transactions and the migrations runner.

One database holds the year-to-date ledger and the audit log (SQLite file by default, PostgreSQL by URL), so a
gate run's reservation and its audit record commit or roll back together. Writers are serialised per data
handler: SQLite has one writer at a time anyway (``BEGIN IMMEDIATE`` takes the write lock up front, so a gate
never reads counts it cannot then write), PostgreSQL takes a transaction-scoped advisory lock per handler.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from export_gate import settings
from export_gate.errors import LedgerError
from export_gate.model import CATEGORIES

#: Execution option that makes the next SQLite transaction take the write lock at BEGIN.
_WRITE = "export_gate_write"
#: Execution option: seconds this transaction waits for SQLite's write lock (default: settings.lock_timeout_s).
_WAIT = "export_gate_wait_s"
#: The digest's bit names, in bit order (PERSONAL_BIT first, then model.CATEGORY_BITS).
BIT_NAMES: tuple[str, ...] = ("personal", *CATEGORIES)
#: Per person, how many active reservations carry each bit: a release can then drop a bit without a scan.
REF_COLUMNS: tuple[str, ...] = tuple(f"{name}_refs" for name in BIT_NAMES)
#: Rows per executemany in ``bulk_insert`` on SQLite (memory stays bounded for a million-row insert).
INSERT_BATCH = 1 << 16
#: Audit hash chain start.
GENESIS_HASH = "0" * 64

metadata = sa.MetaData()

scope = sa.Table(
    "ledger_scope",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("handler_id", sa.String(200), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.UniqueConstraint("handler_id", "year"),
)
person = sa.Table(
    "ledger_person",
    metadata,
    sa.Column("scope_id", sa.Integer, primary_key=True),
    sa.Column("digest", sa.LargeBinary(16), primary_key=True),
    sa.Column("mask", sa.Integer, nullable=False),
    *(sa.Column(name, sa.Integer, nullable=False) for name in REF_COLUMNS),
    sqlite_with_rowid=False,
)
alias = sa.Table(
    "ledger_alias",
    metadata,
    sa.Column("scope_id", sa.Integer, primary_key=True),
    sa.Column("digest", sa.LargeBinary(16), primary_key=True),
    sa.Column("person", sa.LargeBinary(16), nullable=False),
    sqlite_with_rowid=False,
)
reservation = sa.Table(
    "ledger_reservation",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(500), nullable=False, unique=True),
    sa.Column("scope_id", sa.Integer, nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    sa.Column("export_counts", sa.Text, nullable=False),
    sa.Column("meta", sa.Text, nullable=False),
)
membership = sa.Table(
    "ledger_membership",
    metadata,
    sa.Column("reservation_id", sa.Integer, primary_key=True),
    sa.Column("person", sa.LargeBinary(16), primary_key=True),
    sa.Column("mask", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)
mask_total = sa.Table(
    "ledger_mask_total",
    metadata,
    sa.Column("scope_id", sa.Integer, primary_key=True),
    sa.Column("mask", sa.Integer, primary_key=True),
    sa.Column("subjects", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)
history = sa.Table(
    "ledger_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("scope_id", sa.Integer, nullable=False),
    sa.Column("ts", sa.String(32), nullable=False),
    sa.Column("reservation", sa.String(500), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("counts", sa.Text, nullable=False),
    sa.Index("ix_ledger_history_scope_ts", "scope_id", "ts"),
)
ledger_meta = sa.Table(
    "ledger_meta",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)
AUDIT_FILTER_COLUMNS: tuple[str, ...] = (
    "event",
    "handler_id",
    "year",
    "dag_id",
    "run_id",
    "task_id",
    "try_number",
    "list_id",
    "scenario",
    "action",
)
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ts", sa.String(32), nullable=False, index=True),
    sa.Column("event", sa.String(16), nullable=False, index=True),
    sa.Column("handler_id", sa.String(200), index=True),
    sa.Column("year", sa.Integer),
    sa.Column("dag_id", sa.String(250), index=True),
    sa.Column("run_id", sa.String(250)),
    sa.Column("task_id", sa.String(250)),
    sa.Column("try_number", sa.Integer),
    sa.Column("list_id", sa.String(100), index=True),
    sa.Column("scenario", sa.String(100), index=True),
    sa.Column("action", sa.String(16), index=True),
    sa.Column("record", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)
#: One row (id 1): the last record's id and hash, so removing the newest record is also detected; appenders
#: lock it, which orders the chain across processes.
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last_id", sa.Integer, nullable=False),
    sa.Column("last_hash", sa.String(64), nullable=False),
)


def utc_now() -> str:
    """Now in UTC as fixed-width ISO text: sorts as time on SQLite and PostgreSQL alike, and hashes stably."""
    return format_ts(datetime.now(UTC))


def format_ts(moment: datetime) -> str:
    """``moment`` (naive means UTC) in the stored timestamp format."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def safe_url(engine: Engine | str) -> str:
    """The database URL (of an engine, or as given) without its password, for messages."""
    url = sa.make_url(engine) if isinstance(engine, str) else engine.url
    return url.render_as_string(hide_password=True)


_ENGINES: dict[tuple[str, bool], Engine] = {}


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """One engine per URL and process (engines hold pools; processes must not share them). ``read_only``: the
    engine never writes, so an auditor's read-only copy can be verified (SQLite opened with ``mode=ro``, or
    ``immutable=1`` when there is no WAL to read; PostgreSQL sessions in read-only transactions)."""
    if (url, read_only) not in _ENGINES:
        _ENGINES[url, read_only] = _create_engine(url, read_only=read_only)
    return _ENGINES[url, read_only]


def _forget_engines_in_child() -> None:
    """A forked process (Airflow's LocalExecutor, multiprocessing) must not use its parent's pooled connections:
    drop them without closing (closing would end the parent's sessions) and start afresh."""
    for engine in _ENGINES.values():
        engine.dispose(close=False)
    _ENGINES.clear()


os.register_at_fork(after_in_child=_forget_engines_in_child)


def _create_engine(url: str, *, read_only: bool) -> Engine:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise LedgerError(f"ledger URL {url!r} is not a database URL: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        _refuse_transient(parsed, url)
        if read_only:
            parsed = _read_only_sqlite(parsed)
        engine = sa.create_engine(parsed, connect_args={"timeout": settings.lock_timeout_s()})
        _configure_sqlite(engine, read_only=read_only)
        return engine
    if parsed.get_backend_name() == "postgresql":
        options = {"options": "-c default_transaction_read_only=on"} if read_only else {}
        return sa.create_engine(parsed, pool_pre_ping=True, connect_args=options)
    raise LedgerError(
        f"ledger URL {parsed.render_as_string()}: only sqlite:/// and postgresql+psycopg:// are supported"
    )


def _refuse_transient(url: sa.URL, text: str) -> None:
    """A ledger must outlive the process: an in-memory SQLite database (or SQLite's empty path, a temporary
    file) would count this export and forget it at exit, so the next gate would see an empty year."""
    database = url.database or ""
    if database in ("", ":memory:") or ":memory:" in database or url.query.get("mode") == "memory":
        raise LedgerError(
            f"ledger URL {text} is an in-memory or temporary SQLite database, which forgets "
            "every export when the process ends; use a file (sqlite:////path/ledger.db) or PostgreSQL"
        )


def _read_only_sqlite(url: sa.URL) -> sa.URL:
    """The SQLite URI that opens the file without writing. ``mode=ro`` reads a WAL database only when its -shm
    file exists or can be created; a copy without a WAL (the usual copy of a checkpointed ledger) is opened
    ``immutable=1``, which needs neither."""
    if url.database and url.database.startswith("file:"):
        return url  # the caller wrote a URI already
    path = Path(url.database or "").resolve()
    if not path.is_file():
        raise LedgerError(f"ledger file {path} does not exist (a read-only check cannot create it)")
    wal, shm = path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")
    if shm.exists() or os.access(path.parent, os.W_OK):
        mode = "mode=ro"  # reads the WAL too, and respects a live writer's locks
    elif wal.exists() and wal.stat().st_size:
        raise LedgerError(
            f"ledger file {path} has a write-ahead log ({wal.name}) but no {shm.name} beside it in a read-only "
            "folder: copy the -shm file with it, or checkpoint the ledger before copying it"
        )
    else:
        mode = "immutable=1"  # a read-only copy with nothing in a WAL: no other process can be writing it
    return url.set(database=f"file:{path}?{mode}", query={"uri": "true"})


def _configure_sqlite(engine: Engine, *, read_only: bool = False) -> None:
    """Let SQLAlchemy emit BEGIN itself (pysqlite's implicit transactions cannot take the write lock early)."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute(f"PRAGMA busy_timeout = {int(settings.lock_timeout_s() * 1000)}")
        if not read_only:
            cursor.execute("PRAGMA journal_mode = WAL")  # readers do not wait for the writer
            cursor.execute("PRAGMA synchronous = NORMAL")  # WAL stays crash-safe; only the last commit may be lost
        cursor.execute("PRAGMA cache_size = -131072")  # 128 MB: a 10-million-subject index stays hot
        cursor.execute("PRAGMA temp_store = FILE")  # the ledger stages a whole export there: not in our memory
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        wait_s = connection.get_execution_options().get(_WAIT)
        if wait_s is not None:
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(wait_s * 1000)}")
        write = connection.get_execution_options().get(_WRITE)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key (Python's hash() differs between processes)."""
    return int.from_bytes(hashlib.sha256(f"export-gate:{name}".encode()).digest()[:8], "big", signed=True)


def lock(conn: Connection, name: str) -> None:
    """Hold the lock ``name`` until the transaction ends. SQLite: already held (``BEGIN IMMEDIATE`` locks the
    whole database); PostgreSQL: an advisory lock, released by commit, rollback or a dropped connection."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(name)})


@contextmanager
def write_transaction(
    engine: Engine, locks: Sequence[str] = (), *, wait_s: float | None = None
) -> Iterator[Connection]:
    """One all-or-nothing transaction holding the write lock(s): commits on success, rolls back on any
    exception (a killed process never commits, and the database discards its half-done work). ``wait_s``:
    how long to wait for SQLite's write lock (default settings.lock_timeout_s)."""
    try:
        with engine.connect() as conn:
            conn.execution_options(**{_WRITE: True, _WAIT: settings.lock_timeout_s() if wait_s is None else wait_s})
            with conn.begin():
                for name in sorted(set(locks)):
                    lock(conn, name)
                yield conn
    except sa.exc.OperationalError as exc:
        raise LedgerError(_operational_message(engine, exc)) from exc


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A read-only snapshot (one transaction, so multi-statement reads agree)."""
    try:
        with engine.connect() as conn, conn.begin():
            yield conn
    except sa.exc.OperationalError as exc:
        raise LedgerError(_operational_message(engine, exc)) from exc


def _operational_message(engine: Engine, exc: sa.exc.OperationalError) -> str:
    text = f"ledger database {safe_url(engine)}: {_first_line(exc.orig)}"
    if "database is locked" in text:
        text += (
            f" (another gate held the write lock longer than {settings.LOCK_TIMEOUT_ENV}="
            f"{settings.lock_timeout_s():g} s; run the gate again when it is done)"
        )
    return text


def _first_line(exc: BaseException | None) -> str:
    return str(exc).strip().splitlines()[0] if exc and str(exc).strip() else type(exc).__name__


def bulk_insert(conn: Connection, table: sa.Table, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Insert many rows fast: PostgreSQL COPY, SQLite executemany (both skip SQLAlchemy's per-row work)."""
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        if table.name.startswith("eg_"):  # a temp table: autovacuum never analyses it, the planner must know
            cursor.execute(f"ANALYZE {table.name}")
        return
    marks = ", ".join("?" * len(columns))
    rows = iter(rows)
    # in batches, so millions of rows never sit in one list; an empty batch ends it (executemany with no
    # parameters is an error in the DB-API, not a no-op)
    while batch := list(itertools.islice(rows, INSERT_BATCH)):
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", batch)


def _alembic_config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "export_gate.records:migrations")
    config.attributes["connection"] = conn
    return config


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_alembic_config())


def head_revision() -> str:
    """The newest schema revision this version of Export Gate knows."""
    head = _script().get_current_head()
    assert head is not None
    return head


def current_revision(conn: Connection) -> str | None:
    """The schema revision stamped in the database (None for an empty one)."""
    return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (empty database: create it; older: upgrade). A revision this version
    does not know means the database was written by a newer Export Gate: refuse rather than misread it."""
    target = head_revision() if revision == "head" else revision
    with read_connection(engine) as conn:
        if current_revision(conn) == target:
            return
    with write_transaction(engine, locks=("migrate",)) as conn:
        current = current_revision(conn)
        if current == target:
            return
        _check_known(engine, current)
        command.upgrade(_alembic_config(conn), target)


def check_current(engine: Engine) -> None:
    """For a read-only use: the schema must be this version's (nothing can be upgraded without writing)."""
    with read_connection(engine) as conn:
        current = current_revision(conn)
    if current == head_revision():
        return
    _check_known(engine, current)
    raise LedgerError(
        f"ledger database {safe_url(engine)} has schema revision {current!r}, older than this version's "
        f"{head_revision()!r}; a read-only check cannot upgrade it: open a writable copy once with this version "
        "(any export-gate command upgrades it), or check it with the export-gate version that wrote it"
    )


def _check_known(engine: Engine, current: str | None) -> None:
    if current is not None and current not in {rev.revision for rev in _script().walk_revisions()}:
        raise LedgerError(
            f"ledger database {safe_url(engine)} has schema revision {current!r}, which this version of "
            f"export-gate does not know (newest known: {head_revision()!r}); upgrade export-gate to use it"
        )
