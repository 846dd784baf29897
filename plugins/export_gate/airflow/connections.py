"""The gate's secrets inside Airflow: the HMAC key for subject digests and the ledger database URL.

They come from Airflow connections (so they live in the deployment's secrets backend, never in DAG code) or
from the environment. Without a key the gate refuses to run, unless ``EXPORT_GATE_DEMO=1`` explicitly turns on
the demo mode, which uses a fixed, publicly known key and says so in the task log.
"""

from __future__ import annotations

import logging
import os

from export_gate.errors import LedgerError
from export_gate.settings import SECRET_KEY_ENV, default_ledger_url

log = logging.getLogger(__name__)

SECRET_CONN_ID = "export_gate_secret"
LEDGER_CONN_ID = "export_gate_ledger"
DEMO_ENV = "EXPORT_GATE_DEMO"
#: The demo mode's key: public, so digests made with it protect nothing. For demos and tests only.
DEMO_KEY = b"export-gate-demo-key-public-never-use-in-production"


def _connection(conn_id: str):
    """The Airflow connection, or None when it is not defined (any lookup failure means "not defined")."""
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception:
        return None


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
    """The ledger database URL from the connection, else the default. The forms users write all work: a
    ``postgres`` connection (``airflow connections add ID --conn-type postgres --conn-host ... --conn-login ...
    --conn-schema DB``, or its URI ``postgresql://user:pw@host:5432/db?sslmode=require``), a ``sqlite``
    connection (the file in host, or ``sqlite:////abs/path.db``), or any type with a SQLAlchemy URL in extra
    ``url``. Anything else is refused with what to write instead, rather than guessed."""
    from sqlalchemy.engine import URL

    conn = _connection(conn_id)
    if conn is None:
        return default_ledger_url()
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
