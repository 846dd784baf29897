"""Column names are data on Spark too (issue 14, item 4; the local engine's check is issue 12 item 10): a CSV
whose first line is a data row is refused with the local engine's error, names holding personal data (JSON keys,
nested fields) are withheld and their people counted exactly as the local engine counts them, and an error that
lists the columns never spells such a name. Data made by Faker's zh_CN providers, on a real local Spark."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from export_gate.engine.local import scan_paths
from export_gate.engine.spark import SparkSource
from export_gate.errors import GateError, InputError
from export_gate.people.digest import SubjectHasher
from gate_data import faker_people
from spark_support import MASTER

AS_OF = date(2026, 6, 30)
HASHER = SubjectHasher(b"spark-column-names-test-key")
OPTIONS = {"as_of": AS_OF, "hasher": HASHER}


def _csv_rows(people: list[dict[str, str]]) -> str:
    return "".join(f"{p['name']},{p['mobile']},{p['id_card']},{p['city']}\n" for p in people)


def _errors(paths: list[str], **options: Any) -> tuple[str, str]:
    """The local engine's and the Spark engine's InputError for the same export."""
    with pytest.raises(InputError) as local:
        scan_paths(paths, workers=1, **OPTIONS, **options)
    with pytest.raises(InputError) as spark:
        SparkSource(tuple(paths), master=MASTER).scan(**OPTIONS, **options)
    return str(local.value), str(spark.value)


def test_a_headerless_csv_is_refused_on_spark_with_the_local_error(spark: Any, tmp_path: Path) -> None:
    people = faker_people(20, seed=11)
    export = tmp_path / "no_header.csv"
    export.write_text(_csv_rows(people), "utf-8")
    local, on_spark = _errors([str(export)])
    assert on_spark == local
    assert on_spark.startswith(f"{export}: the first line looks like a data row, not a header")
    assert "column 2" in on_spark and "column 3" in on_spark
    for value in people[0].values():
        assert value not in on_spark


def test_a_later_csv_file_without_its_header_blocks_the_spark_scan(spark: Any, tmp_path: Path) -> None:
    """Spark takes the column names from one file; a second file whose first line is data must not lose that
    row silently (Spark's default drops every file's first line): the scan fails, quoting nothing."""
    people = faker_people(30, seed=12)
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("姓名,手机号,身份证号,city\n" + _csv_rows(people[:15]), "utf-8")
    second.write_text(_csv_rows(people[15:]), "utf-8")
    with pytest.raises(GateError) as caught:
        SparkSource((str(first), str(second)), master=MASTER).scan(**OPTIONS)
    message = str(caught.value)
    assert "nothing was counted" in message
    assert all(value not in message for value in people[15].values())


def test_mobile_numbers_as_json_keys_are_withheld_and_counted_like_local(spark: Any, tmp_path: Path) -> None:
    people = faker_people(30, seed=13)
    export = tmp_path / "by_mobile.jsonl"
    lines = [{p["mobile"]: {"city": p["city"], "visits": i}} for i, p in enumerate(people)]
    export.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), "utf-8")
    local = scan_paths([str(export)], workers=1, **OPTIONS).report
    on_spark = SparkSource((str(export),), master=MASTER).scan(**OPTIONS).report
    assert on_spark["columns"] == local["columns"]
    assert on_spark["subjects"] == local["subjects"]
    assert on_spark["subjects"]["personal"] >= len(people) - 2
    text = json.dumps(on_spark, ensure_ascii=False)
    assert all(p["mobile"] not in text for p in people)


def test_a_key_inside_a_nested_path_is_withheld_like_local(spark: Any, tmp_path: Path) -> None:
    mobile = faker_people(1, seed=14)[0]["mobile"]
    export = tmp_path / "contacts.parquet"
    pq.write_table(pa.table({"contacts": pa.array([{mobile: {"relation": "母亲", "note": "x"}}] * 3)}), export)
    local = scan_paths([str(export)], workers=1, **OPTIONS).report
    on_spark = SparkSource((str(export),), master=MASTER).scan(**OPTIONS).report
    assert on_spark["columns"] == local["columns"]
    assert on_spark["subjects"] == local["subjects"] and on_spark["subjects"]["personal"] == 1
    assert any(name.startswith("contacts.<withheld ") for name in on_spark["columns"])
    assert mobile not in json.dumps(on_spark, ensure_ascii=False)


def test_a_missing_subject_key_lists_withheld_names_like_local(spark: Any, tmp_path: Path) -> None:
    mobile = faker_people(1, seed=15)[0]["mobile"]
    export = tmp_path / "keyed_by_mobile.parquet"
    pq.write_table(pa.table({mobile: ["a"], "city": ["b"]}), export)
    local, on_spark = _errors([str(export)], subject_keys=("patient_id",))
    assert on_spark == local
    assert "'patient_id' is not in the data" in on_spark and "<withheld " in on_spark
    assert mobile not in on_spark
