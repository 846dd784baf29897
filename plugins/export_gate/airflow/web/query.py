"""The review page's reads of the audit log: filtered and sorted pages, streamed downloads, and the lookups
the pages need (the gate record a confirm or release belongs to, the handlers and years in the log).

The filters are what a reviewer types: parts of ids in any case ("pv_case" finds "PV_CASE_EXPORT"), so they
are case-insensitive substring matches (SQL LIKE with the user's % and _ escaped). Indexed columns of the
audit table are used where they exist; the rule id and the export's date are read from the record's JSON
(the record is the hashed text, so these can never disagree with what was audited). Read-only: nothing here
writes, and the audit log's own module keeps the chain.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from export_gate.records import database as db
from export_gate.records.audit import as_record

LOG = db.audit_log
#: The audit event of a gate run (decided or failed closed); "confirm" and "release" records follow it.
GATE_EVENT = "gate"
#: The text filters and the audit column (or record field) each one searches.
TEXT_FILTERS: tuple[str, ...] = ("dag_id", "run_id", "task_id", "handler_id", "list_id", "scenario", "rule_id")
#: Sort keys a reviewer can pick, in the order the page offers them.
SORTS: tuple[str, ...] = ("newest", "oldest", "export_date", "handler", "dag", "decision", "people")


@dataclass(frozen=True)
class Query:
    """What to read: text filters (substring, any case), exact decision and event, the export's date range
    (ISO days, both included) and the sort order."""

    text: dict[str, str]
    action: str = ""
    event: str = ""
    since: str = ""
    until: str = ""
    sort: str = "newest"


def record_field(engine: Engine, *path: str) -> sa.ColumnElement[Any]:
    """A value inside the stored record's JSON, as SQL: SQLite's JSON functions read the text as it is,
    PostgreSQL needs the text cast to JSON first."""
    if engine.dialect.name == "postgresql":
        typed = sa.cast(LOG.c.record, sa.JSON)
    else:
        typed = sa.type_coerce(LOG.c.record, sa.JSON)
    return typed[path if len(path) > 1 else path[0]]


def export_day(engine: Engine) -> sa.ColumnElement[str]:
    """The day of the export a record is about: the gate's ``as_of`` (the export's date the pipeline gave,
    e.g. the run's logical date) as written, else the time the record was written (confirm, release, and a
    gate that failed before it knew its date)."""
    return sa.func.substr(sa.func.coalesce(record_field(engine, "as_of").as_string(), LOG.c.ts), 1, 10)


def _contains(column: sa.ColumnElement[Any], text: str) -> sa.ColumnElement[bool]:
    return column.icontains(text, autoescape=True)


def where(engine: Engine, query: Query) -> list[sa.ColumnElement[bool]]:
    """The SQL conditions of ``query``."""
    columns = {name: LOG.c[name] for name in TEXT_FILTERS if name != "rule_id"}
    columns["rule_id"] = record_field(engine, "rule_id").as_string()
    found = [_contains(columns[name], value) for name, value in query.text.items() if value]
    if query.action:
        found.append(LOG.c.action == query.action)
    if query.event:
        found.append(LOG.c.event == query.event)
    if query.since:
        found.append(export_day(engine) >= query.since)
    if query.until:
        found.append(export_day(engine) <= query.until)
    return found


def order(engine: Engine, sort: str) -> list[sa.ColumnElement[Any]]:
    """ORDER BY of a sort key; ties (and the default) newest record first."""
    newest = LOG.c.id.desc()
    keys: dict[str, list[sa.ColumnElement[Any]]] = {
        "newest": [],
        "oldest": [LOG.c.id.asc()],
        "export_date": [export_day(engine).desc().nulls_last()],
        "handler": [LOG.c.handler_id.asc().nulls_last()],
        "dag": [LOG.c.dag_id.asc().nulls_last()],
        "decision": [LOG.c.action.asc().nulls_last()],
        "people": [record_field(engine, "counts", "export", "personal").as_integer().desc().nulls_last()],
    }
    return [*keys[sort], newest]


def page(engine: Engine, query: Query, *, limit: int, offset: int) -> tuple[list[dict], int]:
    """One page of matching records in the asked order, and how many match in all."""
    conditions = where(engine, query)
    with db.read_connection(engine) as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(LOG).where(*conditions)).scalar_one()
        rows = conn.execute(
            sa.select(LOG).where(*conditions).order_by(*order(engine, query.sort)).limit(limit).offset(offset)
        )
        return [as_record(row) for row in rows], total


def stream(engine: Engine, query: Query) -> Iterator[dict]:
    """Every matching record, oldest first, read in batches: 100,000 records never sit in memory."""
    with db.read_connection(engine) as conn:
        select = sa.select(LOG).where(*where(engine, query)).order_by(LOG.c.id)
        for row in conn.execution_options(yield_per=1000).execute(select):
            yield as_record(row)


def gate_record_of(conn: Connection, record: dict) -> int | None:
    """The id of the gate record a confirm or release finished: the newest gate record before it with the
    same reservation. Canonical JSON has sorted keys and no spaces, so the reservation's exact JSON text
    narrows the search; the parsed record decides."""
    reservation = record.get("reservation")
    if not reservation or record.get("event") == GATE_EVENT:
        return None
    needle = '"reservation":' + json.dumps(reservation, ensure_ascii=False)
    candidates = conn.execute(
        sa.select(LOG.c.id, LOG.c.record)
        .where(LOG.c.event == GATE_EVENT, LOG.c.id < int(record["id"]), LOG.c.record.contains(needle, autoescape=True))
        .order_by(LOG.c.id.desc())
    )
    for record_id, text in candidates:
        if json.loads(text).get("reservation") == reservation:
            return int(record_id)
    return None


def gate_records_of(engine: Engine, records: list[dict]) -> dict[int, int]:
    """For each confirm or release record in ``records``: its gate record's id (by the record's id)."""
    found = {}
    with db.read_connection(engine) as conn:
        for record in records:
            gate = gate_record_of(conn, record)
            if gate is not None:
                found[int(record["id"])] = gate
    return found


def newest_gate_record(engine: Engine, dag_id: str, run_id: str, task_id: str) -> int | None:
    """The id of the newest gate record of one task run (one query on the audit table's own columns)."""
    wanted = sa.select(sa.func.max(LOG.c.id)).where(
        LOG.c.dag_id == dag_id, LOG.c.run_id == run_id, LOG.c.task_id == task_id, LOG.c.event == GATE_EVENT
    )
    with db.read_connection(engine) as conn:
        return conn.execute(wanted).scalar()


#: The filters offered as suggestions, from these audit columns.
CHOICE_COLUMNS: tuple[str, ...] = ("dag_id", "handler_id", "list_id", "scenario")


def choices(engine: Engine, limit: int = 500) -> dict[str, list[str]]:
    """The values each text filter can take (from the indexed audit columns: milliseconds for 100,000
    records), offered as suggestions so a reviewer need not remember DAG or list ids."""
    with db.read_connection(engine) as conn:
        return {
            name: list(
                conn.execute(
                    sa.select(LOG.c[name]).where(LOG.c[name].is_not(None)).distinct().order_by(LOG.c[name]).limit(limit)
                ).scalars()
            )
            for name in CHOICE_COLUMNS
        }


def handler_years(engine: Engine) -> list[tuple[str, int]]:
    """Every (handler, year) with a gate record, blocked ones included (the ledger only knows handlers with
    a counted export)."""
    with db.read_connection(engine) as conn:
        rows = conn.execute(
            sa.select(LOG.c.handler_id, LOG.c.year)
            .where(LOG.c.event == GATE_EVENT, LOG.c.handler_id.is_not(None), LOG.c.year.is_not(None))
            .distinct()
        )
        return sorted(((h, int(y)) for h, y in rows), key=lambda pair: (pair[0], -pair[1]))


def gate_records(engine: Engine, handler_id: str, year: int) -> list[dict]:
    """The gate records of one handler and year, oldest first (a year has hundreds, not millions)."""
    select = (
        sa.select(LOG)
        .where(LOG.c.event == GATE_EVENT, LOG.c.handler_id == handler_id, LOG.c.year == year)
        .order_by(LOG.c.id)
    )
    with db.read_connection(engine) as conn:
        return [as_record(row) for row in conn.execute(select)]
