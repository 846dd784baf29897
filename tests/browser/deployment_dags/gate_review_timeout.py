"""A blocked export whose review nobody answers: after review_timeout the export stays blocked."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, task
from export_gate.airflow.operator import ExportGateOperator
from overseas import outgoing, ship_overseas

with DAG(dag_id="gate_review_timeout", schedule=None, start_date=datetime(2025, 1, 1), catchup=False):

    @task
    def extract(dag_run=None) -> str:
        from export_gate.samples.exports import generate

        folder = outgoing("gate_review_timeout", dag_run.run_id)
        generate("crm", 60, folder, seed=9)
        return str(folder)

    @task
    def ship(folder: str, dag_run=None) -> str:
        return ship_overseas(folder, "gate_review_timeout", dag_run.run_id)

    customers = extract()
    gate = ExportGateOperator(
        task_id="export_gate",
        source=customers,
        list_id="cn-national-2024",
        handler_id="retail-co-timeout",
        on_block="review",
        review_timeout=timedelta(seconds=10),
    )
    gate >> ship(customers)
