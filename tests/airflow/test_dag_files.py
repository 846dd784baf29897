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
    "ledger_postgres_password": {
        "conn_type": "postgres", "host": "db", "login": "gate", "password": "p@ss/w:rd", "schema": "ledger",
        "extra": {"sslmode": "require", "cursor": "dictcursor"},
    },
    "ledger_uri": "postgresql://gate:pw@db:5433/ledger?sslmode=require",
    "ledger_uri_postgres": "postgres://gate:pw@db/ledger",
    "ledger_sqlite_uri": "sqlite:////srv/gate/ledger.db",
    "ledger_generic_fields": {"conn_type": "generic", "host": "db", "login": "gate", "schema": "ledger"},
    "ledger_sqlite_no_path": {"conn_type": "sqlite"},
}.items():
    os.environ["AIRFLOW_CONN_EXPORT_GATE_LEDGER"] = conn if isinstance(conn, str) else json.dumps(conn)
    try:
        out[name] = connections.ledger_url()
    except Exception as exc:
        out[name] = f"{type(exc).__name__}: {exc}"
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
        "crm_export_reviewed",
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


def test_the_ledger_connection_forms_users_write(airflow_env):
    """``airflow connections add export_gate_ledger --conn-type postgres ...`` (fields), its URI form, and the
    sqlite URI all name the ledger; a connection that names no database is refused with what to write
    instead (it used to become a URL no driver accepts, or an in-memory SQLite ledger)."""
    result = _python(airflow_env, SECRETS, EXPORT_GATE_HOME=str(airflow_env.gate_home / "secrets"))
    # special characters in the password are quoted; libpq extras pass, the provider's own extras do not
    assert result["ledger_postgres_password"] == "postgresql+psycopg://gate:p%40ss%2Fw%3Ard@db/ledger?sslmode=require"
    assert result["ledger_uri"] == "postgresql+psycopg://gate:pw@db:5433/ledger?sslmode=require"
    assert result["ledger_uri_postgres"] == "postgresql+psycopg://gate:pw@db/ledger"
    assert result["ledger_sqlite_uri"] == "sqlite:////srv/gate/ledger.db"
    for name in ("ledger_generic_fields", "ledger_sqlite_no_path"):
        assert result[name].startswith("LedgerError: the Airflow connection 'export_gate_ledger'"), result[name]
        assert "--conn-type postgres" in result[name]


RELATIONS = """
import json
from datetime import datetime
from airflow.sdk import DAG, chain
from airflow.providers.standard.operators.empty import EmptyOperator
from export_gate.airflow.operator import ExportGateOperator, confirm_gates

def gate(task_id):
    return ExportGateOperator(task_id=task_id, source="/x", list_id="cn-national-2024", handler_id="h")

watched = {}
with DAG("relations", schedule=None, start_date=datetime(2025, 1, 1)):
    forms = {
        "gate >> export": lambda g, e: g >> e,
        "export << gate": lambda g, e: e << g,
        "[gate] >> export": lambda g, e: [g] >> e,
        "gate >> [export]": lambda g, e: g >> [e],
        "chain(gate, export)": lambda g, e: chain(g, e),
        "export.set_upstream(gate)": lambda g, e: e.set_upstream(g),
    }
    for n, (form, link) in enumerate(forms.items()):
        g, e = gate(f"gate_{n}"), EmptyOperator(task_id=f"export_{n}")
        link(g, e)
        watched[form] = confirm_gates in (e.on_success_callback or [])
    first, second, export = gate("chain_1"), gate("chain_2"), EmptyOperator(task_id="chain_export")
    first >> second >> export
    watched["a gate after a gate is not an export"] = confirm_gates not in (second.on_success_callback or [])
    watched["the export after the last gate"] = confirm_gates in (export.on_success_callback or [])
print(json.dumps({**watched, "private": "_set_relatives" in ExportGateOperator.__dict__}))
"""


def test_every_way_of_writing_gate_then_export_watches_the_export(airflow_env):
    """The export's callbacks confirm or release the gate's reservation, however the DAG links the two; the
    operator gets there through public methods (set_downstream, update_relative), not Airflow's private
    ``_set_relatives``."""
    result = _python(airflow_env, RELATIONS)
    assert result.pop("private") is False
    assert result == dict.fromkeys(result, True)
