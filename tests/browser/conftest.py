"""A real Airflow api-server for the browser tests: SQLite metadata database in a temp folder, the
SimpleAuthManager with known users and passwords, the Export Gate plugin loaded from its entry point, and a
ledger filled by real gate runs. Debian's chromium (never a downloaded browser) is driven by Playwright."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from export_gate.records.ledger import Store
from gate_data import people, write
from review_records import decision_record, run_real_gates

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DAGS = Path(__file__).resolve().parent / "dags"
#: The DAG in DAGS whose gate task shows the report link in the Airflow UI.
LINK_DAG = "review_link"
#: A legal entity's full name as handler id: long, Chinese, with "/" (the narrow-screen and layout tests).
LONG_HANDLER = "上海浦东新区医药研发与临床数据服务有限公司/跨境数据合规部/药物警戒与不良反应报告中心-2026"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
PASSWORDS = {"reviewer": "reviewer-pass-4711", "nobody": "nobody-pass-4711"}
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Server:
    url: str
    ledger_url: str
    audit_ids: dict[str, int]
    records: int  # all audit records (the DAG's export task adds a "confirm" record to its gate's)
    passwords: dict[str, str]
    log: Path
    dag_log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"airflow api-server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    raise AssertionError(f"airflow api-server did not answer within {timeout:.0f}s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("browser")
    home, data, dag_data = root / "airflow-home", root / "data", root / "dag-data"
    for folder in (home, data, dag_data):
        folder.mkdir()
    (home / "passwords.json").write_text(json.dumps(PASSWORDS))
    ledger_url = f"sqlite:///{root / 'ledger.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "EXPORT_GATE", "PYTEST"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(home / "plugins"),
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="reviewer:viewer,nobody:",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(home / "passwords.json"),
        AIRFLOW__API_AUTH__JWT_SECRET="browser-test-jwt-secret-" + "0" * 48,
        # the api-server finds the gate's ledger through the Airflow connection, as in a deployment
        AIRFLOW_CONN_EXPORT_GATE_LEDGER=json.dumps({"conn_type": "generic", "extra": {"url": ledger_url}}),
        EXPORT_GATE_HOME=str(root / "export-gate"),
        EXPORT_GATE_SECRET_KEY="review-test-secret-key-0123456789",
        EXPORT_GATE_TEST_DATA=str(dag_data),
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    port, log = _free_port(), root / "api-server.log"
    airflow = str(VENV_BIN / "airflow")
    with log.open("w") as out:
        # in the background while the gates run here (all take tens of seconds): migrate, run the DAG whose gate
        # gets the report link, start the api-server
        write(people(40, start=900), dag_data / "personal.parquet")
        script = (
            f'"{airflow}" db migrate && "{airflow}" dags test {LINK_DAG} 2026-03-10 > "{root / "dag-test.log"}" 2>&1;'
            f' exec "{airflow}" api-server --host 127.0.0.1 --port {port}'
        )
        proc = subprocess.Popen(
            ["sh", "-c", script],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one below, nothing else is touched
        )
    url = f"http://127.0.0.1:{port}"
    try:
        audit_ids = run_real_gates(ledger_url, data)
        audit_ids["long_handler"] = Store(ledger_url).append_audit(
            decision_record(handler_id=LONG_HANDLER, run_id="scheduled__2026-03-09T00:00:00+00:00_" + "x" * 60)
        )
        _wait_until_up(url, proc, log)
        store = Store(ledger_url)
        linked, _ = store.audit.query(dag_id=LINK_DAG, event="gate", limit=1)
        assert linked, f"the {LINK_DAG} DAG wrote no gate record:\n{(root / 'dag-test.log').read_text()[-4000:]}"
        audit_ids["linked"] = linked[0]["id"]
        records = store.audit.query(limit=1)[1]
        yield Server(url, ledger_url, audit_ids, records, PASSWORDS, log, root / "dag-test.log")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's chromium. Missing is a failure, not a skip: CI installs it (`apt-get install chromium`)."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
