"""The per-export HTML report: one self-contained file per gate run (styles and charts inline, no script,
no network), written next to the audit record and shown by the review page.

``decision_view`` turns an audit record into what a reviewer reads: the decision, the counts against each
threshold, the rule and its source, the obligation and the run. The review page shows the same view, so
the report and the page never disagree. Records are read defensively: an error record has no decision,
and older records may miss keys.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from export_gate.airflow.web.templating import environment, static_text
from export_gate.model import CATEGORIES
from export_gate.reporting.charts import BarRow, threshold_bars

#: Count names in the order the report lists them.
COUNT_NAMES: tuple[str, ...] = ("personal", "sensitive", *CATEGORIES)


def count_name(label: object) -> str | None:
    """The row a margin or rule counts: 'personal', 'sensitive', a category name, or 'sensitive:<category>'
    (a rule on one category). A rule on several categories together ('sensitive:a+b') has no row: None."""
    text = str(label or "")
    if text in COUNT_NAMES:
        return text
    category = text.removeprefix("sensitive:")
    return category if category in CATEGORIES else None


def _value(counts: dict | None, name: str) -> int:
    counts = counts or {}
    if name in ("personal", "sensitive"):
        return int(counts.get(name) or 0)
    return int((counts.get("categories") or {}).get(name) or 0)


def action_of(record: dict) -> str:
    """allow | annotate | block; an error record (no decision) is a block: the gate failed closed."""
    decision = record.get("decision") or {}
    return str(record.get("action") or decision.get("action") or ("block" if record.get("error") else "unknown"))


def _thresholds(decision: dict) -> dict[str, set[int]]:
    """The thresholds per count, from the margins (all limits the policy measured) and the deciding rule."""
    found: dict[str, set[int]] = {}
    rule = decision.get("rule") or {}
    entries = [*(decision.get("margins") or []), {"count": rule.get("count"), "threshold": rule.get("threshold")}]
    for entry in entries:
        name, limit = count_name(entry.get("count")), entry.get("threshold")
        if name and isinstance(limit, int | float) and not isinstance(limit, bool):
            found.setdefault(name, set()).add(int(limit))
    return found


def count_rows(record: dict) -> list[dict[str, Any]]:
    """Per count: this export, year-to-date before and after, and the thresholds that apply to it."""
    counts = record.get("counts") or {}
    limits = _thresholds(record.get("decision") or {})
    return [
        {
            "name": name,
            "export": _value(counts.get("export"), name),
            "before": _value(counts.get("ytd_before"), name),
            "after": _value(counts.get("ytd_after"), name),
            "thresholds": sorted(limits.get(name, ())),
        }
        for name in COUNT_NAMES
    ]


def counts_chart(record: dict) -> str:
    """The year-to-date bars of every count against its thresholds, as inline SVG."""
    rows = count_rows(record)
    bars = {
        r["name"]: BarRow(r["name"].replace("_", " "), r["before"], r["after"], tuple(r["thresholds"])) for r in rows
    }
    # each category counts towards the sensitive thresholds: draw the categories on the sensitive row's scale
    sensitive_scale = bars["sensitive"].scale_max()
    for name in CATEGORIES:
        bar = bars[name]
        bars[name] = BarRow(bar.label, bar.before, bar.after, (), scale=sensitive_scale)
    return threshold_bars(
        list(bars.values()), title="People this year, before and with this export, against each threshold"
    )


def _margins(decision: dict) -> list[dict[str, Any]]:
    return [
        {
            "count": entry.get("count"),
            "threshold": entry.get("threshold"),
            "used": entry.get("value"),
            "left": entry.get("left"),
            "rules": list(entry.get("rules") or []),
        }
        for entry in decision.get("margins") or []
    ]


def identified_text(identified_by: object) -> str:
    """How people were told apart, in words (principle 3: the report says it, because counts without a
    subject key are conservative upper bounds)."""
    text = str(identified_by or "")
    if text.startswith("subject_keys:"):
        return "the subject key column(s) " + ", ".join(text.removeprefix("subject_keys:").split(","))
    if text == "strong_identifiers":
        return "strong identifiers (ID numbers, passports, mobiles, e-mails, bank cards; counted high when unsure)"
    return text or "—"


def _scanned(record: dict) -> dict[str, Any] | None:
    """What the scan looked at, from the scan report in the record: rows, cells, how people were identified,
    and per column the categories found (column names and counts only; masked examples are never shown)."""
    report = record.get("report")
    if not isinstance(report, dict):
        return None
    columns = [
        {
            "name": name,
            "kind": (col.get("plan") or {}).get("kind"),
            "cells": col.get("cells"),
            "entities": col.get("entities") or {},
            "categories": col.get("categories") or {},
        }
        for name, col in (report.get("columns") or {}).items()
    ]
    return {
        "rows": report.get("rows"),
        "cells": report.get("cells"),
        "identified_by": identified_text((report.get("subjects") or {}).get("identified_by")),
        "standard": (report.get("settings") or {}).get("standard"),
        "columns": columns,
    }


def _when(ts: object) -> str:
    if isinstance(ts, datetime):
        return ts.isoformat(timespec="seconds")
    return str(ts or "")


def airflow_task_path(record: dict) -> str | None:
    """The Airflow UI path of the task instance that ran the gate (relative to the UI's base URL)."""
    dag_id, run_id, task_id = record.get("dag_id"), record.get("run_id"), record.get("task_id")
    if not (dag_id and run_id and task_id):
        return None
    return f"dags/{quote(str(dag_id), safe='')}/runs/{quote(str(run_id), safe='')}/tasks/{quote(str(task_id), safe='')}"


def decision_view(record: dict) -> dict[str, Any]:
    """Everything the decision partial shows, with missing keys as None or empty."""
    decision = record.get("decision") or {}
    source = record.get("source") or {}
    lst = record.get("list") or {}
    return {
        "id": record.get("id"),
        "ts": _when(record.get("ts")),
        "event": record.get("event"),
        "action": action_of(record),
        "mechanism": record.get("mechanism") or decision.get("mechanism"),
        "message": decision.get("message"),
        "error": record.get("error"),
        "handler_id": record.get("handler_id"),
        "year": record.get("year"),
        "dag_id": record.get("dag_id"),
        "run_id": record.get("run_id"),
        "task_id": record.get("task_id"),
        "try_number": record.get("try_number"),
        "task_path": airflow_task_path(record),
        "reservation": record.get("reservation"),
        "source_uris": list(source.get("uris") or []),
        "fingerprint": source.get("fingerprint"),
        "list_id": lst.get("id"),
        "list_version": lst.get("version"),
        "scenario": record.get("scenario"),
        "purpose": record.get("purpose"),
        "detector_version": record.get("detector_version"),
        "rows": count_rows(record),
        "chart": counts_chart(record),
        "margins": _margins(decision),
        "rule": decision.get("rule") or ({"id": record["rule_id"]} if record.get("rule_id") else None),
        "obligations": list(record.get("obligations") or decision.get("obligations") or []),
        "filings": list(decision.get("filings_used") or []),
        "filings_on_file": list(record.get("filings") or []),
        "scanned": _scanned(record),
        "warnings": list(decision.get("warnings") or []),
        "considered": list(decision.get("considered") or []),
        "hash": record.get("hash"),
        "prev_hash": record.get("prev_hash"),
    }


def render_report(record: dict, *, airflow_base_url: str | None = None) -> str:
    """The self-contained HTML report of one gate run. ``airflow_base_url`` (e.g. 'http://airflow:8080/')
    makes the DAG/run/task a link; without it they are plain text, so the file stays useful offline."""
    return (
        environment()
        .get_template("report.html")
        .render(
            view=decision_view(record),
            css=static_text("style.css"),
            airflow_base_url=airflow_base_url,
        )
    )
