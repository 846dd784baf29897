"""The tamper-evident audit log: one record per gate run (and per confirm / release), chained.

Each record is stored as canonical JSON with ``prev_hash`` and ``hash = HMAC(audit key, prev_hash + json)``;
the audit key is derived from the gate's secret key, which the database does not hold, so someone who can
write to the database but does not have the key cannot re-chain records after altering them. The record holds
its own id and time and the id of the key that chained it (``chain_key``, a fingerprint, not the key), so
altering, removing or reordering any record breaks the chain at that record. A head row keeps the newest id
and hash, and every new head is also published outside the database (records.anchors): removing the newest
records, or wiping the log, is then caught by comparing with a head recorded elsewhere.

Records written without a key (before schema revision 0003, or a refusal for a missing key) are chained with
plain SHA-256 and ``chain_key`` null; verify counts and names them, since anyone can re-chain those.
Records hold counts, rule ids, column names and digests only; the caller keeps raw values out.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from export_gate import settings
from export_gate.errors import LedgerError
from export_gate.records import database as db
from export_gate.records.anchors import Anchor

EVENTS = ("gate", "confirm", "release", "filing", "review")
ACTIONS = ("allow", "annotate", "block", None)
#: Keyword filters of query() and export().
FILTERS = ("dag_id", "handler_id", "list_id", "scenario", "action", "event", "since", "until")
#: Columns of the CSV export, in order (the full record is the last column).
CSV_COLUMNS: tuple[str, ...] = ("id", "ts", *db.AUDIT_FILTER_COLUMNS, "prev_hash", "hash", "record")


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of walking the chain: ``first_broken`` names the first record that does not chain;
    ``checks`` says, one line each, what was checked (and what could not be)."""

    ok: bool
    checked: int
    first_broken: int | None
    reason: str
    checks: tuple[str, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        """No record at all: nothing was verified (a fresh ledger, another database, or a wiped log)."""
        return self.ok and self.checked == 0


def audit_key(secret_key: bytes) -> bytes:
    """The key that chains audit records, derived from the gate's secret (one secret to keep, two uses that
    never share a digest)."""
    return hmac.new(secret_key, b"export-gate audit chain v1", hashlib.sha256).digest()


def key_id(secret_key: bytes) -> str:
    """A public fingerprint of the audit key, stored in each record: says which key chained it."""
    return hmac.new(audit_key(secret_key), b"export-gate key id", hashlib.sha256).hexdigest()[:16]


def canonical_json(record: dict) -> str:
    """The exact text that is hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise LedgerError(f"an audit record field of type {type(value).__name__} cannot be stored as JSON")


def chain_hash(prev_hash: str, text: str, key: bytes | None = None) -> str:
    """HMAC-SHA256 with the audit ``key`` (see audit_key), or plain SHA-256 for an unkeyed record."""
    message = (prev_hash + text).encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def filter_columns(record: dict) -> dict[str, object]:
    """The indexed columns of a record, taken from the record itself (verify checks they still agree)."""
    listed = record.get("list")
    return {
        "event": _text(record.get("event")),
        "handler_id": _text(record.get("handler_id")),
        "year": _integer(record.get("year")),
        "dag_id": _text(record.get("dag_id")),
        "run_id": _text(record.get("run_id")),
        "task_id": _text(record.get("task_id")),
        "try_number": _integer(record.get("try_number")),
        "list_id": _text(listed.get("id") if isinstance(listed, dict) else None),
        "scenario": _text(record.get("scenario")),
        "action": _text(record.get("action")),
    }


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _integer(value: object) -> int | None:
    try:
        return None if value is None else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


class AuditLog:
    """Append, query, verify and export the audit records of one ledger database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(self, conn: Connection, record: dict, secret_key: bytes | None = None) -> int:
        """Append ``record`` inside the caller's transaction, chained with ``secret_key``'s audit key (None: an
        unkeyed record); returns its id. The head row is locked until the transaction ends, so concurrent
        appenders form one chain."""
        event = record.get("event") or "gate"
        if event not in EVENTS:
            raise LedgerError(f"audit event {event!r} is not one of {', '.join(EVENTS)}")
        if record.get("action") not in ACTIONS:
            raise LedgerError(f"audit action {record.get('action')!r} is not one of allow, annotate, block or none")
        head = conn.execute(sa.select(db.audit_head).where(db.audit_head.c.id == 1).with_for_update()).one()
        record_id = head.last_id + 1
        chain_key = None if secret_key is None else key_id(secret_key)
        body = {**record, "id": record_id, "ts": db.utc_now(), "event": event, "chain_key": chain_key}
        text = canonical_json(body)
        digest = chain_hash(head.last_hash, text, None if secret_key is None else audit_key(secret_key))
        conn.execute(
            sa.insert(db.audit_log).values(
                id=record_id, ts=body["ts"], record=text, prev_hash=head.last_hash, hash=digest, **filter_columns(body)
            )
        )
        conn.execute(
            sa.update(db.audit_head).where(db.audit_head.c.id == 1).values(last_id=record_id, last_hash=digest)
        )
        return record_id

    def query(self, *, limit: int = 50, offset: int = 0, **filters: Any) -> tuple[list[dict], int]:
        """One page of records, newest first, and how many match in all. ``filters``: see ``FILTERS``."""
        where = _where(filters)
        log = db.audit_log
        with db.read_connection(self.engine) as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(log).where(*where)).scalar_one()
            rows = conn.execute(sa.select(log).where(*where).order_by(log.c.id.desc()).limit(limit).offset(offset))
            return [as_record(row) for row in rows], total

    def head(self) -> tuple[int, str] | None:
        """(id, hash) of the newest record, as the head row says (None: no record yet)."""
        with db.read_connection(self.engine) as conn:
            row = conn.execute(sa.select(db.audit_head).where(db.audit_head.c.id == 1)).one()
        return None if row.last_id == 0 else (row.last_id, row.last_hash)

    def get(self, record_id: int) -> dict | None:
        with db.read_connection(self.engine) as conn:
            row = conn.execute(sa.select(db.audit_log).where(db.audit_log.c.id == record_id)).one_or_none()
            return None if row is None else as_record(row)

    def verify(
        self,
        secret_keys: Sequence[bytes] | None = None,
        anchors: Sequence[Anchor] = (),
        visit: Callable[[dict], None] | None = None,
    ) -> VerifyResult:
        """Walk the chain from the first record with the audit keys of ``secret_keys`` (default: the configured
        key and previous keys); compare with the head row and with ``anchors`` (heads recorded outside the
        database); stop at the first record that does not chain, and say why. ``visit`` sees each record that
        chained (the ledger cross-check reads them)."""
        if secret_keys is None:
            secret_keys = [key for key in (settings.optional_secret_key(), *settings.previous_secret_keys()) if key]
        keys = {key_id(secret): audit_key(secret) for secret in secret_keys}
        wanted: dict[int, list[Anchor]] = {}
        for anchor in anchors:
            wanted.setdefault(anchor.record_id, []).append(anchor)
        walk = _Walk(keys)
        with db.read_connection(self.engine) as conn:
            head = conn.execute(sa.select(db.audit_head).where(db.audit_head.c.id == 1)).one()
            for row in _stream(conn, sa.select(*_CHAIN_COLUMNS).order_by(db.audit_log.c.id)):
                reason = walk.step(tuple(row))
                for anchor in wanted.pop(row.id, []):
                    reason = reason or _anchor_mismatch(anchor, row.hash)
                if reason:
                    return VerifyResult(False, walk.checked, row.id, f"record {row.id}: {reason}", walk.checks())
                if visit is not None:
                    visit(walk.body)
        last_id = walk.expected_id - 1
        if (head.last_id, head.last_hash) != (last_id, walk.prev_hash):
            reason = (
                f"the chain ends at record {last_id}, but the head row says it ends at record {head.last_id}: "
                "the newest record(s) were removed, or the head row was altered"
            )
            return VerifyResult(False, walk.checked, max(head.last_id, last_id), reason, walk.checks())
        if wanted:
            anchor = wanted[min(wanted)][0]
            reason = (
                f"record {anchor.record_id} (its head was recorded in {anchor.source}) is not in the database, "
                f"whose chain ends at record {last_id}: records were removed and the head row reset, or the "
                "log was wiped"
            )
            return VerifyResult(False, walk.checked, anchor.record_id, reason, walk.checks())
        checks = (*walk.checks(), _anchor_line(anchors))
        if walk.checked == 0:
            return VerifyResult(True, 0, None, "the audit log is EMPTY: 0 records, nothing was verified", checks)
        return VerifyResult(True, walk.checked, None, f"{walk.checked} records, chain intact", checks)

    def export(self, fmt: str, out: IO[str], **filters: Any) -> int:
        """Write every matching record, oldest first, as CSV (filter columns + the record's JSON) or as a JSON
        array of records. Returns the number written."""
        if fmt not in ("csv", "json"):
            raise LedgerError(f"audit export format {fmt!r}: use csv or json")
        where = _where(filters)
        written = 0
        with db.read_connection(self.engine) as conn:
            rows = _stream(conn, sa.select(db.audit_log).where(*where).order_by(db.audit_log.c.id))
            if fmt == "csv":
                writer = csv.writer(out)
                writer.writerow(CSV_COLUMNS)
                for row in rows:
                    writer.writerow([getattr(row, name) for name in CSV_COLUMNS])
                    written += 1
                return written
            out.write("[")
            for row in rows:
                out.write(
                    ("\n" if not written else ",\n") + json.dumps(as_record(row), ensure_ascii=False, sort_keys=True)
                )
                written += 1
            out.write("\n]\n")
        return written


def _where(filters: dict[str, Any]) -> list[sa.ColumnElement[bool]]:
    """The conditions of ``filters`` (names of ``FILTERS``; None: not filtered): equal values, and the record time
    from ``since`` (inclusive) to ``until`` (exclusive)."""
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise LedgerError(f"unknown audit filter(s): {', '.join(sorted(unknown))}; known: {', '.join(FILTERS)}")
    log = db.audit_log
    since, until = filters.get("since"), filters.get("until")
    equal = {name: value for name, value in filters.items() if name not in ("since", "until")}
    where = [log.c[name] == value for name, value in equal.items() if value is not None]
    if since is not None:
        where.append(log.c.ts >= db.format_ts(since))
    if until is not None:
        where.append(log.c.ts < db.format_ts(until))
    return where


def _stream(conn: Connection, query: sa.Select) -> Iterator[sa.Row]:
    """Rows in batches, so verifying or exporting 100,000 records keeps memory flat."""
    yield from conn.execution_options(yield_per=1000).execute(query)


def as_record(row: sa.Row) -> dict:
    """A stored record with its chain hashes (what ``query``, ``get`` and the review pages return)."""
    return {**json.loads(row.record), "prev_hash": row.prev_hash, "hash": row.hash}


#: What verify reads of each record, in the order _Walk.step unpacks it.
_CHAIN_COLUMNS = tuple(
    db.audit_log.c[name] for name in ("id", "ts", "record", "prev_hash", "hash", *db.AUDIT_FILTER_COLUMNS)
)


class _Walk:
    """The chain walked record by record: what the next record must chain onto, and what was checked."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        self.keys = keys
        self.expected_id, self.prev_hash, self.checked = 1, db.GENESIS_HASH, 0
        self.keyed: dict[str, int] = {}
        self.unkeyed: list[int] = []
        self.body: dict = {}

    def step(self, row: tuple) -> str | None:
        """Why ``row`` (see _CHAIN_COLUMNS) does not chain onto the records before it (None when it does)."""
        record_id, ts, text, row_prev_hash, row_hash, *stored = row
        self.checked += 1
        if record_id != self.expected_id:
            expected = self.expected_id
            missing = f"record {expected}" if record_id == expected + 1 else f"records {expected}-{record_id - 1}"
            return f"{missing} missing before it (removed)"
        if row_prev_hash != self.prev_hash:
            return "its prev_hash is not the hash of the record before it (a record was removed, altered or reordered)"
        try:
            body = json.loads(text)
        except ValueError:
            return "its content is not valid JSON (altered)"
        if not isinstance(body, dict):
            return "its content is not a record (altered)"
        chain_key = body.get("chain_key")
        if chain_key is not None and chain_key not in self.keys:
            return (
                f"it is chained with key {chain_key}, which was not given: set {settings.SECRET_KEY_ENV} to the "
                f"gate's key (older keys in {settings.PREVIOUS_KEYS_ENV}); without it the record cannot be told "
                "from a forgery"
            )
        if chain_hash(self.prev_hash, text, self.keys.get(chain_key) if chain_key else None) != row_hash:
            return "its content does not match its hash (altered, or re-chained without the key)"
        if body.get("id") != record_id or body.get("ts") != ts:
            return f"it holds the record of id {body.get('id')} (moved or reordered)"
        expected_columns = filter_columns(body)
        changed = [
            name for name, value in zip(db.AUDIT_FILTER_COLUMNS, stored, strict=True) if expected_columns[name] != value
        ]
        if changed:
            return f"column(s) {', '.join(changed)} differ from the hashed record (altered)"
        if chain_key is None:
            self.unkeyed.append(record_id)
        else:
            self.keyed[chain_key] = self.keyed.get(chain_key, 0) + 1
        self.expected_id, self.prev_hash, self.body = record_id + 1, row_hash, body
        return None

    def checks(self) -> tuple[str, ...]:
        """What the walk checked so far, for people."""
        lines = [f"chain: {self.checked} record(s) walked from the first, each one's id, time, hash and columns"]
        for chain_key, count in sorted(self.keyed.items()):
            lines.append(f"keyed: {count} record(s) chained with key {chain_key} (a forger needs that key)")
        if self.unkeyed:
            lines.append(
                f"UNKEYED: {len(self.unkeyed)} record(s) ({_ranges(self.unkeyed)}) chained without a key (written "
                "before schema revision 0003, or refusals for a missing key): anyone with write access could "
                "have re-chained those"
            )
        return tuple(lines)


def _ranges(ids: list[int]) -> str:
    """1, 2, 3, 7 -> "1-3, 7" (ids ascending)."""
    spans: list[list[int]] = []
    for record_id in ids:
        if spans and spans[-1][1] == record_id - 1:
            spans[-1][1] = record_id
        else:
            spans.append([record_id, record_id])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def _anchor_mismatch(anchor: Anchor, stored_hash: str) -> str | None:
    if hmac.compare_digest(anchor.hash, stored_hash):
        return None
    return (
        f"its hash is not the one recorded in {anchor.source} ({anchor.hash[:16]}...): the chain was re-written "
        "from this record on"
    )


def _anchor_line(anchors: Sequence[Anchor]) -> str:
    if not anchors:
        return (
            "anchors: NONE given; without a head recorded outside the database, removing the newest records "
            "together with the head row, or wiping the log, cannot be detected (pass --anchor ID:HASH from a "
            "task log, XCom or a reviewer's note, or --anchors FILE)"
        )
    sources = sorted({anchor.source for anchor in anchors})
    return f"anchors: {len(anchors)} head(s) recorded outside the database match the chain ({', '.join(sources)})"
