"""``export-gate ledger show``: the year-to-date distinct people per data handler and year."""

from __future__ import annotations

import argparse
import json

from export_gate.airflow.connections import cli_ledger_url
from export_gate.errors import EXIT_OK
from export_gate.model import CATEGORIES
from export_gate.records.ledger import Store


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("ledger", help="show the year-to-date ledger")
    actions = parser.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="year-to-date people per data handler and year, by category")
    show.add_argument("--handler", metavar="H", help="only this data handler id")
    show.add_argument("--year", type=int, metavar="Y", help="only this calendar year")
    add_ledger_argument(show)
    show.add_argument("--format", choices=("table", "json"), default="table")
    show.set_defaults(func=run)


def add_ledger_argument(parser: argparse.ArgumentParser) -> None:
    """``--ledger URL``, shared with ``export-gate audit`` (the same database)."""
    parser.add_argument(
        "--ledger",
        metavar="URL",
        help="ledger database URL (default: the Airflow connection export_gate_ledger when Airflow is configured, "
        "else $EXPORT_GATE_LEDGER_URL, else ledger.db in $EXPORT_GATE_HOME)",
    )


def summary(store: Store, handler: str | None = None, year: int | None = None) -> list[dict]:
    """One row per (handler, year): counts and how many reservations are pending / confirmed / released."""
    return [
        {
            "handler_id": handler_id,
            "year": period,
            "counts": store.counts(handler_id, period).to_dict(),
            "reservations": store.reservation_counts(handler_id, period),
        }
        for handler_id, period in store.handlers()
        if (handler is None or handler_id == handler) and (year is None or period == year)
    ]


def run(args: argparse.Namespace) -> int:
    rows = summary(Store(cli_ledger_url(args.ledger)), args.handler, args.year)
    if args.format == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        print("the ledger has no reservations" + (" matching the filters" if args.handler or args.year else ""))
        return EXIT_OK
    header = ["handler", "year", "personal", "sensitive", *CATEGORIES, "pending", "confirmed", "released"]
    table = [
        [
            row["handler_id"],
            row["year"],
            row["counts"]["personal"],
            row["counts"]["sensitive"],
            *(row["counts"]["categories"][name] for name in CATEGORIES),
            *row["reservations"].values(),
        ]
        for row in rows
    ]
    print(format_table(header, table))
    return EXIT_OK


def format_table(header: list[str], rows: list[list[object]]) -> str:
    """Plain aligned columns (numbers right-aligned), for terminals and logs."""
    cells = [header, *([str(value) for value in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [all(isinstance(row[i], int) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.rjust(width) if is_number else cell.ljust(width)
            for cell, width, is_number in zip(row, widths, numeric, strict=True)
        ).rstrip()
        for row in cells
    )
