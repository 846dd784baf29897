"""The review page's filters: parsed from the query string, turned into an audit-log query, and written back
into links (paging, sorting, downloads) so every view of the filtered records shows the same records."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import HTTPException, Query, status

from export_gate.airflow.web.query import SORTS, TEXT_FILTERS
from export_gate.airflow.web.query import Query as AuditQuery

#: Decisions a reviewer filters on.
ACTIONS: tuple[str, ...] = ("allow", "annotate", "block")
#: Audit events a reviewer filters on: the gate's decision, the confirm or release that follows it, a
#: reviewer's answer to a blocked export, and a change of a handler's filing register.
EVENTS: tuple[str, ...] = ("gate", "confirm", "release", "review", "filing")
PAGE_SIZE = 50


def _day(value: str, name: str) -> str:
    if not value:
        return ""
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name} must be a date like 2026-03-31") from None


@dataclass(frozen=True)
class Filters:
    """What the reviewer asked for. Empty strings mean "any". Text filters match any part of the value, in
    any case; ``since``/``until`` are whole days of the export's date, both included."""

    dag_id: str = ""
    run_id: str = ""
    task_id: str = ""
    handler_id: str = ""
    list_id: str = ""
    scenario: str = ""
    rule_id: str = ""
    action: str = ""
    event: str = ""
    since: str = ""
    until: str = ""
    sort: str = "newest"
    page: int = 1

    def query(self) -> AuditQuery:
        """The audit-log query of these filters."""
        text = {name: getattr(self, name) for name in TEXT_FILTERS if getattr(self, name)}
        return AuditQuery(text, self.action, self.event, self.since, self.until, self.sort)

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    def query_string(self, **changes: Any) -> str:
        """The filters as a query string (without empty ones, the default sort and page 1), with ``changes``."""
        values = asdict(replace(self, **changes))
        defaults = {"page": 1, "sort": "newest"}
        return urlencode({k: v for k, v in values.items() if v and defaults.get(k) != v})

    @property
    def active(self) -> bool:
        """Whether any filter narrows the records (sorting and paging do not)."""
        return bool(replace(self, sort="newest", page=1).query_string())


def filters_from_query(
    dag_id: str = "",
    run_id: str = "",
    task_id: str = "",
    handler_id: str = "",
    list_id: str = "",
    scenario: str = "",
    rule_id: str = "",
    action: str = Query("", pattern="^(|" + "|".join(ACTIONS) + ")$"),
    event: str = Query("", pattern="^(|" + "|".join(EVENTS) + ")$"),
    since: str = "",
    until: str = "",
    sort: str = Query("newest", pattern="^(" + "|".join(SORTS) + ")$"),
    page: int = Query(1, ge=1, le=1_000_000),
) -> Filters:
    """FastAPI dependency: the filters of this request, validated (a bad date, decision, event or sort is a
    422 that names the parameter)."""
    return Filters(
        dag_id.strip(),
        run_id.strip(),
        task_id.strip(),
        handler_id.strip(),
        list_id.strip(),
        scenario.strip(),
        rule_id.strip(),
        action,
        event,
        _day(since.strip(), "since"),
        _day(until.strip(), "until"),
        sort,
        page,
    )
