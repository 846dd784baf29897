"""`export-gate evaluate`: scan an export and decide whether it may leave, against a list and the ledger.

Without ``--record`` this is a what-if: the year-to-date counts are read, nothing is written (no ledger
reservation, no audit record). With ``--record`` the export's subjects are added to the ledger as a confirmed
reservation (the CLI is the export: there is no later step to confirm it) and an audit record is appended; a
recording counts into the year it runs in (``--as-of`` may move the decision date within that year, up to
today; the record keeps both). Exit code 0 for allow and annotate, 1 for block, 2 when the gate could not
decide (which is also a block, and with ``--record`` leaves an audit record saying why).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from export_gate.commands.scan import add_engine_arguments, source_of
from export_gate.errors import EXIT_BLOCK, EXIT_ERROR, EXIT_OK, ConfigError, GateError, LedgerError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "evaluate",
        help="scan an export and decide allow / annotate / block against a list and the year-to-date ledger",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files, folders, globs or fsspec URLs")
    parser.add_argument("--list", dest="list_id", required=True, metavar="ID", help="list id, e.g. cn-national-2024")
    parser.add_argument("--scenario", help="scenario id of the list, e.g. pharmacovigilance")
    parser.add_argument(
        "--handler", metavar="FILE", help="handler profile (YAML/JSON: id, zone, ciio, timezone, filings)"
    )
    parser.add_argument("--handler-id", default="default", metavar="H", help="data handler id (without --handler)")
    parser.add_argument("--zone", metavar="ZONE", help="registration zone, e.g. shanghai-ftz (without --handler)")
    parser.add_argument(
        "--ciio", action="store_true", help="the handler is a critical information infrastructure operator"
    )
    parser.add_argument(
        "--uscc",
        metavar="CODE",
        help="the handler's unified social credit code (18 characters, checked): every handler id of one entity "
        "counts into one ledger (without --handler)",
    )
    parser.add_argument(
        "--recipient", metavar="NAME", help="the overseas recipient; a registered filing covers only its recipients"
    )
    parser.add_argument("--purpose", help="a declared exemption purpose of the list (e.g. an Art. 5 purpose)")
    parser.add_argument("--subject-key", action="append", default=[], metavar="COL", help="column naming a person")
    parser.add_argument("--filing", action="append", default=[], metavar="KIND=REF[@DATE]", help="a filing on file")
    parser.add_argument(
        "--ledger",
        metavar="URL",
        help="ledger database URL (default: $EXPORT_GATE_LEDGER_URL or the file in $EXPORT_GATE_HOME)",
    )
    parser.add_argument("--record", action="store_true", help="add this export to the ledger and the audit log")
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        metavar="DATE",
        help="the export date (default: today); with --record only a day of this year up to today",
    )
    parser.add_argument(
        "--important-data", action="store_true", help="the export holds data notified as important data"
    )
    parser.add_argument(
        "--warn-ratio", type=float, default=0.8, metavar="R", help="warn past this share of a threshold"
    )
    parser.add_argument(
        "--identity-document-sensitive",
        action="store_true",
        help="count an identity document number alone as sensitive (GB/T 35273-2020) instead of personal "
        "(GB/T 45574-2025, the default)",
    )
    parser.add_argument(
        "--count-unanchored",
        action="store_true",
        help="strict: count findings on rows with no person they can belong to (no key, name, birth date or strong "
        "identifier) as people too, instead of only listing them in the report",
    )
    parser.add_argument("--format", choices=("json", "table"), default="table")
    add_engine_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from export_gate.airflow.connections import cli_ledger_url
    from export_gate.gate import GateRequest, RunIdentity, refuse, run_gate
    from export_gate.rules.handler import parse_filing

    handler = _handler(args)
    run_identity = RunIdentity(task_id="export-gate evaluate")
    ledger_url = cli_ledger_url(args.ledger)
    try:
        secret_key = _key(required=args.record)
        as_of = _as_of(args.as_of, handler.timezone, recording=args.record)
        source = source_of(args)
    except GateError as exc:
        if not args.record:
            raise
        # a refused recording leaves an audit record, as the operator's refusals do
        outcome = refuse(
            exc,
            handler_id=handler.id,
            list_id=args.list_id,
            scenario=args.scenario,
            run=run_identity,
            ledger_url=ledger_url,
        )
    else:
        request = GateRequest(
            source=source,
            list_id=args.list_id,
            handler=handler,
            as_of=as_of,
            scenario=args.scenario,
            purpose=args.purpose,
            subject_keys=tuple(args.subject_key),
            filings=tuple(parse_filing(text) for text in args.filing),
            important_data=args.important_data,
            identity_document_sensitive=args.identity_document_sensitive,
            count_unanchored=args.count_unanchored,
            recipient=args.recipient,
            warn_ratio=args.warn_ratio,
            ledger_url=ledger_url,
            secret_key=secret_key,
            reservation=f"cli/{uuid.uuid4()}" if args.record else None,
            reservation_status="confirmed",
            audit=args.record,
            run=run_identity,
        )
        outcome = run_gate(request)
    output = {**(outcome.report or {}), "decision": _decision(outcome), "recorded": outcome.audit_id is not None}
    if outcome.audit_id is not None:
        output["audit_id"] = outcome.audit_id
        output["audit_hash"] = outcome.audit_hash  # the chain head to record elsewhere (audit verify --anchor)
    if args.format == "json":
        json.dump(output, sys.stdout, ensure_ascii=False, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_table(output))
    if outcome.error:
        print(f"export-gate: error: {outcome.error}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK if outcome.allowed else EXIT_BLOCK


def _handler(args: argparse.Namespace):
    from export_gate.rules.handler import Handler, load_handler

    if args.handler:
        if args.zone or args.ciio or args.uscc or args.handler_id != "default":
            raise ConfigError("give either --handler FILE or --handler-id/--zone/--ciio/--uscc, not both")
        return load_handler(args.handler)
    return Handler(id=args.handler_id, zone=args.zone, ciio=args.ciio, uscc=args.uscc)


def _as_of(day: date | None, timezone: str, *, recording: bool) -> datetime:
    """The start of ``day`` in the handler's time zone, or now: the period year is the handler's calendar year.
    A recording counts into the year it runs in, so its ``day`` must be in this year and not after today (an
    export recorded "as of" last 31 December would escape this year's count)."""
    now = now_utc()
    if day is None:
        return now
    today = now.astimezone(ZoneInfo(timezone)).date()
    if recording and (day.year != today.year or day > today):
        raise ConfigError(
            f"--as-of {day} with --record: a recording counts into the year it runs in ({today.year}), so --as-of "
            f"may only move the decision date within {today.year}, up to today ({today}); drop --record for a "
            "what-if on another date"
        )
    return datetime.combine(day, time(0), ZoneInfo(timezone))


def now_utc() -> datetime:
    """The time of the run, which dates a recording (the one clock of the command, so a test can pin it)."""
    return datetime.now(UTC)


def _key(*, required: bool) -> bytes | None:
    """The secret key; a what-if without one scans with a throw-away key (conservative: no overlap is seen)."""
    from export_gate.settings import secret_key_from_env

    try:
        return secret_key_from_env()
    except LedgerError:
        if required:
            raise
        return None


def _decision(outcome) -> dict:
    if outcome.decision is None:
        return {"action": outcome.action, "error": outcome.error, "message": outcome.message}
    return {**outcome.decision.to_dict(), "error": None}


def render_table(output: dict) -> str:
    """The decision for people: action, rule, counts before/after, margins, warnings, message."""
    decision = output["decision"]
    lines = [f"decision:   {decision['action'].upper()}"]
    if decision.get("error"):
        lines.append(f"error:      {decision['error']}")
    rule = decision.get("rule") or {}
    if rule:
        lines.append(f"rule:       {rule.get('id')} ({decision.get('list_id')})")
    if decision.get("mechanism"):
        lines.append(f"mechanism:  {decision['mechanism']}")
    counts = decision.get("counts")
    if counts:
        lines.append(f"{'':12}{'personal':>12}{'sensitive':>12}")
        for label, key in (("export", "export"), ("ytd before", "ytd_before"), ("ytd after", "ytd_after")):
            lines.append(f"{label:12}{counts[key]['personal']:>12,}{counts[key]['sensitive']:>12,}")
    for margin in decision.get("margins") or []:
        lines.append(f"margin:     {margin}")
    for warning in decision.get("warnings") or []:
        lines.append(f"warning:    {warning}")
    for obligation in decision.get("obligations") or []:
        lines.append(f"obligation: {obligation}")
    if decision.get("counting"):
        lines.append(f"counting:   {decision['counting']['note']}")
    if decision.get("message"):
        lines.append("")
        lines.append(decision["message"])
    if output.get("recorded"):
        lines.append(f"recorded in the ledger and the audit log (record {output.get('audit_id')})")
    return "\n".join(lines) + "\n"
