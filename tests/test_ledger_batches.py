"""The ledger takes an export's people as batches of whole people (issue 14: a Spark driver streams them, it never
holds the export): whatever the batch size, the counts, reservations, people, aliases, members, totals and the
audit record's ledger state are those of the export handed over as one table."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa
from export_gate.errors import LedgerError
from export_gate.model import ExportSubjects, SubjectBatches, mask_of
from export_gate.people.union import build, labelled_batches, merge
from export_gate.records import database as db
from export_gate.records.crosscheck import members_digest
from export_gate.records.ledger import Store

pytest_plugins = ["pg"]

YEAR = 2026
PERSONAL, MEDICAL, BANK = mask_of(()), mask_of(("medical_health",)), mask_of(("financial_account",))


def _people(identifiers: list[np.ndarray], masks: list[int]) -> ExportSubjects:
    """A table of people, each known by the digests (rows of words) ``identifiers[i]``, with ``masks[i]``."""
    words = np.concatenate(identifiers)
    values = np.zeros(len(words), dtype=np.uint16)
    edges, start = [], 0
    for person, mask in zip(identifiers, masks, strict=True):
        values[start] = mask
        edges += [(start, start + i) for i in range(1, len(person))]
        start += len(person)
    pairs = np.array(edges, dtype=np.int64).reshape(-1, 2)
    return build(words, values, pairs, identified_by="strong_identifiers")


def _year_and_exports(seed: int) -> tuple[ExportSubjects, ExportSubjects, ExportSubjects]:
    """A year already holding people (some by two identifiers), an export that meets them in every way the
    ledger must handle, and a retry of it with other people."""
    rng = np.random.default_rng(seed)

    def digests(count: int) -> np.ndarray:
        return rng.integers(0, 2**64, size=(count, 2), dtype=np.uint64)

    known = [digests(int(rng.integers(1, 3))) for _ in range(120)]
    year = _people(known, rng.choice([PERSONAL, MEDICAL, BANK], size=len(known)).tolist())
    export: list[np.ndarray] = []
    for i, person in enumerate(known[:80]):
        if i % 4 == 0 and len(person) == 2:  # two people of the export who are one known person
            export += [np.concatenate([person[:1], digests(1)]), np.concatenate([person[1:], digests(2)])]
        elif i % 4 == 1:  # a known person through one identifier, with new ones learnt as aliases
            export.append(np.concatenate([person[-1:], digests(2)]))
        elif i % 4 == 2 and i + 1 < len(known):  # one person of the export naming two known people
            export.append(np.concatenate([person[:1], known[i + 1][:1], digests(1)]))
        else:
            export.append(person[:1])
    export += [digests(int(rng.integers(1, 4))) for _ in range(150)]  # new people, some with aliases
    masks = rng.choice([PERSONAL, MEDICAL, BANK, MEDICAL | BANK], size=len(export)).tolist()
    retry = [digests(1) for _ in range(40)] + [person[:1] for person in known[100:]]
    return year, _people(export, masks), _people(retry, [MEDICAL] * len(retry))


def _batches(subjects: ExportSubjects, size: int | None) -> ExportSubjects | SubjectBatches:
    return subjects if size is None else subjects.in_batches(size)


def _gate(store: Store, handler: str, key: str, subjects: ExportSubjects, size: int | None) -> tuple:
    """The gate's ledger step (as gate.py): preview, reserve, audit in one transaction. Reservation keys name
    the task run, so each handler's are its own: ``handler:key``."""
    given, key = _batches(subjects, size), f"{handler}:{key}"
    with store.transaction(handler, YEAR) as tx:
        before, after = tx.preview(given, reservation=key)
        reserved = tx.reserve(key, given)
        tx.append_audit({"event": "gate", "reservation": reserved})
    return before.to_dict(), after.to_dict()


def _tables(store: Store, handler: str) -> dict[str, list[tuple]]:
    """Everything the ledger holds for ``handler``'s year, without ids that differ between handlers."""
    with store.engine.connect() as conn:
        scope_id = conn.execute(sa.select(db.scope.c.id).where(db.scope.c.handler_id == handler)).scalar_one()
        member = db.membership
        members = (
            sa.select(db.reservation.c.key, db.reservation.c.status, db.reservation.c.export_counts)
            .add_columns(member.c.person, member.c.mask)
            .join(member, member.c.reservation_id == db.reservation.c.id, isouter=True)
            .where(db.reservation.c.scope_id == scope_id)
        )
        queries = {
            "people": sa.select(db.person).where(db.person.c.scope_id == scope_id),
            "aliases": sa.select(db.alias).where(db.alias.c.scope_id == scope_id),
            "totals": sa.select(db.mask_total).where(db.mask_total.c.scope_id == scope_id),
            "members": members,
        }
        return {
            name: sorted(tuple(_plain(value) for value in row[1 if name != "members" else 0 :]) for row in rows)
            for name, rows in ((name, conn.execute(query).all()) for name, query in queries.items())
        }


def _plain(value: object) -> object:
    """A column's value without what differs between two handlers' copies of one history (the key's prefix)."""
    if isinstance(value, bytes | memoryview):
        return bytes(value)
    return value.split(":", 1)[-1] if isinstance(value, str) else value


def _ledger_states(store: Store, handler: str) -> list[dict]:
    """The ``ledger`` state of every audit record of ``handler``, oldest first."""
    records = reversed(store.audit.query(handler_id=handler, limit=1000)[0])
    states = [record["ledger"] for record in records if "ledger" in record]
    return [{**state, "handler_id": None, "reservation": _plain(state["reservation"])} for state in states]


@pytest.mark.parametrize("size", [1, 7, 10_000])
def test_batches_of_any_size_leave_what_one_table_leaves(ledger_url: str, size: int) -> None:
    store = Store(ledger_url)
    year, export, retry = _year_and_exports(seed=size)
    steps = [("fill", year), ("dag/run/gate", export), ("dag/run/gate", retry), ("dag/run2/gate", export)]
    for key, subjects in steps:
        whole = _gate(store, "whole", key, subjects, None)
        assert _gate(store, "batched", key, subjects, size) == whole, key
    for handler in ("whole", "batched"):
        store.release(f"{handler}:dag/run/gate")
    assert _tables(store, "batched") == _tables(store, "whole")
    assert _ledger_states(store, "batched") == _ledger_states(store, "whole")
    assert store.counts("batched", YEAR) == store.counts("whole", YEAR)
    assert store.verify().ok, store.verify().reason


def test_two_people_of_an_export_in_different_batches_who_are_one_known_person_count_once(ledger_url: str) -> None:
    store = Store(ledger_url)
    rng = np.random.default_rng(3)
    first, second, third = (rng.integers(0, 2**64, size=(1, 2), dtype=np.uint64) for _ in range(3))
    with store.transaction("acme", YEAR) as tx:
        tx.reserve("known", _people([np.concatenate([first, second])], [PERSONAL]))
    later = _people([first, second, third], [MEDICAL, BANK, PERSONAL]).in_batches(1)
    with store.transaction("acme", YEAR) as tx:
        before, after = tx.preview(later, reservation="later")
        tx.reserve("later", later)
    assert (before.personal, after.personal, after.sensitive) == (1, 2, 1)
    assert (after.categories["medical_health"], after.categories["financial_account"]) == (1, 1)
    assert store.verify().ok


def test_a_person_split_between_batches_is_refused(ledger_url: str) -> None:
    """Batches must hold whole people: the halves of a person in two batches would be counted as two people.
    The scan's own count of the people says so, and nothing is written."""
    store = Store(ledger_url)
    words = np.random.default_rng(5).integers(0, 2**64, size=(4, 2), dtype=np.uint64)
    whole = _people([words[:2], words[2:]], [PERSONAL, MEDICAL])
    halves = [_people([words[:1]], [PERSONAL]), _people([words[1:2]], [0]), _people([words[2:]], [MEDICAL])]
    split = SubjectBatches(halves, identified_by=whole.identified_by, histogram={PERSONAL: 1, MEDICAL: 1}, people=2)
    with pytest.raises(LedgerError, match="split between batches"), store.transaction("acme", YEAR) as tx:
        tx.preview(split, reservation="split")
    assert store.counts("acme", YEAR).personal == 0


def test_batches_are_read_once_and_reserve_reuses_what_preview_staged(ledger_url: str) -> None:
    store = Store(ledger_url)
    _, export, _ = _year_and_exports(seed=9)
    batches = export.in_batches(16)
    with store.transaction("acme", YEAR) as tx:
        _, after = tx.preview(batches, reservation="export")
        tx.reserve("export", batches)
    assert store.counts("acme", YEAR) == after
    with pytest.raises(LedgerError, match="read already"), store.transaction("acme", YEAR) as tx:
        tx.preview(batches, reservation="again")
    assert store.counts("acme", YEAR) == after


def test_a_preview_without_a_reservation_leaves_nothing_staged(ledger_url: str) -> None:
    """A blocked export is previewed, not reserved: the next gate on the same connection plans afresh."""
    store = Store(ledger_url)
    _, export, retry = _year_and_exports(seed=11)
    for _ in range(2):
        with store.transaction("acme", YEAR) as tx:
            tx.preview(export.in_batches(5), reservation="blocked")
    _gate(store, "acme", "allowed", retry, 3)
    assert store.counts("acme", YEAR).personal == len(retry)


@pytest.mark.parametrize("size", [1, 7, 1000])
def test_in_batches_splits_a_table_into_tables_of_whole_people(size: int) -> None:
    _, export, _ = _year_and_exports(seed=size)
    batches = export.in_batches(size)
    parts = list(batches)
    largest = int(np.bincount(export.roots).max())
    assert all(len(part.roots) < size + largest for part in parts)
    assert sum(len(part) for part in parts) == len(export) == len(batches)
    assert batches.counts() == export.counts()
    joined = merge(parts, export.identified_by)
    for column in ("high", "low", "roots", "masks"):
        assert np.array_equal(getattr(joined, column), getattr(export, column)), column


def _labelled_rows(subjects: ExportSubjects) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows a Spark driver receives: (digest, label, mask) sorted by (label, digest)."""
    order = np.argsort(subjects.roots, kind="stable")
    words = np.column_stack([subjects.high, subjects.low])
    return words[order], words[subjects.roots[order]], subjects.masks[order]


@pytest.mark.parametrize(("part", "size"), [(1, 1), (3, 7), (50, 10_000)])
def test_labelled_rows_become_tables_of_whole_people_however_they_are_cut(part: int, size: int) -> None:
    """Parts cut anywhere (through a person, as Spark's partitions and Arrow batches do) become tables that each
    hold whole people, and hold all of them: their union is the export."""
    _, export, _ = _year_and_exports(seed=part)
    words, labels, masks = _labelled_rows(export)
    parts = [(words[i : i + part], labels[i : i + part], masks[i : i + part]) for i in range(0, len(words), part)]
    tables = list(labelled_batches(parts, identified_by=export.identified_by, size=size))
    assert sum(len(table) for table in tables) == len(export)
    everyone = np.concatenate([np.column_stack([table.high, table.low]) for table in tables])
    assert len({bytes(row) for row in everyone}) == len(words)  # no identifier in two tables
    joined = merge(tables, export.identified_by)
    for column in ("high", "low", "roots", "masks"):
        assert np.array_equal(getattr(joined, column), getattr(export, column)), column


def test_labelled_rows_out_of_order_or_mislabelled_are_refused() -> None:
    _, export, _ = _year_and_exports(seed=4)
    words, labels, masks = _labelled_rows(export)
    with pytest.raises(ValueError, match="out of"):
        list(labelled_batches([(words[::-1], labels[::-1], masks[::-1])], identified_by=export.identified_by))
    with pytest.raises(ValueError, match="out of"):  # the second part goes back
        list(
            labelled_batches(
                [(words[5:], labels[5:], masks[5:]), (words[:5], labels[:5], masks[:5])], identified_by="x"
            )
        )
    ordered = np.column_stack([export.high, export.low])
    largest = np.repeat(ordered[-1:], len(ordered), axis=0)  # one person labelled by their largest digest
    with pytest.raises(ValueError, match="smallest"):
        list(labelled_batches([(ordered, largest, export.masks)], identified_by=export.identified_by))


def test_the_audit_records_members_digest_is_that_of_the_export_s_people(ledger_url: str) -> None:
    """The ledger state's members digest, read back from the stored members in digest order, is the digest of
    the export's people (canonical digests and masks) computed from the table itself."""
    store = Store(ledger_url)
    _, export, _ = _year_and_exports(seed=13)
    _gate(store, "acme", "export", export, 7)
    canonical = np.flatnonzero(export.roots == np.arange(len(export.roots)))
    state = store.audit.query(handler_id="acme")[0][0]["ledger"]
    assert state["people"] == len(canonical) == len(export)
    assert state["members"] == members_digest(
        export.high[canonical], export.low[canonical], export.masks[canonical] & 0xFF
    )
