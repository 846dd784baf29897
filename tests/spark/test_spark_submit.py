"""Spark without Spark Connect. The gate as a Spark application (engine/submit.py) run by pyspark's own
``bin/spark-submit`` on local[2], as a cluster runs it (``spark-submit --master yarn``): the report and decision
equal the local engine's for a sample export, the gate records into the ledger, and spark-submit exits with the
gate's exit code. And a classic session's executors run the package the driver ships (``addPyFile``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import export_gate.engine.submit
import pytest
from export_gate.commands.cli import main
from export_gate.engine.local import scan_paths
from export_gate.engine.ship import SHIPPED_CONF
from export_gate.engine.spark import SparkSource
from export_gate.engine.submit import main as submit_main
from export_gate.people.digest import SubjectHasher
from export_gate.records.ledger import Store
from export_gate.samples.exports import generate
from spark_support import MASTER, SPARK_HOME

GATE = ["--list", "cn-national-2024", "--handler-id", "acme", "--format", "json"]


def test_spark_submit_runs_the_gate_with_the_local_engines_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "members"
    generate("ae_cases", 200, data, seed=8, files=2)
    paths = sorted(str(path) for path in data.glob("*.parquet"))
    keys = ["--subject-key", "patient_id", "--subject-key", "reporter_id"]
    local_code = main(["evaluate", *paths, *GATE, *keys])  # a what-if: the ledger stays empty
    local = json.loads(capsys.readouterr().out)
    submit = [
        str(SPARK_HOME / "bin" / "spark-submit"),
        "--master",
        MASTER,
        "--conf",
        "spark.ui.enabled=false",
        export_gate.engine.submit.__file__,
        "evaluate",
        *paths,
        *GATE,
        *keys,
        "--record",
    ]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_HOME": str(SPARK_HOME)}
    proc = subprocess.run(submit, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == local_code, proc.stderr[-3000:]
    submitted = json.loads(_document(proc.stdout))
    for key in ("rows", "cells", "subjects", "categories", "unanchored", "columns", "detector_version"):
        assert submitted[key] == local[key], key
    assert submitted["source_fingerprint"].startswith("spark-rows:sha256:")
    assert submitted["subjects"]["personal"] > 0
    assert submitted["decision"]["action"] == local["decision"]["action"]
    assert submitted["decision"]["counts"]["export"] == local["decision"]["counts"]["export"]
    assert submitted["recorded"] and not local["recorded"]
    record = Store().audit.get(submitted["audit_id"])
    assert record["action"] == submitted["decision"]["action"]
    assert record["counts"]["export"] == local["decision"]["counts"]["export"]


def _document(stdout: str) -> str:
    """The command's JSON output: spark-submit's Python runner writes the driver's stderr (its warnings) into
    the same stream, before it."""
    start = 0 if stdout.startswith("{\n") else stdout.index("\n{\n") + 1
    return stdout[start:]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["ledger", "show"], "give a command first: scan or evaluate"),
        (["scan", "x.parquet", "--engine", "local"], "--engine is spark-submit's to decide"),
        (["evaluate", "x.parquet", "--spark-master=local[1]"], "--spark-master is spark-submit's to decide"),
    ],
)
def test_spark_submit_arguments_that_are_not_the_gates_are_refused(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert submit_main(argv) == 2
    assert says in capsys.readouterr().err


def test_a_classic_session_ships_the_package_to_its_executors(tmp_path: Path) -> None:
    """``ship_package`` on a classic (non-Connect) session: the executors import export_gate from the shipped
    zip, before the copy installed in their environment, and count as the local engine does."""
    generate("crm", 100, tmp_path, seed=9, files=2)
    paths = sorted(str(path) for path in tmp_path.glob("*.parquet"))
    options = {"as_of": date(2026, 6, 30), "hasher": SubjectHasher(b"spark-ship-test-key")}
    shipped = SparkSource(tuple(paths), master=MASTER, ship_package=True).scan(**options)
    assert shipped.report["subjects"] == scan_paths(paths, workers=1, **options).report["subjects"]
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    try:
        zip_name = spark.conf.get(SHIPPED_CONF)
        probe = spark.sparkContext.parallelize([0], 1).map(lambda _: __import__("export_gate").__file__)
        (where,) = probe.collect()
    finally:
        spark.stop()
    assert zip_name.startswith("export_gate-") and zip_name.endswith(".zip")
    assert where.endswith(f"{zip_name}/export_gate/__init__.py"), where
