"""The year-to-date ledger on a real SQLite file and a real PostgreSQL server (``ledger_url`` runs both)."""

from __future__ import annotations

import hashlib
import hmac
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from export_gate.errors import LedgerError
from export_gate.model import ExportSubjects, mask_of
from export_gate.people.digest import SubjectHasher
from export_gate.people.union import from_mapping
from export_gate.records import database as db
from export_gate.records.ledger import Store
from export_gate.settings import SECRET_KEY_ENV, secret_key_from_env

pytest_plugins = ["pg"]

YEAR = 2026


def people(numbers: range | list[int], *categories: str, kind: str = "key:patient_id") -> ExportSubjects:
    """An export naming people P<number> (digested as the scan does), each with these sensitive categories."""
    digest = SubjectHasher(secret_key_from_env()).digest
    return from_mapping({digest(kind, f"P{n:06d}"): mask_of(frozenset(categories)) for n in numbers})


def reserve(store: Store, key: str, subjects: ExportSubjects, handler: str = "acme", year: int = YEAR) -> tuple:
    """One gate's ledger step: preview, then reserve, in one locked transaction. Returns (before, after)."""
    with store.transaction(handler, year) as tx:
        before, after = tx.preview(subjects, reservation=key)
        tx.reserve(key, subjects)
    return before, after


def totals(store: Store, handler: str = "acme", year: int = YEAR) -> tuple[int, int]:
    counts = store.counts(handler, year)
    return counts.personal, counts.sensitive


def test_union_not_sum_and_overlapping_exports(ledger_url: str) -> None:
    store = Store(ledger_url)
    before, after = reserve(store, "dag/run1/gate", people(range(100)))
    assert (before.personal, after.personal) == (0, 100)
    before, after = reserve(store, "dag/run2/gate", people(range(50, 150)))
    assert (before.personal, after.personal) == (100, 150)
    assert totals(store) == (150, 0)


def test_the_same_export_recorded_twice_counts_each_person_once(ledger_url: str) -> None:
    store = Store(ledger_url)
    export = people(range(40), "medical_health")
    reserve(store, "dag/run1/gate", export)
    before, after = reserve(store, "dag/run2/gate", export)
    assert (before.personal, after.personal, after.sensitive) == (40, 40, 40)
    assert totals(store) == (40, 40)


def test_personal_only_then_sensitive_upgrades_the_person(ledger_url: str) -> None:
    store = Store(ledger_url)
    reserve(store, "a", people(range(10)))
    assert totals(store) == (10, 0)
    _, after = reserve(store, "b", people(range(5), "medical_health"))
    assert (after.personal, after.sensitive, after.categories["medical_health"]) == (10, 5, 5)
    _, after = reserve(store, "c", people(range(3), "financial_account"))
    assert (after.sensitive, after.categories["financial_account"], after.categories["medical_health"]) == (5, 3, 5)


def test_an_alias_recognises_the_same_person_in_a_later_export(ledger_url: str) -> None:
    hasher = SubjectHasher(secret_key_from_env())
    phone, resident_id = hasher.digest("MOBILE", "8613800000001"), hasher.digest("CN_ID", "110101199003070012")
    store = Store(ledger_url)
    reserve(store, "crm", from_mapping({phone: mask_of(())}))
    # later: the same person found by resident ID, linked to the phone number in the same row
    later = from_mapping({resident_id: mask_of({"medical_health"})}, {phone: resident_id})
    before, after = reserve(store, "claims", later)
    assert (before.personal, after.personal, after.sensitive) == (1, 1, 1)
    # and again, known only by the resident ID now (learnt as an alias of the first record)
    _, after = reserve(store, "claims-2", from_mapping({resident_id: mask_of({"biometric"})}))
    assert (after.personal, after.sensitive, after.categories["biometric"]) == (1, 1, 1)


def test_a_person_found_through_several_known_people_is_the_smallest_and_the_others_stay_apart(
    ledger_url: str,
) -> None:
    hasher = SubjectHasher(secret_key_from_env())
    phone, email, card = (hasher.digest(kind, value) for kind, value in (("MOBILE", "1"), ("EMAIL", "a"), ("ID", "x")))
    store = Store(ledger_url)
    reserve(store, "phone", from_mapping({phone: mask_of(())}))
    reserve(store, "email", from_mapping({email: mask_of(())}))
    # one row links both known people and a new identifier: it is the smaller of them, counted once more
    _, after = reserve(store, "linked", from_mapping({card: mask_of({"medical_health"})}, {phone: card, email: card}))
    assert (after.personal, after.sensitive) == (2, 1)
    smaller, larger = sorted((phone, email))
    # the new identifier was learnt as an alias of the smaller person; the larger one stays a person of its own
    _, after = reserve(store, "card", from_mapping({card: mask_of({"financial_account"})}))
    assert (after.personal, after.sensitive, after.categories["financial_account"]) == (2, 1, 1)
    _, after = reserve(store, "larger", from_mapping({larger: mask_of({"biometric"})}))
    assert (after.personal, after.sensitive, after.categories["biometric"]) == (2, 2, 1)
    _, after = reserve(store, "smaller", from_mapping({smaller: mask_of({"biometric"})}))
    assert (after.sensitive, after.categories["biometric"], after.categories["medical_health"]) == (2, 2, 1)


def test_two_people_of_an_export_who_are_one_known_person_count_once(ledger_url: str) -> None:
    hasher = SubjectHasher(secret_key_from_env())
    first, second, third = (hasher.digest("key:id", value) for value in ("1", "2", "3"))
    store = Store(ledger_url)
    reserve(store, "all-three", from_mapping({first: mask_of(())}, {second: first, third: first}))
    # the export does not know the two identifiers belong together; the ledger does
    later = from_mapping({second: mask_of({"medical_health"}), third: mask_of({"financial_account"})})
    before, after = reserve(store, "split", later)
    assert (before.personal, after.personal, after.sensitive) == (1, 1, 1)
    assert (after.categories["medical_health"], after.categories["financial_account"]) == (1, 1)
    store.release("split")  # both categories go back with the one membership
    assert totals(store) == (1, 0)


def test_pending_counts_confirm_keeps_release_gives_back(ledger_url: str) -> None:
    store = Store(ledger_url)
    reserve(store, "first", people(range(10)))
    reserve(store, "second", people(range(5, 20), "medical_health"))
    assert totals(store) == (20, 15)
    assert store.reservation_counts("acme", YEAR) == {"pending": 2, "confirmed": 0, "released": 0}
    store.confirm("first")
    store.release("second")
    # the five people also in "first" stay counted, as personal only
    assert totals(store) == (10, 0)
    assert store.reservation_counts("acme", YEAR) == {"pending": 0, "confirmed": 1, "released": 1}
    store.release("second")  # releasing twice (a retried failure callback) changes nothing
    assert totals(store) == (10, 0)
    with pytest.raises(LedgerError, match="already confirmed"):
        store.release("first")
    with pytest.raises(LedgerError, match="already released"):
        store.confirm("second")
    with pytest.raises(LedgerError, match="no reservation 'nope'"):
        store.confirm("nope")


def test_retry_with_the_same_key_replaces_and_never_counts_twice(ledger_url: str) -> None:
    store = Store(ledger_url)
    reserve(store, "other", people(range(5)))
    reserve(store, "dag/run/gate", people(range(100)))
    # the gate is retried: its first try's people are left out of "before", and replaced
    before, after = reserve(store, "dag/run/gate", people(range(100), "medical_health"))
    assert (before.personal, before.sensitive) == (5, 0)
    assert (after.personal, after.sensitive) == (100, 100)
    assert totals(store) == (100, 100)
    # a retry that names fewer people gives the others back (except those another export holds)
    _, after = reserve(store, "dag/run/gate", people(range(3)))
    assert (after.personal, after.sensitive) == (5, 0)
    assert totals(store) == (5, 0)
    assert store.reservation_counts("acme", YEAR)["pending"] == 2
    # a released reservation's key can be reserved again by a new run of the gate
    store.release("dag/run/gate")
    reserve(store, "dag/run/gate", people(range(50)))
    assert totals(store) == (50, 0)


def test_years_and_handlers_are_separate(ledger_url: str) -> None:
    store = Store(ledger_url)
    reserve(store, "y2025", people(range(30)), year=2025)
    before, _ = reserve(store, "y2026", people(range(10)), year=2026)
    assert before.personal == 0
    reserve(store, "other-handler", people(range(7)), handler="globex")
    assert totals(store, year=2025) == (30, 0)
    assert totals(store, year=2026) == (10, 0)
    assert totals(store, handler="globex") == (7, 0)
    assert store.handlers() == [("acme", 2025), ("acme", 2026), ("globex", YEAR)]
    with pytest.raises(LedgerError, match="belongs to data handler 'acme'"):
        reserve(store, "y2026", people(range(3)), handler="globex")


def test_a_retry_across_new_year_moves_the_reservation(ledger_url: str) -> None:
    """The gate ran at 23:59 on 31 December and is retried after midnight: counted in the new year only."""
    store = Store(ledger_url)
    reserve(store, "dag/run/gate", people(range(10)), year=2025)
    reserve(store, "dag/run/gate", people(range(10)), year=2026)
    assert totals(store, year=2025) == (0, 0)
    assert totals(store, year=2026) == (10, 0)


def test_an_exception_inside_the_transaction_leaves_the_ledger_unchanged(ledger_url: str) -> None:
    store = Store(ledger_url)
    reserve(store, "kept", people(range(10)))
    with pytest.raises(RuntimeError), store.transaction("acme", YEAR) as tx:
        tx.preview(people(range(100)), reservation="lost")
        tx.reserve("lost", people(range(100)))
        tx.append_audit({"action": "allow"})
        raise RuntimeError("the gate died after reserving")
    assert totals(store) == (10, 0)
    assert store.reservation_counts("acme", YEAR) == {"pending": 1, "confirmed": 0, "released": 0}
    assert store.audit.query()[1] == 0
    reserve(store, "after", people(range(10, 20)))  # and the ledger is usable
    assert totals(store) == (20, 0)


def _killed_mid_transaction(url: str) -> None:
    """A gate process that dies (no cleanup at all) after writing, before commit."""
    store = Store(url)
    with store.transaction("acme", YEAR) as tx:
        tx.reserve("killed", people(range(1000), "medical_health"))
        tx.append_audit({"action": "allow"})
        os._exit(9)


def test_a_killed_process_leaves_the_ledger_unchanged_and_unlocked(ledger_url: str) -> None:
    store = Store(ledger_url)
    reserve(store, "kept", people(range(10)))
    child = multiprocessing.get_context("fork").Process(target=_killed_mid_transaction, args=(ledger_url,))
    child.start()
    child.join(60)
    assert child.exitcode == 9
    assert totals(store) == (10, 0)
    assert store.audit.verify().checked == 0
    reserve(store, "after", people(range(10, 20)))  # the dead writer's lock is gone
    assert totals(store) == (20, 0)


def _gate_worker(url: str, worker: int, rounds: int) -> int:
    """A gate process: each round reserves 30 people, 10 of them shared with every other worker."""
    store = Store(url)
    for n in range(rounds):
        start = 1000 + (worker * rounds + n) * 20
        reserve(store, f"w{worker}/r{n}", people([*range(10), *range(start, start + 20)], "medical_health"))
    return worker


def _threshold_worker(url: str, worker: int, limit: int) -> bool:
    """A gate that allows its export only if the year-to-date total stays within ``limit``."""
    store = Store(url)
    export = people(range(worker * 300, worker * 300 + 300))
    with store.transaction("acme", YEAR) as tx:
        _, after = tx.preview(export, reservation=f"w{worker}")
        if after.personal > limit:
            return False
        tx.reserve(f"w{worker}", export)
        return True


def test_concurrent_writer_processes_never_lose_an_update(ledger_url: str) -> None:
    Store(ledger_url)  # migrate once; the workers open it concurrently
    workers, rounds = 4, 5
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        done = pool.starmap(_gate_worker, [(ledger_url, w, rounds) for w in range(workers)])
    assert sorted(done) == list(range(workers))
    expected = 10 + workers * rounds * 20
    assert totals(Store(ledger_url)) == (expected, expected)


def test_two_gates_at_once_cannot_both_pass_a_threshold(ledger_url: str) -> None:
    """Four gates of 300 new people each against a limit of 1,000: exactly three fit, whatever the order."""
    Store(ledger_url)
    with multiprocessing.get_context("fork").Pool(4) as pool:
        allowed = pool.starmap(_threshold_worker, [(ledger_url, w, 1000) for w in range(4)])
    assert sorted(allowed) == [False, True, True, True]
    assert totals(Store(ledger_url)) == (900, 0)


def test_no_secret_key_refuses_to_record(ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    export = people(range(5))
    monkeypatch.delenv(SECRET_KEY_ENV)
    store = Store(ledger_url)
    with pytest.raises(LedgerError, match=SECRET_KEY_ENV), store.transaction("acme", YEAR) as tx:
        tx.reserve("r", export)
    assert totals(store) == (0, 0)


def test_a_different_secret_key_is_refused(ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    reserve(Store(ledger_url), "first", people(range(5)))
    monkeypatch.setenv(SECRET_KEY_ENV, "another-key-of-enough-length")
    with pytest.raises(LedgerError, match="different secret key"):
        reserve(Store(ledger_url), "second", people(range(5)))


def test_raw_identifiers_are_refused(ledger_url: str) -> None:
    store = Store(ledger_url)
    with pytest.raises(LedgerError, match="16-byte keyed subject digests"), store.transaction("acme", YEAR) as tx:
        raw = np.array([13812345678], dtype=np.int64)  # a phone number where a digest belongs
        tx.reserve("raw", ExportSubjects(raw, raw, np.zeros(1, np.int32), np.ones(1, np.uint16)))
    assert totals(store) == (0, 0)


def test_the_database_never_holds_a_raw_identifier(tmp_path: Path) -> None:
    """Canary: the Store only ever sees digests, so no raw ID number or phone reaches the file."""
    canary_id, canary_phone = "110101199003070012", "13812345678"
    hasher = SubjectHasher(secret_key_from_env())
    export = from_mapping(
        {hasher.digest("CN_ID", canary_id): mask_of({"specific_identity"})},
        {hasher.digest("MOBILE", "86" + canary_phone): hasher.digest("CN_ID", canary_id)},
    )
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    store = Store(url)
    reserve(store, "canary", export)
    store.append_audit({"action": "allow", "counts": {"export": export.counts().to_dict()}})
    store.confirm("canary", audit={"dag_id": "d"})
    db.make_engine(url).dispose()  # close pooled connections, so the WAL is folded into the file
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("ledger.db*"))
    assert stored  # the file really holds the ledger
    for raw in (canary_id, canary_phone):
        assert raw.encode() not in stored
        assert raw.encode("utf-16-le") not in stored
    assert hasher.digest("CN_ID", canary_id) in stored  # only its keyed digest


def test_migrations_from_empty_are_idempotent(ledger_url: str) -> None:
    Store(ledger_url)
    Store(ledger_url)
    engine = db.make_engine(ledger_url)
    with engine.connect() as conn:
        assert db.current_revision(conn) == db.head_revision()
        indexes = {index["name"] for index in sa.inspect(conn).get_indexes("audit_log")}
    assert {"ix_audit_log_ts", "ix_audit_log_dag_id", "ix_audit_log_handler_id", "ix_audit_log_action"} <= indexes


def test_an_older_schema_is_upgraded_keeping_its_data(ledger_url: str) -> None:
    engine = db.make_engine(ledger_url)
    db.migrate(engine, "0001")  # a ledger made before the audit log existed
    with engine.begin() as conn:
        assert "audit_log" not in sa.inspect(conn).get_table_names()
        scope_id = conn.execute(sa.insert(db.scope).values(handler_id="acme", year=YEAR)).inserted_primary_key[0]
        conn.execute(sa.insert(db.mask_total).values(scope_id=scope_id, mask=mask_of(()), subjects=7))
    store = Store(ledger_url)
    assert totals(store) == (7, 0)
    store.append_audit({"action": "block"})
    assert store.audit.verify().ok


def test_a_newer_unknown_schema_is_refused(ledger_url: str) -> None:
    Store(ledger_url)
    with db.make_engine(ledger_url).begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(LedgerError, match="'9999_from_the_future', which this version of export-gate does not know"):
        Store(ledger_url)


def test_timeline_follows_reservations_and_releases(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    reserve(store, "a", people(range(10)))
    reserve(store, "b", people(range(5, 25), "medical_health"))
    store.release("b")
    points = [(p["reservation"], p["event"], p["personal"], p["sensitive"]) for p in store.timeline("acme", YEAR)]
    assert points == [("a", "reserve", 10, 0), ("b", "reserve", 25, 20), ("b", "release", 10, 0)]
    assert store.timeline("nobody", YEAR) == []


def test_an_unreachable_database_is_a_ledger_error() -> None:
    with pytest.raises(LedgerError, match="ledger database"):
        Store("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    with pytest.raises(LedgerError, match="only sqlite"):
        Store("mysql://localhost/ledger")


def test_an_export_without_people_reserves_nothing_and_does_not_fail(tmp_path) -> None:
    """A gate that found nobody still reserves its key (so confirm/release work) without inserting rows."""
    store = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    with store.transaction("h-empty", 2026) as tx:
        before, after = tx.preview(ExportSubjects(), reservation="d/r/t")
        tx.reserve("d/r/t", ExportSubjects())
    assert (before.personal, after.personal) == (0, 0)
    store.confirm("d/r/t")
    assert store.counts("h-empty", 2026).personal == 0


def test_a_rerun_after_confirm_adds_and_its_release_keeps_the_people_who_left(ledger_url: str) -> None:
    """Issue 12 item 1 (on the old code the re-run replaced the confirmed reservation: the year stayed at 6,000
    and releasing the re-run left 0). A confirmed reservation is history: a re-run of the same task adds."""
    store = Store(ledger_url)
    reserve(store, "dag/run/gate", people(range(6_000), "medical_health"))
    store.confirm("dag/run/gate")  # those 6,000 people left the country
    with store.transaction("acme", YEAR) as tx:  # the task is cleared and runs again, exporting others
        before, after = tx.preview(people(range(6_000, 12_000), "medical_health"), reservation="dag/run/gate")
        key = tx.reserve("dag/run/gate", people(range(6_000, 12_000), "medical_health"))
    assert key == "dag/run/gate#2"
    assert (before.sensitive, after.sensitive) == (6_000, 12_000)
    assert totals(store) == (12_000, 12_000)
    store.release(key)  # the re-run's export failed: only its own people go back
    assert totals(store) == (6_000, 6_000)
    assert store.reservation_counts("acme", YEAR) == {"pending": 0, "confirmed": 1, "released": 1}
    with store.transaction("acme", YEAR) as tx:  # a third run: the released key is free again
        assert tx.reserve("dag/run/gate", people(range(10))) == "dag/run/gate#2"


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://", "sqlite:///", "sqlite:///file::memory:?uri=true"])
def test_a_ledger_that_does_not_last_is_refused(url: str) -> None:
    """Issue 12 item 2 (the old code recorded into a database that vanished at exit and said "recorded")."""
    with pytest.raises(LedgerError, match="in-memory or temporary SQLite database"):
        Store(url)


def test_any_key_mismatch_is_refused_before_a_decision_and_a_new_key_starts_with_a_new_year(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12 item 5: on the old code only a reservation checked the key, so a what-if or a blocked export
    with another key counted everyone again without a word. The key check is per year, so a key can change on
    1 January without losing the years before (docs/security.md)."""
    store = Store(ledger_url)
    reserve(store, "first", people(range(5)), year=2025)
    monkeypatch.setenv(SECRET_KEY_ENV, "the-new-key-from-1-january")
    with (
        pytest.raises(LedgerError, match="counts 2025 under a different secret key"),
        store.transaction("acme", 2025) as tx,
    ):
        tx.preview(people(range(5)))  # a what-if: no reservation
    before, after = reserve(store, "new-year", people(range(5)), year=2026)  # the new key starts 2026
    assert (before.personal, after.personal) == (0, 5)
    assert totals(store, year=2025) == (5, 0)


def test_a_ledger_made_before_0003_keeps_its_key_for_every_year_it_holds(ledger_url: str) -> None:
    engine = db.make_engine(ledger_url)
    db.migrate(engine, "0002")
    key = secret_key_from_env()
    check = hmac.new(key, b"export-gate ledger key check", hashlib.sha256).hexdigest()
    with engine.begin() as conn:
        conn.execute(sa.insert(db.scope).values(handler_id="acme", year=2025))
        conn.execute(sa.insert(db.ledger_meta).values(name="key_check", value=check))
    store = Store(ledger_url)
    with store.engine.connect() as conn:
        names = dict(conn.execute(sa.select(db.ledger_meta.c.name, db.ledger_meta.c.value)).all())
    assert names["key_check:2025"] == check and "key_check" not in names
    assert names["digests:2025"] == "hmac-sha256"  # 0005: the year keeps the digests it holds
    assert len(store.ledger_id()) == 32
    other = Store(ledger_url, secret_key=b"another-key-of-enough-length")
    with pytest.raises(LedgerError, match="different secret key"), other.transaction("acme", 2025) as tx:
        tx.preview(people(range(1)))
