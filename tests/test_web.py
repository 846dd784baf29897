"""The review app through FastAPI's TestClient, with Airflow's real auth (SimpleAuthManager, tokens it issues,
its revoked-token table in a migrated SQLite metadata database) and the real ledger Store.

Airflow reads its configuration when it is imported, so the module fixture points this process's Airflow at a
freshly migrated database and the test users, and puts everything back afterwards.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow import settings
from airflow.api_fastapi import app as airflow_app
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
from airflow.configuration import conf
from export_gate.airflow.web.app import create_app
from export_gate.airflow.web.filters import PAGE_SIZE
from export_gate.records.ledger import Store
from fastapi.testclient import TestClient
from gate_data import CANARY_ID, CANARY_PHONE
from review_records import decision_record, error_record, run_real_gates

pytestmark = pytest.mark.airflow

USERS = "reviewer:viewer,nobody:"
PROTECTED = (
    "/",
    "/records/1",
    "/records/1/report",
    "/handlers",
    "/handlers/acme-pharma-sh/2026",
    "/export.csv",
    "/export.json",
    "/task-report?dag_id=d&run_id=r&task_id=t",
)


@pytest.fixture(scope="module")
def airflow_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """This process's Airflow on a migrated SQLite database with a reviewer (viewer role) and a user without a
    role; yields the auth manager the api-server would use."""
    home = tmp_path_factory.mktemp("airflow-web")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    migrate = [str(Path(sys.executable).parent / "airflow"), "db", "migrate"]
    subprocess.run(migrate, env=env, check=True, capture_output=True, timeout=300)
    changes = {
        ("database", "sql_alchemy_conn"): f"sqlite:///{home / 'airflow.db'}",
        ("core", "simple_auth_manager_users"): USERS,
        ("core", "simple_auth_manager_passwords_file"): str(home / "passwords.json"),
        ("core", "auth_manager"): "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        ("api_auth", "jwt_secret"): "web-test-jwt-secret-" + "0" * 48,
    }
    saved = {key: conf.get(*key, fallback=None) for key in changes}
    for (section, key), value in changes.items():
        conf.set(section, key, value)
    settings.configure_vars()
    settings.reconfigure_orm()
    airflow_app.purge_cached_app()
    try:
        yield airflow_app.create_auth_manager()
    finally:
        for (section, key), value in saved.items():
            if value is None:
                conf.remove_option(section, key)
            else:
                conf.set(section, key, value)
        settings.configure_vars()
        settings.reconfigure_orm()
        airflow_app.purge_cached_app()


def token(auth_manager: object, username: str, role: str) -> str:
    """A session token issued by the auth manager itself, as the Airflow login does."""
    return auth_manager.generate_jwt(SimpleAuthManagerUser(username=username, role=role))  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A ledger with 120 hand-made gate records over two DAGs, both decisions and one failed gate."""
    folder = tmp_path_factory.mktemp("web-ledger")
    store = Store(f"sqlite:///{folder / 'ledger.db'}")
    for i in range(1, 121):
        dag = "crm_export_national" if i % 4 == 0 else "pv_case_export_shanghai"
        action = ("allow", "annotate", "block")[i % 3]
        store.append_audit(decision_record(action=action, dag_id=dag, run_id=f"scheduled__{i:03d}", export=10 * i))
    store.append_audit(error_record(run_id="manual__err"))
    return store


@pytest.fixture
def client(airflow_auth: object, store: Store) -> TestClient:
    client = TestClient(create_app(lambda: store))
    client.cookies.set("_token", token(airflow_auth, "reviewer", "viewer"))
    return client


def record_page(client: TestClient, record_id: int) -> str:
    """The decision page once its chain check has finished (it runs in the background; the page says so)."""
    for _ in range(50):
        html = client.get(f"/records/{record_id}").text
        if "being verified now" not in html:
            return html
        time.sleep(0.2)
    raise AssertionError("the chain check did not finish within 10 s")


def record_ids(html: str) -> list[int]:
    """The ids in the decisions table, in page order."""
    return [int(m) for m in re.findall(r'<tr data-href="[^"]*/records/(\d+)"', html)]


@pytest.mark.parametrize("path", PROTECTED)
def test_without_a_session_every_page_is_401(airflow_auth, store, path):
    response = TestClient(create_app(lambda: store)).get(path)
    assert response.status_code == 401
    assert "record" not in response.text.lower()


def test_a_browser_without_a_session_is_offered_the_airflow_sign_in(airflow_auth, store):
    response = TestClient(create_app(lambda: store)).get("/", headers={"accept": "text/html"})
    assert response.status_code == 401
    assert "Please sign in" in response.text
    assert "/auth/login" in response.text


@pytest.mark.parametrize("path", PROTECTED)
def test_a_user_without_permission_gets_403(airflow_auth, store, path):
    client = TestClient(create_app(lambda: store))
    client.cookies.set("_token", token(airflow_auth, "nobody", ""))
    response = client.get(path)
    assert response.status_code == 403
    assert "audit log" in response.json()["detail"]


def test_a_forged_or_foreign_token_gets_403(airflow_auth, store):
    client = TestClient(create_app(lambda: store))
    assert client.get("/", headers={"Authorization": "Bearer not-a-jwt"}).status_code == 403
    other = token(airflow_auth, "reviewer", "viewer")
    tampered = other[:-4] + ("AAAA" if not other.endswith("AAAA") else "BBBB")
    assert client.get("/", headers={"Authorization": f"Bearer {tampered}"}).status_code == 403


def test_a_bearer_token_works_like_the_session_cookie(airflow_auth, store):
    client = TestClient(create_app(lambda: store))
    headers = {"Authorization": f"Bearer {token(airflow_auth, 'reviewer', 'viewer')}"}
    assert client.get("/", headers=headers).status_code == 200


def test_decisions_newest_first_and_paged(client):
    first = client.get("/")
    assert first.status_code == 200
    assert record_ids(first.text) == list(range(121, 121 - PAGE_SIZE, -1))
    assert "1–50 of 121" in first.text
    assert 'rel="next" href="?page=2"' in first.text
    last = client.get("/?page=3")
    assert record_ids(last.text) == list(range(21, 0, -1))
    assert 'rel="next"' not in last.text
    assert 'rel="prev" href="?page=2"' in last.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dag_id=crm_export_national", lambda r: r["dag_id"] == "crm_export_national"),
        ("action=block", lambda r: r["action"] == "block"),
        (
            "action=annotate&dag_id=crm_export_national",
            lambda r: r["action"] == "annotate" and r["dag_id"] == "crm_export_national",
        ),
        ("list_id=national", lambda r: r["list"]["id"] == "national"),
        ("handler_id=acme-pharma-sh&scenario=pharmacovigilance", lambda r: r.get("scenario") == "pharmacovigilance"),
    ],
)
def test_filters_show_exactly_the_matching_records(client, store, query, expected):
    everything, _ = store.audit.query(limit=1000)
    wanted = [r["id"] for r in everything if expected(r)][:PAGE_SIZE]
    response = client.get(f"/?{query}")
    assert wanted
    assert record_ids(response.text) == wanted
    assert "match the filters" in response.text


def test_date_range_includes_both_days(client, store):
    today = store.audit.get(1)["ts"][:10]
    assert len(record_ids(client.get(f"/?since={today}&until={today}").text)) == PAGE_SIZE
    assert record_ids(client.get("/?until=2000-01-01").text) == []
    assert client.get("/?since=yesterday").status_code == 422
    assert client.get("/?action=maybe").status_code == 422


def test_csv_download_holds_the_filtered_records(client, store):
    response = client.get("/export.csv?action=block&dag_id=pv_case_export_shanghai")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    expected, total = store.audit.query(action="block", dag_id="pv_case_export_shanghai", limit=1000)
    assert len(rows) == total > 0
    assert sorted(int(r["id"]) for r in rows) == sorted(r["id"] for r in expected)
    assert {r["action"] for r in rows} == {"block"}


def test_json_download_holds_the_filtered_records(client, store):
    response = client.get("/export.json?dag_id=crm_export_national")
    assert response.status_code == 200
    records = json.loads(response.text)
    assert len(records) == store.audit.query(dag_id="crm_export_national", limit=1)[1]
    assert {r["dag_id"] for r in records} == {"crm_export_national"}
    assert all(r["hash"] and r["prev_hash"] for r in records)


def test_download_links_carry_the_filters(client):
    html = client.get("/?action=block&dag_id=crm_export_national&page=2").text
    # root-relative: never built from the request's Host (see test_links_never_come_from_the_host_header)
    assert 'href="/export.csv?dag_id=crm_export_national&amp;action=block"' in html
    assert 'href="/export.json?dag_id=crm_export_national&amp;action=block"' in html


def test_one_decision_shows_rule_source_counts_chart_and_task_link(client):
    html = record_page(client, 7)
    assert "Export gate run #7" in html
    assert "national.sensitive.10k" in html
    assert "Provisions on Promoting and Regulating Cross-Border Data Flows" in html
    assert "standard contract filed with the provincial CAC" in html
    assert "standard_contract: SC-2026-0042" in html
    assert '<svg class="chart"' in html
    assert 'href="/dags/pv_case_export_shanghai/runs/scheduled__007/tasks/gate"' in html
    assert "intact: all 121 records verify" in html


def test_a_failed_gate_shows_its_error_and_no_rule(client):
    html = client.get("/records/121").text
    assert "could not decide and blocked the export" in html
    assert "missing.csv does not exist" in html
    assert "No rule applied." in html


def test_chain_status_names_a_tampered_record(airflow_auth, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    for i in range(5):
        store.append_audit(decision_record(run_id=f"r{i}"))
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        db.execute("UPDATE audit_log SET record = replace(record, '1200', '12') WHERE id = 3")
    client = TestClient(create_app(lambda: store))
    client.cookies.set("_token", token(airflow_auth, "reviewer", "viewer"))
    assert "BROKEN at record #3" in record_page(client, 4)
    assert "broken later, at record #3" in record_page(client, 2)


def test_task_report_link_redirects_to_the_newest_gate_record_of_that_run(client):
    response = client.get(
        "/task-report",
        params={"dag_id": "pv_case_export_shanghai", "run_id": "scheduled__005", "task_id": "gate"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/records/5/report"
    missing = client.get("/task-report", params={"dag_id": "pv_case_export_shanghai", "run_id": "x", "task_id": "gate"})
    assert missing.status_code == 404


def test_report_page_is_the_self_contained_report(client):
    response = client.get("/records/7/report")
    assert response.status_code == 200
    assert "<style>" in response.text
    assert "<link" not in response.text
    assert "<script" not in response.text


def test_unknown_record_is_404(client):
    assert client.get("/records/9999").status_code == 404


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict[str, int]]:
    """A ledger filled by the real gate: Presidio scans, the national list decides, the ledger counts."""
    folder = tmp_path_factory.mktemp("gated")
    url = f"sqlite:///{folder / 'ledger.db'}"
    return Store(url), run_real_gates(url, folder)


def test_real_gate_records_show_and_no_raw_value_reaches_any_page(airflow_auth, gated):
    store, ids = gated
    client = TestClient(create_app(lambda: store))
    client.cookies.set("_token", token(airflow_auth, "reviewer", "viewer"))
    pages = ["/", "/export.csv", "/export.json", "/handlers", "/handlers/acme-pharma-sh/2026"]
    pages += [f"/records/{i}" for i in ids.values()] + [f"/records/{i}/report" for i in ids.values()]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        for raw in (CANARY_ID, CANARY_PHONE, "customer0@example.cn", "13800000000"):
            assert raw not in response.text, f"{raw} on {path}"
    annotated = client.get(f"/records/{ids['annotated']}").text
    assert "sensitive-under-10k-contract" in annotated
    assert "SC-2026-001" in annotated
    assert "people told apart by the subject key column(s) customer_id" in annotated


def test_handler_timeline_charts_the_cumulative_people_against_thresholds(airflow_auth, gated):
    store, _ = gated
    client = TestClient(create_app(lambda: store))
    client.cookies.set("_token", token(airflow_auth, "reviewer", "viewer"))
    assert "acme-pharma-sh" in client.get("/handlers").text
    html = client.get("/handlers/acme-pharma-sh/2026").text
    assert html.count("<path ") == 2  # the personal and the sensitive line
    assert "sensitive 10,000" in html  # the threshold line the reviewer watches
    assert "9,970" in html  # people left before the sensitive threshold
    final = store.counts("acme-pharma-sh", 2026)
    assert f"<strong>{final.personal:,}</strong> people with personal information" in html


def test_an_unreachable_ledger_is_503_naming_the_database(airflow_auth):
    down = "postgresql+psycopg://gate:gate@127.0.0.1:9/ledger?connect_timeout=2"
    client = TestClient(create_app(lambda: Store(down)))
    client.cookies.set("_token", token(airflow_auth, "reviewer", "viewer"))
    response = client.get("/", headers={"accept": "text/html"})
    assert response.status_code == 503
    assert "127.0.0.1" in response.text
    assert "gate:gate" not in response.text  # never the password


def test_filters_suggest_the_values_in_the_log(client):
    html = client.get("/").text
    assert (
        '<datalist id="choices-dag_id"><option value="crm_export_national"><option value="pv_case_export_shanghai">'
        in html
    )
    assert '<option value="pharmacovigilance">' in html
