"""The Spark engine through a real Spark Connect server (``sc://``), started by the test from pyspark's own
``sbin/start-connect-server.sh``, as a cluster would be: its Python workers have export-gate's dependencies but
cannot import export-gate. Without shipping, the gate blocks and says what to do; with the package shipped
(``addArtifacts``), the same report and people as the local engine, and a failure on the server's executors
blocks the gate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from export_gate.commands.cli import main
from export_gate.engine.local import scan_paths
from export_gate.engine.spark import SparkSource
from export_gate.gate import BLOCK, GateRequest, run_gate
from export_gate.model import mask_histogram
from export_gate.people.digest import SubjectHasher
from export_gate.rules.handler import Handler
from export_gate.samples.exports import generate
from spark_support import connect_server, python_without_export_gate, with_table

AS_OF = date(2026, 6, 30)
HASHER = SubjectHasher(b"spark-connect-test-key")


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("spark-connect")
    with connect_server(state, python_without_export_gate(state)) as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh_session() -> None:
    """Each test in a new Spark Connect session: shipped code belongs to the session that shipped it."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


def test_executors_without_export_gate_block_and_say_how_to_ship_it(
    connect_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate("crm", 50, tmp_path, seed=4, as_of=AS_OF)
    paths = sorted(str(path) for path in tmp_path.glob("*.parquet"))
    code = main(["scan", *paths, "--engine", "spark", "--spark-master", connect_url, "--as-of", "2026-06-30"])
    err = capsys.readouterr().err
    assert code == 2
    assert "the Spark executors cannot import export_gate; nothing was counted" in err
    assert "--spark-ship-package" in err


def test_shipped_package_gives_the_local_report(
    connect_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI's --spark-ship-package on executors that lack export-gate: the local engine's report (counts,
    categories, per-column plans and entities, identified_by) and detector version."""
    generate("crm", 200, tmp_path, seed=5, as_of=AS_OF, files=2, nested=True)
    paths = sorted(str(path) for path in tmp_path.glob("*.parquet"))
    options = ["--as-of", "2026-06-30"]
    assert main(["scan", *paths, *options]) == 0
    local = json.loads(capsys.readouterr().out)
    spark = ["--engine", "spark", "--spark-master", connect_url, "--spark-ship-package"]
    assert main(["scan", *paths, *options, *spark]) == 0
    remote = json.loads(capsys.readouterr().out)
    for key in ("rows", "cells", "subjects", "categories", "unanchored", "columns", "detector_version"):
        assert remote[key] == local[key], key
    assert remote["subjects"]["personal"] > 0


def test_shipped_package_counts_the_same_people(connect_url: str, tmp_path: Path) -> None:
    generate("ae_cases", 150, tmp_path, seed=6, as_of=AS_OF, files=2)
    paths = sorted(str(path) for path in tmp_path.glob("*.parquet"))
    options = {"as_of": AS_OF, "hasher": HASHER, "subject_keys": ("patient_id", "reporter_id")}
    local = scan_paths(paths, workers=1, **options)
    remote = with_table(SparkSource(tuple(paths), master=connect_url, ship_package=True).scan(**options))
    for key in ("rows", "cells", "subjects", "categories", "columns", "detector_version"):
        assert remote.report[key] == local.report[key], key
    assert len(remote.subjects.roots) == len(local.subjects.roots)
    assert mask_histogram(remote.subjects.masks) == mask_histogram(local.subjects.masks)


def test_connect_executor_failure_blocks_the_gate(connect_url: str, tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"customer_id": ["C1", "C2"], "note": ["short", "y" * (2 << 20)]}), path)
    outcome = run_gate(
        GateRequest(
            source=SparkSource((str(path),), master=connect_url, ship_package=True),
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
