"""Issue 12 item 3 through a real Airflow: a gate whose ledger connection is missing (or whose secrets backend
did not answer) blocks the export, without retry, and says the audit record could not be written; it never
records into a SQLite file on the worker, which nobody else would read."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
from airflow_env import HERE, AirflowEnv
from gate_data import people, write

pytestmark = pytest.mark.airflow

RUN_AFTER = "2025-06-01T08:00:00+00:00"


def test_a_gate_without_its_ledger_connection_blocks_and_keeps_no_local_ledger(airflow_env: AirflowEnv, tmp_path):
    write(people(10), airflow_env.data / "personal.parquet")
    worker_home = tmp_path / "worker-state"
    env = {key: value for key, value in airflow_env.env.items() if key != "EXPORT_GATE_LOCAL_LEDGER"}
    env["EXPORT_GATE_HOME"] = str(worker_home)
    proc = subprocess.run(
        [sys.executable, str(HERE / "run_dags.py"), f"export_gate_no_ledger@{RUN_AFTER}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-5000:]
    with sqlite3.connect(airflow_env.home / "airflow.db") as conn:
        states = dict(
            conn.execute(
                "SELECT task_id, state || '/' || try_number FROM task_instance WHERE dag_id = 'export_gate_no_ledger'"
            ).fetchall()
        )
    assert states == {"gate": "failed/1", "ship": "upstream_failed/0"}  # blocked, never retried; never ran
    assert "COULD NOT WRITE ITS AUDIT RECORD" in proc.stdout
    assert "export_gate_ledger_nowhere' is not defined" in proc.stdout
    assert not (worker_home / "ledger.db").exists()
    assert not (airflow_env.data / "overseas" / "no_ledger.done").exists()
