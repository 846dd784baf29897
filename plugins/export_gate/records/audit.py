"""The tamper-evident audit log: one record per gate run (and per confirm / release), hash-chained.

Each record is stored as canonical JSON with ``prev_hash`` and ``hash = sha256(prev_hash + json)``; the record
holds its own id and time, so altering, removing or reordering any record breaks the chain at that record.
A head row keeps the newest id and hash, so removing the newest record is detected too (someone who can
rewrite the whole table and the head row can forge a new chain: anchor the head hash elsewhere for that).
Records hold counts, rule ids, column names and digests only; the caller keeps raw values out.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from export_gate.errors import LedgerError
from export_gate.records import database as db

EVENTS = ("gate", "confirm", "release", "filing", "review")
ACTIONS = ("allow", "annotate", "block", None)
#: Keyword filters of query() and export().
FILTERS = ("dag_id", "handler_id", "list_id", "scenario", "action", "event", "since", "until")
#: Columns of the CSV export, in order (the full record is the last column).
CSV_COLUMNS: tuple[str, ...] = ("id", "ts", *db.AUDIT_FILTER_COLUMNS, "prev_hash", "hash", "record")


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of walking the chain: ``first_broken`` names the first record that does not chain."""

    ok: bool
    checked: int
    first_broken: int | None
    reason: str


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


def chain_hash(prev_hash: str, text: str) -> str:
    return hashlib.sha256((prev_hash + text).encode()).hexdigest()


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

    def append(self, conn: Connection, record: dict) -> int:
        """Append ``record`` inside the caller's transaction; returns its id. The head row is locked until the
        transaction ends, so concurrent appenders form one chain."""
        event = record.get("event") or "gate"
        if event not in EVENTS:
            raise LedgerError(f"audit event {event!r} is not one of {', '.join(EVENTS)}")
        if record.get("action") not in ACTIONS:
            raise LedgerError(f"audit action {record.get('action')!r} is not one of allow, annotate, block or none")
        head = conn.execute(sa.select(db.audit_head).where(db.audit_head.c.id == 1).with_for_update()).one()
        record_id = head.last_id + 1
        body = {**record, "id": record_id, "ts": db.utc_now(), "event": event}
        text = canonical_json(body)
        digest = chain_hash(head.last_hash, text)
        conn.execute(
            sa.insert(db.audit_log).values(
                id=record_id, ts=body["ts"], record=text, prev_hash=head.last_hash, hash=digest, **filter_columns(body)
            )
        )
        conn.execute(
            sa.update(db.audit_head).where(db.audit_head.c.id == 1).values(last_id=record_id, last_hash=digest)
        )
        return record_id

    def query(
        self,
        *,
        dag_id: str | None = None,
        handler_id: str | None = None,
        list_id: str | None = None,
        scenario: str | None = None,
        action: str | None = None,
        event: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[dict], int]:
        """One page of records, newest first, and how many match in all."""
        where = _where(
            dag_id=dag_id,
            handler_id=handler_id,
            list_id=list_id,
            scenario=scenario,
            action=action,
            event=event,
            since=since,
            until=until,
        )
        log = db.audit_log
        with db.read_connection(self.engine) as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(log).where(*where)).scalar_one()
            rows = conn.execute(sa.select(log).where(*where).order_by(log.c.id.desc()).limit(limit).offset(offset))
            return [_as_dict(row) for row in rows], total

    def get(self, record_id: int) -> dict | None:
        with db.read_connection(self.engine) as conn:
            row = conn.execute(sa.select(db.audit_log).where(db.audit_log.c.id == record_id)).one_or_none()
            return None if row is None else _as_dict(row)

    def verify(self) -> VerifyResult:
        """Walk the chain from the first record; stop at the first one that does not chain, and say why."""
        expected_id, prev_hash, checked = 1, db.GENESIS_HASH, 0
        with db.read_connection(self.engine) as conn:
            head = conn.execute(sa.select(db.audit_head).where(db.audit_head.c.id == 1)).one()
            for row in _stream(conn, sa.select(*_CHAIN_COLUMNS).order_by(db.audit_log.c.id)):
                checked += 1
                reason = _broken(tuple(row), expected_id, prev_hash)
                if reason:
                    return VerifyResult(False, checked, row.id, f"record {row.id}: {reason}")
                expected_id, prev_hash = row.id + 1, row.hash
        last_id = expected_id - 1
        if (head.last_id, head.last_hash) != (last_id, prev_hash):
            reason = (
                f"the chain ends at record {last_id}, but the head row says it ends at record {head.last_id}: "
                "the newest record(s) were removed, or the head row was altered"
            )
            return VerifyResult(False, checked, max(head.last_id, last_id), reason)
        return VerifyResult(True, checked, None, f"{checked} records, chain intact")

    def export(self, fmt: str, out: IO[str], **filters: Any) -> int:
        """Write every matching record, oldest first, as CSV (filter columns + the record's JSON) or as a JSON
        array of records. Returns the number written."""
        if fmt not in ("csv", "json"):
            raise LedgerError(f"audit export format {fmt!r}: use csv or json")
        unknown = set(filters) - set(FILTERS)
        if unknown:
            raise LedgerError(f"unknown audit filter(s): {', '.join(sorted(unknown))}; known: {', '.join(FILTERS)}")
        where = _where(**filters)
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
                    ("\n" if not written else ",\n") + json.dumps(_as_dict(row), ensure_ascii=False, sort_keys=True)
                )
                written += 1
            out.write("\n]\n")
        return written


def _where(
    *,
    dag_id: str | None = None,
    handler_id: str | None = None,
    list_id: str | None = None,
    scenario: str | None = None,
    action: str | None = None,
    event: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[sa.ColumnElement[bool]]:
    log = db.audit_log
    equal = {
        "dag_id": dag_id,
        "handler_id": handler_id,
        "list_id": list_id,
        "scenario": scenario,
        "action": action,
        "event": event,
    }
    where = [log.c[name] == value for name, value in equal.items() if value is not None]
    if since is not None:
        where.append(log.c.ts >= db.format_ts(since))
    if until is not None:
        where.append(log.c.ts < db.format_ts(until))
    return where


def _stream(conn: Connection, query: sa.Select) -> Iterator[sa.Row]:
    """Rows in batches, so verifying or exporting 100,000 records keeps memory flat."""
    yield from conn.execution_options(yield_per=1000).execute(query)


def _as_dict(row: sa.Row) -> dict:
    return {**json.loads(row.record), "prev_hash": row.prev_hash, "hash": row.hash}


#: What verify reads of each record, in the order _broken unpacks it.
_CHAIN_COLUMNS = tuple(
    db.audit_log.c[name] for name in ("id", "ts", "record", "prev_hash", "hash", *db.AUDIT_FILTER_COLUMNS)
)


def _broken(row: tuple, expected_id: int, prev_hash: str) -> str | None:
    """Why ``row`` (see _CHAIN_COLUMNS) does not chain onto the records before it (None when it does)."""
    record_id, ts, text, row_prev_hash, row_hash, *stored = row
    if record_id != expected_id:
        missing = f"record {expected_id}" if record_id == expected_id + 1 else f"records {expected_id}-{record_id - 1}"
        return f"{missing} missing before it (removed)"
    if row_prev_hash != prev_hash:
        return "its prev_hash is not the hash of the record before it (a record was removed, altered or reordered)"
    if chain_hash(prev_hash, text) != row_hash:
        return "its content does not match its hash (altered)"
    try:
        body = json.loads(text)
    except ValueError:
        return "its content is not valid JSON (altered)"
    if body.get("id") != record_id or body.get("ts") != ts:
        return f"it holds the record of id {body.get('id')} (moved or reordered)"
    expected = filter_columns(body)
    changed = [name for name, value in zip(db.AUDIT_FILTER_COLUMNS, stored, strict=True) if expected[name] != value]
    if changed:
        return f"column(s) {', '.join(changed)} differ from the hashed record (altered)"
    return None
