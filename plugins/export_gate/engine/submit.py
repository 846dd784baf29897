"""The gate as a Spark application, for a cluster without Spark Connect: spark-submit runs this file, which runs
``export-gate scan`` or ``export-gate evaluate`` with the Spark engine on spark-submit's master, executors and
settings (the session is spark-submit's own; see ``engine.spark.session``):

    python -m export_gate.engine.ship export_gate.zip
    spark-submit --master yarn --py-files export_gate.zip \\
        "$(python -c 'import export_gate.engine.submit as m; print(m.__file__)')" \\
        evaluate hdfs:///lake/member_profile/dt=2025-06-01 --list cn-national-2024 --handler-id loyalty-co --record

The arguments after the file are the command line's; ``--engine spark`` is implied and the master is the one
spark-submit was given, so ``--engine`` and ``--spark-master`` are refused. The exit code is the command's (0
allow or annotate, 1 block, 2 the gate could not decide), and spark-submit exits with it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from export_gate.commands.cli import main as cli_main
from export_gate.errors import EXIT_ERROR

#: The commands that scan an export.
COMMANDS = ("scan", "evaluate")
#: What spark-submit decides instead of the command line.
_SUBMIT_DECIDES = ("--engine", "--spark-master")


def command_line(argv: Sequence[str]) -> list[str]:
    """The export-gate command line for spark-submit's arguments; ValueError saying what to write instead."""
    if not argv or argv[0] not in COMMANDS:
        raise ValueError(f"give a command first: {' or '.join(COMMANDS)} (then its arguments, as for export-gate)")
    for option in _SUBMIT_DECIDES:
        if any(arg == option or arg.startswith(f"{option}=") for arg in argv):
            raise ValueError(f"{option} is spark-submit's to decide (its --master); drop it from the arguments")
    return [argv[0], "--engine", "spark", *argv[1:]]


def main(argv: Sequence[str] | None = None) -> int:
    try:
        command = command_line(sys.argv[1:] if argv is None else argv)
    except ValueError as exc:
        print(f"export-gate: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return cli_main(command)


if __name__ == "__main__":
    sys.exit(main())
