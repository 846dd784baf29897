"""The gate engine (run_gate): fail closed with an audit record, deterministic, and exact when several gates run
at once in separate processes on one ledger."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from export_gate.errors import LedgerError
from export_gate.gate import GateRequest, RunIdentity, finish_reservation, run_gate
from export_gate.model import ExportSubjects
from export_gate.people.digest import BLAKE2B, HMAC_SHA256, SubjectHasher
from export_gate.reading.sources import PathSource, TableSource
from export_gate.records import database as db
from export_gate.records.ledger import Store
from export_gate.rules.handler import Handler, parse_filing
from export_gate.settings import default_ledger_url
from gate_data import people, write

AS_OF = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
KEY = b"gate-test-secret-key-0123456789"
CONTRACT = parse_filing("standard_contract=SC-2025-001@2025-01-02")
LEDGER_DOWN = "postgresql+psycopg://gate:gate@127.0.0.1:9/ledger?connect_timeout=2"


def request(source, **overrides) -> GateRequest:
    options = {
        "source": source,
        "list_id": "cn-national-2024",
        "handler": Handler("acme"),
        "as_of": AS_OF,
        "subject_keys": ("customer_id",),
        "secret_key": KEY,
        "reservation": "dag/run/gate",
        "run": RunIdentity("dag", "run", "gate", 1),
    }
    return GateRequest(**{**options, **overrides})


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("gate")
    return {
        "personal": write(people(40), folder / "personal.parquet"),
        "sensitive": write(people(40, diagnosis=True), folder / "sensitive.parquet"),
    }


def test_allowed_export_reserves_pending_and_confirm_keeps_it(files):
    outcome = run_gate(request(PathSource((str(files["personal"]),))))
    assert outcome.action == "allow"
    assert outcome.reservation == "dag/run/gate"
    store = Store()
    assert store.reservation_counts("acme", 2025)["pending"] == 1
    assert store.counts("acme", 2025).personal == 40
    finish_reservation("dag/run/gate", succeeded=True)
    assert store.reservation_counts("acme", 2025)["confirmed"] == 1
    events = [r["event"] for r in store.audit.query(limit=10)[0]]
    assert sorted(events) == ["confirm", "gate"]


def test_retry_replaces_the_reservation_and_release_uncounts(files):
    for try_number in (1, 2):
        run = RunIdentity("dag", "run", "gate", try_number)
        assert run_gate(request(PathSource((str(files["personal"]),)), run=run)).action == "allow"
    store = Store()
    assert store.counts("acme", 2025).personal == 40
    assert store.reservation_counts("acme", 2025) == {"pending": 1, "confirmed": 0, "released": 0}
    finish_reservation("dag/run/gate", succeeded=False)
    assert store.counts("acme", 2025).personal == 0


def test_blocked_export_reserves_nothing(files):
    outcome = run_gate(request(PathSource((str(files["sensitive"]),))))
    assert outcome.action == "block"
    assert outcome.error is None
    assert outcome.reservation is None
    assert "standard" in outcome.message.lower()
    store = Store()
    assert store.counts("acme", 2025).sensitive == 0
    record = store.audit.get(outcome.audit_id)
    assert (record["action"], record["rule_id"], record["reservation"]) == ("block", outcome.record["rule_id"], None)
    assert record["counts"]["export"]["sensitive"] == 40


def test_same_data_same_ledger_same_decision(files):
    """Deterministic: a preview twice on the same ledger state gives the same decision, field for field."""
    source = PathSource((str(files["sensitive"]),))
    first = run_gate(request(source, reservation=None, audit=False, filings=(CONTRACT,)))
    second = run_gate(request(source, reservation=None, audit=False, filings=(CONTRACT,)))
    assert first.action == "annotate"
    assert first.decision.to_dict() == second.decision.to_dict()
    assert first.report["source_fingerprint"] == second.report["source_fingerprint"]


def test_a_table_source_is_scanned_like_a_file(files):
    outcome = run_gate(request(TableSource(people(40), name="upstream"), reservation=None, audit=False))
    assert outcome.action == "allow"
    assert outcome.decision.counts["export"]["personal"] == 40


def test_an_export_without_personal_information_is_allowed_and_reserves_nothing():
    products = pd.DataFrame({"sku": ["A-100", "B-200", "C-300"], "quantity": [3, 1, 7]})
    outcome = run_gate(request(TableSource(products, name="products"), subject_keys=()))
    assert (outcome.action, outcome.reservation) == ("allow", None)
    assert outcome.decision.counts["export"]["personal"] == 0
    assert Store().reservation_counts("acme", 2025)["pending"] == 0


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"source": PathSource(("/nonexistent/export.parquet",))}, "InputError"),
        ({"list_id": "no-such-list"}, "ListError"),
        ({"secret_key": None}, "no secret key"),
    ],
)
def test_fail_closed_blocks_and_audits_the_error(files, overrides, error):
    outcome = run_gate(request(**{"source": PathSource((str(files["personal"]),)), **overrides}))
    assert outcome.action == "block"
    assert not outcome.allowed
    assert error in outcome.error
    record = Store().audit.get(outcome.audit_id)
    assert record["action"] == "block"
    assert error in record["error"]
    assert Store().counts("acme", 2025).personal == 0


def test_database_down_blocks_and_says_the_audit_is_missing(files):
    outcome = run_gate(request(PathSource((str(files["personal"]),)), ledger_url=LEDGER_DOWN))
    assert outcome.action == "block"
    assert outcome.audit_id is None
    assert "AUDIT RECORD COULD NOT BE WRITTEN" in outcome.error


@pytest.fixture
def fork_pool(files):
    """A pool of forked processes that inherit the loaded detector (a preview gate warms it first), so each
    process runs its gate at once instead of spending seconds loading Presidio and spaCy."""
    run_gate(request(PathSource((str(files["personal"]),)), reservation=None, audit=False))
    return multiprocessing.get_context("fork").Pool


def _gate_in_process(path: str, reservation: str, ledger_url: str) -> str:
    outcome = run_gate(
        request(PathSource((path,)), reservation=reservation, ledger_url=ledger_url, filings=(CONTRACT,))
    )
    return outcome.action


def test_parallel_gates_in_processes_keep_exact_totals_and_cannot_both_pass(tmp_path, fork_pool):
    """Three overlapping exports of 6,000 patients each (any two together reach 10,500 people), in three
    processes at once, with a standard contract on file: the first to take the lock is annotated, each later one
    would pass 10,000 and is blocked. The ledger holds exactly the allowed export's people."""
    paths = [
        str(write(people(6_000, start=start, diagnosis=True), tmp_path / f"part{start}.parquet"))
        for start in (0, 4_500, 9_000)
    ]
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Store(ledger_url)  # migrate once before the race
    with fork_pool(3) as pool:
        actions = pool.starmap(
            _gate_in_process, [(path, f"dag/run/gate{i}", ledger_url) for i, path in enumerate(paths)]
        )
    assert sorted(actions) == ["annotate", "block", "block"]
    store = Store(ledger_url)
    assert store.counts("acme", 2025).sensitive == 6_000
    assert store.reservation_counts("acme", 2025)["pending"] == 1
    assert len(store.audit.query(limit=10)[0]) == 3
    assert Store(ledger_url, secret_key=KEY).verify().ok  # the chain is keyed with the gates' key


def test_parallel_gates_on_disjoint_and_shared_people_sum_to_the_union(tmp_path, fork_pool):
    """Four personal-only exports with overlapping people (ids 0-299, 200-499, ...), in four processes: the
    year-to-date count is the size of the union (1,100), whatever the order."""
    paths = [str(write(people(300, start=s), tmp_path / f"p{s}.parquet")) for s in (0, 200, 500, 800)]
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Store(ledger_url)
    with fork_pool(4) as pool:
        actions = pool.starmap(_gate_in_process, [(path, f"dag/run/p{i}", ledger_url) for i, path in enumerate(paths)])
    assert actions == ["allow"] * 4
    assert Store(ledger_url).counts("acme", 2025).personal == 1_100


def test_a_request_that_cannot_be_built_is_refused_with_an_audit_record():
    """The operator's path when even the configuration is wrong (bad handler file, no key): block + audit."""
    from export_gate.errors import ConfigError
    from export_gate.gate import refuse

    outcome = refuse(
        ConfigError("handler.yaml: timezone: unknown time zone"),
        handler_id="acme",
        list_id="cn-national-2024",
        scenario=None,
        run=RunIdentity("dag", "run", "gate", 1),
    )
    assert (outcome.action, outcome.reservation) == ("block", None)
    record = Store().audit.get(outcome.audit_id)
    assert record["error"] == "ConfigError: handler.yaml: timezone: unknown time zone"
    assert (record["dag_id"], record["task_id"], record["action"]) == ("dag", "gate", "block")


def test_lineage_names_follow_the_openlineage_naming_spec():
    from export_gate.airflow.lineage import input_datasets

    names = [
        (d.namespace, d.name)
        for d in input_datasets(["/data/a.parquet", "file:///data/b.csv", "s3://bkt/x/y", "sql:db", "<t>"])
    ]
    assert names == [("file", "/data/a.parquet"), ("file", "/data/b.csv"), ("s3://bkt", "x/y")]


def test_each_run_writes_its_report_from_the_stored_record(files):
    """The HTML report beside the ledger is rendered from the audit record as stored: it carries the record's
    chain hash, so a reviewer can match the file to the log."""
    from export_gate.settings import reports_dir

    outcome = run_gate(request(PathSource((str(files["sensitive"]),))))
    stored = Store().audit.get(outcome.audit_id)
    html = (reports_dir() / f"{outcome.audit_id}.html").read_text(encoding="utf-8")
    assert stored["hash"] in html


def test_a_year_started_with_hmac_digests_keeps_them_and_a_new_year_takes_blake2b(files):
    """Issue 11 (speed): subject digests are keyed BLAKE2b (0.40 us a digest against HMAC-SHA256's 0.64-0.71 us,
    a third of a scan's CPU). A year a ledger already holds keeps HMAC-SHA256: raw values are not kept, so its
    people cannot be digested again, and digests of another scheme would count every one of them again."""
    engine = db.make_engine(default_ledger_url())
    db.migrate(engine, "0004")  # the ledger of the version before, counting 2025 with its key
    with engine.begin() as conn:
        conn.execute(sa.insert(db.scope).values(handler_id="acme", year=2025))
    store = Store()
    assert (store.digest_scheme(2025), store.digest_scheme(2026)) == (HMAC_SHA256, BLAKE2B)
    source = PathSource((str(files["personal"]),))
    assert run_gate(request(source)).action == "allow"
    again = run_gate(request(source, reservation="dag/run2/gate"))
    assert (again.decision.counts["ytd_before"]["personal"], again.decision.counts["ytd_after"]["personal"]) == (40, 40)

    def stored(hasher: SubjectHasher) -> bool:  # the first customer's key digest is a person of the ledger
        with store.engine.connect() as conn:
            persons = set(conn.execute(sa.select(db.person.c.digest)).scalars())
        return hasher.digest("key:customer_id", "C000000") in persons

    assert stored(SubjectHasher(KEY, HMAC_SHA256)) and not stored(SubjectHasher(KEY, BLAKE2B))
    new_year = run_gate(request(source, as_of=datetime(2026, 6, 1, 10, 0, tzinfo=UTC)))
    assert new_year.action == "allow" and new_year.decision.counts["ytd_before"]["personal"] == 0
    assert store.digest_scheme(2026) == BLAKE2B and stored(SubjectHasher(KEY, BLAKE2B))
    refused = pytest.raises(LedgerError, match="counts 2025 with hmac-sha256 subject digests, and this export was")
    with refused, Store(secret_key=KEY).transaction("acme", 2025) as tx:
        tx.preview(ExportSubjects())  # a caller digesting with another scheme than the year's is refused
