"""The review app: a FastAPI app the Airflow api-server mounts at /export-gate (see export_gate.airflow.plugin).

Pages are rendered on the server (Jinja2, inline SVG charts, one small stylesheet and script shipped in the
package), so they work offline and inside the Airflow UI's iframe. Every route needs a reviewer (see
``auth``); the static assets hold no data and are public. The pages show what the audit log holds: counts,
rule ids, run ids and digests, never a value from the exported data.

Links are root-relative paths (``paths``), responses are not cached and carry a Content-Security-Policy
(``headers``), labels follow Airflow's language (``i18n``); app.js follows Airflow's theme and time zone and
routes links out of the Airflow UI's sandboxed iframe. Routes: the decisions list, one record, its report,
the extra link's redirect, the dashboard (``dashboard``) and one handler's year, and the downloads
(``download``).
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from export_gate.airflow.web import dashboard, query
from export_gate.airflow.web.auth import ReviewerDep, login_url
from export_gate.airflow.web.chain import ChainCheck, chain_status, untrusted
from export_gate.airflow.web.download import csv_chunks, json_chunks
from export_gate.airflow.web.filters import ACTIONS, EVENTS, PAGE_SIZE, Filters, filters_from_query
from export_gate.airflow.web.headers import SecurityHeaders, report_policy
from export_gate.airflow.web.i18n import language, translator
from export_gate.airflow.web.paths import airflow_base_path, here, path_for
from export_gate.airflow.web.query import SORTS
from export_gate.airflow.web.templating import environment, static_text
from export_gate.errors import GateError
from export_gate.reporting.charts import WORDS, timeline
from export_gate.reporting.html import decision_view, render_report
from export_gate.reporting.outcome import FOLLOW_UP_EVENTS, action_of, outcome, related

FiltersDep = Annotated[Filters, Depends(filters_from_query)]
#: The longest handler id the ledger stores (ledger_scope.handler_id).
HANDLER_ID_MAX = 200


def _default_store() -> Any:
    from export_gate.airflow.connections import ledger_url
    from export_gate.records.ledger import Store

    return Store(ledger_url())


def create_app(store_factory: Callable[[], Any] = _default_store) -> FastAPI:
    """The review app. ``store_factory`` opens the ledger/audit Store; it is called once, on first use, so
    loading the plugin in the api-server does not touch the database."""
    app = FastAPI(title="Export Gate review", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SecurityHeaders)
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

    def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """A page in the reviewer's language, with links as root-relative paths (see paths)."""
        lang = language(request)
        t = translator(lang)
        return templates.TemplateResponse(
            request,
            name,
            {
                "url_for": lambda route, **params: path_for(request, route, **params),
                "airflow_base_url": airflow_base_path(request),
                "lang": lang,
                "t": t,
                "words": {key: t(key) for key in WORDS},
                **context,
            },
            status_code=status_code,
        )

    def page(request: Request, name: str, user: Any, **context: Any) -> HTMLResponse:
        return render(request, name, user=user.get_name(), **context)

    @app.exception_handler(HTTPException)
    async def _html_errors(request: Request, exc: HTTPException) -> Response:
        """Browsers get a page that says what to do (sign in, ask for access); API clients get JSON."""
        if "text/html" not in request.headers.get("accept", ""):
            return await http_exception_handler(request, exc)
        return render(
            request,
            "error.html",
            status_code=exc.status_code,
            status=exc.status_code,
            detail=exc.detail,
            login_url=login_url(here(request)),
        )

    @app.exception_handler(GateError)
    async def _ledger_unavailable(request: Request, exc: GateError) -> Response:
        """The ledger cannot be opened or read: say which and why (the message names the database, no data)."""
        return await _html_errors(request, HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)))

    @app.get("/", response_class=HTMLResponse, name="records")
    def records(request: Request, user: ReviewerDep, filters: FiltersDep) -> HTMLResponse:
        engine = store().engine
        found, total = query.page(engine, filters.query(), limit=PAGE_SIZE, offset=filters.offset)
        pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
        chain = chain_status(chain_check(store()))
        gates = query.gate_records_of(engine, found)
        return page(
            request,
            "records.html",
            user,
            rows=[_row(r, gates.get(int(r["id"])), untrusted(chain, r.get("id"))) for r in found],
            choices=query.choices(engine),
            total=total,
            filters=filters,
            actions=ACTIONS,
            events=EVENTS,
            sorts=SORTS,
            first=filters.offset + 1 if found else 0,
            last=filters.offset + len(found),
            pages=pages,
            past_last=filters.page > pages,
            chain=chain,
        )

    @app.get("/records/{record_id}", response_class=HTMLResponse, name="record")
    def record(request: Request, record_id: int, user: ReviewerDep) -> HTMLResponse:
        found = _get(store(), record_id)
        return page(
            request,
            "record.html",
            user,
            view=decision_view(found, gate_record=_gate_record(store(), found)),
            chain=chain_status(chain_check(store()), record_id),
        )

    @app.get("/records/{record_id}/report", response_class=HTMLResponse, name="report")
    def report(request: Request, record_id: int, user: ReviewerDep) -> HTMLResponse:
        found = _get(store(), record_id)
        html = render_report(
            found,
            airflow_base_url=airflow_base_path(request),
            chain=chain_status(chain_check(store()), record_id),
            gate_record=_gate_record(store(), found),
        )
        return HTMLResponse(html, headers={"Content-Security-Policy": report_policy(static_text("style.css"))})

    @app.get("/task-report", name="task_report")
    def task_report(request: Request, user: ReviewerDep, dag_id: str, run_id: str, task_id: str) -> Response:
        """The extra link's target: the newest gate record of one task run."""
        newest = query.newest_gate_record(store().engine, dag_id, run_id, task_id)
        if newest is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"no export gate record for DAG {dag_id}, run {run_id}, task {task_id} (did the gate run?)",
            )
        return RedirectResponse(path_for(request, "report", record_id=newest), status.HTTP_303_SEE_OTHER)

    @app.get("/handlers", response_class=HTMLResponse, name="handlers")
    def handlers(request: Request, user: ReviewerDep) -> HTMLResponse:
        engine = store().engine
        summaries = [
            dashboard.summary(h, y, query.gate_records(engine, h, y), store().counts(h, y))
            for h, y in query.handler_years(engine)
        ]
        return page(request, "handlers.html", user, summaries=summaries)

    @app.get("/handlers/{handler_id:path}/{year:int}", response_class=HTMLResponse, name="handler")
    def handler(request: Request, handler_id: str, year: int, user: ReviewerDep) -> HTMLResponse:
        handler_id = checked_handler_id(handler_id)
        records = query.gate_records(store().engine, handler_id, year)
        if not records:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no export of data handler {handler_id!r} in {year}")
        found = dashboard.summary(handler_id, year, records, store().counts(handler_id, year))
        points = dashboard.timeline_points(store().timeline(handler_id, year), records)
        t = translator(language(request))
        thresholds = [(lim.count, lim.threshold) for lim in found.limits if lim.count in ("personal", "sensitive")]
        chart = timeline(
            points,
            thresholds,
            title=f"{handler_id} {year}: {t('people')}",
            words={key: t(key) for key in WORDS},
        )
        return page(request, "handler.html", user, summary=found, chart=chart, points=points)

    @app.get("/export.csv", name="export_csv")
    def export_csv(user: ReviewerDep, filters: FiltersDep) -> StreamingResponse:
        return _download(csv_chunks(store().engine, filters.query()), "csv", "text/csv; charset=utf-8")

    @app.get("/export.json", name="export_json")
    def export_json(user: ReviewerDep, filters: FiltersDep) -> StreamingResponse:
        return _download(json_chunks(store().engine, filters.query()), "json", "application/json")

    return app


def checked_handler_id(value: str) -> str:
    """A handler id from a URL, refused (404, saying why) when no ledger could hold it: empty, longer than
    the ledger's column, or with control characters."""
    if not value or len(value) > HANDLER_ID_MAX or any(unicodedata.category(ch).startswith("C") for ch in value):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"not a data handler id: ids are 1-{HANDLER_ID_MAX} printable characters",
        )
    return value


def _get(store: Any, record_id: int) -> dict:
    found = store.audit.get(record_id)
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no audit record {record_id}")
    return found


def _gate_record(store: Any, record: dict) -> int | None:
    """The gate record a confirm or release finished (None for a gate record)."""
    if record.get("event") not in FOLLOW_UP_EVENTS:
        return None
    return query.gate_records_of(store.engine, [record]).get(int(record["id"]))


def _row(record: dict, gate_record: int | None, suspect: bool) -> dict[str, Any]:
    """One line of the decisions table. Counts are None where the record has none (unknown, not 0)."""
    counts = record.get("counts") if isinstance(record.get("counts"), dict) else None
    export, after = (counts or {}).get("export") or {}, (counts or {}).get("ytd_after") or {}
    found = outcome(record)
    return {
        "id": record.get("id"),
        "ts": str(record.get("ts") or ""),
        "export_date": str(record.get("as_of") or "")[:10],
        "event": record.get("event") or "gate",
        "action": action_of(record),
        "related": related(record, gate_record),
        "dag_id": record.get("dag_id"),
        "run_id": record.get("run_id"),
        "task_id": record.get("task_id"),
        "handler_id": record.get("handler_id"),
        "year": record.get("year"),
        "list_id": (record.get("list") or {}).get("id"),
        "scenario": record.get("scenario"),
        "counted": counts is not None,
        "export_personal": export.get("personal"),
        "export_sensitive": export.get("sensitive"),
        "ytd_personal": after.get("personal"),
        "ytd_sensitive": after.get("sensitive"),
        "rule_id": record.get("rule_id") or ((record.get("decision") or {}).get("rule") or {}).get("id"),
        "outcome": {"kind": found.kind, "text": found.text},
        "error": bool(record.get("error")),
        "untrusted": suspect,
    }


def _download(chunks: Any, fmt: str, media_type: str) -> StreamingResponse:
    """The filtered records, streamed as they are read, so the first bytes leave at once."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        chunks,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="export-gate-audit-{stamp}.{fmt}"'},
    )
