"""The ``export-gate`` command line: one subcommand module per job in export_gate.commands.

Errors the gate understands (GateError) print one line and exit 2; anything unexpected prints its type
only (its message could quote a cell) and also exits 2, so a pipeline step that calls the CLI fails closed.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from export_gate.errors import EXIT_ERROR, GateError

#: Subcommand modules under export_gate.commands; each has ``register(subparsers)`` and sets ``func``.
COMMANDS: tuple[str, ...] = ("scan", "evaluate", "lists", "filings", "ledger", "audit", "report", "detectors")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="export-gate",
        description="Count the people whose personal information an export sends abroad, and decide "
        "whether China's cross-border data rules allow it.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"export_gate.commands.{name}").register(sub)
    return parser


class _StderrWarnings(logging.Handler):
    """The engine's warnings on stderr (the stream of the moment), once each. Its errors are left out: the
    engine logs them for the Airflow task log, and the command prints each one itself as its outcome (Python's
    last-resort handler would otherwise print them a second and third time)."""

    def emit(self, record: logging.LogRecord) -> None:
        if logging.WARNING <= record.levelno < logging.ERROR:
            print(f"export-gate: warning: {record.getMessage()}", file=sys.stderr)


def _log_to_stderr() -> None:
    logger = logging.getLogger("export_gate")
    if not any(isinstance(handler, _StderrWarnings) for handler in logger.handlers):
        logger.addHandler(_StderrWarnings())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _log_to_stderr()
    try:
        return int(args.func(args))
    except GateError as exc:
        print(f"export-gate: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("export-gate: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # fail closed without echoing a message that may quote personal data
        if os.environ.get("EXPORT_GATE_DEBUG"):
            raise
        print(
            f"export-gate: internal error ({type(exc).__name__}); rerun with EXPORT_GATE_DEBUG=1 for details",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
