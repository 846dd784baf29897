"""The year-to-date ledger: distinct people exported per data handler and calendar year, by category.

A person is counted once a year however many exports name them (union, not sum), with the OR of every
category any active export found for them (personal-only earlier, medical now: sensitive). People are keyed
digests only (export_gate.people.digest); an alias digest recognises the same person through another identifier.

Each export is a *reservation* under a caller's key ("dag_id/run_id/task_id"): pending from the moment the gate
allows it, confirmed when the export ran, released (no longer counted) when it failed for good. Reserving again
under the key of a pending reservation replaces it, so a retried gate never counts a person twice. A confirmed
reservation is history (its people left): a re-run of the same task reserves under the next free key
("KEY#2", "KEY#3", ...), adding to it, so neither the re-run nor its release can take those people back.

Every change is chained into the audit log: the record of a reservation or release carries the totals it left
in each year it touched and a digest of the reservation's members (``ledger`` in the record), and
``Store.verify`` checks the tables against the last record of each year and reservation.

Why per-bit reference counts: each person row counts how many active reservations carry each category bit,
so releasing a reservation is one set-based update over its members instead of re-reading every other export.
Totals come from a per-(handler, year) histogram of masks (at most 256 rows), so reading them never scans the
10 million people of a busy year.

Why batches and staging tables: an export's people arrive as one table (the local engine, which holds it anyway)
or as a stream of tables of whole people (``model.SubjectBatches``: a Spark driver receiving a billion-row
export's people must not hold them all). Preview plans one batch at a time and stages the plan in the
transaction's temporary tables; the database merges what crosses batches (two people of the export who are one
known person) and reserve writes the staged plan set-based. The process holds one batch, the totals and the
database's own bounded caches, never the export: the counts are exactly those of one table.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from export_gate import settings
from export_gate.errors import LedgerError
from export_gate.model import (
    CATEGORIES,
    CATEGORY_BITS,
    PERSONAL_BIT,
    Counts,
    ExportSubjects,
    SubjectBatches,
    mask_histogram,
)
from export_gate.people.digest import DIGEST_BYTES, DIGEST_SCHEME, pack_digests, unpack_digests
from export_gate.records import database as db
from export_gate.records.anchors import Anchor
from export_gate.records.audit import AuditLog, VerifyResult
from export_gate.records.crosscheck import Claims, cross_check, ledger_state, members_digest, stored_members

PENDING, CONFIRMED, RELEASED = "pending", "confirmed", "released"
_ACTIVE = (PENDING, CONFIRMED)
#: Mask bits in the order of db.REF_COLUMNS.
_BITS: tuple[int, ...] = (PERSONAL_BIT, *(CATEGORY_BITS[name] for name in CATEGORIES))
_ALL_BITS = sum(_BITS)
#: ledger_meta rows: the key check and the digest scheme of each calendar year, and this ledger's random id (see
#: records.anchors).
_KEY_CHECK = "key_check:{year}"
_DIGESTS = "digests:{year}"
_LEDGER_ID = "ledger_id"


def _check_digests(subjects: ExportSubjects) -> None:
    """Only keyed digests may reach the database: anything but a table of 16-byte digests (two 64-bit words
    each, see ``digest.pack_digests``) is refused, so a raw phone number passed by mistake is never stored."""
    if not isinstance(subjects, ExportSubjects):
        raise LedgerError(f"the ledger takes tables of subject digests (ExportSubjects), not {type(subjects).__name__}")
    columns = (subjects.high, subjects.low, subjects.roots, subjects.masks)
    if (
        subjects.high.dtype != np.uint64
        or subjects.low.dtype != np.uint64
        or any(column.ndim != 1 or len(column) != len(subjects.roots) for column in columns)
        or bool((subjects.roots > np.arange(len(subjects.roots), dtype=subjects.roots.dtype)).any())
    ):
        raise LedgerError(
            f"the ledger takes {DIGEST_BYTES}-byte keyed subject digests (export_gate.people.digest.SubjectHasher), "
            "got something else; it never stores raw identifiers"
        )


def _batches(subjects: ExportSubjects | SubjectBatches) -> Iterator[ExportSubjects]:
    """The export's tables of whole people, one at a time: a table is one batch."""
    if isinstance(subjects, ExportSubjects):
        yield subjects
        return
    try:
        batches = iter(subjects)
    except ValueError as exc:
        raise LedgerError(
            f"{exc}: preview and reserve it in one ledger transaction, with one reservation key"
        ) from None
    for batch in batches:
        if getattr(batch, "identified_by", None) != subjects.identified_by:
            raise LedgerError(
                f"a batch of people identified by {batch.identified_by!r} in an export identified by "
                f"{subjects.identified_by!r}; nothing was counted"
            )
        yield batch


@dataclass
class _Plan:
    """What adding one export does to a scope, computed before anything is written (preview), applied by reserve.

    Only the totals are in memory; the people are staged in the transaction's temporary tables (``_Staging``),
    a batch at a time, so planning a ten-million-person export holds one batch in Python, never the export.
    """

    before: Counter[int]
    after: Counter[int]
    exported: Counter[int]  # the export's own {mask: people}, as counted from its batches
    identified_by: str
    staging: _Staging


class _Staging:
    """The temporary tables of one plan: ``incoming`` (one batch's identifiers, for the lookup), ``new`` (people
    the scope does not know yet, with this export's masks), ``alias`` (identifiers not known yet that are not
    their person's digest, and the person each names), ``found`` (the known person of each person of the export
    that has one, with the export's and the known mask) and ``members`` (``found`` merged: each known person once,
    with the OR of the masks of the export's people that are them)."""

    def __init__(self) -> None:
        digest = functools.partial(sa.Column, type_=sa.LargeBinary(DIGEST_BYTES))
        mask = functools.partial(sa.Column, type_=sa.Integer)
        meta = sa.MetaData()

        def temp(name: str, *columns: sa.Column) -> sa.Table:
            return sa.Table(name, meta, *columns, prefixes=["TEMPORARY"])

        self.incoming = temp("eg_incoming", sa.Column("idx", sa.Integer), digest("digest"))
        self.new = temp("eg_new", digest("digest"), mask("mask"))
        self.alias = temp("eg_alias", digest("digest"), digest("person"))
        self.found = temp("eg_found", digest("person"), mask("mask"), mask("old"))
        self.members = temp("eg_members", digest("person"), mask("mask"), mask("old"))
        self._tables = (self.incoming, self.new, self.alias, self.found, self.members)

    def create(self, conn: Connection) -> None:
        for table in self._tables:
            table.drop(conn, checkfirst=True)  # a plan this transaction made and did not reserve
            table.create(conn)

    def drop(self, conn: Connection) -> None:
        for table in self._tables:
            table.drop(conn, checkfirst=True)


@dataclass
class _People:
    """Digests as two word columns, in digest order, and a mask per digest."""

    high: np.ndarray
    low: np.ndarray
    masks: np.ndarray

    def __len__(self) -> int:
        return len(self.high)


class LedgerTx:
    """One locked transaction on one handler's ledger: read the counts, decide, reserve, audit, commit."""

    def __init__(self, store: Store, conn: Connection, handler_id: str, year: int) -> None:
        self._store = store
        self._conn = conn
        self.handler_id = handler_id
        self.year = int(year)
        self._cached: tuple[ExportSubjects | SubjectBatches, str | None, _Plan] | None = None
        self._changes: dict | None = None

    def preview(
        self,
        subjects: ExportSubjects | SubjectBatches,
        *,
        reservation: str | None = None,
        scheme: str = DIGEST_SCHEME,
    ) -> tuple[Counts, Counts]:
        """(before, after) year-to-date counts. ``before`` leaves out the earlier subjects of a pending
        ``reservation`` (a retry replaces them), so a retried export is judged exactly like its first try. A key
        or digest ``scheme`` other than the year's is refused here, before any decision: its digests would match
        nobody. Batches (``SubjectBatches``) are read here, once: reserve them in this transaction under the same
        key."""
        self._store.check_key(self._conn, self.year, record=False, scheme=scheme)
        key = self._run_key(reservation)
        plan = self._plan(subjects, self._earlier(key))
        self._cached = (subjects, key, plan)
        return Counts.from_histogram(plan.before), Counts.from_histogram(plan.after)

    def reserve(
        self,
        reservation: str,
        subjects: ExportSubjects | SubjectBatches,
        *,
        status: str = PENDING,
        meta: dict | None = None,
        scheme: str = DIGEST_SCHEME,
    ) -> str:
        """Count this export's subjects (digested under ``scheme``) under ``reservation`` (replacing a pending
        reservation of that key; after a confirmed one, under the next free key). Returns the key reserved under."""
        if status not in _ACTIVE:
            raise LedgerError(f"a new reservation is {PENDING!r} or {CONFIRMED!r}, not {status!r}")
        self._store.check_key(self._conn, self.year, record=True, scheme=scheme)
        key = self._run_key(reservation)
        assert key is not None
        earlier = self._earlier(key)
        cached, self._cached = self._cached, None
        if cached is not None and cached[0] is subjects and cached[1] == key:
            plan = cached[2]  # same lock, same state: what preview computed is what we write
        else:
            plan = self._plan(subjects, earlier)
        scope_id = _scope_id(self._conn, self.handler_id, self.year, create=True)
        assert scope_id is not None
        years = {self.year: plan.after}
        if earlier is not None:  # take the earlier try back (the plan already counts this year's without it)
            totals = _remove_members(self._conn, earlier)
            if earlier.scope_id != scope_id:  # last year's try of this key
                _log_history(self._conn, earlier.scope_id, key, "release", totals)
                years[earlier.year] = totals
        reservation_id = _save_reservation(self._conn, scope_id, key, status, plan, meta)
        _apply(self._conn, scope_id, reservation_id, plan)
        _log_history(self._conn, scope_id, key, "reserve", plan.after)
        members, people = stored_members(self._conn, reservation_id)
        self._changes = ledger_state(self.handler_id, key, members, people, years)
        return key

    def append_audit(self, record: dict) -> int:
        """Append the audit record in this transaction: it commits (or not) with the reservation, and carries
        the ledger state the reservation left (so verify can cross-check the ledger against it)."""
        full = {"handler_id": self.handler_id, "year": self.year, **record}
        if self._changes is not None:
            full["ledger"] = self._changes
        return self._store.audit.append(self._conn, full, self._store.secret_key)

    def close(self) -> None:
        """Drop the staged plan of a preview that was not reserved (temporary tables outlive a transaction)."""
        if self._cached is not None:
            self._cached[2].staging.drop(self._conn)
            self._cached = None

    def _run_key(self, reservation: str | None) -> str | None:
        """The key this run reserves under: ``reservation`` itself, unless a confirmed reservation (an export
        that ran) holds it: then the next of KEY#2, KEY#3, ... that is not confirmed."""
        if reservation is None:
            return None
        key, number = reservation, 1
        while (row := _reservation(self._conn, key)) is not None and row.status == CONFIRMED:
            number += 1
            key = f"{reservation}#{number}"
        return key

    def _earlier(self, reservation: str | None) -> sa.Row | None:
        """The pending reservation this key would replace (None if none). Another handler's key is an error:
        the lock held here does not cover that handler's ledger."""
        if reservation is None:
            return None
        row = _reservation(self._conn, reservation)
        if row is None or row.status != PENDING:
            return None
        if row.handler_id != self.handler_id:
            raise LedgerError(
                f"reservation {reservation!r} belongs to data handler {row.handler_id!r}, not {self.handler_id!r}; "
                "use a reservation key that names the task run (dag_id/run_id/task_id)"
            )
        return row

    def _plan(self, subjects: ExportSubjects | SubjectBatches, earlier: sa.Row | None) -> _Plan:
        """What reserving ``subjects`` would do, replacing ``earlier`` (a reservation of this scope, or None): the
        totals before and after, and the people staged (see ``_Staging``), one batch of whole people at a time.

        A person of the export found through several identifiers is the smallest known person they name
        (several known people stay apart: counting high is the safe side); the export's identifiers the scope
        does not know yet become aliases of that person, so a later export naming only one of them finds them.
        Several people of the export can be one known person, in different batches: the database merges them.
        """
        self.close()  # a plan staged earlier in this transaction and not reserved
        scope_id = _scope_id(self._conn, self.handler_id, self.year)
        before = _histogram(self._conn, scope_id) if scope_id is not None else Counter()
        replaced = earlier.id if earlier is not None and earlier.scope_id == scope_id else None
        if scope_id is not None:  # before any join against the scope (the totals still hold ``earlier``)
            _refresh_statistics(self._conn, scope_id, sum(before.values()), replaced)
        if replaced is not None:
            _histogram_without(self._conn, earlier, before)
        staging = _Staging()
        staging.create(self._conn)
        after, exported, people = before.copy(), Counter(), 0
        for batch in _batches(subjects):
            _check_digests(batch)
            new = _plan_batch(self._conn, staging, scope_id, replaced, batch)
            after.update(mask_histogram(new))
            exported.update(mask_histogram(batch.masks))
            people += int(np.count_nonzero(batch.roots == np.arange(len(batch.roots), dtype=batch.roots.dtype)))
        if isinstance(subjects, SubjectBatches) and (dict(exported) != subjects.histogram or people != len(subjects)):
            raise LedgerError(
                f"the export's batches name {people:,} people ({Counts.from_histogram(exported).personal:,} with "
                f"personal information), not the {len(subjects):,} ({subjects.counts().personal:,}) its scan "
                "counted: a person was split between batches or a batch was lost; nothing was counted"
            )
        for old, new_mask, count in _merge_found(self._conn, staging):
            if old != new_mask:
                after[old] -= count
                after[new_mask] += count
        after.pop(0, None)
        return _Plan(before, after, exported, subjects.identified_by, staging)


def _plan_batch(
    conn: Connection, staging: _Staging, scope_id: int | None, replaced: int | None, subjects: ExportSubjects
) -> np.ndarray:
    """Plan one batch of whole people into the staging tables; returns the masks of its new people."""
    size = len(subjects.roots)
    is_root = subjects.roots == np.arange(size, dtype=subjects.roots.dtype)
    if scope_id is not None:
        known_at, known = _lookup(conn, staging.incoming, scope_id, replaced, subjects.high, subjects.low)
    else:
        known_at, known = np.zeros(0, np.int64), _People(*_NO_WORDS, _NO_MASKS)
    # the known person of each person of the export that has one: the smallest found through any identifier
    found_root, first = _first_per_group(subjects.roots[known_at], known.high, known.low)
    found = _People(known.high[first], known.low[first], known.masks[first])  # masks: without ``earlier``
    del known, first
    has_found = np.zeros(size, dtype=bool)
    has_found[found_root] = True
    new_at = np.flatnonzero(is_root & ~has_found)
    new_masks = subjects.masks[new_at] & _ALL_BITS
    db.bulk_insert(conn, staging.new, ["digest", "mask"], _rows(len(new_at), _words(subjects, new_at), new_masks))
    del new_at
    rows = _rows(len(found), (found.high, found.low), subjects.masks[found_root] & _ALL_BITS, found.masks)
    db.bulk_insert(conn, staging.found, ["person", "mask", "old"], rows)
    # identifiers not known yet that are not their person's digest: learnt as aliases
    is_known = np.zeros(size, dtype=bool)
    is_known[known_at] = True
    alias_at = np.flatnonzero(~is_known & (has_found[subjects.roots] | ~is_root))
    del is_known, is_root, known_at
    roots = subjects.roots[alias_at]
    through = has_found[roots]
    where = np.searchsorted(found_root, roots).clip(max=max(len(found_root) - 1, 0))
    person_high = np.where(through, found.high[where] if len(found) else 0, subjects.high[roots])
    person_low = np.where(through, found.low[where] if len(found) else 0, subjects.low[roots])
    rows = _rows(len(alias_at), _words(subjects, alias_at), (person_high, person_low))
    db.bulk_insert(conn, staging.alias, ["digest", "person"], rows)
    return new_masks


def _words(subjects: ExportSubjects, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return subjects.high[at], subjects.low[at]


def _merge_found(conn: Connection, staging: _Staging) -> list[tuple[int, int, int]]:
    """Merge the staged known people (one row per person of the export that is them) into ``members``; returns
    how their masks change: (mask now, mask with this export, people), at most 256 x 256 rows. SQLite has no
    bitwise OR aggregate: the OR of masks is the sum of each bit's maximum."""
    found = staging.found
    merged = sum((sa.func.max(found.c.mask.op("&")(bit)) for bit in _BITS), sa.literal(0))
    query = sa.select(found.c.person, merged, sa.func.max(found.c.old)).group_by(found.c.person)
    conn.execute(sa.insert(staging.members).from_select(["person", "mask", "old"], query))
    if conn.dialect.name == "postgresql":  # a temp table: the planner of the update in _apply must know its size
        conn.exec_driver_sql(f"ANALYZE {staging.members.name}")
    members = staging.members.c
    grown = members.old.op("|")(members.mask)
    query = sa.select(members.old, grown, sa.func.count()).group_by(members.old, grown)
    return [(int(old), int(new), int(count)) for old, new, count in conn.execute(query)]


class Store:
    """The ledger and the audit log, in one database (``url``; None: settings.default_ledger_url()).

    Opening a store migrates the database to the current schema (``read_only``: never writes; the schema must
    be current). ``secret_key`` is the key the digests were made with (default: $EXPORT_GATE_SECRET_KEY);
    recording refuses to run without one, and any use refuses a key other than the one the year was started
    with (its digests would never match: everyone counted twice). The key also chains the audit records.
    """

    def __init__(self, url: str | None = None, *, secret_key: bytes | None = None, read_only: bool = False) -> None:
        self.url = url or settings.default_ledger_url()
        self.engine = db.make_engine(self.url, read_only=read_only)
        if read_only:
            db.check_current(self.engine)
        else:
            db.migrate(self.engine)
        self._secret_key = secret_key
        self.audit = AuditLog(self.engine)

    @property
    def secret_key(self) -> bytes | None:
        """The key given, else $EXPORT_GATE_SECRET_KEY, else None (records are then chained unkeyed)."""
        return self._secret_key or settings.optional_secret_key()

    def ledger_id(self) -> str:
        """This ledger's random id (made by schema revision 0003): names it in anchor files."""
        with db.read_connection(self.engine) as conn:
            value = _meta_value(conn, _LEDGER_ID)
        if value is None:
            raise LedgerError(f"the ledger {db.safe_url(self.engine)} has no id (ledger_meta.ledger_id was removed)")
        return value

    def verify(self, anchors: Sequence[Anchor] = ()) -> VerifyResult:
        """Verify the audit chain (with this store's key and $EXPORT_GATE_PREVIOUS_SECRET_KEYS) against
        ``anchors``, then cross-check the ledger tables against the state the records say they left."""
        keys = [key for key in (self.secret_key, *settings.previous_secret_keys()) if key is not None]
        claims = Claims()
        result = self.audit.verify(keys, anchors, visit=claims.add)
        if not result.ok:
            return result
        problem, lines = cross_check(self.engine, claims)
        checks = (*result.checks, *lines)
        if problem is not None:
            record_id, reason = problem
            return VerifyResult(False, result.checked, record_id, reason, checks)
        return VerifyResult(True, result.checked, None, result.reason, checks)

    def counts(self, handler_id: str, year: int) -> Counts:
        """Year-to-date counts (pending and confirmed reservations)."""
        with db.read_connection(self.engine) as conn:
            scope_id = _scope_id(conn, handler_id, year)
            return Counts.from_histogram(_histogram(conn, scope_id) if scope_id is not None else {})

    @contextmanager
    def transaction(self, handler_id: str, year: int) -> Iterator[LedgerTx]:
        """Lock ``handler_id``'s ledger and open one transaction: commit on success, roll back on any error."""
        with db.write_transaction(self.engine, locks=(_handler_lock(handler_id),)) as conn:
            tx = LedgerTx(self, conn, handler_id, year)
            yield tx
            tx.close()

    def confirm(self, reservation: str, *, audit: dict | None = None) -> None:
        """The export ran: its reservation stays counted for good."""
        self._finish(reservation, CONFIRMED, audit)

    def release(self, reservation: str, *, audit: dict | None = None) -> None:
        """The export failed for good: its people are no longer counted (unless another export has them)."""
        self._finish(reservation, RELEASED, audit)

    def append_audit(self, record: dict, *, wait_s: float | None = None) -> int:
        """Append an audit record in its own transaction (a gate that failed before the ledger was reached);
        ``wait_s`` bounds the wait for a busy SQLite ledger."""
        with db.write_transaction(self.engine, wait_s=wait_s) as conn:
            return self.audit.append(conn, record, self.secret_key)

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

    def digest_scheme(self, year: int) -> str:
        """The subject digest scheme of ``year`` (people/digest.py): the one the year started with, or the current
        default for a year not started yet. A gate scans with it, so its digests can match the year's people."""
        with db.read_connection(self.engine) as conn:
            return _meta_value(conn, _DIGESTS.format(year=int(year))) or DIGEST_SCHEME

    def check_key(self, conn: Connection, year: int, *, record: bool, scheme: str = DIGEST_SCHEME) -> None:
        """Refuse another key or digest ``scheme`` than the ones ``year`` was started with (``record``: also
        refuse to record without a key, and make this key and scheme the year's when it is the first). Without a
        key and without recording (a what-if with a throw-away key) there is nothing to compare."""
        key = self.secret_key
        if key is None:
            if record:
                settings.secret_key_from_env()  # raises, saying where the key comes from
            return
        check = hmac.new(key, b"export-gate ledger key check", hashlib.sha256).hexdigest()
        name, digests = _KEY_CHECK.format(year=int(year)), _DIGESTS.format(year=int(year))
        stored, stored_scheme = _meta_value(conn, name), _meta_value(conn, digests)
        if record and (stored is None or stored_scheme is None):
            db.lock(conn, "key-check")
            stored, stored_scheme = _meta_value(conn, name), _meta_value(conn, digests)
            if stored is None:
                conn.execute(sa.insert(db.ledger_meta).values(name=name, value=check))
                stored = check
            if stored_scheme is None:
                conn.execute(sa.insert(db.ledger_meta).values(name=digests, value=scheme))
                stored_scheme = scheme
        if stored is not None and not hmac.compare_digest(stored, check):
            raise LedgerError(
                f"the ledger {db.safe_url(self.engine)} counts {year} under a different secret key: this key's "
                f"digests would match none of the year's people and every one would be counted again; set "
                f"{settings.SECRET_KEY_ENV} (in Airflow: the connection 'export_gate_secret') to the key the year "
                "was started with; a new key can start with a new year (docs/security.md, key rotation)"
            )
        if stored_scheme is not None and stored_scheme != scheme:
            raise LedgerError(
                f"the ledger {db.safe_url(self.engine)} counts {year} with {stored_scheme} subject digests, and "
                f"this export was digested with {scheme}: they would match none of the year's people; scan with "
                f"the year's scheme (Store.digest_scheme({year}), which the gate does) and run again"
            )

    def _finish(self, key: str, status: str, audit: dict | None) -> None:
        with db.write_transaction(self.engine) as conn:
            row = _reservation(conn, key)
            if row is None:
                raise LedgerError(f"no reservation {key!r} in the ledger {db.safe_url(self.engine)}")
            db.lock(conn, _handler_lock(row.handler_id))
            row = _reservation(conn, key)  # re-read under the handler's lock
            assert row is not None
            changes = None
            if row.status != status:
                if row.status != PENDING:
                    raise LedgerError(
                        f"reservation {key!r} is already {row.status}; only a pending reservation can become "
                        f"{status} (a confirmed export stays counted; a released one needs a new gate run)"
                    )
                if status == RELEASED:
                    totals = _remove_members(conn, row)
                    _log_history(conn, row.scope_id, key, "release", totals)
                    nobody = members_digest(*_NO_WORDS, _NO_MASKS)
                    changes = ledger_state(row.handler_id, key, nobody, 0, {row.year: totals})
                conn.execute(
                    sa.update(db.reservation)
                    .where(db.reservation.c.id == row.id)
                    .values(status=status, updated_at=db.utc_now())
                )
            if audit is not None or changes is not None:  # a change of the counts always leaves a record
                event = "confirm" if status == CONFIRMED else "release"
                record = {"event": event, "handler_id": row.handler_id, "year": row.year, "reservation": key}
                record.update(audit or {})
                if changes is not None:
                    record["ledger"] = changes
                self.audit.append(conn, record, self.secret_key)


def _handler_lock(handler_id: str) -> str:
    return f"handler:{handler_id}"


def _meta_value(conn: Connection, name: str) -> str | None:
    return conn.execute(sa.select(db.ledger_meta.c.value).where(db.ledger_meta.c.name == name)).scalar()


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


def _first_per_group(groups: np.ndarray, high: np.ndarray, low: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``groups`` (sorted) and, for each, the position of its smallest digest (high, low)."""
    order = np.lexsort((low, high, groups))
    ordered = groups[order]
    first = np.ones(len(order), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first], order[first]


_NO_WORDS = (np.zeros(0, np.uint64), np.zeros(0, np.uint64))
_NO_MASKS = np.zeros(0, np.uint16)
#: Rows per batch between numpy and the database (digests unpacked to bytes, results read back), so the
#: buffers stay a few megabytes however many people an export names.
_BATCH = 1 << 16


def _rows(size: int, *columns: object) -> Iterator[tuple]:
    """Rows for ``db.bulk_insert``, ``_BATCH`` at a time: a column is a constant, a ``range``, a numpy array, or
    a pair of word arrays (high, low) that become 16-byte digests."""
    for start in range(0, size, _BATCH):
        part = slice(start, min(start + _BATCH, size))
        values: list[Iterable[object]] = []
        for column in columns:
            if isinstance(column, tuple):
                values.append(unpack_digests(np.column_stack([column[0][part], column[1][part]])))
            elif isinstance(column, np.ndarray):
                values.append(column[part].tolist())
            elif isinstance(column, range):
                values.append(column[part])
            else:
                values.append(itertools.repeat(column, part.stop - part.start))
        yield from zip(*values, strict=False)


def _shifted(members: sa.FromClause, sign: int) -> dict[str, sa.ColumnElement[int]]:
    """ledger_person's reference counts and mask once ``members`` (person, mask) are added (``sign`` 1) to, or
    taken out (-1) of, them: one set-based update however many people a reservation holds."""
    person = db.person
    values = {
        name: person.c[name] + sa.case((members.c.mask.op("&")(bit) != 0, sign), else_=0)
        for name, bit in zip(db.REF_COLUMNS, _BITS, strict=True)
    }
    bits = zip(db.REF_COLUMNS, _BITS, strict=True)
    values["mask"] = sum((sa.case((values[name] > 0, bit), else_=0) for name, bit in bits), sa.literal(0))
    return values


#: Known people named by the identifiers in eg_incoming, directly or through an alias, with each one's mask
#: without the reservation :replaced (a retry: its people are counted as if it did not exist). CROSS JOIN fixes
#: the join order in SQLite (which has no statistics on a fresh temp table): scan the export's digests, probe
#: the keys.
_LOOKUP_SQL = """
SELECT i.idx, ledger_person.digest, {mask} FROM eg_incoming AS i CROSS JOIN ledger_person
 LEFT JOIN ledger_membership
  ON ledger_membership.reservation_id = :replaced AND ledger_membership.person = ledger_person.digest
 WHERE ledger_person.scope_id = :scope AND ledger_person.digest = i.digest
UNION ALL
SELECT i.idx, ledger_person.digest, {mask} FROM eg_incoming AS i CROSS JOIN ledger_alias AS a
 CROSS JOIN ledger_person
 LEFT JOIN ledger_membership
  ON ledger_membership.reservation_id = :replaced AND ledger_membership.person = ledger_person.digest
 WHERE a.scope_id = :scope AND a.digest = i.digest AND ledger_person.scope_id = :scope
  AND ledger_person.digest = a.person
"""


#: PostgreSQL: refresh the ledger's statistics when the planner expects fewer than this share of the rows ...
_STALE_SHARE = 0.5
#: ... and there are at least this many (below it any plan is fast).
_STALE_MIN_ROWS = 1000


def _refresh_statistics(conn: Connection, scope_id: int, people: int, replaced: int | None = None) -> None:
    """Make PostgreSQL's plans of this scope's joins independent of when autovacuum last ran.

    The planner sizes a handler/year's rows, and a reservation's members, from the tables' statistics. A scope
    or reservation written since the last ANALYZE (autovacuum waits for 10% of the whole table to change) looks
    like one row, and a nested loop over that "one" row rescans the other side for each of thousands: a
    what-if on 32,493 people took 77 s (375M rows removed by a join filter) under the handler's lock, and the
    retry of a 100,000-person export against its own earlier members 733 s (10^9 rows removed). So before
    joining, ask the planner how many rows it expects for the scope (``people``: what the totals hold, at most
    256 rows to read) and for the members of the reservation ``replaced`` (counted on its primary key); below
    half of either, ANALYZE the ledger's tables in this transaction (its own uncommitted rows count as live).
    A few hundred milliseconds at ten million people, and only when the statistics are stale. SQLite keeps no
    statistics here: its joins are fixed by CROSS JOIN and by probing primary keys."""
    if conn.dialect.name != "postgresql":
        return
    checks = [(f"ledger_person WHERE scope_id = {int(scope_id)}", people)]
    if replaced is not None:
        where = f"ledger_membership WHERE reservation_id = {int(replaced)}"
        checks.append((where, conn.exec_driver_sql(f"SELECT count(*) FROM {where}").scalar_one()))
    for where, rows in checks:
        if rows < _STALE_MIN_ROWS:
            continue
        expected = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {where}").scalar_one()[0]["Plan"]
        if expected["Plan Rows"] < rows * _STALE_SHARE:
            conn.exec_driver_sql("ANALYZE ledger_person, ledger_alias, ledger_membership")
            return


def _lookup(
    conn: Connection, incoming: sa.Table, scope_id: int, replaced: int | None, high: np.ndarray, low: np.ndarray
) -> tuple[np.ndarray, _People]:
    """Which identifiers (positions in ``high``/``low``) name a known person, sorted, and for each the smallest
    known person it names, with that person's mask without the reservation ``replaced``. ``incoming`` (empty)
    holds the identifiers while they are joined."""
    without = _shifted(db.membership, -1)["mask"]
    query = _LOOKUP_SQL.format(mask=without.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    at: list[np.ndarray] = []
    people: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    db.bulk_insert(conn, incoming, ["idx", "digest"], _rows(len(high), range(len(high)), (high, low)))
    result = conn.execute(
        sa.text(query), {"scope": scope_id, "replaced": replaced}, execution_options={"yield_per": _BATCH}
    )
    for rows in result.partitions(_BATCH):
        found_at, found, mask = zip(*rows, strict=True)
        at.append(np.array(found_at, dtype=np.int64))
        people.append(pack_digests(found))
        masks.append(np.array(mask, dtype=np.uint16))
    conn.execute(sa.delete(incoming))
    if not at:
        return np.zeros(0, np.int64), _People(*_NO_WORDS, _NO_MASKS)
    found_at = np.concatenate(at)
    words = np.concatenate(people)
    del at, people
    found_at, first = _first_per_group(found_at, words[:, 0], words[:, 1])
    return found_at, _People(words[first, 0], words[first, 1], np.concatenate(masks)[first])


def _save_reservation(
    conn: Connection,
    scope_id: int,
    key: str,
    status: str,
    plan: _Plan,
    meta: dict | None,
) -> int:
    now = db.utc_now()
    values = {
        "scope_id": scope_id,
        "status": status,
        "created_at": now,
        "updated_at": now,
        "export_counts": json.dumps(Counts.from_histogram(plan.exported).to_dict(), sort_keys=True),
        "meta": json.dumps({"identified_by": plan.identified_by, **(meta or {})}, sort_keys=True, default=str),
    }
    existing = conn.execute(sa.select(db.reservation.c.id).where(db.reservation.c.key == key)).scalar()
    if existing is not None:  # a retry, or a new run of the gate after a release: the key's row is reused
        conn.execute(sa.update(db.reservation).where(db.reservation.c.id == existing).values(values))
        return existing
    return conn.execute(sa.insert(db.reservation).values(key=key, **values).returning(db.reservation.c.id)).scalar_one()


def _apply(conn: Connection, scope_id: int, reservation_id: int, plan: _Plan) -> None:
    """Write a staged plan: new people, known people's counts, new aliases, the members, the totals; set-based,
    from the staging tables to the ledger's, inside the database. Drops the staging tables."""
    new, members = plan.staging.new, plan.staging.members
    person_columns = ["scope_id", "digest", "mask", *db.REF_COLUMNS]
    counted = (sa.case((new.c.mask.op("&")(bit) != 0, 1), else_=0) for bit in _BITS)  # each bit of their mask
    new_people = sa.select(sa.literal(scope_id), new.c.digest, new.c.mask, *counted)
    conn.execute(sa.insert(db.person).from_select(person_columns, new_people))
    joined = sa.and_(db.person.c.scope_id == scope_id, db.person.c.digest == members.c.person)
    conn.execute(sa.update(db.person).where(joined).values(_shifted(members, 1)))
    alias = plan.staging.alias
    aliases = sa.select(sa.literal(scope_id), alias.c.digest, alias.c.person)
    conn.execute(sa.insert(db.alias).from_select(["scope_id", "digest", "person"], aliases))
    for digest, mask in ((new.c.digest, new.c.mask), (members.c.person, members.c.mask)):
        rows = sa.select(sa.literal(reservation_id), digest, mask)
        conn.execute(sa.insert(db.membership).from_select(["reservation_id", "person", "mask"], rows))
    _write_histogram(conn, scope_id, plan.after)
    plan.staging.drop(conn)


def _members_cte(reservation_id: int) -> sa.CTE:
    """A reservation's members, materialised so both databases walk them and probe people by key (never the
    other way round: the year may hold ten million people)."""
    member = db.membership
    query = sa.select(member.c.person, member.c.mask).where(member.c.reservation_id == reservation_id)
    return query.cte("members").prefix_with("MATERIALIZED")


def _histogram_without(conn: Connection, row: sa.Row, histogram: Counter[int]) -> None:
    """Adjust the totals ``histogram`` of a reservation's scope as if the reservation did not exist: one
    aggregate of (mask now, mask without it) over its members, at most 256 x 256 rows."""
    members, person = _members_cte(row.id), db.person
    pairs = (
        sa.select(person.c.mask.label("old"), _shifted(members, -1)["mask"].label("new"))
        .select_from(members)
        .join(person, sa.and_(person.c.scope_id == row.scope_id, person.c.digest == members.c.person))
        .subquery()
    )
    query = sa.select(pairs.c.old, pairs.c.new, sa.func.count()).group_by(pairs.c.old, pairs.c.new)
    for old, new, count in conn.execute(query):
        if old != new:
            histogram[old] -= count
            histogram[new] += count
    histogram.pop(0, None)


def _remove_members(conn: Connection, row: sa.Row) -> Counter[int]:
    """Take a reservation's people out of the counts (set-based: one update over its members) and forget its
    members. Returns the new totals histogram of its scope."""
    person, member, members = db.person, db.membership, _members_cte(row.id)
    histogram = _histogram(conn, row.scope_id)
    _refresh_statistics(conn, row.scope_id, sum(histogram.values()), row.id)
    _histogram_without(conn, row, histogram)
    joined = sa.and_(person.c.scope_id == row.scope_id, person.c.digest == members.c.person)
    conn.execute(sa.update(person).where(joined).values(_shifted(members, -1)))
    _write_histogram(conn, row.scope_id, histogram)
    conn.execute(sa.delete(member).where(member.c.reservation_id == row.id))
    return histogram


def _log_history(conn: Connection, scope_id: int, key: str, event: str, histogram: Counter[int]) -> None:
    counts = json.dumps(Counts.from_histogram(histogram).to_dict(), sort_keys=True)
    conn.execute(
        sa.insert(db.history).values(scope_id=scope_id, ts=db.utc_now(), reservation=key, event=event, counts=counts)
    )
