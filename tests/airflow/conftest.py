"""A real Airflow for the operator tests: a SQLite metadata database in a temp folder, migrated once per
session, with the test DAGs of tests/airflow/dags."""

from __future__ import annotations

import json
import os

import pytest
from airflow_env import ALT_SECRET, HERE, LEDGER_DOWN, SECRET, VENV_BIN, AirflowEnv


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> AirflowEnv:
    root = tmp_path_factory.mktemp("airflow")
    home, data, gate_home = root / "airflow-home", root / "data", root / "export-gate"
    for folder in (home, data, gate_home):
        folder.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "EXPORT_GATE", "OPENLINEAGE", "PYTEST"))
    }
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(HERE / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(home / "plugins"),
        AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps(
            {"type": "file", "log_file_path": str(root / "lineage.jsonl"), "append": True}
        ),
        AIRFLOW_CONN_EXPORT_GATE_LEDGER_DOWN=json.dumps({"conn_type": "generic", "extra": {"url": LEDGER_DOWN}}),
        AIRFLOW_CONN_EXPORT_GATE_LEDGER_ALT=json.dumps(
            {"conn_type": "sqlite", "host": str(gate_home / "alt-ledger.db")}
        ),
        AIRFLOW_CONN_EXPORT_GATE_SECRET_ALT=json.dumps({"conn_type": "generic", "password": ALT_SECRET}),
        AIRFLOW_CONN_EXPORT_GATE_TEST_DB=json.dumps({"conn_type": "sqlite", "host": str(data / "customers.db")}),
        EXPORT_GATE_HOME=str(gate_home),
        EXPORT_GATE_LOCAL_LEDGER="1",  # the gates without a ledger connection share the local file
        EXPORT_GATE_SECRET_KEY=SECRET,
        EXPORT_GATE_TEST_DATA=str(data),
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    airflow = AirflowEnv(home, data, gate_home, env)
    airflow.airflow("db", "migrate")
    return airflow
