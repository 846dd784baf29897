"""The gate: one function that the CLI and the Airflow operator both call.

open the ledger (its year's subject digest scheme) -> scan the source -> in one per-handler transaction:
year-to-date counts before and after this export -> decide -> reserve the export's subjects (if allowed) -> append
the audit record -> commit -> write the HTML report. The decision is taken inside the ledger's lock on the counts
it sees, so two gates running at once cannot both pass a threshold.

Fail closed: any error anywhere (unreadable source, unknown list, database down, detector error, timeout) gives a
block with the error, and an audit record that says why is still written in its own transaction. If even that
fails, the outcome's error says so. Deterministic: the same data, lists and ledger state give the same decision
(``as_of`` comes from the caller, never from the clock here).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from export_gate.errors import GateError, LedgerError
from export_gate.reading.sources import ExportSource

if TYPE_CHECKING:
    from export_gate.model import Counts
    from export_gate.people.digest import SubjectHasher
    from export_gate.records.ledger import Store
    from export_gate.rules.handler import Filing, Handler
    from export_gate.rules.policy import Decision

log = logging.getLogger(__name__)

ALLOW, ANNOTATE, BLOCK = "allow", "annotate", "block"
#: The parts of a decision that travel with the task (XCom, asset extras, lineage).
DECISION_SUMMARY_KEYS = (
    "mechanism",
    "rule",
    "counts",
    "margins",
    "warnings",
    "obligations",
    "filings_used",
    "counting",
)


@dataclass(frozen=True)
class RunIdentity:
    """Who ran the gate: the Airflow task instance, or the CLI."""

    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    try_number: int | None = None


@dataclass(frozen=True)
class GateRequest:
    """Everything one gate run needs; plain data, so the CLI and the operator build the same thing.

    ``reservation`` None means a preview: nothing is written to the ledger (the audit record is still written
    unless ``audit`` is False). ``secret_key`` None is allowed only for a preview without audit: the scan then
    uses a throw-away key, so no subject of this export matches the ledger and the year-to-date "after" count is
    an upper bound (conservative).
    """

    source: ExportSource
    list_id: str
    handler: Handler
    as_of: datetime  # timezone-aware; the period year is taken in the handler's time zone
    scenario: str | None = None
    purpose: str | None = None
    subject_keys: tuple[str, ...] = ()
    filings: tuple[Filing, ...] = ()  # added to the handler's own
    important_data: bool = False
    warn_ratio: float = 0.8
    ledger_url: str | None = None
    secret_key: bytes | None = None
    reservation: str | None = None
    reservation_status: str = "pending"
    audit: bool = True
    run: RunIdentity = field(default_factory=RunIdentity)
    identity_document_sensitive: bool = False  # GB/T 35273-2020 instead of GB/T 45574-2025 (the default)
    count_unanchored: bool = False  # strict: findings with no person on their row count as people too
    recipient: str | None = None  # the overseas recipient: a registered filing covers only its own recipients


@dataclass(frozen=True)
class GateOutcome:
    """What the gate decided and where it wrote it down."""

    action: str
    decision: Decision | None  # None when the gate could not decide
    report: dict | None
    error: str | None
    audit_id: int | None
    reservation: str | None
    year: int | None
    message: str
    record: dict = field(default_factory=dict)
    audit_hash: str | None = None  # the audit chain's head after this run's record (an anchor, see records.anchors)

    @property
    def allowed(self) -> bool:
        return self.action in (ALLOW, ANNOTATE)

    def summary(self) -> dict:
        """The JSON-ready decision for XCom, asset extras and lineage: counts, rule, obligations, margins; no
        raw values (the scan report is not included; it is in the audit record)."""
        decision = self.decision.to_dict() if self.decision is not None else {}
        return {
            "action": self.action,
            **{key: decision.get(key) for key in DECISION_SUMMARY_KEYS},
            "list": self.record.get("list"),
            "scenario": self.record.get("scenario"),
            "handler_id": self.record.get("handler_id"),
            "year": self.year,
            "reservation": self.reservation,
            "audit_id": self.audit_id,
            "audit_hash": self.audit_hash,
            "error": self.error,
            "message": self.message,
        }


def run_gate(request: GateRequest) -> GateOutcome:
    """Scan, count, decide, reserve and audit one export. Never raises for a gate failure: it blocks instead
    (only KeyboardInterrupt / SystemExit propagate, after the audit record is written)."""
    record = _base_record(request)
    stage = "setup"
    try:
        from export_gate.rules.handler import period_year

        record["year"] = period_year(request.handler, request.as_of)
        stage = "list check"
        _check_list(request)
        stage = "ledger"
        from export_gate.records.ledger import Store

        store = Store(request.ledger_url, secret_key=request.secret_key)
        hasher = _hasher(request, store.digest_scheme(record["year"]))
        stage = "scan"
        scan = _scan(request, hasher)
        record["report"] = scan.report
        record["detector_version"] = scan.report.get("detector_version")
        record["source"]["fingerprint"] = scan.report.get("source_fingerprint")
        stage = "ledger"
        return _decide_and_record(request, store, scan, hasher.scheme, record)
    except BaseException as exc:
        outcome = _failed(
            record,
            _error_text(exc, stage),
            audit=request.audit,
            ledger_url=request.ledger_url,
            secret_key=request.secret_key,
        )
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return outcome


def _base_record(request: GateRequest) -> dict:
    """The audit record's fields known before anything runs."""
    from export_gate.settings import default_ledger_url, ledger_origin

    return {
        "event": "gate",
        "handler_id": request.handler.id,
        "year": None,
        "as_of": request.as_of.isoformat(),
        "dag_id": request.run.dag_id,
        "run_id": request.run.run_id,
        "task_id": request.run.task_id,
        "try_number": request.run.try_number,
        "reservation": request.reservation,
        "ledger_origin": ledger_origin(request.ledger_url or default_ledger_url()),
        "source": {"uris": list(request.source.uris), "fingerprint": None},
        "list": {"id": request.list_id, "version": None},
        "scenario": request.scenario,
        "purpose": request.purpose,
        "recipient": request.recipient,
        "entity": None,
        "detector_version": None,
        "counts": None,
        "decision": None,
        "action": BLOCK,
        "mechanism": None,
        "rule_id": None,
        "obligations": [],
        "filings": [filing.to_dict() for filing in _filings(request)],
        "error": None,
        "report": None,
    }


def _filings(request: GateRequest) -> tuple[Filing, ...]:
    return tuple(request.handler.filings) + tuple(request.filings)


def _decide(
    request: GateRequest,
    export: Counts,
    before: Counts,
    after: Counts,
    handler: Handler | None = None,
    registered: tuple[Filing, ...] = (),
) -> Decision:
    """Decide with the request's filings plus the entity's ``registered`` ones (``handler``: the request's handler
    with its entity resolved)."""
    from export_gate.rules.policy import decide

    return decide(
        export=export,
        before=before,
        after=after,
        handler=handler or request.handler,
        list_id=request.list_id,
        scenario=request.scenario,
        purpose=request.purpose,
        filings=_filings(request) + tuple(registered),
        as_of=_local_date(request),
        important_data=request.important_data,
        warn_ratio=request.warn_ratio,
        recipient=request.recipient,
        datasets=tuple(request.source.uris),
    )


def _check_list(request: GateRequest) -> None:
    """Fail before a long scan when the list, scenario or zone is wrong (decide raises ListError on zero counts)."""
    from export_gate.model import Counts

    _decide(request, Counts(), Counts(), Counts())


def _local_date(request: GateRequest) -> date:
    """``as_of`` as a calendar date in the handler's time zone (the same clock as the period year)."""
    from zoneinfo import ZoneInfo

    as_of = request.as_of if request.as_of.tzinfo else request.as_of.replace(tzinfo=UTC)
    return as_of.astimezone(ZoneInfo(request.handler.timezone)).date()


def _hasher(request: GateRequest, scheme: str) -> SubjectHasher:
    """The subject hasher of this run: the request's key (a throw-away one for a preview without audit) and the
    digest scheme of the ledger year the export is counted in, so its digests can match the year's people."""
    from export_gate.people.digest import SubjectHasher

    if request.secret_key:
        return SubjectHasher(request.secret_key, scheme)
    if request.reservation is None and not request.audit:
        return SubjectHasher.ephemeral(scheme)
    from export_gate.settings import SECRET_KEY_ENV

    raise LedgerError(
        f"no secret key for subject digests: set {SECRET_KEY_ENV} or the Airflow connection "
        "'export_gate_secret' (its password is the key)"
    )


def _scan(request: GateRequest, hasher: SubjectHasher) -> Any:
    from export_gate.detection.detect import DetectorSettings

    return request.source.scan(
        hasher=hasher,
        subject_keys=tuple(request.subject_keys),
        as_of=_local_date(request),
        settings=DetectorSettings(
            identity_document_sensitive=request.identity_document_sensitive, count_unanchored=request.count_unanchored
        ),
    )


def _decide_and_record(request: GateRequest, store: Store, scan: Any, scheme: str, record: dict) -> GateOutcome:
    """The part under the ledger lock: counts, decision, reservation and audit in ONE transaction. The ledger is the
    legal entity's (every handler id of one unified social credit code shares it); the entity's registered filings
    are read from the same database. An export left out of the counts (an FTZ exemption with the handler's
    count_ftz_exempt false) is audited but not reserved."""
    from export_gate.records.filings import registered_filings, resolve_entity

    handler = resolve_entity(store.engine, request.handler)
    record["entity"] = handler.ledger_key
    registered = registered_filings(store.engine, handler.ledger_key)
    export = scan.subjects.counts()
    with store.transaction(handler.ledger_key, record["year"]) as tx:
        before, after = tx.preview(scan.subjects, reservation=request.reservation, scheme=scheme)
        decision = _decide(request, export, before, after, handler, registered)
        _fill_decision(record, decision)
        allowed = decision.action in (ALLOW, ANNOTATE) and decision.counted
        if allowed and request.reservation is not None and len(scan.subjects):
            record["reservation"] = tx.reserve(
                request.reservation,
                scan.subjects,
                status=request.reservation_status,
                meta={"list_id": request.list_id, "scenario": request.scenario, "dag_id": request.run.dag_id},
                scheme=scheme,
            )
        else:
            record["reservation"] = None
        audit_id = tx.append_audit(record) if request.audit else None
    audit_hash = _publish(store, audit_id)
    return GateOutcome(
        action=decision.action,
        decision=decision,
        report=scan.report,
        error=None,
        audit_id=audit_id,
        reservation=record["reservation"],
        year=record["year"],
        message=decision.message,
        record=record,
        audit_hash=audit_hash,
    )


def _fill_decision(record: dict, decision: Decision) -> None:
    data = decision.to_dict()
    record.update(
        counts=data["counts"],
        decision=data,
        action=decision.action,
        mechanism=decision.mechanism,
        rule_id=(decision.rule or {}).get("id"),
        obligations=list(decision.obligations),
        list={"id": decision.list_id, "version": decision.list_version},
    )


def _error_text(exc: BaseException, stage: str) -> str:
    """One line for the record. A GateError's message is written to be safe; anything else may quote a cell
    (pyarrow, a driver), so only its type is kept."""
    if isinstance(exc, GateError):
        return f"{type(exc).__name__}: {exc}"
    if type(exc).__name__ == "AirflowTaskTimeout":
        return f"timeout during {stage}: the gate ran longer than the task's execution_timeout"
    return f"internal error during {stage} ({type(exc).__name__}); rerun with EXPORT_GATE_DEBUG=1 to see details"


#: Seconds a failure record waits for a busy SQLite ledger: the gate already waited its lock timeout.
FAILURE_RECORD_WAIT_S = 5.0


def _failed(
    record: dict,
    error: str,
    *,
    audit: bool,
    ledger_url: str | None,
    secret_key: bytes | None = None,
) -> GateOutcome:
    """The block outcome for a gate that could not decide, with the audit record written on its own (chained
    with ``secret_key`` when there is one)."""
    record = {**record, "error": error, "action": BLOCK, "reservation": None}
    audit_id = audit_hash = None
    if audit:
        try:
            from export_gate.records.ledger import Store

            store = Store(ledger_url, secret_key=secret_key)
            audit_id = store.append_audit(record, wait_s=FAILURE_RECORD_WAIT_S)
            audit_hash = _publish(store, audit_id)
        except Exception as exc:  # the loud case: no trace of this run anywhere but the task log
            note = _error_text(exc, "audit")
            log.error("EXPORT GATE COULD NOT WRITE ITS AUDIT RECORD (%s); the export is blocked: %s", note, error)
            note = "the same cause" if note == error else note
            error = f"{error}; AND THE AUDIT RECORD COULD NOT BE WRITTEN: {note}"
            record["error"] = error
    # the caller reports the error (the CLI on stderr, the operator in its failure): logged here only as a step
    log.info("export gate blocked the export because it could not decide: %s", error)
    return GateOutcome(
        action=BLOCK,
        decision=None,
        report=record.get("report"),
        error=error,
        audit_id=audit_id,
        reservation=None,
        year=record.get("year"),
        message=(
            f"The export is blocked because the gate could not decide: {error}. "
            "Fix the cause and run the gate again; nothing was added to the ledger."
        ),
        record=record,
        audit_hash=audit_hash,
    )


def refuse(
    error: BaseException,
    *,
    handler_id: str | None,
    list_id: str,
    scenario: str | None,
    run: RunIdentity,
    ledger_url: str | None = None,
    secret_key: bytes | None = None,
) -> GateOutcome:
    """The block outcome (with its audit record) for a gate whose request could not even be built: a bad
    handler file, an unreadable configuration, no secret key (the record is then chained unkeyed)."""
    record = {
        "event": "gate",
        "handler_id": handler_id,
        "dag_id": run.dag_id,
        "run_id": run.run_id,
        "task_id": run.task_id,
        "try_number": run.try_number,
        "list": {"id": list_id, "version": None},
        "scenario": scenario,
        "action": BLOCK,
    }
    return _failed(record, _error_text(error, "setup"), audit=True, ledger_url=ledger_url, secret_key=secret_key)


def _publish(store: Store, audit_id: int | None) -> str | None:
    """After the record committed: its chain hash is the new head; publish it outside the database (the task
    log, the anchor file in the state folder, and the caller's XCom through the outcome) and write the per-run
    HTML report, rendered from the record as stored. A failure here never loses the audit record."""
    if audit_id is None:
        return None
    try:
        from export_gate.records.anchors import publish
        from export_gate.reporting.html import render_report
        from export_gate.settings import anchors_path, reports_dir

        stored = store.audit.get(audit_id)
        log.info("export gate: audit record %s, chain head %s:%s", audit_id, audit_id, stored["hash"])
        publish(anchors_path(), store.ledger_id(), audit_id, stored["hash"])
        (reports_dir() / f"{audit_id}.html").write_text(render_report(stored), encoding="utf-8")
        return stored["hash"]
    except Exception as exc:
        log.warning(
            "could not publish the head or write the report of audit record %s (%s)", audit_id, type(exc).__name__
        )
        return None


def finish_reservation(
    reservation: str,
    *,
    succeeded: bool,
    ledger_url: str | None = None,
    run: RunIdentity | None = None,
    secret_key: bytes | None = None,
) -> None:
    """Confirm (the export ran) or release (it failed for good) a pending reservation, with an audit record."""
    from export_gate.records.ledger import Store

    run = run or RunIdentity()
    audit = {
        "event": "confirm" if succeeded else "release",
        "reservation": reservation,
        "dag_id": run.dag_id,
        "run_id": run.run_id,
        "task_id": run.task_id,
        "try_number": run.try_number,
        "at": datetime.now(UTC).isoformat(),
    }
    store = Store(ledger_url, secret_key=secret_key)  # the key chains the record
    if succeeded:
        store.confirm(reservation, audit=audit)
    else:
        store.release(reservation, audit=audit)
