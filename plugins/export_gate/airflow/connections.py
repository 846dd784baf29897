"""The gate's secrets inside Airflow: the key for subject digests and the ledger database URL.

They come from Airflow connections (so they live in the deployment's secrets backend, never in DAG code) or
from the environment. Without a key the gate refuses to run, unless ``EXPORT_GATE_DEMO=1`` explicitly turns on
the demo mode, which uses a fixed, publicly known key and says so in the task log.

The ledger fails closed: a connection that is defined but cannot be read is an error, never a reason to fall
back to a SQLite file on the worker (a second ledger nobody reads). Airflow's own lookup reports a secrets
backend that is down as "not defined", so with no connection found the gate uses ``$EXPORT_GATE_LEDGER_URL``,
and the worker's local file only when the deployment asks for it (``EXPORT_GATE_LOCAL_LEDGER=1`` or the demo
mode), saying so in the log and in the audit record (``ledger_origin``).

The CLI reads the same connection when Airflow is configured (``AIRFLOW_HOME`` or the connection's
``AIRFLOW_CONN_`` variable is set), through Airflow's secrets backends including its metadata database.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from export_gate.errors import LedgerError
from export_gate.settings import (
    DEMO_ENV,
    DEMO_KEY,
    LEDGER_URL_ENV,
    LOCAL_LEDGER_ENV,
    SECRET_KEY_ENV,
    default_ledger_url,
    local_ledger_url,
)

log = logging.getLogger(__name__)

SECRET_CONN_ID = "export_gate_secret"
LEDGER_CONN_ID = "export_gate_ledger"


def _connection(conn_id: str, *, in_task: bool = True) -> Any:
    """The Airflow connection, or None when no secrets backend has it. Any other failure (access denied, a
    broken backend that says so) is a LedgerError: the gate cannot tell which ledger or key is meant. Outside a
    task (the CLI) the lookup includes Airflow's metadata database, and leaves the process's logging as it was."""
    if not in_task:
        with _logging_kept():
            return _lookup(conn_id, in_task=False)
    return _lookup(conn_id, in_task=True)


def _lookup(conn_id: str, *, in_task: bool) -> Any:
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        if in_task:
            from airflow.sdk import BaseHook

            return BaseHook.get_connection(conn_id)
        from airflow.models.connection import Connection

        return Connection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException:
        return None
    except Exception as exc:
        raise LedgerError(
            f"the Airflow connection '{conn_id}' could not be read ({type(exc).__name__}); the gate fails closed "
            "rather than guess: fix the secrets backend or the connection, then run the gate again"
        ) from exc


@contextmanager
def _logging_kept() -> Iterator[None]:
    """Importing Airflow outside a task configures its logging (every logger at INFO, on stdout). The CLI's
    stdout is its output (JSON, tables), so the root logger is put back as it was before the import."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def secret_key(conn_id: str = SECRET_CONN_ID) -> bytes:
    """The connection's password, else ``$EXPORT_GATE_SECRET_KEY``, else the demo key in demo mode."""
    conn = _connection(conn_id)
    key = (conn.password if conn is not None else None) or os.environ.get(SECRET_KEY_ENV, "")
    if len(key) >= 16:
        return key.encode()
    if os.environ.get(DEMO_ENV) == "1":
        log.warning("EXPORT GATE DEMO MODE: subject digests use a public key; never use this with real data")
        return DEMO_KEY
    raise LedgerError(
        f"no secret key for subject digests: define the Airflow connection '{conn_id}' (its password, at least "
        f"16 characters, is the key) or set {SECRET_KEY_ENV}; {DEMO_ENV}=1 runs a demo with a public key"
    )


#: Connection types that name a PostgreSQL ledger (``postgres`` is the provider's; a URI says ``postgresql``).
POSTGRES_TYPES = ("postgres", "postgresql", "postgresql+psycopg")
#: Extras of a postgres connection that are libpq connection parameters (the provider's other extras, such as
#: ``cursor`` or ``iam``, mean nothing to the ledger's driver).
LIBPQ_EXTRAS = (
    "sslmode",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "sslcrl",
    "connect_timeout",
    "application_name",
    "options",
    "target_session_attrs",
    "keepalives",
    "keepalives_idle",
)


def ledger_url(conn_id: str = LEDGER_CONN_ID) -> str:
    """The ledger database URL of a gate task: the connection, else ``$EXPORT_GATE_LEDGER_URL``, else the
    worker's local file if the deployment allows it; otherwise a LedgerError (the gate blocks)."""
    conn = _connection(conn_id)
    if conn is not None:
        return url_of(conn, conn_id)
    if os.environ.get(LEDGER_URL_ENV):
        return os.environ[LEDGER_URL_ENV]
    if os.environ.get(LOCAL_LEDGER_ENV) == "1" or os.environ.get(DEMO_ENV) == "1":
        url = local_ledger_url()
        log.warning("export gate: no connection '%s'; using this worker's local ledger %s", conn_id, url)
        return url
    raise LedgerError(
        f"no ledger: the Airflow connection '{conn_id}' is not defined (or its secrets backend did not answer) "
        f"and {LEDGER_URL_ENV} is not set; define the connection (e.g. a postgres connection to the ledger "
        f"database), or set {LOCAL_LEDGER_ENV}=1 to let each worker keep a local SQLite ledger"
    )


def airflow_configured() -> bool:
    """Whether this process is meant to use Airflow's connections (its home or the ledger's variable is set)."""
    return bool(os.environ.get("AIRFLOW_HOME") or os.environ.get(f"AIRFLOW_CONN_{LEDGER_CONN_ID.upper()}"))


def cli_ledger_url(explicit: str | None = None) -> str:
    """The CLI's ledger: ``--ledger``, else the connection when Airflow is configured, else the default."""
    if explicit:
        return explicit
    if airflow_configured():
        conn = _connection(LEDGER_CONN_ID, in_task=False)
        if conn is not None:
            return url_of(conn, LEDGER_CONN_ID)
    return default_ledger_url()


def url_of(conn: Any, conn_id: str) -> str:
    """The ledger database URL of a connection. The forms users write all work: a ``postgres`` connection
    (``airflow connections add ID --conn-type postgres --conn-host ... --conn-login ... --conn-schema DB``, or
    its URI ``postgresql://user:pw@host:5432/db?sslmode=require``), a ``sqlite`` connection (the file in host,
    or ``sqlite:////abs/path.db``), or any type with a SQLAlchemy URL in extra ``url``. Anything else is
    refused with what to write instead, rather than guessed."""
    from sqlalchemy.engine import URL

    extra = conn.extra_dejson
    if extra.get("url"):
        return str(extra["url"])
    kind = (conn.conn_type or "").lower()
    if kind == "sqlite" and (conn.host or conn.schema):
        return f"sqlite:///{conn.host or conn.schema}"  # the URI form sqlite:////abs/path puts the path in schema
    if kind in POSTGRES_TYPES and conn.host:
        query = {key: str(extra[key]) for key in LIBPQ_EXTRAS if extra.get(key) not in (None, "")}
        url = URL.create(
            "postgresql+psycopg",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host,
            port=conn.port or None,
            database=conn.schema or None,
            query=query,
        )
        return url.render_as_string(hide_password=False)
    raise LedgerError(
        f"the Airflow connection '{conn_id}' (type {conn.conn_type or 'none'!r}) does not name a ledger database: "
        f"use --conn-type postgres with host, login, password and schema (the database), --conn-type sqlite with "
        'the file path as host, or put a SQLAlchemy URL in its extra {"url": "postgresql+psycopg://..."}'
    )
