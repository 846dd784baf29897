"""ExportGateOperator through a real Airflow (dag.test() on a migrated SQLite metadata database) and a real
ledger: blocked, allowed, annotated, retry, re-run, release, fail closed, canary, OpenLineage.

All DAG runs happen once, in one process (see run_dags.py), and the tests read what they left behind: task
instance states, XCom and asset events in Airflow's database, the ledger and the audit log, the task logs.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from airflow_env import ALT_SECRET, HERE, SECRET, AirflowEnv
from export_gate.errors import LedgerError
from export_gate.people.union import from_mapping
from export_gate.records.filings import add_filing
from export_gate.records.ledger import Store
from export_gate.rules.handler import Filing
from gate_data import CANARY_ID, CANARY_PHONE, about_no_one, canary, people, write

pytestmark = pytest.mark.airflow

RUN_AFTER = "2025-06-01T08:00:00+00:00"
NEXT_DAY = "2025-06-02T08:00:00+00:00"
YEAR = 2025
PEOPLE = 40
ENTITY = "91110000600037341L"


@dataclass(frozen=True)
class Runs:
    env: AirflowEnv
    log: str

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.env.home / "airflow.db")

    def ti(self, task_id: str, dag_id: str = "export_gate_suite") -> tuple[str, int]:
        """(state, try_number) of the task in the last run of the DAG."""
        with self.db() as conn:
            return conn.execute(
                "SELECT state, try_number FROM task_instance WHERE dag_id = ? AND task_id = ? "
                "ORDER BY start_date DESC LIMIT 1",
                (dag_id, task_id),
            ).fetchone()

    def xcom(self, task_id: str) -> dict:
        with self.db() as conn:
            (value,) = conn.execute(
                "SELECT value FROM xcom WHERE dag_id = 'export_gate_suite' AND task_id = ? AND key = 'return_value'",
                (task_id,),
            ).fetchone()
        return json.loads(value)

    def asset_extras(self, uri: str) -> list[dict]:
        with self.db() as conn:
            rows = conn.execute(
                "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.uri = ?", (uri,)
            ).fetchall()
        return [json.loads(extra) for (extra,) in rows]

    def store(self) -> Store:
        return Store(self.env.ledger_url)

    def gate_records(self, task_id: str, dag_id: str = "export_gate_suite") -> list[dict]:
        records, _ = self.store().audit.query(dag_id=dag_id, event="gate", limit=100)
        return sorted((r for r in records if r["task_id"] == task_id), key=lambda r: r["id"])

    def shipped(self, name: str) -> bool:
        return (self.env.data / "overseas" / f"{name}.done").exists()


@pytest.fixture(scope="module")
def runs(airflow_env: AirflowEnv) -> Runs:
    data = airflow_env.data
    write(people(PEOPLE), data / "personal.parquet")
    write(people(PEOPLE, diagnosis=True), data / "sensitive.parquet")
    write(canary(), data / "canary.parquet")
    write(about_no_one(PEOPLE), data / "about_no_one.parquet")
    write(people(PEOPLE, start=PEOPLE // 2), data / "more.parquet")  # half of them also in personal.parquet
    with sqlite3.connect(data / "customers.db") as conn:
        people(PEOPLE, start=500).to_sql("customers", conn, index=False)
    registered = Filing("standard_contract", "SC-REG-1", date(2025, 1, 2), recipients=("Acme Safety GmbH",),
                        scope=("personal", "sensitive"))  # fmt: skip
    add_filing(Store(airflow_env.ledger_url).engine, f"uscc:{ENTITY}", registered)
    specs = [
        f"export_gate_suite@{RUN_AFTER}",
        f"export_gate_rerun@{RUN_AFTER}",
        f"export_gate_rerun@{RUN_AFTER}",  # the same DAG run again
        f"export_gate_rerun@{NEXT_DAY}",  # a new run exporting the same people
    ]
    proc = subprocess.run(
        [sys.executable, str(HERE / "run_dags.py"), *specs],
        env=airflow_env.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
    )
    (airflow_env.home / "run_dags.log").write_text(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert proc.stdout.count("RUN export_gate_") == len(specs), proc.stdout[-5000:]
    return Runs(airflow_env, proc.stdout)


def test_blocked_gate_fails_once_without_retry_and_the_export_does_not_run(runs):
    assert runs.ti("gate_blocked") == ("failed", 1)  # retries=2, yet never retried
    assert runs.ti("ship_blocked")[0] == "upstream_failed"
    assert not runs.shipped("blocked")
    (record,) = runs.gate_records("gate_blocked")
    assert (record["action"], record["mechanism"]) == ("block", "standard_contract_or_certification")
    assert record["counts"]["export"]["sensitive"] == PEOPLE
    assert "Export blocked by Export Gate (list cn-national-2024)" in runs.log
    assert runs.store().counts("h-blocked", YEAR).personal == 0


def test_content_about_no_one_counts_only_with_the_strict_setting(runs):
    """The CLI's --count-unanchored, as the operator's templated count_unanchored: by default health wording on
    rows with nobody counts nobody (allowed, listed in the report); "{{ params.strict }}" counts each such row
    as a person, and without a standard contract the sensitive export is blocked."""
    assert runs.ti("gate_unanchored") == ("success", 1)
    assert runs.shipped("unanchored")
    (lenient,) = runs.gate_records("gate_unanchored")
    assert (lenient["action"], lenient["counts"]["export"]["personal"]) == ("allow", 0)
    assert runs.ti("gate_strict") == ("failed", 1)
    assert not runs.shipped("strict")
    (strict,) = runs.gate_records("gate_strict")
    assert strict["action"] == "block"
    assert strict["counts"]["export"]["personal"] == strict["counts"]["export"]["sensitive"] == PEOPLE
    assert runs.ti("gate_bad_strict")[0] == "failed"
    (refused,) = runs.gate_records("gate_bad_strict")
    assert refused["action"] == "block" and "count_unanchored must be true or false" in refused["error"]


def test_on_block_skip_skips_the_gate_and_its_export(runs):
    assert runs.ti("gate_skip") == ("skipped", 1)
    assert runs.ti("ship_skip")[0] == "skipped"
    assert not runs.shipped("skip")
    (record,) = runs.gate_records("gate_skip")
    assert record["action"] == "block"
    assert record["source"]["uris"] == [f"{runs.env.data}/sensitive.parquet"]  # rendered from the template


def test_allowed_export_runs_and_the_decision_is_in_xcom_and_asset_events(runs):
    assert runs.ti("gate_allowed") == ("success", 1)
    assert runs.ti("ship_allowed") == ("success", 1)
    assert runs.shipped("allowed")
    decision = runs.xcom("gate_allowed")
    assert decision["action"] == "allow"
    assert decision["rule"]["id"] == "personal-under-100k-exempt"
    assert decision["counts"]["export"]["personal"] == PEOPLE
    assert decision["margins"] and decision["obligations"]
    assert decision["reservation"].endswith("/gate_allowed")
    # the chain head after the gate's record is in XCom, outside the ledger database (an anchor for verify)
    assert decision["audit_hash"] == runs.store().audit.get(decision["audit_id"])["hash"]
    for uri in ("file:///overseas/customers-gate", "file:///overseas/customers"):  # the gate's and the export's
        (extra,) = runs.asset_extras(uri)
        assert extra["export_gate"]["action"] == "allow"
        assert extra["export_gate"]["audit_id"] == decision["audit_id"]
    assert runs.store().reservation_counts("h-allowed", YEAR)["confirmed"] == 1


def test_a_table_source_is_not_stored_in_the_rendered_fields(runs):
    """Airflow keeps and shows each task's rendered template fields; a table there would be raw rows."""
    with runs.db() as conn:
        (fields,) = conn.execute(
            "SELECT rendered_fields FROM rendered_task_instance_fields WHERE task_id = 'gate_allowed'"
        ).fetchone()
    assert json.loads(fields)["source"] == "<table from an upstream task>"
    assert "13800000000" not in fields  # the first person's mobile


def test_annotated_export_names_the_filing_it_relied_on(runs):
    assert runs.ti("ship_annotated") == ("success", 1)
    decision = runs.xcom("gate_annotated")
    assert (decision["action"], decision["mechanism"]) == ("annotate", "standard_contract_or_certification")
    assert [f["reference"] for f in decision["filings_used"]] == ["SC-2025-001"]
    assert runs.store().counts("h-annotated", YEAR).sensitive == PEOPLE


def test_a_filing_on_the_entitys_register_covers_the_export_to_its_recipient(runs):
    assert runs.ti("ship_registered") == ("success", 1)
    decision = runs.xcom("gate_registered")
    assert decision["action"] == "annotate"
    assert [(f["reference"], f["origin"]) for f in decision["filings_used"]] == [("SC-REG-1", "register")]
    (record,) = runs.gate_records("gate_registered")
    assert (record["recipient"], record["entity"]) == ("Acme Safety GmbH", f"uscc:{ENTITY}")
    assert runs.store().counts(f"uscc:{ENTITY}", YEAR).sensitive == PEOPLE  # the entity's ledger, not the id's
    assert runs.store().counts("h-registered", YEAR).personal == 0


def test_an_invalid_unified_social_credit_code_fails_closed_with_an_audit_record(runs):
    assert runs.ti("gate_bad_uscc")[0] == "failed"
    assert runs.ti("ship_bad_uscc")[0] == "upstream_failed"
    (record,) = runs.gate_records("gate_bad_uscc")
    assert record["action"] == "block" and "check character" in record["error"]


def test_a_retried_gate_counts_nobody_twice(runs):
    assert runs.ti("gate_retry") == ("success", 2)
    assert [r["try_number"] for r in runs.gate_records("gate_retry")] == [1, 2]
    assert runs.store().counts("h-retry", YEAR).personal == PEOPLE
    assert runs.store().reservation_counts("h-retry", YEAR) == {"pending": 0, "confirmed": 1, "released": 0}


def test_a_failed_export_releases_its_reservation(runs):
    assert runs.ti("gate_release") == ("success", 1)
    assert runs.ti("ship_fails")[0] == "failed"
    assert runs.store().counts("h-release", YEAR).personal == 0
    assert runs.store().reservation_counts("h-release", YEAR)["released"] == 1
    releases, _ = runs.store().audit.query(event="release", limit=10)
    assert [r["reservation"].rsplit("/", 1)[-1] for r in releases] == ["gate_release"]


def test_a_rerun_of_the_same_dag_run_and_a_new_run_count_nobody_twice(runs):
    records = runs.gate_records("gate", dag_id="export_gate_rerun")
    assert len(records) == 3
    # the first run's export was confirmed, so the re-run of the same DAG run adds a reservation (KEY#2)
    # instead of replacing history (issue 12 item 1); the same people are still counted once
    assert records[1]["reservation"] == records[0]["reservation"] + "#2"
    assert records[2]["reservation"] not in (records[0]["reservation"], records[1]["reservation"])
    assert [r["counts"]["ytd_after"]["personal"] for r in records] == [PEOPLE] * 3
    assert runs.store().counts("h-rerun", YEAR).personal == PEOPLE
    assert runs.store().reservation_counts("h-rerun", YEAR) == {"pending": 0, "confirmed": 3, "released": 0}


@pytest.mark.parametrize(
    ("name", "error"),
    [("missing_source", "InputError"), ("unknown_list", "ListError"), ("timeout", "timeout during scan")],
)
def test_fail_closed_blocks_the_export_with_an_audit_record(runs, name, error):
    assert runs.ti(f"gate_{name}") == ("failed", 1)
    assert runs.ti(f"ship_{name}")[0] == "upstream_failed"
    assert not runs.shipped(name)
    (record,) = runs.gate_records(f"gate_{name}")
    assert record["action"] == "block"
    assert error in record["error"]


def test_ledger_database_down_blocks_and_says_the_audit_record_is_missing(runs):
    assert runs.ti("gate_db_down") == ("failed", 1)
    assert runs.ti("ship_db_down")[0] == "upstream_failed"
    assert "EXPORT GATE COULD NOT WRITE ITS AUDIT RECORD" in runs.log
    assert runs.gate_records("gate_db_down") == []


def test_a_mapped_gate_reserves_per_map_index_and_its_export_confirms_all(runs):
    records = runs.gate_records("gate_mapped")
    assert sorted(r["reservation"].rsplit("/", 1)[-1] for r in records) == ["0", "1"]
    assert runs.ti("ship_mapped") == ("success", 1)
    assert runs.store().counts("h-mapped", YEAR).personal == PEOPLE * 3 // 2  # union of the two exports
    assert runs.store().reservation_counts("h-mapped", YEAR) == {"pending": 0, "confirmed": 2, "released": 0}


def test_gates_in_a_row_are_confirmed_by_the_export_after_the_last(runs):
    assert runs.ti("ship_chain") == ("success", 1)
    for handler in ("h-chain-1", "h-chain-2"):
        assert runs.store().reservation_counts(handler, YEAR) == {"pending": 0, "confirmed": 1, "released": 0}


def test_sql_source_is_streamed_in_chunks_through_the_connection_hook(runs):
    assert runs.ti("ship_sql") == ("success", 1)
    (record,) = runs.gate_records("gate_sql")
    assert record["source"]["uris"] == ["sql:export_gate_test_db"]
    assert record["report"]["rows"] == PEOPLE  # three chunks of 15, 15 and 10 rows
    assert runs.store().counts("h-sql", YEAR).personal == PEOPLE


@pytest.mark.parametrize("name", ["asset", "object_storage"])
def test_asset_uri_and_object_storage_path_sources(runs, name):
    assert runs.ti(f"ship_{name}") == ("success", 1)
    (record,) = runs.gate_records(f"gate_{name}")
    assert record["source"]["uris"] == [str(runs.env.data / "personal.parquet")]
    assert runs.store().counts(f"h-{name}", YEAR).personal == PEOPLE


def test_secret_key_and_ledger_come_from_airflow_connections(runs):
    """The gate with secret_conn_id/ledger_conn_id recorded in the connection's ledger, with the connection's
    key: that ledger accepts the connection's key and refuses the environment's."""
    assert runs.ti("ship_connections") == ("success", 1)
    assert runs.gate_records("gate_connections") == []
    assert runs.store().counts("h-connections", YEAR).personal == 0
    alt_url = f"sqlite:///{runs.env.alt_ledger}"
    assert Store(alt_url).counts("h-connections", YEAR).personal == PEOPLE
    probe = from_mapping({bytes(16): 1})
    with Store(alt_url, secret_key=ALT_SECRET.encode()).transaction("probe", YEAR) as tx:
        tx.reserve("probe/ok", probe)
    refused = Store(alt_url, secret_key=SECRET.encode())
    with pytest.raises(LedgerError, match="different secret key"), refused.transaction("probe", YEAR) as tx:
        tx.reserve("probe/refused", probe)


def test_the_audit_chain_of_all_runs_verifies(runs):
    result = Store(runs.env.ledger_url, secret_key=SECRET.encode()).verify()  # the chain is keyed with the gates' key
    assert result.ok, result.reason
    assert "chain head" in runs.log  # each head is in the task log, to record outside the database


def test_planted_canary_never_leaves_the_scanner(runs):
    (record,) = runs.gate_records("gate_canary")
    found = record["report"]["columns"]["id_number"]["entities"]
    assert sum(found.values()) >= 1, "the canary ID was not even detected: the check below would prove nothing"
    places = {
        "task logs": runs.log.encode(),
        "Airflow database (XCom, asset events, rendered fields)": _file_bytes(runs.env.home / "airflow.db"),
        "ledger and audit database": _file_bytes(runs.env.gate_home / "ledger.db"),
        "OpenLineage events": _file_bytes(runs.env.home.parent / "lineage.jsonl"),
    }
    places.update({f"log file {p}": p.read_bytes() for p in (runs.env.home / "logs").rglob("*") if p.is_file()})
    places.update({f"report {p.name}": p.read_bytes() for p in (runs.env.gate_home / "reports").glob("*.html")})
    for value in (CANARY_ID, CANARY_ID.lower(), CANARY_PHONE, CANARY_PHONE[3:]):
        for place, content in places.items():
            assert value.encode() not in content, f"canary {value[:4]}... found in {place}"


def test_openlineage_run_facet_carries_the_decision(runs):
    events = [json.loads(line) for line in (runs.env.home.parent / "lineage.jsonl").read_text().splitlines()]
    facets = [
        e["run"]["facets"]["exportGate"]
        for e in events
        if e["job"]["name"].endswith(".gate_allowed") and "exportGate" in e["run"]["facets"]
    ]
    assert facets and facets[-1]["action"] == "allow"
    assert facets[-1]["ruleId"] == "personal-under-100k-exempt"


def _file_bytes(path: Path) -> bytes:
    """A SQLite file with its write-ahead log, if any."""
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
