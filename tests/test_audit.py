"""The hash-chained audit log: appends, queries, export, and tampering caught by verify (SQLite and PostgreSQL),
plus the ``export-gate audit`` and ``export-gate ledger`` commands."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from export_gate.commands.cli import main
from export_gate.errors import LedgerError
from export_gate.model import Counts, mask_of
from export_gate.people.union import from_mapping
from export_gate.records import database as db
from export_gate.records.anchors import Anchor, format_head, parse_head
from export_gate.records.ledger import Store

pytest_plugins = ["pg"]


def gate_record(n: int, action: str = "allow", dag_id: str = "crm_export_national") -> dict:
    """A record shaped like the gate's (issue 4 §2): counts, list, decision, no raw values."""
    counts = Counts(n, 0).to_dict()
    return {
        "event": "gate",
        "handler_id": "acme",
        "year": 2026,
        "dag_id": dag_id,
        "run_id": f"manual__{n}",
        "task_id": "gate",
        "try_number": 1,
        "reservation": f"{dag_id}/manual__{n}/gate",
        "source": {"uris": [f"file:///exports/{n}.csv"], "fingerprint": f"sha256:{n:064x}"},
        "list": {"id": "cn-national-2024", "version": "sha256:abc"},
        "scenario": None,
        "purpose": None,
        "detector_version": "1",
        "counts": {"export": counts, "ytd_before": counts, "ytd_after": counts},
        "decision": None,
        "action": action,
        "mechanism": None,
        "rule_id": "cn-national-2024/personal-100k",
        "obligations": [],
        "filings": [],
        "error": None,
        "report": {"columns": ["patient_id", "phone"]},
    }


@pytest.fixture
def filled(ledger_url: str) -> Store:
    """A store with five gate records: allow, allow, block, annotate, allow."""
    store = Store(ledger_url)
    for n, action in enumerate(("allow", "allow", "block", "annotate", "allow"), start=1):
        assert store.append_audit(gate_record(n, action)) == n
    return store


def tamper(store: Store, sql: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.text(sql))


def test_an_intact_chain_verifies_and_records_read_back(filled: Store) -> None:
    result = filled.audit.verify()
    assert (result.ok, result.checked, result.first_broken) == (True, 5, None)
    record = filled.audit.get(3)
    assert record is not None
    assert (record["id"], record["action"], record["list"]["id"], record["event"]) == (
        3,
        "block",
        "cn-national-2024",
        "gate",
    )
    assert record["prev_hash"] == filled.audit.get(2)["hash"]
    assert filled.audit.get(99) is None


def test_altering_a_record_is_caught_and_named(filled: Store) -> None:
    tamper(filled, "UPDATE audit_log SET record = REPLACE(record, '\"block\"', '\"allow\"') WHERE id = 3")
    result = filled.audit.verify()
    assert (result.ok, result.first_broken) == (False, 3)
    assert "altered" in result.reason


def test_altering_only_a_filter_column_is_caught(filled: Store) -> None:
    tamper(filled, "UPDATE audit_log SET action = 'allow' WHERE id = 3")
    result = filled.audit.verify()
    assert (result.ok, result.first_broken) == (False, 3)
    assert "action" in result.reason


def test_removing_a_record_is_caught_and_named(filled: Store) -> None:
    tamper(filled, "DELETE FROM audit_log WHERE id = 2")
    result = filled.audit.verify()
    assert (result.ok, result.first_broken) == (False, 3)
    assert "record 2 missing" in result.reason


def test_reordering_records_is_caught(filled: Store) -> None:
    """Swap the content (record, hashes) of records 2 and 4 while the ids stay in place."""
    tamper(filled, "UPDATE audit_log SET id = 0 WHERE id = 2")
    tamper(filled, "UPDATE audit_log SET id = 2 WHERE id = 4")
    tamper(filled, "UPDATE audit_log SET id = 4 WHERE id = 0")
    result = filled.audit.verify()
    assert (result.ok, result.first_broken) == (False, 2)


def test_removing_the_newest_record_is_caught_by_the_head_row(filled: Store) -> None:
    tamper(filled, "DELETE FROM audit_log WHERE id = 5")
    result = filled.audit.verify()
    assert (result.ok, result.first_broken) == (False, 5)
    assert "newest record" in result.reason


def test_query_filters_pages_and_time_window(filled: Store) -> None:
    filled.append_audit(gate_record(6, "block", dag_id="pv_case_export_shanghai"))
    records, total = filled.audit.query(action="block")
    assert total == 2
    assert [r["id"] for r in records] == [6, 3]  # newest first
    records, total = filled.audit.query(dag_id="pv_case_export_shanghai", list_id="cn-national-2024")
    assert (total, records[0]["id"]) == (1, 6)
    page, total = filled.audit.query(limit=2, offset=2)
    assert (total, [r["id"] for r in page]) == (6, [4, 3])
    now = datetime.now(UTC)
    assert filled.audit.query(since=now - timedelta(hours=1))[1] == 6
    assert filled.audit.query(until=now - timedelta(hours=1))[1] == 0
    assert filled.audit.query(event="confirm")[1] == 0


def test_export_csv_and_json(filled: Store) -> None:
    out = io.StringIO()
    assert filled.audit.export("csv", out, action="allow") == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [row["id"] for row in rows] == ["1", "2", "5"]
    assert json.loads(rows[0]["record"])["rule_id"] == "cn-national-2024/personal-100k"
    out = io.StringIO()
    assert filled.audit.export("json", out) == 5
    assert [r["id"] for r in json.loads(out.getvalue())] == [1, 2, 3, 4, 5]
    with pytest.raises(LedgerError, match="unknown audit filter"):
        filled.audit.export("json", io.StringIO(), colour="red")


def test_the_audit_record_commits_with_the_reservation(ledger_url: str) -> None:
    store = Store(ledger_url)
    subjects = from_mapping({bytes([n]) * 16: mask_of(()) for n in range(3)})
    with store.transaction("acme", 2026) as tx:
        tx.preview(subjects, reservation="r")
        tx.reserve("r", subjects)
        record_id = tx.append_audit({**gate_record(1), "handler_id": None})
    assert store.audit.get(record_id)["handler_id"] is None  # the caller's value wins over the transaction's
    store.confirm("r", audit={"dag_id": "d", "run_id": "r1", "task_id": "export", "try_number": 2})
    confirm = store.audit.query(event="confirm")[0][0]
    assert (confirm["reservation"], confirm["handler_id"], confirm["year"], confirm["try_number"]) == (
        "r",
        "acme",
        2026,
        2,
    )
    assert store.audit.verify().ok


def test_an_unknown_event_or_action_is_refused(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    with pytest.raises(LedgerError, match="audit event"):
        store.append_audit({"event": "delete"})
    with pytest.raises(LedgerError, match="audit action"):
        store.append_audit({"action": "maybe"})
    assert store.audit.verify().checked == 0


def test_cli_audit_list_show_verify_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    store = Store(url)
    for n in range(1, 4):
        store.append_audit(gate_record(n, "block" if n == 2 else "allow"))
    assert main(["audit", "list", "--ledger", url, "--action", "block"]) == 0
    assert "1 of 1 record(s)" in capsys.readouterr().out
    assert main(["audit", "list", "--ledger", url, "--format", "json", "--since", "2000-01-01"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 3
    assert main(["audit", "show", "2", "--ledger", url]) == 0
    assert json.loads(capsys.readouterr().out)["action"] == "block"
    assert main(["audit", "show", "7", "--ledger", url]) == 2
    assert "no audit record 7" in capsys.readouterr().err
    assert main(["audit", "verify", "--ledger", url]) == 0
    assert "intact" in capsys.readouterr().out
    output = tmp_path / "audit.csv"
    assert main(["audit", "export", "--ledger", url, "--format", "csv", "--output", str(output)]) == 0
    assert len(list(csv.DictReader(output.open()))) == 3
    tamper(store, "UPDATE audit_log SET record = REPLACE(record, 'manual__2', 'manual__9') WHERE id = 2")
    assert main(["audit", "verify", "--ledger", url]) == 1
    assert "BROKEN at record 2" in capsys.readouterr().err


def test_cli_ledger_show(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPORT_GATE_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    store = Store()
    subjects = from_mapping({bytes([n]) * 16: mask_of({"medical_health"} if n < 2 else ()) for n in range(5)})
    for handler in ("acme", "globex"):
        with store.transaction(handler, 2026) as tx:
            tx.reserve(f"{handler}/r", subjects)
    assert main(["ledger", "show", "--handler", "acme", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["handler_id"], row["counts"]["personal"], row["counts"]["sensitive"]) == ("acme", 5, 2)
    assert row["reservations"]["pending"] == 1
    assert main(["ledger", "show"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["handler", "year", "personal", "sensitive"]
    assert [line.split()[:4] for line in lines[1:]] == [["acme", "2026", "5", "2"], ["globex", "2026", "5", "2"]]
    assert main(["ledger", "show", "--year", "2025"]) == 0
    assert "no reservations" in capsys.readouterr().out


def head_anchor(store: Store) -> Anchor:
    """The head as a reviewer records it (``export-gate audit head``), before anyone tampers."""
    head = store.audit.head()
    assert head is not None
    return parse_head(format_head(*head), "a reviewer's note")


def test_truncating_the_chain_and_resetting_the_head_is_caught_by_an_anchor(filled: Store) -> None:
    """Issue 12 item 6: deleting the newest records and rewriting the head row passed verify on the old code
    (the head lived only in the same database). An anchor recorded outside the database catches it."""
    anchor = head_anchor(filled)
    tamper(filled, "DELETE FROM audit_log WHERE id > 3")
    tamper(filled, "UPDATE audit_head SET last_id = 3, last_hash = (SELECT hash FROM audit_log WHERE id = 3)")
    blind = filled.verify()
    assert blind.ok and any(line.startswith("anchors: NONE") for line in blind.checks)  # says what it could not
    result = filled.verify([anchor])
    assert (result.ok, result.first_broken) == (False, 5)
    assert "not in the database" in result.reason and "a reviewer's note" in result.reason


def test_wiping_the_log_and_resetting_the_head_is_never_called_intact(filled: Store) -> None:
    anchor = head_anchor(filled)
    tamper(filled, "DELETE FROM audit_log")
    tamper(filled, f"UPDATE audit_head SET last_id = 0, last_hash = '{'0' * 64}'")
    blind = filled.verify()
    assert blind.empty and "EMPTY" in blind.reason and "intact" not in blind.reason
    assert not filled.verify([anchor]).ok


def test_rechaining_every_record_without_the_key_is_caught(filled: Store) -> None:
    """An attacker with write access but not the key alters record 3 and recomputes every hash after it as
    the old code chained them (plain SHA-256) and the head row: passed verify on the old code."""
    log = db.audit_log
    with filled.engine.begin() as conn:
        rows = conn.execute(sa.select(log.c.id, log.c.record, log.c.hash).order_by(log.c.id)).all()
        prev = rows[1].hash  # records 1 and 2 stay as they are
        for record_id, text, _ in rows[2:]:
            if record_id == 3:
                text = text.replace('"action":"block"', '"action":"allow"')
            digest = hashlib.sha256((prev + text).encode()).hexdigest()
            values = {"record": text, "prev_hash": prev, "hash": digest, "action": json.loads(text)["action"]}
            conn.execute(sa.update(log).where(log.c.id == record_id).values(values))
            prev = digest
        conn.execute(sa.update(db.audit_head).values(last_id=5, last_hash=prev))
    result = filled.verify()
    assert (result.ok, result.first_broken) == (False, 3)
    assert "without the key" in result.reason


def test_verify_needs_the_key_that_chained_the_records(filled: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPORT_GATE_SECRET_KEY", "a-rotated-key-of-enough-length")
    result = filled.verify()
    assert (result.ok, result.first_broken) == (False, 1)
    assert "EXPORT_GATE_PREVIOUS_SECRET_KEYS" in result.reason
    monkeypatch.setenv("EXPORT_GATE_PREVIOUS_SECRET_KEYS", "test-secret-key-not-for-production")
    assert filled.verify().ok


def reserved_with_record(store: Store, key: str, numbers: range, year: int = 2026) -> None:
    """A gate's ledger step with its audit record, in one transaction (the record carries the ledger state)."""
    subjects = from_mapping({bytes([n % 256, n // 256]) * 8: mask_of({"medical_health"}) for n in numbers})
    with store.transaction("acme", year) as tx:
        tx.preview(subjects, reservation=key)
        reservation = tx.reserve(key, subjects)
        tx.append_audit({**gate_record(1), "handler_id": "acme", "year": year, "reservation": reservation})


@pytest.mark.parametrize(
    ("sql", "needle"),
    [
        ("UPDATE ledger_mask_total SET subjects = 0", "not the sum of its people"),
        (
            "DELETE FROM ledger_mask_total; UPDATE ledger_person SET mask = 0, personal_refs = 0, "
            "medical_health_refs = 0",
            "not those audit record 2 says",
        ),
        ("DELETE FROM ledger_membership WHERE reservation_id = 1", "reservation 'first': its members"),
    ],
)
def test_ledger_tables_changed_outside_the_gate_fail_verify(ledger_url: str, sql: str, needle: str) -> None:
    """Issue 12 item 7: on the old code the ledger tables were outside the chain (a year's totals set to 0
    passed verify). Each record now carries the totals it left and a digest of its members."""
    store = Store(ledger_url)
    reserved_with_record(store, "first", range(40))
    reserved_with_record(store, "second", range(30, 50))
    intact = store.verify()
    assert intact.ok and any(line.startswith("ledger: 1 of 1 handler-year(s)") for line in intact.checks)
    for statement in sql.split("; "):
        tamper(store, statement)
    result = store.verify()
    assert not result.ok
    assert needle in result.reason


def test_a_release_is_chained_with_the_totals_it_left(ledger_url: str) -> None:
    store = Store(ledger_url)
    reserved_with_record(store, "first", range(40))
    reserved_with_record(store, "second", range(30, 50))
    store.release("second")  # even without the caller's audit fields, a change of the counts leaves a record
    release = store.audit.query(event="release")[0][0]
    assert release["ledger"]["years"] == [{"year": 2026, "totals": {str(mask_of({"medical_health"})): 40}}]
    assert store.verify().ok


def test_verify_opens_the_database_read_only(filled: Store, ledger_url: str) -> None:
    """Item 8 on both databases: a read-only store verifies, and cannot write (SQLite mode=ro, PostgreSQL
    read-only transactions), so an auditor's read-only copy or SELECT-only user is enough."""
    auditor = Store(ledger_url, read_only=True)
    result = auditor.verify()
    assert (result.ok, result.checked) == (True, 5)
    with pytest.raises((LedgerError, sa.exc.DBAPIError)):
        auditor.append_audit(gate_record(6))
    assert filled.audit.head()[0] == 5
