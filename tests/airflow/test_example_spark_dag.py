"""The example DAG member_export_spark (dags/) through a real Airflow (dag.test() on a migrated SQLite metadata
database, as ``airflow dags test`` runs it) with the Spark engine on a real local Spark, named by the Airflow
connection export_gate_spark: the gate allows the day's partition, writes its audit record and reservation,
and the send task runs."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from airflow_env import HERE, VENV_BIN, AirflowEnv
from export_gate.records.ledger import Store

pytestmark = pytest.mark.airflow

DAGS = HERE.parent.parent / "dags"
RUN_AFTER = "2025-06-01T08:00:00+00:00"
#: The subject key of the member table.
KEY = "客户编号"
RUN = """
import sys
from datetime import datetime
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
dags = Path(sys.argv[1])
bag = BundleDagBag(dag_folder=dags, bundle_path=dags)
assert not bag.import_errors, bag.import_errors
when = datetime.fromisoformat(sys.argv[2])
run = bag.get_dag("member_export_spark").test(logical_date=when, run_after=when)
print(f"RUN {run.run_id} {run.state}", flush=True)
"""


@pytest.fixture(scope="module")
def spark_run(airflow_env: AirflowEnv, tmp_path_factory: pytest.TempPathFactory) -> tuple[AirflowEnv, str]:
    """One run of the example DAG in an Airflow whose DAG folder is the repository's dags/."""
    root = tmp_path_factory.mktemp("airflow-spark")
    home, gate_home = root / "airflow-home", root / "export-gate"
    for folder in (home, gate_home):
        folder.mkdir()
    env = {
        **airflow_env.env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW_CONN_EXPORT_GATE_SPARK": json.dumps({"conn_type": "spark", "host": "local[2]"}),
        "EXPORT_GATE_HOME": str(gate_home),
    }
    subprocess.run([str(VENV_BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
    proc = subprocess.run(
        [sys.executable, "-c", RUN, str(DAGS), RUN_AFTER],
        env=env,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
    )
    (home / "run.log").write_text(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-5000:]
    ran = AirflowEnv(home, root, gate_home, env)
    return ran, proc.stdout


def _customers(files: list[Path]) -> int:
    """The distinct customer numbers in the files (rows without one are nobody's: a subject key names the people)."""
    return pc.count_distinct(pq.read_table(files, columns=[KEY]).column(KEY)).as_py()


def _states(env: AirflowEnv) -> dict[str, str]:
    with sqlite3.connect(env.home / "airflow.db") as conn:
        rows = conn.execute("SELECT task_id, state FROM task_instance WHERE dag_id = 'member_export_spark'")
        return dict(rows.fetchall())


def test_the_spark_gate_allows_the_partition_and_the_send_task_runs(spark_run: tuple[AirflowEnv, str]) -> None:
    env, log = spark_run
    assert f"RUN manual__{RUN_AFTER} success" in log, log[-3000:]
    assert _states(env) == {
        "write_member_partition": "success",
        "export_gate": "success",
        "send_to_loyalty_partner": "success",
    }
    with sqlite3.connect(env.home / "airflow.db") as conn:
        (value,) = conn.execute(
            "SELECT value FROM xcom WHERE dag_id = 'member_export_spark' AND task_id = 'export_gate' "
            "AND key = 'return_value'"
        ).fetchone()
    decision = json.loads(value)
    assert decision["action"] == "allow"
    shipped = sorted((env.gate_home / "overseas" / "member_export_spark").rglob("*.parquet"))
    assert len(shipped) == 3  # the partition's three files reached the partner
    # every member row names a person (a name, a mobile): the people are the distinct customer numbers
    assert decision["counts"]["export"]["personal"] == _customers(shipped) > 0
    assert decision["counts"]["export"]["sensitive"] == 0


def test_the_spark_gate_leaves_its_audit_record_and_counts_into_the_ledger(spark_run: tuple[AirflowEnv, str]) -> None:
    env, _ = spark_run
    store = Store(env.ledger_url)
    records, _ = store.audit.query(dag_id="member_export_spark", event="gate", limit=10)
    (record,) = records
    assert record["action"] == "allow" and record["task_id"] == "export_gate"
    shipped = sorted((env.gate_home / "overseas" / "member_export_spark").rglob("*.parquet"))
    assert record["counts"]["export"]["personal"] == _customers(shipped)
    assert record["source"]["fingerprint"].startswith("spark-rows:sha256:")
    (uri,) = record["source"]["uris"]
    assert uri.endswith(os.path.join("member_profile", "dt=2025-06-01"))
    assert store.counts("loyalty-co", 2025).personal == _customers(shipped)
