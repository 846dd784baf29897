"""The Spark engine through a real Spark Connect server (``sc://``), started by the test from pyspark's own
``sbin/start-connect-server.sh``: the same report and people as the local engine, and a failure on the
server's executors blocks the gate."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from export_gate.engine.local import scan_paths
from export_gate.engine.spark import SparkSource
from export_gate.gate import BLOCK, GateRequest, run_gate
from export_gate.model import mask_histogram
from export_gate.people.digest import SubjectHasher
from export_gate.rules.handler import Handler
from export_gate.samples.exports import generate
from spark_support import with_table

AS_OF = date(2026, 6, 30)
HASHER = SubjectHasher(b"spark-connect-test-key")
#: How long the server may take to listen (about 20 s on an idle 2-core machine).
START_SECONDS = 240


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import pyspark

    home = Path(pyspark.__file__).parent
    port = _free_port()
    state = tmp_path_factory.mktemp("spark-connect")
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_PID_DIR": str(state),
        "SPARK_LOG_DIR": str(state),
        "SPARK_IDENT_STRING": f"export-gate-test-{port}",
        "PYSPARK_PYTHON": sys.executable,  # the server's Python workers import export_gate from this environment
    }
    start = [
        str(home / "sbin" / "start-connect-server.sh"),
        "--master",
        "local[2]",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        "spark.ui.enabled=false",
    ]
    subprocess.run(start, env=env, check=True, timeout=120, capture_output=True)
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _listening(port):
            if time.monotonic() > deadline:
                logs = "\n".join(path.read_text(errors="replace")[-2000:] for path in state.glob("*.out"))
                pytest.fail(f"the Spark Connect server did not listen on {port} in {START_SECONDS} s:\n{logs}")
            time.sleep(1)
        yield f"sc://127.0.0.1:{port}"
    finally:
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:
            active.stop()
        subprocess.run([str(home / "sbin" / "stop-connect-server.sh")], env=env, timeout=120, capture_output=True)


def test_connect_report_equals_local(connect_url: str, tmp_path: Path) -> None:
    generate("crm", 200, tmp_path, seed=5, as_of=AS_OF, files=2, nested=True)
    paths = sorted(str(path) for path in tmp_path.glob("*.parquet"))
    options = {"as_of": AS_OF, "hasher": HASHER}
    local = scan_paths(paths, workers=1, **options)
    remote = with_table(SparkSource(tuple(paths), master=connect_url).scan(**options))
    for key in ("rows", "cells", "subjects", "categories", "columns", "detector_version"):
        assert remote.report[key] == local.report[key], key
    assert len(remote.subjects.roots) == len(local.subjects.roots)
    assert mask_histogram(remote.subjects.masks) == mask_histogram(local.subjects.masks)


def test_connect_executor_failure_blocks_the_gate(connect_url: str, tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"customer_id": ["C1", "C2"], "note": ["short", "y" * (2 << 20)]}), path)
    outcome = run_gate(
        GateRequest(
            source=SparkSource((str(path),), master=connect_url),
            list_id="cn-national-2024",
            handler=Handler(id="acme"),
            as_of=datetime(2026, 6, 30, tzinfo=UTC),
            subject_keys=("customer_id",),
            ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}",
            secret_key=b"spark-connect-test-key",
            reservation="dag/run/gate",
        )
    )
    assert outcome.action == BLOCK
    assert outcome.error.startswith("InputError: on a Spark executor:"), outcome.error
    assert outcome.audit_id is not None
