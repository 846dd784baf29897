"""Monthly reinsurance cession export from a Shanghai FTZ insurer to its overseas reinsurer.

The cession file holds the insured persons' names, ID numbers, bank cards for payouts and diagnoses: sensitive
personal information. The Shanghai FTZ list's reinsurance scenario falls back to the national thresholds
(fewer than 10,000 people with sensitive information: a standard contract), and the insurer's standard contract
is on file, so the export is allowed and annotated with that obligation.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Asset, task
from export_gate.airflow.operator import ExportGateOperator
from overseas import outgoing, ship_overseas

#: Ceded policies per month.
POLICIES = 3_000
REINSURER = Asset(name="overseas_reinsurer", uri="file:///overseas/reinsurer/cessions")

with DAG(
    dag_id="reinsurance_cession_export",
    schedule="@monthly",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["export-gate", "reinsurance", "shanghai-ftz"],
    doc_md=__doc__,
):

    @task
    def extract_cessions(dag_run=None) -> str:
        """This month's ceded policies, as a CSV file (generated sample data for the example)."""
        from export_gate.samples.exports import generate

        folder = outgoing("reinsurance_cession_export", dag_run.run_id)
        generate("insurance", POLICIES, folder, seed=11, fmt="csv")
        return str(folder)

    @task(outlets=[REINSURER])
    def send_to_reinsurer(folder: str, dag_run=None) -> str:
        return ship_overseas(folder, "reinsurance_cession_export", dag_run.run_id)

    cessions = extract_cessions()
    gate = ExportGateOperator(
        task_id="export_gate",
        source=cessions,
        list_id="shanghai",  # the Shanghai list's edition in force on the run's date (2024 FTZ, 2025 city-wide)
        scenario="reinsurance",
        handler_id="shanghai-insurance-co",
        zone="shanghai-ftz",
        subject_keys=["insured_no"],
        filings=["standard_contract=SH-SC-2025-0117@2025-01-15"],
    )
    gate >> send_to_reinsurer(cessions)
