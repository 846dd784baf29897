"""``export-gate detectors check [FOLDER]``: validate recognizers.yaml, columns.yaml and roles.yaml strictly.

The detector files are data people edit, so they are checked as the lists are: one ``file:line: field: message``
line per problem (a misspelt key is an error, never a silent default) and exit 2; exit 0 when both are valid.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from export_gate.detection.recognizers import check_detectors
from export_gate.errors import EXIT_ERROR, EXIT_OK
from export_gate.people import roles
from export_gate.resources import detectors_dir


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "detectors",
        help="validate the detector files (recognizers.yaml, columns.yaml, roles.yaml)",
        description="`export-gate detectors check [FOLDER]` validates the shipped detector files, or those of "
        "FOLDER (a copy of detectors/ being edited).",
    )
    actions = parser.add_subparsers(dest="detectors_action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate: exit 0 when valid, 2 with one line per problem")
    check.add_argument("folder", nargs="?", type=Path, help="a detectors folder (default: the shipped one)")
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    problems = check_detectors(args.folder)
    roles_file = (args.folder or detectors_dir()) / "roles.yaml"
    label = str(roles_file) if args.folder else "detectors/roles.yaml"
    if roles_file.is_file():
        problems += roles.check(roles_file.read_text(encoding="utf-8"), label)[1]
    else:
        problems.append(f"{label}:1: (top): the role words file is missing")
    for problem in problems:
        print(problem)
    if problems:
        print(f"export-gate: {len(problems)} problem(s) in the detectors", file=sys.stderr)
        return EXIT_ERROR
    print("detectors valid")
    return EXIT_OK
