"""Daily pharmacovigilance case export from a Shanghai FTZ drug company to its overseas safety database.

The company is registered in the Shanghai FTZ, so the Shanghai FTZ and Lingang negative list (2024 edition)
applies. In its pharmacovigilance scenario the security assessment threshold for sensitive personal information
is 100,000 people (Xinhua, 2025-09-17), so up to 2026-04-23 this export of adverse-event cases (patients' health
data, reporters' contact details) is allowed well past the national 10,000 threshold. From 2026-04-24 the
city-wide 2025 edition supersedes that list and names no pharmaceutical sector, so a run dated then is blocked:
the gate refuses the superseded edition and names the one in force. Each case names two people: the patient and
the reporter.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Asset, task
from export_gate.airflow.operator import ExportGateOperator
from overseas import outgoing, ship_overseas

#: Adverse-event cases per run: more than 12,000 patients with health data (past the national 10,000
#: threshold), small enough for a demo of a minute or two.
CASES = 22_000
SAFETY_DATABASE = Asset(name="overseas_safety_database", uri="file:///overseas/safety-database/cases")

with DAG(
    dag_id="pv_case_export_shanghai",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["export-gate", "pharmacovigilance", "shanghai-ftz"],
    doc_md=__doc__,
):

    @task
    def extract_cases(dag_run=None) -> str:
        """Today's adverse-event cases, as Parquet files (generated sample data for the example)."""
        from export_gate.samples.exports import generate

        folder = outgoing("pv_case_export_shanghai", dag_run.run_id)
        generate("ae_cases", CASES, folder, seed=7, files=2)
        return str(folder)

    @task(outlets=[SAFETY_DATABASE])
    def send_to_safety_database(folder: str, dag_run=None) -> str:
        return ship_overseas(folder, "pv_case_export_shanghai", dag_run.run_id)

    cases = extract_cases()
    gate = ExportGateOperator(
        task_id="export_gate",
        source=cases,
        list_id="shanghai-ftz-2024",
        scenario="pharmacovigilance",
        handler_id="shanghai-pharma-co",
        zone="shanghai-ftz",
        subject_keys=["patient_id", "reporter_id"],
    )
    gate >> send_to_safety_database(cases)
