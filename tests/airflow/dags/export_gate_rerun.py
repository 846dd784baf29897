"""Test DAG: one gate and its export, run again as the same DAG run (same run_id) and as a new run of the same
people (tests/airflow/test_operator.py): nobody may be counted twice."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, task
from export_gate.airflow.operator import ExportGateOperator

DATA = Path(os.environ.get("EXPORT_GATE_TEST_DATA", "/nonexistent"))

with DAG(dag_id="export_gate_rerun", schedule=None, start_date=datetime(2025, 1, 1), catchup=False) as dag:

    @task
    def ship() -> None:
        (DATA / "overseas").mkdir(parents=True, exist_ok=True)
        (DATA / "overseas" / "rerun.done").write_text("shipped")

    gate = ExportGateOperator(
        task_id="gate",
        source=str(DATA / "personal.parquet"),
        list_id="cn-national-2024",
        handler_id="h-rerun",
        subject_keys=["customer_id"],
    )
    gate >> ship()
