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


def ledger_url(conn_id: str = LEDGER_CONN_ID) -> str:
    """The ledger database URL: the connection (its extra ``url``, else its URI), else the default."""
    conn = _connection(conn_id)
    if conn is None:
        return default_ledger_url()
    url = conn.extra_dejson.get("url")
    if url:
        return url
    if conn.conn_type == "sqlite":
        return f"sqlite:///{conn.host}"
    uri = conn.get_uri()
    scheme, _, rest = uri.partition("://")
    if scheme in {"postgres", "postgresql"}:
        return f"postgresql+psycopg://{rest}"
    return uri
