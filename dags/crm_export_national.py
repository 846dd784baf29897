"""CRM export to the overseas headquarters under the national rules (CAC Order No. 16).

The customer file holds birth dates of children under 14 and bank cards: sensitive personal information. The
national rules require a standard contract (or certification) from the first person with sensitive
information, and none is on file, so the gate blocks the export and the copy to headquarters never runs.
To proceed, file the standard contract with the provincial CAC and add it to the gate's ``filings``.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Asset, task
from export_gate.airflow.operator import ExportGateOperator
from overseas import outgoing, ship_overseas

#: Customers in the weekly CRM extract.
CUSTOMERS = 5_000
HEADQUARTERS = Asset(name="overseas_headquarters_crm", uri="file:///overseas/headquarters/crm")

with DAG(
    dag_id="crm_export_national",
    schedule="@weekly",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["export-gate", "crm", "national"],
    doc_md=__doc__,
):

    @task
    def extract_customers(dag_run=None) -> str:
        """The CRM customer extract, as JSON Lines (generated sample data for the example)."""
        from export_gate.samples.exports import generate

        folder = outgoing("crm_export_national", dag_run.run_id)
        generate("crm", CUSTOMERS, folder, seed=3, fmt="jsonl")
        return str(folder)

    @task(outlets=[HEADQUARTERS])
    def send_to_headquarters(folder: str, dag_run=None) -> str:
        return ship_overseas(folder, "crm_export_national", dag_run.run_id)

    customers = extract_customers()
    gate = ExportGateOperator(
        task_id="export_gate",
        source=customers,
        list_id="cn-national-2024",
        handler_id="retail-co",
    )
    gate >> send_to_headquarters(customers)
