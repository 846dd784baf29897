"""The Spark engine on a real local Spark gives the local engine's report and people, and fails closed.

Each export is scanned by both engines with the same key: the reports must agree on everything but the source
fingerprint (rows, cells, people, categories, per-column plans, cells, entities and categories, identified_by,
detector version), and the people on the number of identifier digests and the histogram of their masks.
"""

from __future__ import annotations

import json
import pickle
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from export_gate.commands.cli import main
from export_gate.engine import spark as spark_engine
from export_gate.engine.local import scan_paths, scan_table
from export_gate.engine.spark import LABELS_SCHEMA, SCAN_SETTINGS, SparkSource, _signed, components
from export_gate.gate import BLOCK, GateRequest, run_gate
from export_gate.model import mask_histogram
from export_gate.people.digest import SubjectHasher
from export_gate.people.subjects import STRONG_IDENTIFIERS
from export_gate.people.union import components as local_components
from export_gate.records.ledger import Store
from export_gate.rules.handler import Handler
from export_gate.samples.exports import generate
from faker import Faker
from gate_data import CANARY_ID, CANARY_PHONE, canary, people, write
from spark_support import MASTER, with_table

AS_OF = date(2026, 6, 30)
HASHER = SubjectHasher(b"spark-engine-test-key")
#: What the two engines must agree on (the fingerprint differs by design: file bytes vs row hashes).
SAME = ("rows", "cells", "subjects", "categories", "columns", "detector_version", "settings", "as_of")


def _both(paths: list[str], *, keys: tuple[str, ...] = (), fmt: str | None = None) -> tuple[Any, Any]:
    options = {"as_of": AS_OF, "hasher": HASHER, "subject_keys": keys}
    local = scan_paths(paths, fmt=fmt, workers=1, **options)
    spark = with_table(SparkSource(tuple(paths), fmt=fmt, master=MASTER).scan(**options))
    return local, spark


def _assert_same(local: Any, spark: Any) -> None:
    for key in SAME:
        assert spark.report[key] == local.report[key], key
    assert len(spark.subjects.roots) == len(local.subjects.roots)
    assert mask_histogram(spark.subjects.masks) == mask_histogram(local.subjects.masks)
    assert spark.subjects.identified_by == local.subjects.identified_by
    assert spark.report["source_fingerprint"].startswith("spark-rows:sha256:")


@pytest.mark.parametrize(
    ("kind", "keyed", "options"),
    [
        ("crm", False, {"files": 2}),
        ("ae_cases", True, {"files": 2}),  # two subject keys: patient_id and reporter_id
        ("insurance", False, {"files": 1}),
        ("crm", False, {"files": 2, "nested": True}),  # a struct, a list of structs and a map
    ],
    ids=["crm-2-files-no-keys", "ae_cases-2-files-two-keys", "insurance-no-keys", "crm-nested-no-keys"],
)
def test_spark_report_equals_local_on_samples(
    spark: Any, tmp_path: Path, kind: str, keyed: bool, options: dict
) -> None:
    truth = generate(kind, 300, tmp_path, seed=7, as_of=AS_OF, **options)
    paths = sorted(str(path) for path in tmp_path.glob("*.parquet"))
    local, spark_result = _both(paths, keys=tuple(truth.subject_keys) if keyed else ())
    _assert_same(local, spark_result)
    assert spark_result.report["subjects"]["personal"] > 0
    if keyed:  # key digests are the same in both engines: exactly the same people
        assert np.array_equal(spark_result.subjects.high, local.subjects.high)
        assert np.array_equal(spark_result.subjects.roots, local.subjects.roots)


def _faker_export(directory: Path, files: int, rows: int) -> list[str]:
    """People written by Faker's zh_CN providers (not our sample generator), no subject key, several files;
    every fifth row reuses the phone of a row in another file, and some rows name a second person by role, so
    linking people needs the whole table."""
    fake = Faker("zh_CN")
    Faker.seed(2026)
    phones = [fake.phone_number() for _ in range(rows)]
    paths = []
    for index in range(files):
        records = []
        for i in range(index, rows, files):
            records.append(
                {
                    "name": fake.name(),
                    "mobile": phones[(i * 7) % rows] if i % 5 == 0 else phones[i],
                    "id_card": fake.ssn(),
                    "email": fake.email() if i % 2 else None,
                    "address": fake.address(),
                    "contact_mobile": phones[(i + 1) % rows] if i % 4 == 0 else None,
                    "note": fake.sentence(),
                }
            )
        path = directory / f"part-{index}.parquet"
        pd.DataFrame(records).to_parquet(path, index=False)
        paths.append(str(path))
    return paths


def test_spark_links_people_across_files_like_local(spark: Any, tmp_path: Path) -> None:
    paths = _faker_export(tmp_path, files=3, rows=240)
    local, spark_result = _both(paths)
    _assert_same(local, spark_result)
    # shared phones join people of different files: fewer people than rows with findings
    assert spark_result.report["subjects"]["personal"] < 240 + 60


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_spark_reads_text_formats_like_local(spark: Any, tmp_path: Path, fmt: str) -> None:
    generate("ae_cases", 200, tmp_path, seed=3, as_of=AS_OF, fmt=fmt, files=2)
    paths = sorted(str(path) for path in tmp_path.glob(f"*.{fmt}"))
    _assert_same(*_both(paths, keys=("patient_id", "reporter_id"), fmt=fmt))


def test_a_table_of_the_catalog_is_scanned_by_name(spark: Any, tmp_path: Path) -> None:
    frame = people(50, diagnosis=True)
    spark.createDataFrame(frame).createOrReplaceTempView("members")
    options = {"as_of": AS_OF, "hasher": HASHER, "subject_keys": ("customer_id",)}
    result = SparkSource(table="members", master=MASTER).scan(**options)
    expected = scan_table(frame, workers=1, **options)
    assert result.report["subjects"] == expected.report["subjects"]
    assert result.report["columns"] == expected.report["columns"]
    assert result.report["files"] == ["table:members"]


def test_the_scan_session_carries_the_settings_that_make_executors_cheaper(spark: Any) -> None:
    """No per-row Arrow size walk, no cache encoding of random digests, no shuffle row checksum (``SCAN_SETTINGS``:
    together a quarter of the executor threads' CPU at 1M rows), and Arrow batches of the local engine's rows."""
    assert SCAN_SETTINGS["spark.sql.execution.arrow.maxBytesPerBatch"] == "2147483647"  # Spark's "no cap"
    assert {key: spark.conf.get(key) for key in SCAN_SETTINGS} == SCAN_SETTINGS


@pytest.mark.parametrize("one_task_edges", [0, 10_000], ids=["star-rounds", "one-task"])
def test_components_match_the_local_union_on_deep_graphs(spark: Any, one_task_edges: int) -> None:
    """Chains need several large-star/small-star rounds; stars, pairs and lone leaves need none. Nodes whose words
    differ in the high word, the low word or the sign (the top bit of a digest) order as the digests do."""
    rng = np.random.default_rng(5)
    edges = [(i + 1, i) for i in range(40)]  # a chain 0-1-...-40
    edges += [(int(a), int(b)) for a, b in zip(rng.integers(100, 400, 300), rng.integers(100, 400, 300), strict=True)]
    edges += [(500 + i, 500) for i in range(1, 20)]  # a star
    edges = [(max(a, b), min(a, b)) for a, b in edges if a != b]
    words = [((node >> 8 << 62) | (node >> 1), node << 40) for node in range(600)]  # in node order
    signed = _signed(np.array(words, dtype=np.uint64))
    key = {node: (int(signed[node, 0]), int(signed[node, 1])) for node in range(600)}
    frame = spark.createDataFrame([(key[u], key[v]) for u, v in edges], LABELS_SCHEMA.replace("label", "v"))
    node_of = {words: node for node, words in key.items()}
    labels = {
        node_of[tuple(row.u)]: node_of[tuple(row.label)]
        for row in components(frame.distinct(), one_task_edges=one_task_edges).collect()
    }
    a, b = np.array(edges).T
    expected = local_components(600, a, b)
    nodes = {node for edge in edges for node in edge}
    assert {node: labels.get(node, node) for node in nodes} == {node: int(expected[node]) for node in nodes}


def _request(source: Any, ledger: str, reservation: str | None, **extra: Any) -> GateRequest:
    return GateRequest(
        source=source,
        list_id="cn-national-2024",
        handler=Handler(id="acme"),
        as_of=datetime(2026, 6, 30, tzinfo=UTC),
        ledger_url=ledger,
        secret_key=b"spark-engine-test-key",
        reservation=reservation,
        **extra,
    )


def test_a_failure_on_an_executor_blocks_the_gate_with_an_audit_record(spark: Any, tmp_path: Path) -> None:
    """A text cell over the reader's limit stops the executor that meets it: the gate blocks, says why, counts
    nobody and still writes its audit record."""
    table = pa.table({"customer_id": ["C1", "C2"], "note": ["x" * (2 << 20), "short"]})
    path = tmp_path / "big.parquet"
    pq.write_table(table, path)
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    source = SparkSource((str(path),), master=MASTER)
    outcome = run_gate(_request(source, ledger, "dag/run/gate", subject_keys=("customer_id",)))
    assert outcome.action == BLOCK
    assert outcome.error.startswith("InputError: on a Spark executor:")
    assert "note" in outcome.error
    assert outcome.audit_id is not None
    record = Store(ledger).audit.get(outcome.audit_id)
    assert record["action"] == BLOCK and record["error"] == outcome.error
    assert Store(ledger).counts("acme", 2026).personal == 0


def test_spark_and_local_gates_count_the_same_people_in_one_ledger(spark: Any, tmp_path: Path) -> None:
    """The ledger recognises the people a Spark gate reserved when the local engine gates the same export."""
    path = write(people(40), tmp_path / "export.parquet")
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    keys = {"subject_keys": ("customer_id",)}
    first = run_gate(_request(SparkSource((str(path),), master=MASTER), ledger, "dag/run/spark", **keys))
    assert first.allowed, first.message
    second = run_gate(_request(scan_source(path), ledger, "dag/run/local", **keys))
    counts = second.decision.to_dict()["counts"]
    assert counts["export"]["personal"] == 40
    assert counts["ytd_before"]["personal"] == 40 and counts["ytd_after"]["personal"] == 40
    assert first.record["source"]["fingerprint"].startswith("spark-rows:")


@pytest.mark.parametrize(
    ("stream_digests", "broadcast_labels"),
    [(spark_engine.STREAM_DIGESTS, spark_engine.BROADCAST_LABELS), (7, spark_engine.BROADCAST_LABELS), (7, 0)],
    ids=["one-partition", "7-per-partition", "7-per-partition-labels-shuffled"],
)
def test_spark_and_local_gates_leave_the_same_ledger_state_for_linked_people(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stream_digests: int, broadcast_labels: int
) -> None:
    """People linked across files by shared phones (no subject key) reach the ledger from Spark as a stream of
    tables of whole people: the reservation's members and the year's totals in the audit record are exactly those
    the local engine's table leaves in a ledger of its own. With 7 digests per partition of the driver's stream,
    the people arrive as dozens of small tables; the linked digests' labels reach the people by a broadcast, or by
    a shuffle join when there are more of them than ``BROADCAST_LABELS``."""
    from export_gate.reading.sources import PathSource

    monkeypatch.setattr(spark_engine, "STREAM_DIGESTS", stream_digests)
    monkeypatch.setattr(spark_engine, "BROADCAST_LABELS", broadcast_labels)

    paths = _faker_export(tmp_path, files=3, rows=240)
    outcomes, states = {}, {}
    for name, source in (("spark", SparkSource(tuple(paths), master=MASTER)), ("local", PathSource(tuple(paths)))):
        ledger = f"sqlite:///{tmp_path / name}.db"
        outcomes[name] = run_gate(_request(source, ledger, "dag/run/gate"))
        assert outcomes[name].allowed, outcomes[name].message
        states[name] = Store(ledger).audit.get(outcomes[name].audit_id)["ledger"]
    spark_state, local_state = states["spark"], states["local"]
    assert spark_state == local_state
    assert spark_state["people"] == outcomes["local"].report["subjects"]["personal"]
    assert outcomes["spark"].decision.to_dict()["counts"] == outcomes["local"].decision.to_dict()["counts"]


def scan_source(path: Path) -> Any:
    from export_gate.reading.sources import PathSource

    return PathSource((str(path),))


def test_cli_scan_with_the_spark_engine_prints_no_raw_value(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(canary(), tmp_path / "canary.parquet")
    code = main(["scan", str(path), "--engine", "spark", "--spark-master", MASTER, "--as-of", "2026-06-30"])
    out = capsys.readouterr().out
    assert code == 0
    # the report is the last thing printed: in a test process that imported Airflow (another test module on this
    # worker), Airflow's logging writes py4j's and pyspark's log lines to stdout too
    report = json.loads(out[0 if out.startswith("{") else out.index("\n{\n") + 1 :])
    assert report["subjects"]["personal"] == 20
    assert CANARY_ID not in out and CANARY_PHONE not in out


def _batch_people(rng: np.random.Generator, pool: np.ndarray) -> Any:
    """A batch's people as the executors find them: identifiers drawn from a pool shared by every batch (so people
    of different batches share identifiers), linked at random, some with a category mask."""
    from export_gate.people.union import build

    chosen = pool[rng.choice(len(pool), size=int(rng.integers(5, 60)), replace=False)]
    masks = rng.choice(np.array([0, 1, 3, 5, 9], dtype=np.uint16), size=len(chosen))
    ends = rng.integers(0, len(chosen), size=(int(rng.integers(0, len(chosen))), 2))
    return build(chosen, masks, ends, identified_by=STRONG_IDENTIFIERS)


@pytest.mark.parametrize("seed", range(3))
def test_people_of_the_executors_rows_equal_the_local_union(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Python steps of counting people on Spark, without Spark: the digest rows of many batches (shuffled, one
    partition) reduced to nodes and linking edges (``_nodes_partition``), the edges' components labelled as
    ``components`` labels them, each node labelled by its smallest canonical digest's label, and the nodes cut into
    tables of whole people by label (``_table_partition``, three partitions, rows of 5 digests) give exactly the
    local engine's union of the same batches: the same digests, people, masks and histogram."""
    from export_gate.people.union import merge

    how = STRONG_IDENTIFIERS
    monkeypatch.setattr(spark_engine, "STREAM_ROW", 5)
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 2**64, size=(400, 2), dtype=np.uint64)
    pool[::2, 0] = pool[0, 0]  # digests sharing a high word: half of them
    parts = [_batch_people(rng, pool) for _ in range(40)]
    rows = pa.Table.from_batches([spark_engine._people_rows(part) for part in parts])
    rows = rows.take(rng.permutation(rows.num_rows))  # a shuffle delivers rows in any order
    tally = pa.RecordBatch.from_pylist([{"tally": b"t"}], schema=spark_engine._FOUND)
    out = pa.Table.from_batches(
        list(spark_engine._nodes_partition(iter([*rows.to_batches(max_chunksize=100), tally]), linking=True))
    )
    assert out.filter(pc.is_valid(out.column("tally"))).column("tally").to_pylist() == [b"t"]
    out = out.filter(pc.is_null(out.column("tally")))
    counts = out.filter(pc.is_null(out.column("h")))
    out = out.filter(pc.is_valid(out.column("h")))
    nodes = out.filter(pc.invert(out.column("edge")))
    edges = out.filter(out.column("edge"))
    assert counts.select(["nodes", "edges"]).to_pylist() == [{"nodes": nodes.num_rows, "edges": edges.num_rows}]
    assert len(edges), "shared identifiers link people of different batches"
    assert sum(len(part.roots) for part in parts) > nodes.num_rows  # one node per distinct digest

    def words(table: pa.Table, high: str, low: str) -> list[tuple[int, int]]:
        return list(zip(table.column(high).to_pylist(), table.column(low).to_pylist(), strict=True))

    ends = sorted({*words(edges, "h", "l"), *words(edges, "rh", "rl")})
    index = {node: i for i, node in enumerate(ends)}  # signed words sort as the digests do
    a = np.array([index[node] for node in words(edges, "h", "l")])
    b = np.array([index[node] for node in words(edges, "rh", "rl")])
    label = local_components(len(ends), a, b)
    labelled = [ends[label[index[root]]] if root in index else root for root in words(nodes, "rh", "rl")]
    nodes = nodes.set_column(2, "rh", pa.array([node[0] for node in labelled], pa.int64()))
    nodes = nodes.set_column(3, "rl", pa.array([node[1] for node in labelled], pa.int64()))
    partition = pc.bit_wise_and(nodes.column("rl"), pa.scalar(3, pa.int64())).to_numpy() % 3
    tables, histogram, people, chunks = [], {}, 0, []
    for part in range(3):
        chosen = nodes.filter(pa.array(partition == part))
        for row in pa.Table.from_batches(
            list(spark_engine._table_partition(iter(chosen.to_batches()), how=how)), schema=spark_engine._TABLES
        ).to_pylist():
            chunks.append(row)
            if row["people"] is None:  # more rows of this table follow
                continue
            tables.append(spark_engine.table_of(chunks, how))
            chunks = []
            people += row["people"]
            for mask, count in pickle.loads(row["histogram"]).items():
                histogram[mask] = histogram.get(mask, 0) + count
    assert not chunks and len(tables) == 3
    expected = merge(parts, how)
    joined = merge(tables, how)
    for column in ("high", "low", "roots", "masks"):
        assert np.array_equal(getattr(joined, column), getattr(expected, column)), column
    assert people == len(expected) and histogram == mask_histogram(expected.masks)
