"""What the Spark tests share: the local master, pyspark's own scripts (a Spark Connect server, spark-submit),
and a Python for Spark's workers that has export-gate's dependencies but not export-gate."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyspark
from export_gate.people.union import merge

#: The master of the tests' local Spark: two executor cores, like the machines the suite runs on.
MASTER = "local[2]"
#: The pyspark installation: its bin/spark-submit and sbin/start-connect-server.sh.
SPARK_HOME = Path(pyspark.__file__).parent
#: How long a Spark Connect server may take to listen (about 20 s on an idle 2-core machine).
START_SECONDS = 240


def python_without_export_gate(folder: Path) -> Path:
    """A Python for Spark's workers, like a cluster's that has the dependencies installed and not export-gate:
    this environment's interpreter with ``-S`` (no site module, so no .pth file: export-gate is installed
    here in development mode through one) and its site-packages on PYTHONPATH (pyarrow, presidio, spaCy...)."""
    script = folder / "python-without-export-gate"
    site = sysconfig.get_paths()["purelib"]
    script.write_text(f'#!/bin/sh\nPYTHONPATH="{site}${{PYTHONPATH:+:$PYTHONPATH}}" exec {sys.executable} -S "$@"\n')
    script.chmod(0o755)
    return script


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def connect_server(state: Path, python: Path | str) -> Iterator[str]:
    """A Spark Connect server on local[2] whose Python workers run ``python``, started and stopped with
    pyspark's own scripts; yields its ``sc://`` URL. Runs from ``state``, away from the repository's plugins/."""
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(
        SPARK_HOME=str(SPARK_HOME),
        SPARK_PID_DIR=str(state),
        SPARK_LOG_DIR=str(state),
        SPARK_IDENT_STRING=f"export-gate-test-{port}",
        PYSPARK_PYTHON=str(python),
    )
    start = [
        str(SPARK_HOME / "sbin" / "start-connect-server.sh"),
        "--master",
        MASTER,
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        "spark.ui.enabled=false",
    ]
    subprocess.run(start, env=env, cwd=state, check=True, timeout=120, capture_output=True)
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _listening(port):
            if time.monotonic() > deadline:
                logs = "\n".join(path.read_text(errors="replace")[-2000:] for path in state.glob("*.out"))
                raise AssertionError(f"the Spark Connect server did not listen on {port} in {START_SECONDS} s:\n{logs}")
            time.sleep(1)
        yield f"sc://127.0.0.1:{port}"
    finally:
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:
            active.stop()
        stop = [str(SPARK_HOME / "sbin" / "stop-connect-server.sh")]
        subprocess.run(stop, env=env, cwd=state, timeout=120, capture_output=True)


def with_table(result: Any) -> Any:
    """A Spark scan's result with its people read into one table, as the ledger would read them (the engine
    streams them from Spark as batches of whole people), so they compare with the local engine's table."""
    result.subjects = merge(result.subjects, result.subjects.identified_by)
    return result
