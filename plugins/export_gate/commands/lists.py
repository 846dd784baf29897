"""``export-gate lists``: show the lists the gate knows; ``export-gate lists check [PATH]...``: validate them.

``check`` prints one ``file:line: field: message`` line per problem and exits 2, so a CI step or a
compliance editor sees every mistake at once; it exits 0 when every list is valid. It also warns (on stderr,
exit code unchanged) about every list whose ``last_checked`` date is more than 180 days old: the published
texts move (new editions, superseded ones) and someone must look again.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from export_gate.errors import EXIT_ERROR, EXIT_OK
from export_gate.rules.lists import check_paths, load_lists, stale_lists


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "lists",
        help="show the national and FTZ lists (id, title, zone, dates, status), or validate them",
        description="Show the lists the gate decides with. `export-gate lists check [PATH]...` validates the "
        "shipped lists, or the given list files or folders.",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format (table)")
    parser.add_argument(
        "--lists", action="append", default=[], metavar="PATH", help="also show these list files or folders"
    )
    parser.set_defaults(func=run)
    actions = parser.add_subparsers(dest="lists_action", metavar="ACTION")
    check = actions.add_parser("check", help="validate lists: exit 0 when valid, 2 with one line per problem")
    check.add_argument("paths", nargs="*", metavar="PATH", help="list files or folders (default: the shipped lists)")
    check.add_argument(
        "--as-of", type=date.fromisoformat, metavar="DATE", help="the day to measure last_checked from (default: today)"
    )
    check.set_defaults(func=run_check)


def run(args: argparse.Namespace) -> int:
    rows = [gl.summary() for gl in sorted(load_lists(args.lists).values(), key=lambda gl: gl.id)]
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    columns = ("id", "series", "edition", "zone", "issued", "effective", "expires", "last_checked", "status", "title")
    table = [[str(row[c] if row[c] is not None else "-") for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in table)) for i, c in enumerate(columns[:-1])]
    for line in [list(columns), *table]:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)) + "  " + line[-1])
    return EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    problems = check_paths(args.paths)
    for problem in problems:
        print(problem)
    if problems:
        print(f"export-gate: {len(problems)} problem(s) in the lists", file=sys.stderr)
        return EXIT_ERROR
    for warning in stale_lists(load_lists(args.paths), args.as_of or date.today()):
        print(f"export-gate: warning: {warning}", file=sys.stderr)
    print("lists valid")
    return EXIT_OK
