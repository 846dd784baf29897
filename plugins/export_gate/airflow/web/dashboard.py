"""The reviewer dashboard: per data handler (legal entity) and year, the people counted so far against every
threshold of the lists its exports were decided under, how much of each is used, which are near or over,
and the exports that moved the count (blocked and failed ones too, which moved nothing).

Thresholds come from the margins the gate recorded (every year-to-date limit of the list and its base that
applied), not from today's list files, so the dashboard shows what the decisions were measured against. The
count used is the ledger's (pending and confirmed exports), the figure the next decision starts from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from export_gate.reporting.charts import TimelinePoint, percent
from export_gate.reporting.html import count_name
from export_gate.reporting.outcome import action_of, outcome

#: Share of a threshold from which the dashboard warns (the gate's default warn_ratio).
NEAR = 0.8


@dataclass(frozen=True)
class Limit:
    """One threshold of one count, with how much of it the handler used this year."""

    count: str
    threshold: int
    used: int
    rules: tuple[str, ...]
    lists: tuple[str, ...]

    @property
    def share(self) -> float:
        return self.used / self.threshold if self.threshold else 0.0

    @property
    def state(self) -> str:
        """over | near | ok"""
        return "over" if self.used >= self.threshold else "near" if self.share >= NEAR else "ok"

    @property
    def percent(self) -> str:
        return percent(self.used, self.threshold)


@dataclass(frozen=True)
class Summary:
    """One handler and year."""

    handler_id: str
    year: int
    counts: dict[str, int]
    limits: list[Limit]
    exports: list[dict[str, Any]] = field(default_factory=list)
    lists: tuple[str, ...] = ()

    @property
    def warnings(self) -> list[Limit]:
        return [limit for limit in self.limits if limit.state != "ok"]

    @property
    def all_blocked(self) -> bool:
        return bool(self.exports) and all(e["action"] == "block" for e in self.exports)


def _count(counts: Any, name: str) -> int:
    """One count of a ledger Counts (or its dict form)."""
    data = counts.to_dict() if hasattr(counts, "to_dict") else dict(counts or {})
    if name in ("personal", "sensitive"):
        return int(data.get(name) or 0)
    return int((data.get("categories") or {}).get(name) or 0)


def limits_of(records: list[dict], counts: Any) -> list[Limit]:
    """Every distinct (count, threshold) the records' decisions measured, with the ledger's count used.
    A limit on several categories together has no single count here and is left out (the record page shows
    it in its margins)."""
    found: dict[tuple[str, int], tuple[set[str], set[str]]] = {}
    for record in records:
        decision = record.get("decision") or {}
        list_id = decision.get("list_id") or (record.get("list") or {}).get("id")
        for margin in decision.get("margins") or []:
            name, limit = count_name(margin.get("count")), margin.get("threshold")
            if name is None or not isinstance(limit, int) or isinstance(limit, bool):
                continue
            rules, lists = found.setdefault((name, limit), (set(), set()))
            rules.update(str(rule) for rule in margin.get("rules") or [])
            if list_id:
                lists.add(str(list_id))
    order = {"personal": 0, "sensitive": 1}
    return [
        Limit(name, limit, _count(counts, name), tuple(sorted(rules)), tuple(sorted(lists)))
        for (name, limit), (rules, lists) in sorted(found.items(), key=lambda kv: (order.get(kv[0][0], 2), kv[0]))
    ]


def export_row(record: dict) -> dict[str, Any]:
    """One gate record as a line of the dashboard: what it would have added and what it did."""
    counts = record.get("counts") if isinstance(record.get("counts"), dict) else None
    export = (counts or {}).get("export") or {}
    before = (counts or {}).get("ytd_before") or {}
    after = (counts or {}).get("ytd_after") or {}
    action = action_of(record)
    found = outcome(record)
    return {
        "id": record.get("id"),
        "date": str(record.get("as_of") or record.get("ts") or "")[:10],
        "dag_id": record.get("dag_id"),
        "run_id": record.get("run_id"),
        "list_id": (record.get("list") or {}).get("id"),
        "action": action,
        "outcome": {"kind": found.kind, "text": found.text},
        "counted": counts is not None,
        "moved": counts is not None and action != "block",
        "export_personal": export.get("personal") if counts else None,
        "export_sensitive": export.get("sensitive") if counts else None,
        "ytd_personal": after.get("personal") if counts else None,
        "ytd_sensitive": after.get("sensitive") if counts else None,
        # people new to the year's count (an export's people already counted this year add nobody)
        "added_personal": int(after.get("personal") or 0) - int(before.get("personal") or 0) if counts else None,
    }


def summary(handler_id: str, year: int, records: list[dict], counts: Any) -> Summary:
    """The dashboard entry of one handler and year from its gate records (oldest first) and ledger counts."""
    lists = tuple(sorted({str((r.get("list") or {}).get("id")) for r in records if (r.get("list") or {}).get("id")}))
    return Summary(
        handler_id,
        year,
        {"personal": _count(counts, "personal"), "sensitive": _count(counts, "sensitive")},
        limits_of(records, counts),
        [export_row(r) for r in reversed(records)],
        lists,
    )


def timeline_points(history: list[dict], records: list[dict]) -> list[TimelinePoint]:
    """The ledger's year-to-date totals after each reservation and release, placed at the export's date (the
    gate record's ``as_of`` for its reservation), not at the time the ledger row was written: a backfilled
    March export is drawn in March. A release is drawn when it happened."""
    export_dates = {
        str(r["reservation"]): _moment(r.get("as_of") or r.get("ts")) for r in records if r.get("reservation")
    }
    points = []
    for entry in history:
        at = export_dates.get(str(entry.get("reservation"))) if entry.get("event") != "release" else None
        points.append(
            TimelinePoint(
                at or _moment(entry["ts"]),
                int(entry.get("personal") or 0),
                int(entry.get("sensitive") or 0),
            )
        )
    return points


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
