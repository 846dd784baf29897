"""Daily export of one partition of a member table to the overseas loyalty partner, gated on Spark.

The member table is a Parquet table partitioned by day (``member_profile/dt=YYYY-MM-DD/part-*.parquet``), the
layout of a data-lake table. The gate scans the day's partition where it lives, on Spark
(``engine="spark"``): the detectors run on the executors, the people are counted in Spark, and only digests
and counts reach the Airflow worker. The day's members are personal information only (no sensitive
categories) and well under the national 100,000-person threshold, so the export is allowed.

Spark runs where the Airflow connection ``export_gate_spark`` says: its host is the master (``local[*]`` for
Spark embedded in the worker's environment, ``spark://host:7077``, ``yarn``), or, with the connection type
``spark_connect``, a Spark Connect server (``sc://host:15002``). On a cluster with a catalog, name the table
instead of the path: ``table="lake.member_profile"`` scans the whole table (filter it to the day's partition
into a view first when the export is one partition).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Asset, task
from export_gate.airflow.operator import ExportGateOperator
from overseas import outgoing, ship_overseas

#: Members in the day's partition.
MEMBERS = 3_000
LOYALTY_PARTNER = Asset(name="overseas_loyalty_partner", uri="file:///overseas/loyalty-partner/members")

with DAG(
    dag_id="member_export_spark",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["export-gate", "spark", "national"],
    doc_md=__doc__,
):

    @task
    def write_member_partition(ds=None, dag_run=None) -> str:
        """The day's partition of the member table, as several Parquet files (generated sample data)."""
        import pyarrow.parquet as pq
        from export_gate.samples.exports import generate

        table = outgoing("member_export_spark", dag_run.run_id) / "member_profile"
        partition = table / f"dt={ds}"
        generate("crm", MEMBERS, partition, seed=11, files=3)
        # the identity card, birth date and address columns stay in the warehouse: the partner gets contacts
        for path in sorted(partition.glob("*.parquet")):
            data = pq.read_table(path)
            pq.write_table(data.drop_columns(["身份证号", "出生日期", "地址"]), path)
        return str(partition)

    @task(outlets=[LOYALTY_PARTNER])
    def send_to_loyalty_partner(partition: str, dag_run=None) -> str:
        return ship_overseas(partition, "member_export_spark", dag_run.run_id)

    partition = write_member_partition()
    gate = ExportGateOperator(
        task_id="export_gate",
        source=partition,
        engine="spark",
        spark_conn_id="export_gate_spark",
        list_id="cn-national-2024",
        handler_id="loyalty-co",
        subject_keys=["客户编号"],
    )
    gate >> send_to_loyalty_partner(partition)
