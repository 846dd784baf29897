"""``export-gate scan``: count the people with personal and sensitive information in an export.

Prints the report (JSON on stdout by default, or a table for people). The digests of this scan use a random
key and are thrown away: a scan on its own records nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from export_gate.detection.detect import DetectorSettings
from export_gate.engine import ENGINES, export_source
from export_gate.errors import EXIT_OK
from export_gate.people.digest import SubjectHasher
from export_gate.reading.read import row_count
from export_gate.reporting.report import render_table

if TYPE_CHECKING:
    from export_gate.reading.sources import ExportSource


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "scan",
        help="count the people with personal and sensitive information in an export",
        description="Scan every cell of Parquet, CSV or JSON Lines files (a file, a folder, a glob or an fsspec "
        "URL) and count the distinct people with personal and sensitive personal information. Prints counts and "
        "column names only, never a raw value.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="file, folder, glob or fsspec URL")
    parser.add_argument(
        "--subject-key",
        action="append",
        default=[],
        metavar="COL",
        help="column naming the person of each row (repeat for several people per row, e.g. patient_id and "
        "reporter_id); without it people are inferred from shared identifiers (mobile, ID, e-mail, ...)",
    )
    parser.add_argument(
        "--as-of", type=_date, default=None, metavar="DATE", help="export date for ages (default: today)"
    )
    parser.add_argument("--format", choices=("json", "table"), default="json", help="output format (default json)")
    parser.add_argument(
        "--show-examples", action="store_true", help="add masked examples per column (e.g. 138****5678)"
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
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    add_engine_arguments(parser)
    parser.set_defaults(func=run)


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """How the export is read and where it is scanned (scan and evaluate): --encoding, --input-format, --engine,
    --spark-master, --table and --spark-ship-package."""
    parser.add_argument("--encoding", default=None, metavar="ENC", help="CSV encoding (default: detect; e.g. gbk)")
    parser.add_argument(
        "--input-format",
        choices=("parquet", "csv", "jsonl", "orc"),
        default=None,
        help="file format (default: by suffix; orc with --engine spark)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="where the scan runs: this machine's cores (local, the default) or Spark",
    )
    parser.add_argument(
        "--spark-master",
        metavar="URL",
        help="with --engine spark: local[N] (default local[*]), spark://host:7077, yarn, or sc://host:15002 "
        "(Spark Connect)",
    )
    parser.add_argument(
        "--table", metavar="DB.T", help="with --engine spark: scan a table of the Spark catalog instead of paths"
    )
    parser.add_argument(
        "--spark-ship-package",
        action="store_true",
        help="with --engine spark: send this export-gate's code to the executors (a cluster that has its "
        "dependencies installed but not export-gate, or another version)",
    )


def source_of(args: argparse.Namespace) -> ExportSource:
    """The export the arguments of ``add_engine_arguments`` (and the paths) name, for the engine they name."""
    return export_source(
        args.engine,
        paths=args.paths,
        table=args.table,
        fmt=args.input_format,
        encoding=args.encoding,
        spark_master=args.spark_master,
        spark_ship_package=args.spark_ship_package,
    )


def _progress_bar(args: argparse.Namespace) -> Callable[[int], None] | None:
    """Rows scanned, speed and (when the files' footers give the total) percentage and time left, on a
    terminal's stderr; nothing when stderr is a file or a pipe."""
    if not sys.stderr.isatty() or args.engine != "local":
        return None
    total = row_count(args.paths, fmt=args.input_format)
    start = time.monotonic()
    done = 0

    def update(rows: int) -> None:
        nonlocal done
        done += rows
        elapsed = max(time.monotonic() - start, 1e-6)
        rate = done / elapsed
        if total:
            share = min(done / total, 1.0)
            filled = int(share * 20)
            bar = "=" * filled + (">" if filled < 20 else "") + " " * (19 - filled)
            left = (total - done) / rate if rate else 0.0
            status = f"{share:4.0%} {done:,}/{total:,} rows  {rate:,.0f} rows/s  {left:,.0f} s left"
        else:  # no total: the arrow moves to show it is alive
            filled = int(elapsed) % 20
            bar = "=" * filled + ">" + " " * (19 - filled)
            status = f"{done:,} rows  {rate:,.0f} rows/s"
        print(f"\r[{bar}] {status}", end="", file=sys.stderr, flush=True)

    return update


def run(args: argparse.Namespace) -> int:
    progress = _progress_bar(args) if args.format == "table" else None
    source = source_of(args)
    result = source.scan(
        subject_keys=args.subject_key,
        as_of=args.as_of or date.today(),
        hasher=SubjectHasher.ephemeral(),
        settings=DetectorSettings(
            identity_document_sensitive=args.identity_document_sensitive, count_unanchored=args.count_unanchored
        ),
        workers=args.workers,
        progress=progress,
        show_examples=args.show_examples,
    )
    if progress is not None:
        print(file=sys.stderr)
    if args.format == "table":
        sys.stdout.write(render_table(result.report))
    else:
        json.dump(result.report, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    return EXIT_OK
