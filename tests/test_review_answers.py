"""How the gate reads a reviewer's answer to a blocked export (export_gate.airflow.review): only an approval
by a deployment approver, with a reason and the missing fact, lets the gate decide again; everything else keeps
the export blocked and says why. The answers are shaped as Airflow's HITL resume event delivers them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from export_gate.airflow.review import (
    APPROVE,
    REJECT,
    deployment_approvers,
    read_answer,
    request_body,
    review_record,
)

APPROVERS = [{"id": "compliance", "name": "compliance"}]
FILING = "standard_contract=SC-2025-0042@2025-03-01"


def event(option: str = APPROVE, user: str = "compliance", **params: str | None) -> dict:
    return {
        "chosen_options": [option],
        "params_input": {"reason": "contract filed", "filing": FILING, "purpose": None, "subject_keys": None, **params},
        "responded_at": datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        "responded_by_user": {"id": user, "name": user},
    }


def test_an_approval_with_a_reason_and_a_filing_supplies_the_filing():
    answer = read_answer(event(), APPROVERS)
    assert answer.approved
    assert (answer.by, answer.at, answer.reason) == (
        {"id": "compliance", "name": "compliance"},
        "2026-03-02T09:30:00+00:00",
        "contract filed",
    )
    assert answer.amendment.filing == FILING


def test_a_corrected_subject_key_and_a_purpose_are_facts_too():
    answer = read_answer(event(filing=None, subject_keys=" patient_id, reporter_id ,", purpose="hr"), APPROVERS)
    assert answer.approved
    assert answer.amendment.subject_keys == ("patient_id", "reporter_id")
    assert answer.amendment.purpose == "hr"


@pytest.mark.parametrize(
    ("answer_event", "problem"),
    [
        (event(user="engineer"), "engineer may not approve"),  # assigned users changed between ask and answer
        (event(reason="  "), "needs a reason"),
        (event(filing="", subject_keys=None), "must supply what makes the export lawful"),
        ({**event(), "chosen_options": [APPROVE, REJECT]}, "neither"),
        ({**event(), "responded_by_user": None}, "an unknown user may not approve"),
        (event(filing="contract SC-1"), "the filing is not usable"),
        (event(filing="standard_contract=SC-1@2025-02-30"), "the filing is not usable"),
    ],
)
def test_an_approval_the_gate_cannot_act_on_is_refused(answer_event, problem):
    answer = read_answer(answer_event, APPROVERS)
    assert not answer.approved
    assert answer.outcome == "refused"
    assert problem in answer.problem


def test_a_rejection_needs_no_fact_and_keeps_the_reason():
    answer = read_answer(event(REJECT, filing=None, reason="no contract yet"), APPROVERS)
    assert (answer.outcome, answer.reason, answer.problem) == ("reject", "no contract yet", None)


def test_a_timeout_keeps_the_export_blocked():
    timeout = {
        "error": "The Human-in-the-loop response timeout has passed without a response.",
        "error_type": "timeout",
    }
    answer = read_answer(timeout, APPROVERS)
    assert (answer.outcome, answer.by, answer.approved) == ("timeout", None, False)


def test_approvers_are_the_users_with_a_named_role_and_the_users_named():
    users = [("alice", "Admin"), ("bob", "op"), ("carol", "user"), ("dave", "viewer")]
    assert [u["id"] for u in deployment_approvers(["admin", " OP "], [], users)] == ["alice", "bob"]
    assert [u["id"] for u in deployment_approvers([], ["erin", "bob"], users)] == ["erin", "bob"]
    assert deployment_approvers([""], [], users) == []  # nothing named: nobody, never everybody


def test_the_review_record_links_the_block_and_the_redecision_and_holds_no_report():
    blocked = {
        "audit_id": 7,
        "handler_id": "h",
        "year": 2026,
        "list": {"id": "cn-national-2024", "version": "1"},
        "scenario": None,
        "counts": {"export": {"personal": 3}},
    }
    redecision = {"action": "annotate", "audit_id": 9, "mechanism": "standard_contract", "reservation": "r", "x": 1}
    run = {"dag_id": "d", "run_id": "r1", "task_id": "gate", "try_number": 1}
    record = review_record(blocked, read_answer(event(), APPROVERS), run, redecision)
    assert (record["event"], record["action"], record["blocked_audit_id"]) == ("review", "annotate", 7)
    assert record["redecision"] == {
        "action": "annotate",
        "audit_id": 9,
        "mechanism": "standard_contract",
        "reservation": "r",
        "error": None,
    }
    assert "counts" not in record and "report" not in record
    rejected = review_record(blocked, read_answer(event(REJECT), APPROVERS), run, None)
    assert (rejected["action"], rejected["redecision"]) == ("block", None)


def test_the_request_shows_the_counts_the_missing_mechanism_and_the_report():
    blocked = {
        "audit_id": 7,
        "handler_id": "retail",
        "year": 2026,
        "list": {"id": "cn-national-2024"},
        "mechanism": "standard_contract_or_certification",
        "counts": {"export": {"personal": 1200, "sensitive": 14}, "ytd_after": {"personal": 5200, "sensitive": 14}},
        "message": "BLOCK under cn-national-2024",
    }
    body = request_body(blocked, "/export-gate/task-report?dag_id=d")
    assert "**Missing:** standard contract or certification" in body
    assert "1,200 people with personal information, 14 with sensitive" in body
    assert "5,200 personal" in body
    assert "[Open the report](/export-gate/task-report?dag_id=d) (audit record 7)" in body
