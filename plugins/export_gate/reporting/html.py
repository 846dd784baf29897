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
from export_gate.reporting.outcome import action_of, kind_of, outcome, related

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


def _value(counts: dict | None, name: str) -> int | None:
    """One count of a counts mapping; None when the record has no counts (the gate failed before counting:
    the number is unknown, which is not 0)."""
    if counts is None:
        return None
    if name in ("personal", "sensitive"):
        return int(counts.get(name) or 0)
    return int((counts.get("categories") or {}).get(name) or 0)


def counted(record: dict) -> bool:
    """Whether the record holds the people counted (a gate that failed before counting, a confirm and a
    release do not)."""
    return isinstance(record.get("counts"), dict)


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
    """Per count: this export, year-to-date before and after (None: unknown), and the thresholds that apply."""
    counts = record.get("counts") if counted(record) else {"export": None, "ytd_before": None, "ytd_after": None}
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
    """The year-to-date bars of every count against its thresholds, as inline SVG; no chart for a record
    without counts (a chart of zeros would say nobody was counted)."""
    if not counted(record):
        return ""
    rows = count_rows(record)
    bars = {
        r["name"]: BarRow(r["name"].replace("_", " "), r["before"] or 0, r["after"] or 0, tuple(r["thresholds"]))
        for r in rows
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


def list_version_parts(version: object) -> tuple[str, str]:
    """A list version as (release, file digest): '2024-03-22+sha256:9f2c...' -> ('2024-03-22', '9f2c...').
    Shown whole or as a named short digest, never cut in the middle of either part."""
    text = str(version or "")
    release, _, digest = text.partition("+sha256:")
    return release, digest


def decision_view(record: dict, *, gate_record: int | None = None) -> dict[str, Any]:
    """Everything the decision partial shows, with missing keys as None or empty. ``gate_record`` is the id
    of the gate record a confirm or release finished (the caller looks it up)."""
    decision = record.get("decision") or {}
    source = record.get("source") or {}
    lst = record.get("list") or {}
    release, digest = list_version_parts(lst.get("version"))
    found = outcome(record)
    return {
        "id": record.get("id"),
        "ts": _when(record.get("ts")),
        "as_of": record.get("as_of"),
        "event": record.get("event"),
        "kind": kind_of(record),
        "gate_record": gate_record,
        "related": related(record, gate_record),
        "review": record.get("review") or {},
        "change": record.get("change"),
        "filing": record.get("filing") or {},
        "outcome": {"kind": found.kind, "text": found.text},
        "counted": counted(record),
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
        "list_release": release,
        "list_digest": digest,
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


def render_report(
    record: dict,
    *,
    airflow_base_url: str | None = None,
    chain: dict[str, Any] | None = None,
    gate_record: int | None = None,
) -> str:
    """The self-contained HTML report of one gate run. ``airflow_base_url`` (e.g. '/' or '/airflow/')
    makes the DAG/run/task a link; without it they are plain text, so the file stays useful offline.
    ``chain`` is the audit chain's status when the report is shown by the review page (a file written at
    gate time cannot know later tampering, so it says how to check)."""
    return (
        environment()
        .get_template("report.html")
        .render(
            view=decision_view(record, gate_record=gate_record),
            css=static_text("style.css"),
            airflow_base_url=airflow_base_url,
            chain=chain,
        )
    )
