"""Placeholder for `export-gate scan` until its module lands (replaced by its owner)."""

from __future__ import annotations

import argparse

from export_gate.errors import GateError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("scan", help="(not yet available)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    raise GateError("export-gate scan is not available yet")
