"""Issue 12 through the command line as an operator and an auditor use it: recording dates, refusals that leave
audit records, one line per error, a locked ledger, anchors, `audit verify` on a read-only copy, and (issue 16)
the CLI reading the Airflow connection export_gate_ledger."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from export_gate.commands.cli import main
from export_gate.records import database as db
from export_gate.records.ledger import Store
from export_gate.settings import anchors_path, home_dir
from gate_data import people, write

RECORD = ["--list", "cn-national-2024", "--subject-key", "customer_id", "--record", "--format", "json"]
LEDGER_DOWN = "postgresql+psycopg://gate:gate@127.0.0.1:9/ledger?connect_timeout=2"
THIS_YEAR = datetime.now(ZoneInfo("Asia/Shanghai")).year
EXPORT_GATE = Path(sys.executable).parent / "export-gate"


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(people(30), tmp_path_factory.mktemp("integrity") / "customers.parquet")


def evaluate(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, dict, str]:
    code = main(["evaluate", *map(str, args)])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_a_recording_as_of_last_year_is_refused_and_audited(capsys, export):
    """Item 4: on the old code `--as-of <last 31 December> --record` exited 0 and counted into last year."""
    code, output, err = evaluate(capsys, export, *RECORD, "--as-of", f"{THIS_YEAR - 1}-12-31")
    assert code == 2
    assert "--as-of" in err and f"counts into the year it runs in ({THIS_YEAR})" in err
    store = Store()
    assert store.handlers() == []  # nothing counted anywhere
    (record,) = store.audit.query()[0]
    assert (record["action"], record["id"]) == ("block", output["audit_id"])
    assert "--as-of" in record["error"]
    code, output, _ = evaluate(capsys, export, *RECORD, "--as-of", f"{THIS_YEAR}-01-01")  # bounded: this year
    assert (code, output["recorded"]) == (0, True)
    assert store.counts("default", THIS_YEAR).personal == 30


def test_a_refusal_for_a_missing_key_leaves_an_audit_record(capsys, export, monkeypatch):
    """Smaller: the operator's refusal was audited, the CLI's was not (no record at all on the old code)."""
    monkeypatch.delenv("EXPORT_GATE_SECRET_KEY")
    code, output, err = evaluate(capsys, export, *RECORD)
    assert code == 2 and "no secret key" in err
    record = Store().audit.get(output["audit_id"])
    assert record["action"] == "block" and "no secret key" in record["error"]
    assert record["chain_key"] is None  # no key to chain it with: verify names it as unkeyed


def test_each_error_is_printed_once(capsys, export):
    """Smaller: the old code printed the ledger failure three times (twice through Python's last-resort log
    handler, once by the command)."""
    code, _, err = evaluate(capsys, export, *RECORD, "--ledger", LEDGER_DOWN)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("export-gate: error:") and "AUDIT RECORD COULD NOT BE WRITTEN" in lines[0]


def test_a_key_mismatch_exits_2_with_the_reason_whatever_the_decision(capsys, export, monkeypatch):
    """Item 5: on the old code a what-if with another key counted everyone again and exited 0."""
    assert evaluate(capsys, export, *RECORD)[0] == 0
    monkeypatch.setenv("EXPORT_GATE_SECRET_KEY", "someone-changed-the-key-0123")
    code = main(["evaluate", str(export), "--list", "cn-national-2024", "--subject-key", "customer_id"])
    assert code == 2
    assert "different secret key" in capsys.readouterr().err


@contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Another process's writer holding the SQLite ledger's write lock."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_locked_ledger_is_one_bounded_wait_then_a_block(capsys, export, monkeypatch, tmp_path):
    """Smaller: the old code waited the 120 s busy timeout, then the failure record waited 120 s more."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Store(url)
    monkeypatch.setenv("EXPORT_GATE_LOCK_TIMEOUT", "1")
    started = time.monotonic()
    with write_lock_held(tmp_path / "ledger.db"):
        code, _, err = evaluate(capsys, export, *RECORD, "--ledger", url)
    elapsed = time.monotonic() - started
    assert code == 2
    assert "database is locked" in err and "EXPORT_GATE_LOCK_TIMEOUT=1 s" in err
    assert elapsed < 30, f"waited {elapsed:.0f} s"
    assert Store(url).handlers() == []


def test_the_head_is_published_outside_the_database_and_checked(capsys, export):
    """Item 6: each record's head goes to the anchor file; `audit head` gives one a reviewer records."""
    code, output, _ = evaluate(capsys, export, *RECORD)
    assert code == 0
    ledger_id = Store().ledger_id()
    assert anchors_path().read_text().split() == [ledger_id, str(output["audit_id"]), output["audit_hash"]]
    assert main(["audit", "head"]) == 0
    head = capsys.readouterr().out.strip()
    assert head == f"{output['audit_id']}:{output['audit_hash']}"
    assert main(["audit", "verify", "--anchor", head]) == 0
    out = capsys.readouterr().out
    (anchors,) = [line for line in out.splitlines() if "anchors:" in line]
    assert "match the chain" in anchors and "--anchor" in anchors and str(anchors_path()) in anchors
    assert "keyed: 1 record(s)" in out and "ledger: 1 of 1 handler-year(s)" in out
    assert main(["audit", "verify", "--anchor", f"{output['audit_id']}:{'f' * 64}"]) == 1
    assert "re-written" in capsys.readouterr().err


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """The folder and its files cannot be written, even by root (chattr +i), as on an auditor's read-only copy."""
    paths = [*folder.iterdir(), folder]
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", *map(str, paths)], check=True)
    else:
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
        else:
            for path in paths:
                path.chmod(0o755 if path.is_dir() else 0o644)


def test_verify_runs_on_a_read_only_copy(capsys, export, tmp_path):
    """Item 8: on the old code opening the copy migrated and switched it to WAL (writes): it failed."""
    assert evaluate(capsys, export, *RECORD)[0] == 0
    for engine in db._ENGINES.values():
        engine.dispose()  # close the gate's connections: the WAL is folded into the file, as in a backup
    copy = tmp_path / "auditor"
    copy.mkdir()
    shutil.copy(home_dir() / "ledger.db", copy / "ledger.db")
    before = (copy / "ledger.db").read_bytes()
    with read_only(copy):
        assert main(["audit", "verify", "--ledger", f"sqlite:///{copy / 'ledger.db'}"]) == 0
    out = capsys.readouterr().out
    assert "opened read-only" in out and "1 records, chain intact" in out
    assert (copy / "ledger.db").read_bytes() == before
    assert sorted(path.name for path in copy.iterdir()) == ["ledger.db"]


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The installed CLI in a fresh process (Airflow reads its configuration from the environment)."""
    return subprocess.run([str(EXPORT_GATE), *args], env=env, capture_output=True, text=True, timeout=300, check=False)


def test_the_cli_reads_the_airflow_ledger_connection(tmp_path, export, capsys):
    """Issue 16: with only the connection export_gate_ledger configured, the old CLI verified an empty local
    ledger it had just created ("0 records, chain intact")."""
    ledger = tmp_path / "deployment-ledger.db"
    url = f"sqlite:///{ledger}"
    assert main(["evaluate", str(export), *RECORD, "--ledger", url]) == 0
    capsys.readouterr()
    home = tmp_path / "cli-home"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "EXPORT_GATE_LEDGER"))}
    env.update(
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        AIRFLOW_CONN_EXPORT_GATE_LEDGER=json.dumps({"conn_type": "sqlite", "host": str(ledger)}),
        EXPORT_GATE_HOME=str(home),
    )
    proc = run_cli(env, "audit", "verify")
    assert proc.returncode == 0, proc.stderr
    assert str(ledger) in proc.stdout and "1 records, chain intact" in proc.stdout
    assert not (home / "ledger.db").exists()
    env["AIRFLOW_CONN_EXPORT_GATE_LEDGER"] = json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "new.db")})
    Store(f"sqlite:///{tmp_path / 'new.db'}")
    proc = run_cli(env, "audit", "verify")
    assert proc.returncode == 1
    assert "EMPTY" in proc.stderr and "intact" not in proc.stdout + proc.stderr


def connections_in(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    script = f"from export_gate.airflow import connections\n{code}"
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)


def test_a_gate_without_a_readable_ledger_connection_fails_closed(tmp_path):
    """Item 3: the old code fell back to a SQLite file on the worker when the connection was missing or could
    not be read. Now only an explicit EXPORT_GATE_LOCAL_LEDGER=1 allows that, and it is logged."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "EXPORT_GATE_LEDGER"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow"), EXPORT_GATE_HOME=str(tmp_path / "worker"))
    probe = "print(connections.ledger_url())"
    missing = connections_in(env, probe)
    assert missing.returncode != 0
    assert "LedgerError" in missing.stderr and "EXPORT_GATE_LOCAL_LEDGER=1" in missing.stderr
    unreadable = connections_in({**env, "AIRFLOW_CONN_EXPORT_GATE_LEDGER": "{not json"}, probe)
    assert unreadable.returncode != 0 and "LedgerError" in unreadable.stderr
    allowed = connections_in({**env, "EXPORT_GATE_LOCAL_LEDGER": "1"}, probe)
    assert allowed.stdout.splitlines()[-1] == f"sqlite:///{tmp_path / 'worker' / 'ledger.db'}"
    assert "using this worker's local ledger" in allowed.stdout + allowed.stderr  # Airflow's log goes to stdout
    postgres = {"conn_type": "postgres", "host": "db", "login": "gate", "password": "pw", "schema": "ledger"}
    configured = connections_in({**env, "AIRFLOW_CONN_EXPORT_GATE_LEDGER": json.dumps(postgres)}, probe)
    assert configured.stdout.splitlines()[-1] == "postgresql+psycopg://gate:pw@db/ledger"
