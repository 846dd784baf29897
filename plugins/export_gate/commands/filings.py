"""``export-gate filings add | list | show | expire``: the register of standard contracts, certifications and
security assessment approvals on file, in the ledger database.

A filing belongs to the data handler's legal entity (``--uscc``, or a ``--handler-id`` bound to one), names its
overseas recipient(s) and its scope, and covers an export only when both match: the gate reads the register on
every run. Adding and expiring a filing each write an audit record. ``--filing KIND=REF@DATE`` on ``evaluate``
still works for a one-off check without the register.
"""

from __future__ import annotations

import argparse
import json
from datetime import date

from export_gate.commands.ledger import add_ledger_argument, format_table
from export_gate.errors import EXIT_OK
from export_gate.rules.handler import FILING_KINDS, Filing


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "filings",
        help="the register of filings on file (standard contract, certification, security assessment)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="filings_action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="put a filing on the register (and in the audit log)")
    _entity_arguments(add)
    add.add_argument("--kind", required=True, choices=FILING_KINDS)
    add.add_argument("--reference", required=True, metavar="REF", help="the filing or approval reference")
    add.add_argument(
        "--date", required=True, type=date.fromisoformat, metavar="DATE", help="filed / approved / certified on"
    )
    add.add_argument(
        "--valid-until", type=date.fromisoformat, metavar="DATE", help="last valid day, when the document says"
    )
    add.add_argument(
        "--recipient", action="append", default=[], required=True, metavar="NAME", help="overseas recipient (repeat)"
    )
    add.add_argument(
        "--scope",
        action="append",
        default=[],
        required=True,
        metavar="ITEM",
        help="a data category (personal, medical_health, ...), 'sensitive' for all sensitive categories, or "
        "dataset:<URI glob> (repeat)",
    )
    add.set_defaults(func=run_add)

    listing = actions.add_parser("list", help="the filings on the register")
    listing.add_argument("--handler-id", metavar="H", help="only this handler's entity")
    listing.add_argument("--uscc", metavar="CODE", help="only this entity")
    listing.add_argument("--all", action="store_true", help="include expired filings")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    add_ledger_argument(listing)
    listing.set_defaults(func=run_list)

    show = actions.add_parser("show", help="one filing")
    _entity_arguments(show)
    show.add_argument("reference", metavar="REF")
    show.set_defaults(func=run_show)

    expire = actions.add_parser("expire", help="mark a filing expired (withdrawn, revoked or replaced)")
    _entity_arguments(expire)
    expire.add_argument("reference", metavar="REF")
    expire.add_argument(
        "--on", type=date.fromisoformat, metavar="DATE", help="the day it stops being valid (default: today)"
    )
    expire.set_defaults(func=run_expire)


def _entity_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--handler-id", metavar="H", help="a data handler id (its entity's register when bound)")
    parser.add_argument("--uscc", metavar="CODE", help="the entity's unified social credit code (18 characters)")
    add_ledger_argument(parser)


def _open(args: argparse.Namespace, *, required: bool = True):
    """The store (migrated) and the register key named by --uscc, or by --handler-id (its entity when bound);
    None for neither when ``required`` is False."""
    from export_gate.records.filings import bound_code, entity_key
    from export_gate.records.ledger import Store

    store = Store(args.ledger)
    if not required and not (args.uscc or args.handler_id):
        return store, None
    code = args.uscc or (bound_code(store.engine, args.handler_id) if args.handler_id else None)
    return store, entity_key(args.handler_id, code)


def run_add(args: argparse.Namespace) -> int:
    from export_gate.records.filings import add_filing

    store, entity = _open(args)
    item = Filing(
        kind=args.kind,
        reference=args.reference.strip(),
        date=args.date,
        valid_until=args.valid_until,
        recipients=tuple(r.strip() for r in args.recipient),
        scope=tuple(s.strip() for s in args.scope),
        origin="register",
    )
    audit_id = add_filing(store.engine, entity, item)
    print(f"added {args.kind} {item.reference} for {entity} (audit record {audit_id})")
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    from export_gate.records.filings import list_filings

    store, entity = _open(args, required=False)
    rows = list_filings(store.engine, entity, include_expired=args.all)
    if args.format == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        print("no filings on the register" + (" for " + entity if entity else ""))
        return EXIT_OK
    header = ["entity", "kind", "reference", "date", "valid_until", "status", "recipients", "scope"]
    columns = ("entity", "kind", "reference", "date", "valid_until", "status")
    table = [[r[c] or "-" for c in columns] + ["; ".join(r["recipients"]), "; ".join(r["scope"])] for r in rows]
    print(format_table(header, table))
    return EXIT_OK


def run_show(args: argparse.Namespace) -> int:
    from export_gate.records.filings import show_filing

    store, entity = _open(args)
    print(json.dumps(show_filing(store.engine, entity, args.reference), indent=2, ensure_ascii=False))
    return EXIT_OK


def run_expire(args: argparse.Namespace) -> int:
    from export_gate.records.filings import expire_filing

    store, entity = _open(args)
    on = args.on or date.today()
    audit_id = expire_filing(store.engine, entity, args.reference, on)
    print(f"expired {args.reference} of {entity} from {on.isoformat()} (audit record {audit_id})")
    return EXIT_OK
