"""The review page's filters: parsed from the query string, handed to the audit log query, and written back
into links (paging, downloads) so every view of the filtered records shows the same records."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import HTTPException, Query, status

#: Decisions a reviewer filters on.
ACTIONS: tuple[str, ...] = ("allow", "annotate", "block")
PAGE_SIZE = 50


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name} must be a date like 2026-03-31") from None


@dataclass(frozen=True)
class Filters:
    """What the reviewer asked for. Empty strings mean "any"; ``since``/``until`` are whole days (UTC), both
    included."""

    dag_id: str = ""
    handler_id: str = ""
    list_id: str = ""
    scenario: str = ""
    action: str = ""
    since: str = ""
    until: str = ""
    page: int = 1

    def store_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Store.audit.query`` / ``export``: only the filters that are set; the date
        range as UTC instants, ``until`` as the start of the next day (exclusive)."""
        kwargs: dict[str, Any] = {
            key: value
            for key, value in (
                ("dag_id", self.dag_id),
                ("handler_id", self.handler_id),
                ("list_id", self.list_id),
                ("scenario", self.scenario),
                ("action", self.action),
            )
            if value
        }
        if since := _day(self.since, "since"):
            kwargs["since"] = datetime.combine(since, time.min, UTC)
        if until := _day(self.until, "until"):
            kwargs["until"] = datetime.combine(until + timedelta(days=1), time.min, UTC)
        return kwargs

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    def query_string(self, **changes: Any) -> str:
        """The filters as a query string (without empty ones and without page 1), with ``changes`` applied."""
        values = asdict(replace(self, **changes))
        return urlencode({k: v for k, v in values.items() if v and not (k == "page" and v == 1)})

    @property
    def active(self) -> bool:
        return bool(self.store_kwargs())


def filters_from_query(
    dag_id: str = "",
    handler_id: str = "",
    list_id: str = "",
    scenario: str = "",
    action: str = Query("", pattern="^(|allow|annotate|block)$"),
    since: str = "",
    until: str = "",
    page: int = Query(1, ge=1, le=1_000_000),
) -> Filters:
    """FastAPI dependency: the filters of this request, validated (a bad date or decision is a 422)."""
    found = Filters(dag_id.strip(), handler_id.strip(), list_id.strip(), scenario.strip(), action, since, until, page)
    found.store_kwargs()  # validates the dates now, so a bad one is a 422 and not an error later
    return found
