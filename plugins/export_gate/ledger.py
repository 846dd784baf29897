"""The year-to-date ledger: distinct people exported per data handler and calendar year, by category.

A person is counted once a year however many exports name them (union, not sum), with the OR of every
category any active export found for them (personal-only earlier, medical now: sensitive). People are keyed
digests only (export_gate.digest); an alias digest recognises the same person through another identifier.

Each export is a *reservation* under a caller's key ("dag_id/run_id/task_id"): pending from the moment the gate
allows it, confirmed when the export ran, released (no longer counted) when it failed for good. Reserving again
under the same key replaces the earlier reservation, so a retried gate or run never counts a person twice.

Why per-bit reference counts: each person row counts how many active reservations carry each category bit,
so releasing a reservation is one set-based update over its members instead of re-reading every other export.
Totals come from a per-(handler, year) histogram of masks (at most 256 rows), so reading them never scans the
10 million people of a busy year.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from export_gate import db, settings
from export_gate.audit import AuditLog
from export_gate.digest import DIGEST_BYTES
from export_gate.errors import LedgerError
from export_gate.model import CATEGORIES, CATEGORY_BITS, PERSONAL_BIT, Counts, ExportSubjects

PENDING, CONFIRMED, RELEASED = "pending", "confirmed", "released"
_ACTIVE = (PENDING, CONFIRMED)
#: Mask bits in the order of db.REF_COLUMNS.
_BITS: tuple[int, ...] = (PERSONAL_BIT, *(CATEGORY_BITS[name] for name in CATEGORIES))
_ALL_BITS = sum(_BITS)
_KEY_CHECK = "key_check"


@functools.cache
def _refs_of(mask: int) -> tuple[int, ...]:
    """The reference counts one reservation with ``mask`` adds (one shared tuple per mask: 1M people, 256 tuples)."""
    return tuple(1 if mask & bit else 0 for bit in _BITS)


@functools.cache
def _mask_of_refs(refs: tuple[int, ...]) -> int:
    return sum(bit for bit, count in zip(_BITS, refs, strict=True) if count > 0)


def _check_digests(subjects: ExportSubjects) -> None:
    """Only keyed digests may reach the database: anything but a table of 16-byte digests (two 64-bit words
    each, see ``digest.pack_digests``) is refused, so a raw phone number passed by mistake is never stored."""
    columns = (subjects.high, subjects.low, subjects.roots, subjects.masks)
    if (
        subjects.high.dtype != np.uint64
        or subjects.low.dtype != np.uint64
        or any(column.ndim != 1 or len(column) != len(subjects.roots) for column in columns)
        or bool((subjects.roots > np.arange(len(subjects.roots))).any())
    ):
        raise LedgerError(
            f"the ledger takes {DIGEST_BYTES}-byte keyed subject digests (export_gate.digest.SubjectHasher), "
            "got something else; it never stores raw identifiers"
        )


@dataclass
class _Plan:
    """What adding one export does to a scope, computed before anything is written (preview), applied by reserve."""

    before: Counter[int]
    after: Counter[int] = field(default_factory=Counter)
    members: dict[bytes, int] = field(default_factory=dict)  # person -> this export's mask
    new: dict[bytes, int] = field(default_factory=dict)  # new person -> mask
    updated: dict[bytes, tuple[int, ...]] = field(default_factory=dict)  # known person -> new reference counts
    aliases: dict[bytes, bytes] = field(default_factory=dict)  # identifier not yet known -> person


class LedgerTx:
    """One locked transaction on one handler's ledger: read the counts, decide, reserve, audit, commit."""

    def __init__(self, store: Store, conn: Connection, handler_id: str, year: int) -> None:
        self._store = store
        self._conn = conn
        self.handler_id = handler_id
        self.year = int(year)
        self._cached: tuple[ExportSubjects, str | None, _Plan] | None = None

    def preview(self, subjects: ExportSubjects, *, reservation: str | None = None) -> tuple[Counts, Counts]:
        """(before, after) year-to-date counts. ``before`` leaves out the earlier subjects of ``reservation``
        (a retry replaces them), so a retried export is judged exactly like its first try."""
        _check_digests(subjects)
        plan = self._plan(subjects, self._earlier(reservation))
        self._cached = (subjects, reservation, plan)
        return Counts.from_histogram(plan.before), Counts.from_histogram(plan.after)

    def reserve(
        self, reservation: str, subjects: ExportSubjects, *, status: str = PENDING, meta: dict | None = None
    ) -> None:
        """Count this export's subjects under ``reservation`` (replacing an earlier reservation of that key)."""
        if status not in _ACTIVE:
            raise LedgerError(f"a new reservation is {PENDING!r} or {CONFIRMED!r}, not {status!r}")
        _check_digests(subjects)
        self._store.check_key(self._conn)
        earlier = self._earlier(reservation)
        cached, self._cached = self._cached, None
        if cached is not None and cached[0] is subjects and cached[1] == reservation:
            plan = cached[2]  # same lock, same state: what preview computed is what we write
        else:
            plan = self._plan(subjects, earlier)
        scope_id = _scope_id(self._conn, self.handler_id, self.year, create=True)
        assert scope_id is not None
        if earlier is not None and earlier.scope_id != scope_id:  # last year's try of this key: take it back
            _log_history(self._conn, earlier.scope_id, reservation, "release", _remove_members(self._conn, earlier))
        elif earlier is not None:  # this year's: the plan already counts its people without it
            self._conn.execute(sa.delete(db.membership).where(db.membership.c.reservation_id == earlier.id))
        reservation_id = _save_reservation(self._conn, scope_id, reservation, status, subjects, meta)
        _apply(self._conn, scope_id, reservation_id, plan)
        _log_history(self._conn, scope_id, reservation, "reserve", plan.after)

    def append_audit(self, record: dict) -> int:
        """Append the audit record in this transaction: it commits (or not) with the reservation."""
        return self._store.audit.append(self._conn, {"handler_id": self.handler_id, "year": self.year, **record})

    def _earlier(self, reservation: str | None) -> sa.Row | None:
        """The active reservation this key would replace (None if none). Another handler's key is an error:
        the lock held here does not cover that handler's ledger."""
        if reservation is None:
            return None
        row = _reservation(self._conn, reservation)
        if row is None or row.status not in _ACTIVE:
            return None
        if row.handler_id != self.handler_id:
            raise LedgerError(
                f"reservation {reservation!r} belongs to data handler {row.handler_id!r}, not {self.handler_id!r}; "
                "use a reservation key that names the task run (dag_id/run_id/task_id)"
            )
        return row

    def _plan(self, subjects: ExportSubjects, earlier: sa.Row | None) -> _Plan:
        """What reserving ``subjects`` would do, replacing ``earlier`` (a reservation of this scope, or None)."""
        scope_id = _scope_id(self._conn, self.handler_id, self.year)
        plan = _Plan(before=_histogram(self._conn, scope_id) if scope_id is not None else Counter())
        refs: dict[bytes, tuple[int, ...]] = {}
        if earlier is not None and earlier.scope_id == scope_id:
            refs = _without(self._conn, earlier, plan.before)
            plan.updated.update(refs)  # its people are written back even if this export does not name them
        other_ids: dict[bytes, list[bytes]] = defaultdict(list)
        for identifier, canonical in subjects.aliases():
            other_ids[canonical].append(identifier)
        ordered = list(subjects.people())  # digest order: lookups and inserts walk the keys in order
        known: dict[bytes, bytes] = {}
        if scope_id is not None:
            identifiers = [canonical for canonical, _ in ordered]
            identifiers += sorted(other for extra in other_ids.values() for other in extra)
            known, found = _lookup(self._conn, scope_id, identifiers)
            for person, counts in found.items():
                refs.setdefault(person, counts)
        members = plan.members
        for canonical, mask in ordered:
            if canonical not in other_ids:  # the common case, kept fast for a million people
                person = known.get(canonical, canonical)
            else:
                identifiers = (canonical, *other_ids[canonical])
                found_people = [known[identifier] for identifier in identifiers if identifier in known]
                person = min(found_people) if found_people else canonical  # several: keep apart (count high)
                for identifier in identifiers:
                    if identifier != person and identifier not in known:
                        plan.aliases[identifier] = person
            members[person] = members.get(person, 0) | mask
        plan.after = Counter(plan.before)
        for person, mask in members.items():
            old = refs.get(person)
            if old is None:
                plan.new[person] = mask
                plan.after[mask & _ALL_BITS] += 1
                continue
            new = tuple(a + b for a, b in zip(old, _refs_of(mask), strict=True))
            plan.updated[person] = new
            old_mask, new_mask = _mask_of_refs(old), _mask_of_refs(new)
            if old_mask != new_mask:
                plan.after[old_mask] -= 1
                plan.after[new_mask] += 1
        plan.after.pop(0, None)
        return plan


class Store:
    """The ledger and the audit log, in one database (``url``; None: settings.default_ledger_url()).

    Opening a store migrates the database to the current schema. ``secret_key`` is the HMAC key the digests
    were made with (default: settings.secret_key_from_env()); recording refuses to run without one, and refuses
    a key other than the one the ledger was started with (its digests would never match: everyone counted twice).
    """

    def __init__(self, url: str | None = None, *, secret_key: bytes | None = None) -> None:
        self.url = url or settings.default_ledger_url()
        self.engine = db.make_engine(self.url)
        db.migrate(self.engine)
        self._secret_key = secret_key
        self.audit = AuditLog(self.engine)

    def counts(self, handler_id: str, year: int) -> Counts:
        """Year-to-date counts (pending and confirmed reservations)."""
        with db.read_connection(self.engine) as conn:
            scope_id = _scope_id(conn, handler_id, year)
            return Counts.from_histogram(_histogram(conn, scope_id) if scope_id is not None else {})

    @contextmanager
    def transaction(self, handler_id: str, year: int) -> Iterator[LedgerTx]:
        """Lock ``handler_id``'s ledger and open one transaction: commit on success, roll back on any error."""
        with db.write_transaction(self.engine, locks=(_handler_lock(handler_id),)) as conn:
            yield LedgerTx(self, conn, handler_id, year)

    def confirm(self, reservation: str, *, audit: dict | None = None) -> None:
        """The export ran: its reservation stays counted for good."""
        self._finish(reservation, CONFIRMED, audit)

    def release(self, reservation: str, *, audit: dict | None = None) -> None:
        """The export failed for good: its people are no longer counted (unless another export has them)."""
        self._finish(reservation, RELEASED, audit)

    def append_audit(self, record: dict) -> int:
        """Append an audit record in its own transaction (a gate that failed before the ledger was reached)."""
        with db.write_transaction(self.engine) as conn:
            return self.audit.append(conn, record)

    def timeline(self, handler_id: str, year: int) -> list[dict]:
        """The year-to-date totals after every reservation and release, oldest first."""
        with db.read_connection(self.engine) as conn:
            scope_id = _scope_id(conn, handler_id, year)
            if scope_id is None:
                return []
            rows = conn.execute(
                sa.select(db.history).where(db.history.c.scope_id == scope_id).order_by(db.history.c.id)
            )
            return [
                {"ts": row.ts, "reservation": row.reservation, "event": row.event, **json.loads(row.counts)}
                for row in rows
            ]

    def handlers(self) -> list[tuple[str, int]]:
        """(handler_id, year) pairs that have reservations."""
        with db.read_connection(self.engine) as conn:
            rows = conn.execute(sa.select(db.scope.c.handler_id, db.scope.c.year).order_by("handler_id", "year"))
            return [(row.handler_id, row.year) for row in rows]

    def reservation_counts(self, handler_id: str, year: int) -> dict[str, int]:
        """How many reservations of this handler and year are pending, confirmed and released."""
        with db.read_connection(self.engine) as conn:
            rows = conn.execute(
                sa.select(db.reservation.c.status, sa.func.count())
                .join(db.scope, db.scope.c.id == db.reservation.c.scope_id)
                .where(db.scope.c.handler_id == handler_id, db.scope.c.year == year)
                .group_by(db.reservation.c.status)
            )
            return {PENDING: 0, CONFIRMED: 0, RELEASED: 0, **dict(rows.all())}

    def check_key(self, conn: Connection) -> None:
        """Refuse to record without a key, or with another key than the ledger's first one."""
        key = self._secret_key or settings.secret_key_from_env()
        check = hmac.new(key, b"export-gate ledger key check", hashlib.sha256).hexdigest()
        stored = _meta_value(conn)
        if stored is None:
            db.lock(conn, "key-check")
            stored = _meta_value(conn)
            if stored is None:
                conn.execute(sa.insert(db.ledger_meta).values(name=_KEY_CHECK, value=check))
                return
        if not hmac.compare_digest(stored, check):
            raise LedgerError(
                f"the ledger {db.safe_url(self.engine)} was started with a different secret key: its digests would "
                f"not match this key's and every person would be counted again; set {settings.SECRET_KEY_ENV} to "
                "the ledger's key, or use a new ledger"
            )

    def _finish(self, key: str, status: str, audit: dict | None) -> None:
        with db.write_transaction(self.engine) as conn:
            row = _reservation(conn, key)
            if row is None:
                raise LedgerError(f"no reservation {key!r} in the ledger {db.safe_url(self.engine)}")
            db.lock(conn, _handler_lock(row.handler_id))
            row = _reservation(conn, key)  # re-read under the handler's lock
            assert row is not None
            if row.status != status:
                if row.status != PENDING:
                    raise LedgerError(
                        f"reservation {key!r} is already {row.status}; only a pending reservation can become "
                        f"{status} (a confirmed export stays counted; a released one needs a new gate run)"
                    )
                if status == RELEASED:
                    totals = _remove_members(conn, row)
                    _log_history(conn, row.scope_id, key, "release", totals)
                conn.execute(
                    sa.update(db.reservation)
                    .where(db.reservation.c.id == row.id)
                    .values(status=status, updated_at=db.utc_now())
                )
            if audit is not None:
                event = "confirm" if status == CONFIRMED else "release"
                self.audit.append(
                    conn, {"event": event, "handler_id": row.handler_id, "year": row.year, "reservation": key, **audit}
                )


def _handler_lock(handler_id: str) -> str:
    return f"handler:{handler_id}"


def _meta_value(conn: Connection) -> str | None:
    return conn.execute(sa.select(db.ledger_meta.c.value).where(db.ledger_meta.c.name == _KEY_CHECK)).scalar()


def _scope_id(conn: Connection, handler_id: str, year: int, *, create: bool = False) -> int | None:
    query = sa.select(db.scope.c.id).where(db.scope.c.handler_id == handler_id, db.scope.c.year == int(year))
    scope_id = conn.execute(query).scalar()
    if scope_id is None and create:
        scope_id = conn.execute(
            sa.insert(db.scope).values(handler_id=handler_id, year=int(year)).returning(db.scope.c.id)
        ).scalar_one()
    return scope_id


def _reservation(conn: Connection, key: str) -> sa.Row | None:
    query = (
        sa.select(db.reservation.c.id, db.reservation.c.scope_id, db.reservation.c.status, db.scope.c.handler_id)
        .add_columns(db.scope.c.year)
        .join(db.scope, db.scope.c.id == db.reservation.c.scope_id)
        .where(db.reservation.c.key == key)
    )
    return conn.execute(query).one_or_none()


def _histogram(conn: Connection, scope_id: int) -> Counter[int]:
    rows = conn.execute(
        sa.select(db.mask_total.c.mask, db.mask_total.c.subjects).where(db.mask_total.c.scope_id == scope_id)
    )
    return Counter(dict(rows.all()))


def _write_histogram(conn: Connection, scope_id: int, histogram: Counter[int]) -> None:
    conn.execute(sa.delete(db.mask_total).where(db.mask_total.c.scope_id == scope_id))
    rows = [{"scope_id": scope_id, "mask": mask, "subjects": n} for mask, n in sorted(histogram.items()) if mask and n]
    if rows:
        conn.execute(sa.insert(db.mask_total), rows)


#: Known people named by the identifiers in eg_incoming, directly or through an alias. CROSS JOIN fixes the join
#: order in SQLite (which has no statistics on a fresh temp table): scan the export's digests, probe the keys.
_LOOKUP_SQL = """
SELECT i.digest, p.digest AS person, {refs} FROM eg_incoming AS i CROSS JOIN ledger_person AS p
 WHERE p.scope_id = :scope AND p.digest = i.digest
UNION ALL
SELECT i.digest, p.digest AS person, {refs} FROM eg_incoming AS i CROSS JOIN ledger_alias AS a
 CROSS JOIN ledger_person AS p
 WHERE a.scope_id = :scope AND a.digest = i.digest AND p.scope_id = :scope AND p.digest = a.person
""".format(refs=", ".join(f"p.{name}" for name in db.REF_COLUMNS))


def _lookup(
    conn: Connection, scope_id: int, identifiers: list[bytes]
) -> tuple[dict[bytes, bytes], dict[bytes, tuple[int, ...]]]:
    """Which known person each identifier names (directly or through an alias), and those people's counts."""
    known: dict[bytes, bytes] = {}
    refs: dict[bytes, tuple[int, ...]] = {}
    incoming_digest = sa.Column("digest", sa.LargeBinary(DIGEST_BYTES))  # no index: it is the outer loop
    with db.temp_table(conn, "eg_incoming", incoming_digest) as incoming:
        db.bulk_insert(conn, incoming, ["digest"], ((digest,) for digest in identifiers))
        for digest, found, *counts in conn.execute(sa.text(_LOOKUP_SQL), {"scope": scope_id}):
            known[digest] = min(found, known.get(digest, found))
            refs[found] = tuple(counts)
    return known, refs


def _save_reservation(
    conn: Connection,
    scope_id: int,
    key: str,
    status: str,
    subjects: ExportSubjects,
    meta: dict | None,
) -> int:
    now = db.utc_now()
    values = {
        "scope_id": scope_id,
        "status": status,
        "created_at": now,
        "updated_at": now,
        "export_counts": json.dumps(subjects.counts().to_dict(), sort_keys=True),
        "meta": json.dumps({"identified_by": subjects.identified_by, **(meta or {})}, sort_keys=True, default=str),
    }
    existing = conn.execute(sa.select(db.reservation.c.id).where(db.reservation.c.key == key)).scalar()
    if existing is not None:  # a retry, or a new run of the gate after a release: the key's row is reused
        conn.execute(sa.update(db.reservation).where(db.reservation.c.id == existing).values(values))
        return existing
    return conn.execute(sa.insert(db.reservation).values(key=key, **values).returning(db.reservation.c.id)).scalar_one()


def _apply(conn: Connection, scope_id: int, reservation_id: int, plan: _Plan) -> None:
    """Write a plan: new people, updated counts of known people, new aliases, the members, the totals."""
    person_columns = ["scope_id", "digest", "mask", *db.REF_COLUMNS]
    if plan.new:
        tails = {m: (_mask_of_refs(_refs_of(m)), *_refs_of(m)) for m in set(plan.new.values())}
        rows = ((scope_id, d, *tails[m]) for d, m in sorted(plan.new.items()))
        db.bulk_insert(conn, db.person, person_columns, rows)
    if plan.updated:
        staged_columns = [
            sa.Column("digest", sa.LargeBinary(DIGEST_BYTES)),
            sa.Column("mask", sa.Integer),
            *(sa.Column(name, sa.Integer) for name in db.REF_COLUMNS),
        ]
        with db.temp_table(conn, "eg_staged", *staged_columns) as staged:
            rows = ((d, _mask_of_refs(refs), *refs) for d, refs in sorted(plan.updated.items()))
            db.bulk_insert(conn, staged, person_columns[1:], rows)
            conn.execute(
                sa.update(db.person)
                .where(db.person.c.scope_id == scope_id, db.person.c.digest == staged.c.digest)
                .values({name: staged.c[name] for name in person_columns[2:]})
            )
    if plan.aliases:
        rows = ((scope_id, d, p) for d, p in sorted(plan.aliases.items()))
        db.bulk_insert(conn, db.alias, ["scope_id", "digest", "person"], rows)
    rows = ((reservation_id, p, mask) for p, mask in sorted(plan.members.items()))
    db.bulk_insert(conn, db.membership, ["reservation_id", "person", "mask"], rows)
    _write_histogram(conn, scope_id, plan.after)


def _members_cte(reservation_id: int) -> sa.CTE:
    """A reservation's members, materialised so both databases walk them and probe people by key (never the
    other way round: the year may hold ten million people)."""
    member = db.membership
    query = sa.select(member.c.person, member.c.mask).where(member.c.reservation_id == reservation_id)
    return query.cte("members").prefix_with("MATERIALIZED")


def _without(conn: Connection, row: sa.Row, histogram: Counter[int]) -> dict[bytes, tuple[int, ...]]:
    """The reference counts of a reservation's people as if it did not exist; ``histogram`` is adjusted."""
    members, person = _members_cte(row.id), db.person
    query = (
        sa.select(members.c.person, members.c.mask, *(person.c[name] for name in db.REF_COLUMNS))
        .select_from(members)
        .join(person, sa.and_(person.c.scope_id == row.scope_id, person.c.digest == members.c.person))
    )
    refs: dict[bytes, tuple[int, ...]] = {}
    for digest, mask, *counts in conn.execute(query):
        remaining = tuple(a - b for a, b in zip(counts, _refs_of(mask), strict=True))
        refs[digest] = remaining
        old_mask, new_mask = _mask_of_refs(tuple(counts)), _mask_of_refs(remaining)
        if old_mask != new_mask:
            histogram[old_mask] -= 1
            histogram[new_mask] += 1
    histogram.pop(0, None)
    return refs


def _remove_members(conn: Connection, row: sa.Row) -> Counter[int]:
    """Take a reservation's people out of the counts (set-based: one update over its members) and forget its
    members. Returns the new totals histogram of its scope."""
    person, member, members = db.person, db.membership, _members_cte(row.id)
    joined = sa.and_(person.c.scope_id == row.scope_id, person.c.digest == members.c.person)

    def affected() -> Counter[int]:
        query = sa.select(person.c.mask, sa.func.count()).select_from(members).join(person, joined)
        return Counter(dict(conn.execute(query.group_by(person.c.mask)).all()))

    def remaining(name: str, bit: int) -> sa.ColumnElement[int]:
        return person.c[name] - sa.case((members.c.mask.op("&")(bit) != 0, 1), else_=0)

    bits = list(zip(db.REF_COLUMNS, _BITS, strict=True))
    new_mask = sum((sa.case((remaining(name, bit) > 0, bit), else_=0) for name, bit in bits), sa.literal(0))
    old = affected()
    values = {name: remaining(name, bit) for name, bit in bits}
    conn.execute(sa.update(person).where(joined).values(mask=new_mask, **values))
    histogram = _histogram(conn, row.scope_id)
    histogram.subtract(old)
    histogram.update(affected())
    histogram.pop(0, None)
    _write_histogram(conn, row.scope_id, histogram)
    conn.execute(sa.delete(member).where(member.c.reservation_id == row.id))
    return histogram


def _log_history(conn: Connection, scope_id: int, key: str, event: str, histogram: Counter[int]) -> None:
    counts = json.dumps(Counts.from_histogram(histogram).to_dict(), sort_keys=True)
    conn.execute(
        sa.insert(db.history).values(scope_id=scope_id, ts=db.utc_now(), reservation=key, event=event, counts=counts)
    )
