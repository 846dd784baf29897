"""Where the Spark engine runs and what it accepts, checked without starting Spark: Airflow connections become
master URLs, and the operator and the CLI refuse Spark-only arguments without the Spark engine."""

from __future__ import annotations

import pytest
from airflow.models.connection import Connection
from export_gate.commands.cli import main
from export_gate.engine import export_source
from export_gate.engine.spark import SparkSource, _format_of, airflow_source, master_of_connection
from export_gate.errors import ConfigError, InputError


@pytest.mark.parametrize(
    ("connection", "master"),
    [
        (Connection(conn_id="s", conn_type="spark", host="local[2]"), "local[2]"),
        (Connection(conn_id="s", conn_type="spark", host="spark://master", port=7077), "spark://master:7077"),
        (Connection(conn_id="s", conn_type="spark", host="yarn"), "yarn"),
        (Connection(conn_id="s", conn_type="spark_connect", host="connect.lake"), "sc://connect.lake:15002"),
        (
            Connection(
                conn_id="s",
                conn_type="spark_connect",
                host="connect.lake",
                port=443,
                login="gate",
                password="t0ken",
                extra='{"use_ssl": true}',
            ),
            "sc://connect.lake:443/;user_id=gate;token=t0ken;use_ssl=true",
        ),
        (Connection(conn_id="s", conn_type="generic", host="sc://10.0.0.5:15002"), "sc://10.0.0.5:15002"),
    ],
)
def test_an_airflow_connection_names_the_master(connection: Connection, master: str) -> None:
    assert master_of_connection(connection) == master


def test_the_operators_spark_source_keeps_the_shipping_option() -> None:
    source = airflow_source(
        ["a.parquet", "b.parquet"], table=None, fmt=None, encoding=None, conn_id=None, ship_package=True
    )
    assert source == SparkSource(("a.parquet", "b.parquet"), ship_package=True)


def test_a_connection_without_a_host_is_refused_with_what_to_set() -> None:
    with pytest.raises(ConfigError, match="has no host"):
        master_of_connection(Connection(conn_id="empty", conn_type="spark"))


def test_the_format_comes_from_the_suffix_and_mixed_formats_are_refused() -> None:
    assert _format_of(["a/x.csv.gz", "a/y.csv"]) == "csv"
    assert _format_of(["lake/members/dt=2026-06-30/"]) == "parquet"  # a folder: a lake table's layout
    assert _format_of(["a/x.jsonl", "a/y.json"]) == "json"
    with pytest.raises(InputError, match="mix formats"):
        _format_of(["a/x.csv", "a/y.parquet"])
    with pytest.raises(ConfigError, match="either paths or a table"):
        SparkSource(("a.parquet",), table="db.t")
    with pytest.raises(ConfigError, match="Spark reads"):
        SparkSource(("a.xlsx",), fmt="xlsx")


def test_spark_only_arguments_need_the_spark_engine(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="--engine spark"):
        export_source("local", table="db.t")
    with pytest.raises(ConfigError, match="unknown engine"):
        export_source("dask", paths=["a.parquet"])
    assert main(["scan", "--table", "db.members"]) == 2
    assert "--engine spark" in capsys.readouterr().err
    assert main(["scan", "x.parquet", "--spark-ship-package"]) == 2
    assert "--spark-ship-package need the Spark engine (--engine spark)" in capsys.readouterr().err


def test_the_operator_refuses_spark_arguments_without_the_spark_engine() -> None:
    from export_gate.airflow.operator import ExportGateOperator

    common = {"task_id": "gate", "list_id": "cn-national-2024", "handler_id": "acme"}
    with pytest.raises(ValueError, match="need engine='spark'"):
        ExportGateOperator(source="/data/x.parquet", table="db.t", **common)
    with pytest.raises(ValueError, match="not sql"):
        ExportGateOperator(sql="select 1", conn_id="db", engine="spark", **common)
    with pytest.raises(ValueError, match="spark_ship_package= need engine='spark'"):
        ExportGateOperator(source="/data/x.parquet", spark_ship_package=True, **common)
    gate = ExportGateOperator(table="lake.members", engine="spark", spark_conn_id="lake_spark", **common)
    assert (gate.engine, gate.table, gate.spark_conn_id) == ("spark", "lake.members", "lake_spark")
    assert "table" in gate.template_fields


def test_embedded_spark_gets_a_heap_from_the_machine_unless_the_user_set_one() -> None:
    """An eighth of the machine's memory, between Spark's default 1 GiB and 4 GiB; nothing when the user set the
    driver's memory (the environment or spark-submit's options), which Spark then takes."""
    from export_gate.engine.spark import embedded_heap

    assert embedded_heap({}, 24 << 30) == "3072m"
    assert embedded_heap({}, 4 << 30) == "1024m"
    assert embedded_heap({}, 256 << 30) == "4096m"
    assert embedded_heap({"SPARK_DRIVER_MEMORY": "2g"}, 24 << 30) is None
    assert embedded_heap({"PYSPARK_SUBMIT_ARGS": "--driver-memory 8g pyspark-shell"}, 24 << 30) is None
    assert embedded_heap({"PYSPARK_SUBMIT_ARGS": "--conf spark.driver.memory=8g pyspark-shell"}, 24 << 30) is None
