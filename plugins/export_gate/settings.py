"""Where the gate keeps its state and where its secrets come from (the environment; the operator adds
Airflow connections on top). Nothing here reads a path relative to the repository."""

from __future__ import annotations

import os
from pathlib import Path

from export_gate.errors import LedgerError

#: Environment variables a deployment sets.
HOME_ENV = "EXPORT_GATE_HOME"
LEDGER_URL_ENV = "EXPORT_GATE_LEDGER_URL"
SECRET_KEY_ENV = "EXPORT_GATE_SECRET_KEY"


def home_dir() -> Path:
    """The state folder: ``$EXPORT_GATE_HOME``, else ``~/.export-gate``. Created on first use."""
    home = Path(os.environ.get(HOME_ENV) or Path.home() / ".export-gate").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def default_ledger_url() -> str:
    """``$EXPORT_GATE_LEDGER_URL``, else the SQLite file ``ledger.db`` in the state folder."""
    return os.environ.get(LEDGER_URL_ENV) or f"sqlite:///{home_dir() / 'ledger.db'}"


def reports_dir() -> Path:
    """Where the per-export HTML reports are written."""
    path = home_dir() / "reports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def secret_key_from_env() -> bytes:
    """The HMAC key for subject digests. Refuses to guess: digests made with a default key would let anyone
    with the ledger test whether a given phone number or ID was exported."""
    key = os.environ.get(SECRET_KEY_ENV, "")
    if len(key) < 16:
        raise LedgerError(
            f"no secret key for subject digests: set {SECRET_KEY_ENV} (at least 16 characters) "
            "or, in Airflow, the connection 'export_gate_secret' (its password is the key)"
        )
    return key.encode()
