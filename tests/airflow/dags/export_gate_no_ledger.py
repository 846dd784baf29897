"""Test DAG: a gate whose ledger connection is not defined, in a deployment that does not allow a local
ledger (tests/airflow/test_ledger_connection.py): it must block, never fall back to a file on the worker."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, task
from export_gate.airflow.operator import ExportGateOperator

DATA = Path(os.environ.get("EXPORT_GATE_TEST_DATA", "/nonexistent"))

with DAG(dag_id="export_gate_no_ledger", schedule=None, start_date=datetime(2025, 1, 1), catchup=False) as dag:

    @task
    def ship() -> None:
        (DATA / "overseas").mkdir(parents=True, exist_ok=True)
        (DATA / "overseas" / "no_ledger.done").write_text("shipped")

    gate = ExportGateOperator(
        task_id="gate",
        source=str(DATA / "personal.parquet"),
        list_id="cn-national-2024",
        handler_id="h-no-ledger",
        subject_keys=["customer_id"],
        ledger_conn_id="export_gate_ledger_nowhere",
        retries=2,
    )
    gate >> ship()
