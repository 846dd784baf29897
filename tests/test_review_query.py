"""The review page's audit-log queries on SQLite and PostgreSQL: substring filters in any case (with the
user's % and _ taken literally), the rule id and the export's date read from the record's JSON, sorting by
the people in an export, and the gate record a confirm names."""

from __future__ import annotations

import csv
import io

import pytest
from export_gate.airflow.web import query
from export_gate.airflow.web.download import csv_chunks
from export_gate.records.ledger import Store
from review_records import decision_record, error_record

pytest_plugins = ["pg"]


@pytest.fixture
def store(ledger_url: str) -> Store:
    store = Store(ledger_url)
    records = [
        decision_record(run_id="scheduled__A_1", export=300, as_of="2026-03-02T00:00:00+00:00", reservation="r1"),
        decision_record(run_id="scheduled__B%2", export=900, as_of="2026-04-02T00:00:00+00:00", dag_id="CRM_Export"),
        decision_record(run_id="manual__C", export=50, as_of="2026-05-02T00:00:00+00:00", rule_id="n.personal.100k"),
        error_record(),
        {"event": "confirm", "reservation": "r1", "dag_id": "pv", "run_id": "scheduled__A_1", "task_id": "ship"},
    ]
    for record in records:
        store.append_audit(record)
    return store


def ids(store: Store, **kwargs: object) -> list[int]:
    text = {k: v for k, v in kwargs.items() if k in query.TEXT_FILTERS}
    rest = {k: v for k, v in kwargs.items() if k not in query.TEXT_FILTERS}
    found, _ = query.page(store.engine, query.Query(text, **rest), limit=50, offset=0)  # type: ignore[arg-type]
    return [r["id"] for r in found]


def test_text_filters_match_any_part_in_any_case(store):
    assert ids(store, dag_id="crm_EXPORT") == [4, 2]
    assert ids(store, run_id="B%") == [2]  # % is the user's character, not a wildcard
    assert ids(store, run_id="_A_") == [5, 1]  # and so is _
    assert ids(store, rule_id="PERSONAL.100") == [3]
    assert ids(store, task_id="ship") == [5]


def test_export_date_range_and_sorting(store):
    assert ids(store, since="2026-03-15", until="2026-04-30") == [2]
    assert ids(store, sort="people")[:3] == [2, 1, 3]  # 900, 300, 50 people; uncounted records after
    assert ids(store, sort="oldest") == [1, 2, 3, 4, 5]
    # records without an export date (the failed gate, the confirm) count at the time they were written: today
    assert ids(store, sort="export_date") == [5, 4, 3, 2, 1]


def test_a_confirm_names_its_gate_record_on_the_page_and_in_the_csv(store):
    found, _ = query.page(store.engine, query.Query({}), limit=50, offset=0)
    assert query.gate_records_of(store.engine, found) == {5: 1}
    text = "".join(csv_chunks(store.engine, query.Query({}, event="confirm")))
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [(r["id"], r["gate_record"]) for r in rows] == [("5", "1")]  # looked up: the filter left it out
