"""Where the gate keeps its state and where its secrets come from (the environment; the operator adds
Airflow connections on top). Nothing here reads a path relative to the repository."""

from __future__ import annotations

import os
import re
from pathlib import Path

from export_gate.errors import LedgerError

#: Environment variables a deployment sets.
HOME_ENV = "EXPORT_GATE_HOME"
LEDGER_URL_ENV = "EXPORT_GATE_LEDGER_URL"
SECRET_KEY_ENV = "EXPORT_GATE_SECRET_KEY"
#: Keys used before the current one (separated by spaces or commas): ``audit verify`` needs them to check the
#: records chained with them (see docs/security.md, key rotation).
PREVIOUS_KEYS_ENV = "EXPORT_GATE_PREVIOUS_SECRET_KEYS"
#: "1": in Airflow, a gate with no ledger connection may use the SQLite file in the state folder of the worker
#: (a second ledger nobody else reads unless every gate runs on this machine, so it must be asked for).
LOCAL_LEDGER_ENV = "EXPORT_GATE_LOCAL_LEDGER"
#: Seconds a gate waits for another writer's lock on a SQLite ledger before it fails closed (default 120).
LOCK_TIMEOUT_ENV = "EXPORT_GATE_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT_S = 120.0
#: "1": the demo mode, with a fixed, publicly known key (digests made with it protect nothing).
DEMO_ENV = "EXPORT_GATE_DEMO"
DEMO_KEY = b"export-gate-demo-key-public-never-use-in-production"
#: Where the audit chain's head is written after every record, outside the database (see records.anchors).
ANCHORS_FILE = "audit-anchors.log"
MIN_KEY_LENGTH = 16


def home_dir() -> Path:
    """The state folder: ``$EXPORT_GATE_HOME``, else ``~/.export-gate``. Created on first use."""
    home = Path(os.environ.get(HOME_ENV) or Path.home() / ".export-gate").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def local_ledger_url() -> str:
    """The SQLite file ``ledger.db`` in the state folder."""
    return f"sqlite:///{home_dir() / 'ledger.db'}"


def default_ledger_url() -> str:
    """The ledger outside Airflow: ``$EXPORT_GATE_LEDGER_URL``, else the SQLite file in the state folder."""
    return os.environ.get(LEDGER_URL_ENV) or local_ledger_url()


def ledger_origin(url: str) -> str:
    """Where ``url`` came from, for the audit record and the log (so a record written to a worker's local file
    says so)."""
    if url == os.environ.get(LEDGER_URL_ENV):
        return f"${LEDGER_URL_ENV}"
    if url == local_ledger_url():
        return f"the local file in ${HOME_ENV} (no ledger configured)"
    return "configured"


def reports_dir() -> Path:
    """Where the per-export HTML reports are written."""
    path = home_dir() / "reports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def anchors_path() -> Path:
    """The local file the audit chain's head is appended to after every record."""
    return home_dir() / ANCHORS_FILE


def lock_timeout_s() -> float:
    """``$EXPORT_GATE_LOCK_TIMEOUT`` seconds (default 120): the one bounded wait for a busy SQLite ledger."""
    text = os.environ.get(LOCK_TIMEOUT_ENV)
    if not text:
        return DEFAULT_LOCK_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise LedgerError(f"{LOCK_TIMEOUT_ENV}={text!r} is not a positive number of seconds")
    return value


def secret_key_from_env() -> bytes:
    """The key for subject digests. Refuses to guess: digests made with a default key would let anyone
    with the ledger test whether a given phone number or ID was exported."""
    key = optional_secret_key()
    if key is None:
        raise LedgerError(
            f"no secret key for subject digests: set {SECRET_KEY_ENV} (at least {MIN_KEY_LENGTH} characters) "
            "or, in Airflow, the connection 'export_gate_secret' (its password is the key)"
        )
    return key


def optional_secret_key() -> bytes | None:
    """``$EXPORT_GATE_SECRET_KEY`` when it is set and long enough, else the public demo key in the demo mode
    (so the CLI of a demo reads and verifies what its DAGs wrote), else None."""
    key = os.environ.get(SECRET_KEY_ENV, "")
    if len(key) >= MIN_KEY_LENGTH:
        return key.encode()
    return DEMO_KEY if os.environ.get(DEMO_ENV) == "1" else None


def previous_secret_keys() -> list[bytes]:
    """The keys in ``$EXPORT_GATE_PREVIOUS_SECRET_KEYS`` (spaces or commas between them)."""
    text = os.environ.get(PREVIOUS_KEYS_ENV, "")
    keys = [part for part in re.split(r"[\s,]+", text) if part]
    short = [n for n, key in enumerate(keys, start=1) if len(key) < MIN_KEY_LENGTH]
    if short:
        raise LedgerError(
            f"{PREVIOUS_KEYS_ENV}: key {short[0]} is shorter than {MIN_KEY_LENGTH} characters; "
            "separate keys with spaces or commas"
        )
    return [key.encode() for key in keys]
