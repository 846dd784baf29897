"""The review app: a FastAPI app the Airflow api-server mounts at /export-gate (see export_gate.airflow.plugin).

Pages are rendered on the server (Jinja2, inline SVG charts, one small stylesheet and script shipped in the
package), so they work offline and inside the Airflow UI's iframe. Every route needs a reviewer (see
``auth``); the static assets hold no data and are public. The pages show what the audit log holds: counts,
rule ids, run ids and digests, never a value from the exported data.
"""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from export_gate.airflow.links import APP_PREFIX
from export_gate.airflow.web.auth import ReviewerDep, login_url
from export_gate.airflow.web.filters import ACTIONS, PAGE_SIZE, Filters, filters_from_query
from export_gate.airflow.web.templating import environment
from export_gate.errors import GateError
from export_gate.records import database as db
from export_gate.reporting.charts import TimelinePoint, timeline
from export_gate.reporting.html import action_of, count_name, decision_view, render_report

FiltersDep = Annotated[Filters, Depends(filters_from_query)]
#: The audit event of a gate run (decided or failed closed); "confirm" and "release" records follow it.
GATE_EVENT = "gate"


def _default_store() -> Any:
    from export_gate.airflow.connections import ledger_url
    from export_gate.records.ledger import Store

    return Store(ledger_url())


def create_app(store_factory: Callable[[], Any] = _default_store) -> FastAPI:
    """The review app. ``store_factory`` opens the ledger/audit Store; it is called once, on first use, so
    loading the plugin in the api-server does not touch the database."""
    app = FastAPI(title="Export Gate review", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(env=environment())
    app.mount("/static", StaticFiles(packages=[("export_gate.airflow.web", "static")]), name="static")
    opened: list[Any] = []
    opening = threading.Lock()
    chain_check = ChainCheck()

    def store() -> Any:
        with opening:
            if not opened:
                opened.append(store_factory())
            return opened[0]

    def page(request: Request, name: str, user: Any, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(
            request, name, {"user": user.get_name(), "airflow_base_url": _airflow_base_url(request), **context}
        )

    @app.exception_handler(HTTPException)
    async def _html_errors(request: Request, exc: HTTPException) -> Response:
        """Browsers get a page that says what to do (sign in, ask for access); API clients get JSON."""
        if "text/html" not in request.headers.get("accept", ""):
            return await http_exception_handler(request, exc)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": exc.status_code, "detail": exc.detail, "login_url": login_url(str(request.url))},
            status_code=exc.status_code,
        )

    @app.exception_handler(GateError)
    async def _ledger_unavailable(request: Request, exc: GateError) -> Response:
        """The ledger cannot be opened or read: say which and why (the message names the database, no data)."""
        return await _html_errors(request, HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)))

    @app.get("/", response_class=HTMLResponse, name="records")
    def records(request: Request, user: ReviewerDep, filters: FiltersDep) -> HTMLResponse:
        rows, total = store().audit.query(**filters.store_kwargs(), limit=PAGE_SIZE, offset=filters.offset)
        return page(
            request,
            "records.html",
            user,
            rows=[_row(r) for r in rows],
            choices=_choices(store()),
            total=total,
            filters=filters,
            actions=ACTIONS,
            first=filters.offset + 1 if rows else 0,
            last=filters.offset + len(rows),
            pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        )

    @app.get("/records/{record_id}", response_class=HTMLResponse, name="record")
    def record(request: Request, record_id: int, user: ReviewerDep) -> HTMLResponse:
        found = _get(store(), record_id)
        return page(
            request,
            "record.html",
            user,
            view=decision_view(found),
            chain=_chain_status(chain_check(store()), record_id),
        )

    @app.get("/records/{record_id}/report", response_class=HTMLResponse, name="report")
    def report(request: Request, record_id: int, user: ReviewerDep) -> HTMLResponse:
        return HTMLResponse(render_report(_get(store(), record_id), airflow_base_url=_airflow_base_url(request)))

    @app.get("/task-report", name="task_report")
    def task_report(request: Request, user: ReviewerDep, dag_id: str, run_id: str, task_id: str) -> Response:
        """The extra link's target: the newest gate record of one task run."""
        newest = _newest_gate_record(store(), dag_id, run_id, task_id)
        if newest is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"no export gate record for DAG {dag_id}, run {run_id}, task {task_id} (did the gate run?)",
            )
        return RedirectResponse(request.url_for("report", record_id=newest["id"]), status.HTTP_303_SEE_OTHER)

    @app.get("/handlers", response_class=HTMLResponse, name="handlers")
    def handlers(request: Request, user: ReviewerDep) -> HTMLResponse:
        return page(request, "handlers.html", user, handlers=_handler_years(store()))

    @app.get("/handlers/{handler_id}/{year}", response_class=HTMLResponse, name="handler")
    def handler(request: Request, handler_id: str, year: int, user: ReviewerDep) -> HTMLResponse:
        points = [_timeline_point(p) for p in store().timeline(handler_id, year)]
        latest, _ = store().audit.query(handler_id=handler_id, event=GATE_EVENT, limit=20)
        limits = _thresholds_of([r for r in latest if r.get("year") == year])
        chart = timeline(points, limits, title=f"People exported by {handler_id} in {year}, cumulative")
        return page(
            request,
            "handler.html",
            user,
            handler_id=handler_id,
            year=year,
            chart=chart,
            points=points,
            limits=limits,
        )

    @app.get("/export.csv", name="export_csv")
    def export_csv(user: ReviewerDep, filters: FiltersDep) -> StreamingResponse:
        return _download(store(), "csv", filters, "text/csv; charset=utf-8")

    @app.get("/export.json", name="export_json")
    def export_json(user: ReviewerDep, filters: FiltersDep) -> StreamingResponse:
        return _download(store(), "json", filters, "application/json")

    return app


def _airflow_base_url(request: Request) -> str:
    """The Airflow UI's URL: this app's URL without the mount prefix (keeps an api-server base path)."""
    return str(request.base_url).rstrip("/").removesuffix(APP_PREFIX) + "/"


def _get(store: Any, record_id: int) -> dict:
    found = store.audit.get(record_id)
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no audit record {record_id}")
    return found


def _row(record: dict) -> dict[str, Any]:
    """One line of the decisions table."""
    counts = record.get("counts") or {}
    export, after = counts.get("export") or {}, counts.get("ytd_after") or {}
    return {
        "id": record.get("id"),
        "ts": str(record.get("ts") or "")[:19].replace("T", " "),
        "event": record.get("event"),
        "action": action_of(record),
        "dag_id": record.get("dag_id"),
        "run_id": record.get("run_id"),
        "task_id": record.get("task_id"),
        "handler_id": record.get("handler_id"),
        "year": record.get("year"),
        "list_id": (record.get("list") or {}).get("id"),
        "scenario": record.get("scenario"),
        "export_personal": export.get("personal"),
        "export_sensitive": export.get("sensitive"),
        "ytd_personal": after.get("personal"),
        "ytd_sensitive": after.get("sensitive"),
        "rule_id": record.get("rule_id") or ((record.get("decision") or {}).get("rule") or {}).get("id"),
        "error": bool(record.get("error")),
    }


class ChainCheck:
    """``verify()`` walks every record (seconds for 100,000), so it runs in a background thread and pages show
    the newest finished result. A result is stale once a record was added or ``ttl`` seconds passed (an edit in
    place changes neither, so it is caught at the latest then). The page that starts a check waits up to
    ``wait`` seconds for it: enough for a log of a few thousand records to show a fresh result at once."""

    def __init__(self, ttl: float = 60.0, wait: float = 0.5) -> None:
        self.ttl, self.wait = ttl, wait
        self._lock = threading.Lock()
        self._result: Any = None
        self._key: tuple[Any, ...] | None = None
        self._checked_at = 0.0
        self._running: threading.Thread | None = None

    def __call__(self, store: Any) -> tuple[Any, float] | None:
        """The newest result and its age in seconds, or None while the first check is still running."""
        newest, total = store.audit.query(limit=1)
        key = (total, newest[0]["hash"] if newest else None)
        with self._lock:
            stale = key != self._key or time.monotonic() - self._checked_at > self.ttl
            started = None
            if stale and self._running is None:
                started = self._running = threading.Thread(target=self._verify, args=(store, key), daemon=True)
                started.start()
        if started is not None:
            started.join(self.wait)
        with self._lock:
            if self._result is None:
                return None
            return self._result, time.monotonic() - self._checked_at

    def _verify(self, store: Any, key: tuple[Any, ...]) -> None:
        try:
            result = store.audit.verify()
            with self._lock:
                self._result, self._key, self._checked_at = result, key, time.monotonic()
        finally:
            with self._lock:
                self._running = None


def _chain_status(checked: tuple[Any, float] | None, record_id: int) -> dict[str, Any]:
    """Whether the hash chain verifies, and whether a break lies before this record (so it cannot be trusted)."""
    if checked is None:
        return {"ok": True, "text": "being verified now; reload the page in a few seconds"}
    result, age = checked
    when = "just now" if age < 2 else f"{age:.0f} s ago"
    if result.ok:
        return {"ok": True, "text": f"intact: all {result.checked:,} records verify (checked {when})"}
    broken = result.first_broken
    if broken is not None and broken <= record_id:
        return {"ok": False, "text": f"BROKEN at record #{broken} ({result.reason}): this record cannot be trusted"}
    return {"ok": False, "text": f"broken later, at record #{broken} ({result.reason}); the chain up to here verifies"}


#: The filters offered as suggestions, with the audit table column each comes from.
CHOICE_COLUMNS = ("dag_id", "handler_id", "list_id", "scenario")


def _choices(store: Any, limit: int = 500) -> dict[str, list[str]]:
    """The values each text filter can take (from the indexed audit columns: milliseconds for 100,000 records),
    offered as suggestions so a reviewer need not remember DAG or list ids."""
    log = db.audit_log
    with db.read_connection(store.engine) as conn:
        return {
            name: list(
                conn.execute(
                    sa.select(log.c[name]).where(log.c[name].is_not(None)).distinct().order_by(log.c[name]).limit(limit)
                ).scalars()
            )
            for name in CHOICE_COLUMNS
        }


def _newest_gate_record(store: Any, dag_id: str, run_id: str, task_id: str) -> dict | None:
    """The newest gate record of one task run, found with one query on the audit table's own columns (the
    audit log's query() filters do not include run and task)."""
    log = db.audit_log
    wanted = sa.select(sa.func.max(log.c.id)).where(
        log.c.dag_id == dag_id, log.c.run_id == run_id, log.c.task_id == task_id, log.c.event == GATE_EVENT
    )
    with db.read_connection(store.engine) as conn:
        newest = conn.execute(wanted).scalar()
    return None if newest is None else store.audit.get(newest)


def _handler_years(store: Any) -> list[dict[str, Any]]:
    """Every handler and year in the ledger with its year-to-date counts, newest year first."""
    pairs = sorted(store.handlers(), key=lambda pair: (pair[0], -pair[1]))
    return [{"handler_id": h, "year": y, "counts": store.counts(h, y)} for h, y in pairs]


def _timeline_point(point: dict) -> TimelinePoint:
    at = point["ts"]
    return TimelinePoint(
        at if isinstance(at, datetime) else datetime.fromisoformat(str(at)),
        int(point.get("personal") or 0),
        int(point.get("sensitive") or 0),
    )


def _thresholds_of(records: list[dict]) -> list[tuple[str, int]]:
    """The personal and sensitive thresholds the handler's recent decisions measured, for the timeline."""
    found = set()
    for record in records:
        for margin in (record.get("decision") or {}).get("margins") or []:
            name, limit = count_name(margin.get("count")), margin.get("threshold")
            if name in ("personal", "sensitive") and isinstance(limit, int):
                found.add((name, limit))
    return sorted(found, key=lambda t: t[1])


def _download(store: Any, fmt: str, filters: Filters, media_type: str) -> StreamingResponse:
    """The filtered records, written by the audit log's own exporter (the same as `export-gate audit export`)
    in a worker thread and streamed as it writes, so the first bytes leave at once and 100,000 records never
    sit in memory or on disk."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        _exported(store, fmt, filters.store_kwargs()),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="export-gate-audit-{stamp}.{fmt}"'},
    )


class _Cancelled(Exception):
    """The client went away: stop exporting."""


class _ChunkWriter(io.TextIOBase):
    """A text stream that hands what is written to a bounded queue in chunks (the exporter writes row by row),
    and stops the exporter once the download was abandoned."""

    def __init__(self, chunks: queue.Queue, cancelled: threading.Event, size: int = 64 * 1024) -> None:
        self.chunks, self.cancelled, self.size, self.buffer = chunks, cancelled, size, io.StringIO()

    def write(self, text: str) -> int:
        self.buffer.write(text)
        if self.buffer.tell() >= self.size:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if not self.buffer.tell():
            return
        chunk, self.buffer = self.buffer.getvalue(), io.StringIO()
        while True:
            if self.cancelled.is_set():
                raise _Cancelled
            try:
                self.chunks.put(chunk, timeout=1)
                return
            except queue.Full:
                continue


_DONE = object()


def _exported(store: Any, fmt: str, filters: dict[str, Any]) -> Iterator[str]:
    chunks: queue.Queue = queue.Queue(maxsize=16)
    cancelled = threading.Event()
    failure: list[BaseException] = []

    def export() -> None:
        writer = _ChunkWriter(chunks, cancelled)
        try:
            store.audit.export(fmt, writer, **filters)
            writer.flush()
        except _Cancelled:
            pass
        except BaseException as exc:  # re-raised below, which ends the download early
            failure.append(exc)
        finally:
            chunks.put(_DONE)

    threading.Thread(target=export, daemon=True).start()
    try:
        while (chunk := chunks.get()) is not _DONE:
            yield chunk
    finally:
        cancelled.set()
        while not chunks.empty():  # unblock the exporter if it waits on a full queue
            chunks.get_nowait()
    if failure:
        raise failure[0]
