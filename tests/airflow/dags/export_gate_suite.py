"""Test DAG: every way a gate run can end, in one DAG run so Presidio loads once (tests/airflow/test_operator.py).

Each branch has its own data handler, so their ledger counts never mix. The data files are written by the
test fixture into $EXPORT_GATE_TEST_DATA before the run; the "overseas" folder receives a marker per export
that ran.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, Asset, ObjectStoragePath, task
from airflow.sdk.exceptions import AirflowException
from export_gate.airflow.operator import ExportGateOperator, watch_export

DATA = Path(os.environ.get("EXPORT_GATE_TEST_DATA", "/nonexistent"))
NATIONAL = "cn-national-2024"
ALLOWED_ASSET = Asset(name="gate_allowed_decision", uri="file:///overseas/customers-gate")
EXPORTED_ASSET = Asset(name="overseas_customers", uri="file:///overseas/customers")
CANARY_ASSET = Asset(name="overseas_canary", uri="file:///overseas/canary")
#: A query that never ends: the task's execution_timeout has to stop the gate.
ENDLESS = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT 'C' || i AS customer_id FROM n"


class FlakyGate(ExportGateOperator):
    """A gate whose first try dies after it reserved (as a killed worker would): the retry must not count twice."""

    def execute(self, context):
        result = super().execute(context)
        if context["ti"].try_number == 1:
            raise AirflowException("simulated crash after the reservation")
        return result


def _ship(name: str) -> None:
    overseas = DATA / "overseas"
    overseas.mkdir(parents=True, exist_ok=True)
    (overseas / f"{name}.done").write_text("shipped")


with DAG(
    dag_id="export_gate_suite",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    default_args={"retry_delay": timedelta(seconds=0)},
    params={"data": str(DATA), "strict": True},
) as dag:

    @task
    def load_customers():
        import pandas as pd

        return pd.read_parquet(DATA / "personal.parquet")

    @task
    def ship(name: str) -> None:
        _ship(name)

    @task(retries=0)
    def ship_fails() -> None:
        raise AirflowException("the overseas endpoint refused the upload")

    common = {"list_id": NATIONAL, "subject_keys": ["customer_id"]}

    # allowed: a table from an upstream task (XCom), personal information only, under 100,000 people
    allowed = ExportGateOperator(
        task_id="gate_allowed", source=load_customers(), handler_id="h-allowed", outlets=[ALLOWED_ASSET], **common
    )
    allowed >> ship.override(task_id="ship_allowed", outlets=[EXPORTED_ASSET])("allowed")

    # blocked: sensitive information without a standard contract on file; retries must not be used
    blocked = ExportGateOperator(
        task_id="gate_blocked", source=str(DATA / "sensitive.parquet"), handler_id="h-blocked", retries=2, **common
    )
    blocked >> ship.override(task_id="ship_blocked")("blocked")

    # on_block="skip": the same block skips the gate and its export instead of failing; the source is templated
    skipping = ExportGateOperator(
        task_id="gate_skip",
        source="{{ params.data }}/sensitive.parquet",
        handler_id="h-skip",
        on_block="skip",
        **common,
    )
    skipping >> ship.override(task_id="ship_skip")("skip")

    # annotated: the same data with the standard contract on file
    annotated = ExportGateOperator(
        task_id="gate_annotated",
        source=str(DATA / "sensitive.parquet"),
        handler_id="h-annotated",
        filings=["standard_contract=SC-2025-001@2025-01-02"],
        **common,
    )
    annotated >> ship.override(task_id="ship_annotated")("annotated")

    # the entity's register: a filing registered for this recipient covers the export; a mistyped unified social
    # credit code fails closed before anything is scanned
    registered = ExportGateOperator(
        task_id="gate_registered",
        source=str(DATA / "sensitive.parquet"),
        handler_id="h-registered",
        uscc="91110000600037341L",
        recipient="Acme Safety GmbH",
        **common,
    )
    registered >> ship.override(task_id="ship_registered")("registered")
    bad_code = ExportGateOperator(
        task_id="gate_bad_uscc",
        source=str(DATA / "sensitive.parquet"),
        handler_id="h-bad-uscc",
        uscc="91110000600037341K",
        **common,
    )
    bad_code >> ship.override(task_id="ship_bad_uscc")("bad_uscc")

    # health wording on rows about no one: listed, not counted, unless the strict setting (templated) counts it;
    # a setting that is neither true nor false fails closed
    for name, strict in {"unanchored": False, "strict": "{{ params.strict }}", "bad_strict": "sometimes"}.items():
        gate = ExportGateOperator(
            task_id=f"gate_{name}",
            source=str(DATA / "about_no_one.parquet"),
            handler_id=f"h-{name}",
            list_id=NATIONAL,
            count_unanchored=strict,
        )
        gate >> ship.override(task_id=f"ship_{name}")(name)

    # retry: the first try reserves and dies; the second try replaces the reservation
    retried = FlakyGate(
        task_id="gate_retry", source=str(DATA / "personal.parquet"), handler_id="h-retry", retries=1, **common
    )
    retried >> ship.override(task_id="ship_retry")("retry")

    # the export fails for good: its reservation is released
    released = ExportGateOperator(
        task_id="gate_release", source=str(DATA / "personal.parquet"), handler_id="h-release", **common
    )
    released >> ship_fails()

    # canary: a planted ID number and phone that must never leave the scanner
    canary = ExportGateOperator(
        task_id="gate_canary",
        source=str(DATA / "canary.parquet"),
        handler_id="h-canary",
        outlets=[CANARY_ASSET],
        list_id=NATIONAL,
    )
    canary >> ship.override(task_id="ship_canary")("canary")

    # other sources: a SQL query streamed in chunks through a connection's common-sql hook, an Asset's URI, an
    # ObjectStoragePath; and the secret key and ledger from Airflow connections instead of the environment
    for name, overrides in {
        "sql": {
            "sql": "SELECT * FROM customers ORDER BY customer_id",
            "conn_id": "export_gate_test_db",
            "chunk_rows": 15,
        },
        "asset": {"source": Asset(name="outgoing_customers", uri=f"file://{DATA / 'personal.parquet'}")},
        "object_storage": {"source": ObjectStoragePath(f"file://{DATA / 'personal.parquet'}")},
        "connections": {
            "source": str(DATA / "personal.parquet"),
            "secret_conn_id": "export_gate_secret_alt",
            "ledger_conn_id": "export_gate_ledger_alt",
        },
    }.items():
        gate = ExportGateOperator(task_id=f"gate_{name}", handler_id=f"h-{name}", **{**common, **overrides})
        gate >> ship.override(task_id=f"ship_{name}")(name)

    # two gates in a row (e.g. two lists): the export after the second confirms both
    first = ExportGateOperator(
        task_id="gate_chain_first", source=str(DATA / "personal.parquet"), handler_id="h-chain-1", **common
    )
    second = ExportGateOperator(
        task_id="gate_chain_second", source=str(DATA / "personal.parquet"), handler_id="h-chain-2", **common
    )
    first >> second >> ship.override(task_id="ship_chain")("chain")

    # a mapped gate: one reservation per map index; its export is watched explicitly
    mapped = ExportGateOperator.partial(task_id="gate_mapped", handler_id="h-mapped", **common).expand(
        source=[str(DATA / "personal.parquet"), str(DATA / "more.parquet")]
    )
    shipped_mapped = ship.override(task_id="ship_mapped")("mapped")
    mapped >> shipped_mapped
    watch_export(shipped_mapped.operator)

    # fail closed: an unreadable source, an unknown list, a ledger database that is down, a timeout
    for name, overrides in {
        "missing_source": {"source": str(DATA / "no-such-file.parquet")},
        "unknown_list": {"source": str(DATA / "personal.parquet"), "list_id": "no-such-list"},
        "db_down": {"source": str(DATA / "personal.parquet"), "ledger_conn_id": "export_gate_ledger_down"},
        "timeout": {"sql": ENDLESS, "conn_id": "export_gate_test_db", "execution_timeout": timedelta(seconds=5)},
    }.items():
        gate = ExportGateOperator(task_id=f"gate_{name}", handler_id=f"h-{name}", retries=2, **{**common, **overrides})
        gate >> ship.override(task_id=f"ship_{name}")(name)
