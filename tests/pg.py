"""Ledger databases for the tests (pytest plugin: ``pytest_plugins = ["pg"]`` in a test module): a throwaway
PostgreSQL server, a fresh database on it per test, and ``ledger_url`` that runs a test on SQLite and PostgreSQL.

The server is started once per test session (per xdist worker) from Debian's postgresql package in a temporary
directory on a free loopback port, and stopped at the end. initdb refuses to run as root, so as root the server
runs as the ``postgres`` OS user. If the server cannot start, every PostgreSQL test fails with the reason: a
ledger that is only tested on SQLite is not tested for production. ``throwaway_server`` is the same server for
scripts (benchmarks/bench_ledger.py --postgres-server).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest


class PostgresServer:
    """A running cluster; ``database()`` creates a fresh empty database and returns its SQLAlchemy URL."""

    def __init__(self, port: int) -> None:
        self.port = port

    def admin_url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def database(self) -> str:
        name = f"eg_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


class ServerError(RuntimeError):
    """The throwaway server could not be started or stopped (the message says why)."""


def _binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise ServerError(
            f"PostgreSQL server binary {name!r} not found under /usr/lib/postgresql/*/bin: "
            "install Debian's postgresql package (apt-get install -y postgresql)"
        )
    return found[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(command: list[str]) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    result = subprocess.run(prefix + command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise ServerError(
            f"could not start the test PostgreSQL server: {' '.join(command[:2])} exited {result.returncode}: "
            f"{(result.stderr or result.stdout).strip()[-800:]}"
        )


@contextmanager
def throwaway_server() -> Iterator[PostgresServer]:
    """Start a cluster in a temporary directory (fsync off: it is thrown away), stop and delete it after."""
    base = Path(tempfile.mkdtemp(prefix="export-gate-pg-"))
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    _run([_binary("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    _run([_binary("pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "server.log"), "-w", "start"])
    try:
        yield PostgresServer(port)
    finally:
        _run([_binary("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's server; every PostgreSQL test fails with the reason if it cannot start."""
    try:
        with throwaway_server() as server:
            yield server
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server."""
    return postgres_server.database()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh empty ledger database: a SQLite file, then a database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("postgres_url"))
