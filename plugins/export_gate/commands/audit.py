"""``export-gate audit list | show ID | verify | head | export``: read and check the chained audit log.

``verify`` opens the database read-only (an auditor's copy works), walks the keyed chain, compares it with the
heads recorded outside the database (``--anchor``, ``--anchors``, and the state folder's anchor file) and
cross-checks the ledger tables; it prints what it checked and exits 1 when anything does not hold, or when the
log is empty (nothing verified). ``head`` prints the current head for a reviewer to record elsewhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from export_gate import settings
from export_gate.airflow.connections import cli_ledger_url
from export_gate.commands.ledger import add_ledger_argument, format_table
from export_gate.errors import EXIT_BLOCK, EXIT_OK, ConfigError
from export_gate.records import anchors
from export_gate.records import database as db
from export_gate.records.audit import EVENTS
from export_gate.records.ledger import Store

_LIST_COLUMNS = ("id", "ts", "event", "action", "handler_id", "year", "dag_id", "task_id", "list_id", "scenario")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("audit", help="list, show, verify and export the audit log")
    actions = parser.add_subparsers(dest="audit_command", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="audit records, newest first")
    _add_filters(listing)
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--offset", type=int, default=0)
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(func=_list)

    show = actions.add_parser("show", help="one audit record as JSON")
    show.add_argument("id", type=int)
    add_ledger_argument(show)
    show.set_defaults(func=_show)

    verify = actions.add_parser(
        "verify", help="check the chain, its anchors and the ledger (read-only); exit 1 naming the first break"
    )
    add_ledger_argument(verify)
    verify.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="ID:HASH",
        help="a head recorded outside the database (task log, XCom audit_id/audit_hash, `audit head`)",
    )
    verify.add_argument(
        "--anchors", action="append", default=[], type=Path, metavar="FILE", help="an anchor file (LEDGER_ID ID HASH)"
    )
    verify.set_defaults(func=_verify)

    head = actions.add_parser("head", help="print the chain's head (ID:HASH) to record outside the database")
    add_ledger_argument(head)
    head.set_defaults(func=_head)

    export = actions.add_parser("export", help="write the records (all, or filtered) as CSV or JSON")
    _add_filters(export)
    export.add_argument("--format", choices=("csv", "json"), required=True)
    export.add_argument("--output", metavar="FILE", help="file to write (default: standard output)")
    export.set_defaults(func=_export)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dag", dest="dag_id", metavar="DAG_ID")
    parser.add_argument("--handler", dest="handler_id", metavar="H")
    parser.add_argument("--list", dest="list_id", metavar="LIST_ID")
    parser.add_argument("--scenario")
    parser.add_argument("--action", choices=("allow", "annotate", "block"))
    parser.add_argument("--event", choices=EVENTS)
    parser.add_argument("--since", type=_moment, metavar="TIME", help="ISO date or time (UTC unless it has an offset)")
    parser.add_argument("--until", type=_moment, metavar="TIME", help="ISO date or time, exclusive")
    add_ledger_argument(parser)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date or time (e.g. 2026-01-31 or 2026-01-31T08:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _filters(args: argparse.Namespace) -> dict:
    names = ("dag_id", "handler_id", "list_id", "scenario", "action", "event", "since", "until")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _list(args: argparse.Namespace) -> int:
    records, total = Store(cli_ledger_url(args.ledger)).audit.query(
        **_filters(args), limit=args.limit, offset=args.offset
    )
    if args.format == "json":
        print(json.dumps({"total": total, "records": records}, indent=2, ensure_ascii=False))
        return EXIT_OK
    rows = [[_cell(record, name) for name in _LIST_COLUMNS] for record in records]
    print(format_table(list(_LIST_COLUMNS), rows))
    print(f"{len(records)} of {total} record(s)")
    return EXIT_OK


def _cell(record: dict, name: str) -> object:
    """A table cell: the list id is stored nested (``list.id``) in the record; the rest are top-level keys."""
    value = (record.get("list") or {}).get("id") if name == "list_id" else record.get(name)
    return "" if value is None else value


def _show(args: argparse.Namespace) -> int:
    record = Store(cli_ledger_url(args.ledger)).audit.get(args.id)
    if record is None:
        raise ConfigError(f"no audit record {args.id}: list them with `export-gate audit list`")
    print(json.dumps(record, indent=2, ensure_ascii=False, sort_keys=True))
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    store = Store(cli_ledger_url(args.ledger), read_only=True)
    ledger_id = store.ledger_id()
    given = [anchors.parse_head(text) for text in args.anchor]
    for path in args.anchors:
        given += anchors.read_file(path, ledger_id, required=True)
    given += anchors.read_file(settings.anchors_path(), ledger_id, required=False)
    result = store.verify(given)
    print(f"ledger {db.safe_url(store.url)} (id {ledger_id}), opened read-only; checked:")
    for line in result.checks:
        print(f"  - {line}")
    if result.empty:
        print(f"audit log EMPTY: {result.reason}", file=sys.stderr)
        return EXIT_BLOCK
    if result.ok:
        print(f"audit log intact: {result.reason}")
        return EXIT_OK
    where = "" if result.first_broken is None else f" at record {result.first_broken}"
    print(f"audit log BROKEN{where}: {result.reason}", file=sys.stderr)
    return EXIT_BLOCK


def _head(args: argparse.Namespace) -> int:
    store = Store(cli_ledger_url(args.ledger), read_only=True)
    head = store.audit.head()
    if head is None:
        raise ConfigError(f"the audit log of {db.safe_url(store.engine)} is empty: there is no head to record")
    print(anchors.format_head(*head))
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    audit = Store(cli_ledger_url(args.ledger)).audit
    if args.output is None:
        audit.export(args.format, sys.stdout, **_filters(args))
        return EXIT_OK
    with open(args.output, "w", encoding="utf-8", newline="") as out:
        written = audit.export(args.format, out, **_filters(args))
    print(f"wrote {written} audit record(s) to {args.output}", file=sys.stderr)
    return EXIT_OK
