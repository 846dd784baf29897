"""Export Gate deployed as a user deploys it (see tests/deployment.py: PostgreSQL for Airflow's metadata and for
the ledger, the ledger and the key in connections added with ``airflow connections add``, a scheduler, a
dag-processor and an api-server with the LocalExecutor), driven through the REST API and a real browser:

- the example DAGs (dags/), scheduled by the scheduler, decide as in the demo: allowed, annotated, blocked;
- ``on_block="review"`` (dags/crm_export_reviewed.py): a reviewer with the deployment's approver role approves
  one blocked run in Airflow's Required Actions view, with a reason and the missing filing, and the gate
  decides again and lets the export go; rejects another, and the export stays blocked; a user without the
  role is refused by Airflow itself; an unanswered review times out blocked. Every answer is in the audit chain.

Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from deployment import REPO, SECRET, Deployment
from export_gate.records.ledger import Store
from playwright.sync_api import expect

pytest_plugins = ["pg"]
pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.airflow]

HERE = Path(__file__).resolve().parent
#: The example DAGs' decisions in the demo (scripts/demo.sh). The pharmacovigilance export is blocked since the Shanghai
#: 2024 FTZ list (and its pharmacovigilance threshold) was superseded by the city-wide 2025 edition on 2026-04-24.
DEMO = {"pv_case_export_shanghai": "block", "reinsurance_cession_export": "annotate", "crm_export_national": "block"}
EXPORT_TASK = {
    "pv_case_export_shanghai": "send_to_safety_database",
    "reinsurance_cession_export": "send_to_reinsurer",
    "crm_export_national": "send_to_headquarters",
}
REVIEWED, TIMEOUT = "crm_export_reviewed", "gate_review_timeout"
GATE = "export_gate"
#: The deployment names the role "op" as the approvers' ([export_gate] approver_roles); "engineer" may run
#: DAGs but has not that role.
USERS = {
    "compliance": ("op", "compliance-pass-4711"),
    "engineer": ("user", "engineer-pass-4711"),
}
FILING = "standard_contract=SC-EU-2025-0042@2025-03-01"
FINAL = {"success", "failed", "upstream_failed", "skipped"}


@pytest.fixture(scope="module")
def deployment(postgres_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("deployment")
    dags = root / "dags"  # the example DAGs as shipped, and one test DAG with a short review timeout
    shutil.copytree(REPO / "dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(HERE / "deployment_dags" / f"{TIMEOUT}.py", dags)
    with psycopg.connect(postgres_server.admin_url(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE airflow_meta")
        conn.execute("CREATE DATABASE gate_ledger")
    deployment = Deployment(
        root=root,
        metadata_url=f"postgresql+psycopg2://postgres@127.0.0.1:{postgres_server.port}/airflow_meta",
        ledger={"host": "127.0.0.1", "port": postgres_server.port, "login": "postgres", "schema": "gate_ledger"},
        dags_folder=dags,
        users=USERS,
        # runs are triggered, as the demo runs them, not created from the DAGs' schedules
        config={"AIRFLOW__EXPORT_GATE__APPROVER_ROLES": "op", "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"},
    )
    deployment.set_up()
    deployment.start()
    try:
        deployment.wait_for_dags([*DEMO, REVIEWED, TIMEOUT], user="compliance")
        runs = [(dag_id, "demo") for dag_id in DEMO]
        runs += [(REVIEWED, "approve"), (REVIEWED, "reject"), (TIMEOUT, "unanswered")]
        for dag_id, run_id in runs:
            deployment.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False}, user="engineer")
            body = {"dag_run_id": run_id, "logical_date": None}
            deployment.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", body, user="engineer")
        yield deployment
    finally:
        deployment.stop()


@pytest.fixture(scope="module")
def ledger(deployment: Deployment) -> Store:
    # the deployment's key (in its connection export_gate_secret) chains the audit records: verify needs it
    url = f"postgresql+psycopg://postgres@127.0.0.1:{deployment.ledger['port']}/gate_ledger"
    return Store(url, secret_key=SECRET.encode())


def _records(ledger: Store, dag_id: str, run_id: str, event: str) -> list[dict]:
    records, _ = ledger.audit.query(dag_id=dag_id, event=event, limit=100)
    return sorted((r for r in records if r["run_id"] == run_id), key=lambda r: r["id"])


def _records_soon(ledger: Store, dag_id: str, run_id: str, event: str, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while not (found := _records(ledger, dag_id, run_id, event)) and time.monotonic() < deadline:
        time.sleep(1)
    return found


def _only_run(deployment: Deployment, dag_id: str) -> str:
    runs = deployment.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", user="compliance")["dag_runs"]
    assert len(runs) == 1, [r["dag_run_id"] for r in runs]
    return runs[0]["dag_run_id"]


def _answer_in_the_ui(browser, deployment: Deployment, run_id: str, option: str, artifacts: Path, **fields) -> int:
    """Sign in as the approver, open the run's Required Actions, fill the form, press the option; returns the
    status of the API call the page made."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    url = deployment.url
    page.goto(f"{url}/auth/login?next={quote(url + '/', safe='')}")
    page.get_by_label("Username").fill("compliance")
    page.get_by_label("Password").fill(USERS["compliance"][1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/", timeout=60_000)
    page.goto(f"{url}/dags/{REVIEWED}/runs/{run_id}/tasks/{GATE}/required_actions")
    expect(page.get_by_text("Export blocked by sensitive-under-10k-contract")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Missing:")).to_be_visible()
    button = page.get_by_test_id(f"hitl-option-{option}")
    expect(button).to_be_disabled()  # the reason is required, for a rejection too
    for name, value in fields.items():
        page.locator(f'[name="element_{name}"]').fill(value)
    expect(button).to_be_enabled()
    page.screenshot(path=artifacts / f"deployment-review-{run_id}.png", full_page=True)
    with page.expect_response(lambda r: r.url.endswith("/hitlDetails") and r.request.method == "PATCH") as answer:
        button.click()
    status = answer.value.status
    context.close()
    return status


def test_the_example_dags_under_the_scheduler_decide_as_in_the_demo(deployment, ledger):
    for dag_id, action in DEMO.items():
        run_id = _only_run(deployment, dag_id)
        export = deployment.wait_for_task(dag_id, run_id, EXPORT_TASK[dag_id], FINAL, user="compliance")
        (record,) = _records(ledger, dag_id, run_id, "gate")
        assert record["action"] == action, (dag_id, record.get("error") or record["decision"]["message"])
        assert export == ("upstream_failed" if action == "block" else "success"), dag_id
    (pv,) = _records(ledger, "pv_case_export_shanghai", _only_run(deployment, "pv_case_export_shanghai"), "gate")
    assert "the edition in force then is shanghai-2025" in pv["error"]  # judged by the edition of its date
    assert ledger.counts("shanghai-pharma-co", _year(ledger)).sensitive == 0


def test_a_reviewer_approves_with_the_missing_filing_and_the_gate_decides_again(deployment, ledger, browser, artifacts):
    deployment.wait_for_task(REVIEWED, "approve", GATE, {"awaiting_input"}, user="compliance")
    status = _answer_in_the_ui(
        browser,
        deployment,
        "approve",
        "Approve",
        artifacts,
        reason="Standard contract with the EU office filed with the provincial CAC",
        filing=FILING,
    )
    assert status == 200
    assert deployment.wait_for_task(REVIEWED, "approve", "send_to_european_office", FINAL, user="compliance") == (
        "success"
    )
    blocked, redecided = _records(ledger, REVIEWED, "approve", "gate")
    (review,) = _records(ledger, REVIEWED, "approve", "review")
    assert (blocked["action"], blocked["reservation"]) == ("block", None)
    assert redecided["action"] == "annotate"  # the thresholds applied again, now with the contract on file
    assert [f["reference"] for f in redecided["decision"]["filings_used"]] == ["SC-EU-2025-0042"]
    assert review["review"]["outcome"] == "approve"
    assert review["review"]["by"]["id"] == "compliance"
    assert review["review"]["reason"].startswith("Standard contract")
    assert review["review"]["supplied"]["filing"] == FILING
    assert review["review"]["at"]
    assert (review["blocked_audit_id"], review["redecision"]["audit_id"]) == (blocked["id"], redecided["id"])
    assert blocked["id"] < redecided["id"] < review["id"]
    # the export ran: its people are confirmed (by its success callback, which may end after its state is set)
    (confirm,) = _records_soon(ledger, REVIEWED, "approve", "confirm")
    assert confirm["reservation"] == redecided["reservation"]


def test_a_user_without_the_approver_role_is_refused_and_a_rejection_keeps_the_export_blocked(
    deployment, ledger, browser, artifacts
):
    deployment.wait_for_task(REVIEWED, "reject", GATE, {"awaiting_input"}, user="compliance")
    path = f"/api/v2/dags/{REVIEWED}/dagRuns/reject/taskInstances/{GATE}/-1/hitlDetails"
    body = {"chosen_options": ["Approve"], "params_input": {"reason": "ship it", "filing": FILING}}
    status, answer = deployment.request("PATCH", path, body, user="engineer")
    assert status == 403, answer  # Airflow refuses: only the deployment's approvers are assigned
    assert deployment.task_state(REVIEWED, "reject", GATE, user="compliance") == "awaiting_input"

    status = _answer_in_the_ui(
        browser, deployment, "reject", "Reject", artifacts, reason="No contract with the EU office yet"
    )
    assert status == 200
    assert deployment.wait_for_task(REVIEWED, "reject", GATE, FINAL, user="compliance") == "failed"
    export = deployment.wait_for_task(REVIEWED, "reject", "send_to_european_office", FINAL, user="compliance")
    assert export == "upstream_failed"
    (blocked,) = _records(ledger, REVIEWED, "reject", "gate")  # no re-decision
    (review,) = _records(ledger, REVIEWED, "reject", "review")
    assert (review["action"], review["review"]["outcome"], review["redecision"]) == ("block", "reject", None)
    assert review["review"]["by"]["id"] == "compliance"
    assert review["blocked_audit_id"] == blocked["id"]


def test_an_unanswered_review_times_out_and_the_export_stays_blocked(deployment, ledger):
    assert deployment.wait_for_task(TIMEOUT, "unanswered", GATE, FINAL, user="compliance") == "failed"
    assert deployment.wait_for_task(TIMEOUT, "unanswered", "ship", FINAL, user="compliance") == "upstream_failed"
    (review,) = _records(ledger, TIMEOUT, "unanswered", "review")
    assert (review["action"], review["review"]["outcome"], review["review"]["by"]) == ("block", "timeout", None)
    assert ledger.counts("retail-co-timeout", _year(ledger)).personal == 0


def test_the_audit_chain_of_the_deployment_verifies(deployment, ledger):
    for dag_id, run_id in ((REVIEWED, "approve"), (REVIEWED, "reject"), (TIMEOUT, "unanswered")):
        deployment.wait_for_task(dag_id, run_id, GATE, FINAL, user="compliance")
    result = ledger.audit.verify(secret_keys=[SECRET.encode()])  # the key of the connection export_gate_secret
    assert result.ok, result.reason


def _year(ledger: Store) -> int:
    records, _ = ledger.audit.query(event="gate", limit=1)
    return int(records[0]["year"])
