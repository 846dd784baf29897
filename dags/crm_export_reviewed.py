"""CRM export to the European office under the national rules, with a compliance review of blocks.

Like crm_export_national, the customer file holds sensitive personal information (bank cards, children's
birth dates) and no standard contract is on the gate's filings, so the gate blocks. With ``on_block="review"``
the task does not fail at once: it waits in Airflow's Required Actions view for a reviewer of the deployment
(``[export_gate] approver_roles``). The reviewer reads the decision and the report, then

- rejects: the gate fails and the copy to the European office never runs; or
- approves with a reason and the fact that was missing, e.g. the filing
  ``standard_contract=SC-EU-2025-0042@2025-03-01``: the gate decides again with it (the thresholds still
  apply) and, if it now allows the export, the copy runs.

Who answered, when, why and the new decision are audit records. No answer within a day: the export stays
blocked.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Asset, task
from export_gate.airflow.operator import ExportGateOperator
from overseas import outgoing, ship_overseas

#: Customers in the extract: sensitive information, under the 10,000 people of a security assessment.
CUSTOMERS = 400
EUROPEAN_OFFICE = Asset(name="overseas_european_office_crm", uri="file:///overseas/european-office/crm")

with DAG(
    dag_id="crm_export_reviewed",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["export-gate", "crm", "national", "review"],
    doc_md=__doc__,
):

    @task
    def extract_customers(dag_run=None) -> str:
        """The CRM customer extract, as Parquet (generated sample data for the example)."""
        from export_gate.samples.exports import generate

        folder = outgoing("crm_export_reviewed", dag_run.run_id)
        generate("crm", CUSTOMERS, folder, seed=5)
        return str(folder)

    @task(outlets=[EUROPEAN_OFFICE])
    def send_to_european_office(folder: str, dag_run=None) -> str:
        return ship_overseas(folder, "crm_export_reviewed", dag_run.run_id)

    customers = extract_customers()
    gate = ExportGateOperator(
        task_id="export_gate",
        source=customers,
        list_id="cn-national-2024",
        handler_id="retail-co-europe",
        on_block="review",
        review_timeout=timedelta(days=1),
    )
    gate >> send_to_european_office(customers)
