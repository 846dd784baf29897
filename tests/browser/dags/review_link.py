"""Browser-test DAG: one gate in front of one export, so the Airflow UI shows the gate's "Export gate report"
extra link (the data file is written by the test fixture into $EXPORT_GATE_TEST_DATA before the run)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, task
from export_gate.airflow.operator import ExportGateOperator

DATA = Path(os.environ.get("EXPORT_GATE_TEST_DATA", "/nonexistent"))

with DAG(dag_id="review_link", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):

    @task
    def ship() -> None:
        (DATA / "shipped").write_text("shipped")

    gate = ExportGateOperator(
        task_id="gate",
        source=str(DATA / "personal.parquet"),
        list_id="cn-national-2024",
        handler_id="link-handler",
        subject_keys=["customer_id"],
    )
    gate >> ship()
