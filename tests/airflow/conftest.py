"""A real Airflow for the operator tests: a SQLite metadata database in a temp folder, migrated once per
session, with the test DAGs of tests/airflow/dags. Airflow reads its configuration from the environment when it
is imported, so every Airflow step runs in a subprocess with this environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).parent
VENV_BIN = Path(sys.executable).parent
SECRET = "airflow-test-secret-key-0123456789"
#: A PostgreSQL URL where nothing listens: the "database down" case.
LEDGER_DOWN = "postgresql+psycopg://gate:gate@127.0.0.1:9/ledger?connect_timeout=2"


@dataclass(frozen=True)
class AirflowEnv:
    home: Path
    data: Path
    gate_home: Path
    env: dict[str, str]

    @property
    def ledger_url(self) -> str:
        return f"sqlite:///{self.gate_home / 'ledger.db'}"

    def airflow(self, *args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
        """Run the airflow CLI; stdout and stderr together (they hold the task logs of ``dags test``)."""
        proc = subprocess.run(
            [str(VENV_BIN / "airflow"), *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-5000:]}")
        return proc


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
        EXPORT_GATE_HOME=str(gate_home),
        EXPORT_GATE_SECRET_KEY=SECRET,
        EXPORT_GATE_TEST_DATA=str(data),
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    airflow = AirflowEnv(home, data, gate_home, env)
    airflow.airflow("db", "migrate")
    return airflow
