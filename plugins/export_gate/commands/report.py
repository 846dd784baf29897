"""`export-gate report ID`: the self-contained HTML report of one gate run, rebuilt from its audit record.

The report is rendered from the record in the audit log (the tamper-evident source), not copied from the
file the gate wrote, so it is available wherever the ledger database is.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from export_gate.errors import EXIT_OK, InputError, LedgerError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "report",
        help="print the HTML report of one gate run",
        description="Render the self-contained HTML report (counts, thresholds, rule, obligation, charts) of the "
        "audit record ID. Prints it, or writes it to --output.",
    )
    parser.add_argument("id", type=int, metavar="ID", help="audit record id (see `export-gate audit list`)")
    parser.add_argument(
        "--ledger", metavar="URL", help="ledger database URL (default: $EXPORT_GATE_LEDGER_URL or ledger.db)"
    )
    parser.add_argument("--output", "-o", type=Path, metavar="FILE", help="write the report to FILE instead of stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from export_gate.airflow.connections import cli_ledger_url
    from export_gate.records.ledger import Store
    from export_gate.reporting.html import render_report

    record = Store(cli_ledger_url(args.ledger)).audit.get(args.id)
    if not record:
        raise LedgerError(f"no audit record {args.id} in the ledger; list the records with `export-gate audit list`")
    html = render_report(record)
    if args.output is None:
        sys.stdout.write(html)
        return EXIT_OK
    try:
        args.output.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the report to {args.output}: {exc.strerror}") from exc
    print(f"report of audit record {args.id} written to {args.output}", file=sys.stderr)
    return EXIT_OK
