"""The review page's downloads of the filtered records: a flat CSV sheet for spreadsheets and the records as
JSON, streamed as they are read (100,000 records never sit in memory).

The CSV is for people with Excel, not for re-import (``export-gate audit export`` writes the raw records):
- one column per fact (counts, year to date, rule, threshold, mechanism, filings, what decided it), so it
  can be sorted and summed without parsing JSON; a count the gate never made is an empty cell, not 0;
- a UTF-8 byte order mark first, so Excel reads Chinese ids and rule texts as UTF-8;
- a text cell starting with = + - @ (or tab / carriage return) gets a leading apostrophe, so a crafted
  handler id or run id is shown as text, never run as a formula (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy.engine import Engine

from export_gate.airflow.web.query import Query, gate_record_of, stream
from export_gate.model import CATEGORIES
from export_gate.records import database as db
from export_gate.reporting.html import list_version_parts
from export_gate.reporting.outcome import action_of, outcome, related

BOM = "\ufeff"
#: Leading characters a spreadsheet reads as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: The people counts of a record, as columns: this export, year to date before and after.
COUNT_PARTS: tuple[str, ...] = ("export", "ytd_before", "ytd_after")
COUNT_NAMES: tuple[str, ...] = ("personal", "sensitive", *CATEGORIES)
COLUMNS: tuple[str, ...] = (
    "id",
    "recorded_at_utc",
    "export_date",
    "event",
    "action",
    "decided_by",
    "gate_record",
    "handler_id",
    "year",
    "dag_id",
    "run_id",
    "task_id",
    "try_number",
    "list_id",
    "list_version",
    "list_file_sha256",
    "scenario",
    "purpose",
    *(f"{part}_{name}" for part in COUNT_PARTS for name in COUNT_NAMES),
    "rule_id",
    "rule_count",
    "rule_comparison",
    "rule_threshold",
    "mechanism",
    "filings_used",
    "filings_on_file",
    "error",
    "hash",
)


def neutralised(value: Any) -> Any:
    """A cell value safe to open in a spreadsheet: text that would start a formula is prefixed with an
    apostrophe (numbers are left as numbers)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _filings(items: Iterable[Any]) -> str:
    parts = []
    for item in items:
        if isinstance(item, dict):
            parts.append(" ".join(str(item[key]) for key in ("kind", "reference", "date") if item.get(key)))
        else:
            parts.append(str(item))
    return "; ".join(parts)


def sheet_row(record: dict, gate_record: int | None) -> list[Any]:
    """One record as the CSV's cells, in COLUMNS order."""
    decision = record.get("decision") or {}
    rule = decision.get("rule") or {}
    counts = record.get("counts") if isinstance(record.get("counts"), dict) else None
    release, digest = list_version_parts((record.get("list") or {}).get("version"))
    people = []
    for part in COUNT_PARTS:
        values = (counts or {}).get(part)
        for name in COUNT_NAMES:
            if not isinstance(values, dict):
                people.append("")
            elif name in ("personal", "sensitive"):
                people.append(int(values.get(name) or 0))
            else:
                people.append(int((values.get("categories") or {}).get(name) or 0))
    cells = [
        record.get("id"),
        record.get("ts"),
        str(record.get("as_of") or "")[:10],
        record.get("event") or "gate",
        action_of(record),
        outcome(record).text,
        next((link["id"] for link in related(record, gate_record)), ""),
        record.get("handler_id"),
        record.get("year"),
        record.get("dag_id"),
        record.get("run_id"),
        record.get("task_id"),
        record.get("try_number"),
        (record.get("list") or {}).get("id"),
        release,
        digest,
        record.get("scenario"),
        record.get("purpose"),
        *people,
        rule.get("id") or record.get("rule_id"),
        rule.get("count"),
        rule.get("comparison"),
        rule.get("threshold"),
        decision.get("mechanism") or record.get("mechanism"),
        _filings(decision.get("filings_used") or []),
        _filings(record.get("filings") or []),
        record.get("error"),
        record.get("hash"),
    ]
    return [neutralised("" if cell is None else cell) for cell in cells]


def _lines(rows: Iterable[list[Any]]) -> Iterator[str]:
    """CSV text a few rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for i, row in enumerate(rows, 1):
        writer.writerow(row)
        if i % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_chunks(engine: Engine, query: Query) -> Iterator[str]:
    """The matching records as the flat CSV sheet, BOM first. A confirm or release names its gate record:
    remembered while streaming (the gate record comes first), looked up when the filters left it out."""
    yield BOM
    gates: dict[str, int] = {}

    def rows() -> Iterator[list[Any]]:
        yield list(COLUMNS)
        with db.read_connection(engine) as lookups:
            for record in stream(engine, query):
                reservation = record.get("reservation")
                if (record.get("event") or "gate") == "gate":
                    if reservation:
                        gates[str(reservation)] = int(record["id"])
                    yield sheet_row(record, None)
                    continue
                gate = gates.get(str(reservation)) if reservation else None
                yield sheet_row(record, gate if gate is not None else gate_record_of(lookups, record))

    yield from _lines(rows())


def json_chunks(engine: Engine, query: Query) -> Iterator[str]:
    """The matching records as a JSON array, oldest first, each with its chain hashes (as the audit log's
    own export writes them)."""
    yield "["
    for i, record in enumerate(stream(engine, query)):
        yield ("\n" if not i else ",\n") + json.dumps(record, ensure_ascii=False, sort_keys=True)
    yield "\n]\n"
