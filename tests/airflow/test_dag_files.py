"""The example DAGs (dags/) and the gate's secrets, checked in fresh Airflow processes: the DAG files parse
without errors and without loading the scan engine, and the secret key comes from a connection, the
environment or the explicit demo mode, or the gate refuses to run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from airflow_env import HERE, AirflowEnv

pytestmark = pytest.mark.airflow

REPO = HERE.parent.parent
PARSE = """
import json, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
dags = Path(sys.argv[1])
bag = BundleDagBag(dag_folder=dags, bundle_path=dags)
HEAVY = (
    "presidio_analyzer", "spacy", "export_gate.engine.local", "export_gate.records.ledger", "export_gate.rules.policy"
)
heavy = [m for m in HEAVY if m in sys.modules]
print(json.dumps({"dags": sorted(bag.dag_ids), "errors": bag.import_errors, "heavy": heavy}))
"""
SECRETS = """
import json, os
from export_gate.airflow import connections
out = {}
def attempt(name):
    try:
        out[name] = connections.secret_key().decode()
    except Exception as exc:
        out[name] = f"{type(exc).__name__}: {exc}"
attempt("nothing")
os.environ["EXPORT_GATE_DEMO"] = "1"
attempt("demo")
os.environ["EXPORT_GATE_SECRET_KEY"] = "environment-key-0123456789"
attempt("environment")
secret = {"conn_type": "generic", "password": "connection-key-0123456789"}
os.environ["AIRFLOW_CONN_EXPORT_GATE_SECRET"] = json.dumps(secret)
attempt("connection")
out["ledger_default"] = connections.ledger_url()
for name, conn in {
    "ledger_sqlite": {"conn_type": "sqlite", "host": "/srv/gate/ledger.db"},
    "ledger_postgres": {
        "conn_type": "postgres", "host": "db", "login": "gate", "password": "pw", "schema": "ledger", "port": 5432
    },
    "ledger_url": {"conn_type": "generic", "extra": {"url": "postgresql+psycopg://u:p@h/db"}},
}.items():
    os.environ["AIRFLOW_CONN_EXPORT_GATE_LEDGER"] = json.dumps(conn)
    out[name] = connections.ledger_url()
print(json.dumps(out))
"""


def _python(env: AirflowEnv, code: str, *args: str, **overrides: str) -> dict:
    environment = {k: v for k, v in env.env.items() if not k.startswith("EXPORT_GATE_SECRET")}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**environment, **overrides},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_example_dags_parse_without_loading_the_engine(airflow_env):
    result = _python(airflow_env, PARSE, str(REPO / "dags"))
    assert result["errors"] == {}
    assert result["dags"] == [
        "crm_export_national",
        "member_export_spark",
        "pv_case_export_shanghai",
        "reinsurance_cession_export",
    ]
    assert result["heavy"] == []


def test_secret_key_sources_and_refusal_without_one(airflow_env):
    result = _python(airflow_env, SECRETS, EXPORT_GATE_HOME=str(airflow_env.gate_home / "secrets"))
    assert result["nothing"].startswith("LedgerError: no secret key for subject digests")
    assert "export_gate_secret" in result["nothing"]
    assert result["demo"] == "export-gate-demo-key-public-never-use-in-production"
    assert result["environment"] == "environment-key-0123456789"
    assert result["connection"] == "connection-key-0123456789"
    assert result["ledger_default"] == f"sqlite:///{airflow_env.gate_home / 'secrets' / 'ledger.db'}"
    assert result["ledger_sqlite"] == "sqlite:////srv/gate/ledger.db"
    assert result["ledger_postgres"] == "postgresql+psycopg://gate:pw@db:5432/ledger"
    assert result["ledger_url"] == "postgresql+psycopg://u:p@h/db"
