"""Approvals of blocked exports: what a reviewer is asked in Airflow's human-in-the-loop (HITL) UI, who may
answer, and what the answer means for the gate.

An approval never lets an export past the thresholds: it supplies the fact that was missing (a filing
reference, a declared exemption purpose, a corrected subject key), and the gate decides again with it. A
rejection, a timeout or an answer from someone who may not approve leaves the export blocked.

Who may approve is the deployment's choice, not the DAG author's: the Airflow configuration names roles
(``[export_gate] approver_roles``, e.g. ``AIRFLOW__EXPORT_GATE__APPROVER_ROLES=admin,op``) whose users become
the HITL request's assigned users, so Airflow's own API refuses anyone else (403), and users by id
(``[export_gate] approvers``) for auth managers whose roles a worker cannot read. Nobody named: the gate fails
at once instead of waiting for an answer nobody may give.

Plain data in, plain data out: the operator makes the Airflow calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import Param
    from airflow.sdk.execution_time.hitl import HITLUser

APPROVE, REJECT = "Approve", "Reject"
OPTIONS = [APPROVE, REJECT]
#: The Airflow configuration section the deployment names its approvers in.
CONFIG_SECTION = "export_gate"
SIMPLE_AUTH_MANAGER = "SimpleAuthManager"
#: Longest reason kept in the audit record (the reviewer's own words; the form says not to paste personal data).
REASON_LIMIT = 1000


@dataclass(frozen=True)
class Amendment:
    """The facts an approval supplies; the gate decides again with them added."""

    filing: str | None = None  # "KIND=REF[@YYYY-MM-DD]", added to the gate's filings
    purpose: str | None = None  # a declared exemption purpose of the list, instead of the gate's
    subject_keys: tuple[str, ...] = ()  # the columns naming the people, instead of the gate's

    def to_dict(self) -> dict:
        return {"filing": self.filing, "purpose": self.purpose, "subject_keys": list(self.subject_keys)}

    def __bool__(self) -> bool:
        return bool(self.filing or self.purpose or self.subject_keys)


@dataclass(frozen=True)
class Answer:
    """The reviewer's answer, as the gate reads it. ``outcome`` is approve, reject, timeout or refused (an
    answer the gate cannot act on: no reason, no fact supplied, or a responder who may not approve)."""

    outcome: str
    by: dict | None = None  # {"id": ..., "name": ...} as Airflow recorded the responder
    at: str | None = None
    reason: str = ""
    amendment: Amendment = field(default_factory=Amendment)
    problem: str | None = None  # why an answer was refused

    @property
    def approved(self) -> bool:
        return self.outcome == "approve"

    def to_dict(self) -> dict:
        return {
            "outcome": self.outcome,
            "by": self.by,
            "at": self.at,
            "reason": self.reason,
            "supplied": self.amendment.to_dict(),
            "problem": self.problem,
        }


def form_params() -> dict[str, Param]:
    """The form the reviewer fills in beside Approve / Reject."""
    from airflow.sdk import Param

    return {
        "reason": Param(
            "",
            type="string",
            maxLength=REASON_LIMIT,
            title="Reason",
            description="Why the export may go (or why not). Kept in the audit log: no personal data here.",
        ),
        "filing": Param(
            None,
            type=["null", "string"],
            title="Filing on file",
            description="KIND=REFERENCE@YYYY-MM-DD, e.g. standard_contract=SC-2025-0042@2025-03-01",
        ),
        "purpose": Param(
            None, type=["null", "string"], title="Declared purpose", description="an exemption purpose of the list"
        ),
        "subject_keys": Param(
            None,
            type=["null", "string"],
            title="Corrected subject key",
            description="the columns naming the people, comma-separated, e.g. patient_id,reporter_id",
        ),
    }


def request_subject(blocked: Mapping) -> str:
    """The one line the Required Actions list shows."""
    rule = (blocked.get("rule") or {}).get("id") or "the gate"
    return f"Export blocked by {rule}: approve with the missing fact, or reject"


def request_body(blocked: Mapping, report_url: str) -> str:
    """The Markdown the reviewer reads: the decision, the counts against the threshold, the report."""
    counts = blocked.get("counts") or {}
    export, after = counts.get("export") or {}, counts.get("ytd_after") or {}
    missing = (blocked.get("mechanism") or "").replace("_", " ") or "none"
    lines = [
        f"**Decision:** BLOCK under list `{(blocked.get('list') or {}).get('id')}`"
        + (f", scenario `{blocked['scenario']}`" if blocked.get("scenario") else ""),
        f"**Handler:** `{blocked.get('handler_id')}`, year {blocked.get('year')}",
        f"**Missing:** {missing}",
        f"**This export:** {export.get('personal', 0):,} people with personal information, "
        f"{export.get('sensitive', 0):,} with sensitive personal information",
        f"**Year to date after it:** {after.get('personal', 0):,} personal, {after.get('sensitive', 0):,} sensitive",
        str(blocked.get("message") or ""),
        f"[Open the report]({report_url}) (audit record {blocked.get('audit_id')})",
        "Approving does not skip the thresholds: give a reason and the fact that makes the export lawful (a "
        "filing, a declared purpose or a corrected subject key); the gate then decides again with it. "
        "Rejecting leaves the export blocked.",
    ]
    return "\n\n".join(line for line in lines if line)


def deployment_approvers(
    roles: Iterable[str], user_ids: Iterable[str], users_with_roles: Iterable[tuple[str, str]]
) -> list[HITLUser]:
    """The users who may approve: those named by id, and those whose role is one of ``roles`` (case-insensitive).
    ``users_with_roles`` is the auth manager's (user id, role) list, where the worker can read it."""
    wanted = {role.strip().lower() for role in roles if role.strip()}
    ids = [user_id.strip() for user_id in user_ids if user_id.strip()]
    ids += [user_id for user_id, role in users_with_roles if (role or "").lower() in wanted]
    return [{"id": user_id, "name": user_id} for user_id in dict.fromkeys(ids)]


def configured_approvers() -> list[HITLUser]:
    """The approvers the Airflow configuration names (see the module docstring). Roles are resolved with the
    SimpleAuthManager's user list; with another auth manager name users in ``[export_gate] approvers``."""
    from airflow.sdk import conf

    roles = conf.getlist(CONFIG_SECTION, "approver_roles", fallback="") or []
    user_ids = conf.getlist(CONFIG_SECTION, "approvers", fallback="") or []
    users: list[tuple[str, str]] = []
    if roles and conf.get("core", "auth_manager", fallback="").endswith(SIMPLE_AUTH_MANAGER):
        from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

        users = [(user.username, user.role or "") for user in SimpleAuthManager.get_users()]
    return deployment_approvers(roles, user_ids, users)


def no_approver_text() -> str:
    return (
        "no one may approve a blocked export in this deployment: name approver roles in the Airflow configuration "
        f"([{CONFIG_SECTION}] approver_roles, e.g. AIRFLOW__EXPORT_GATE__APPROVER_ROLES=admin) or users "
        f"([{CONFIG_SECTION}] approvers)"
    )


def read_answer(event: Mapping, approvers: Sequence[HITLUser]) -> Answer:
    """The reviewer's answer from the HITL resume event. Anything the gate cannot act on is "refused" with the
    problem named; a timeout (no answer in time) is "timeout". Either way the export stays blocked."""
    if "error" in event:
        kind = "timeout" if event.get("error_type") == "timeout" else "refused"
        return Answer(kind, problem=str(event.get("error")))
    chosen = list(event.get("chosen_options") or [])
    params = dict(event.get("params_input") or {})
    by = event.get("responded_by_user")
    at = event.get("responded_at")
    answer = Answer(
        outcome="approve" if chosen == [APPROVE] else "reject",
        by=dict(by) if by else None,
        at=at.isoformat() if isinstance(at, datetime) else (str(at) if at else None),
        reason=str(params.get("reason") or "").strip()[:REASON_LIMIT],
        amendment=Amendment(
            filing=_text(params.get("filing")),
            purpose=_text(params.get("purpose")),
            subject_keys=tuple(k.strip() for k in str(params.get("subject_keys") or "").split(",") if k.strip()),
        ),
    )
    problem = _problem(answer, chosen, {user["id"] for user in approvers})
    if problem:
        return Answer("refused", answer.by, answer.at, answer.reason, answer.amendment, problem)
    return answer


def _problem(answer: Answer, chosen: list[str], approver_ids: set[str]) -> str | None:
    if chosen not in ([APPROVE], [REJECT]):
        return f"the answer {chosen!r} is neither {APPROVE} nor {REJECT}"
    if not answer.approved:
        return None
    if answer.by is None or str(answer.by.get("id")) not in approver_ids:
        who = (answer.by or {}).get("name", "an unknown user")
        return f"{who} may not approve blocked exports in this deployment ([{CONFIG_SECTION}] approver_roles)"
    if not answer.reason:
        return "an approval needs a reason"
    if not answer.amendment:
        return "an approval must supply what makes the export lawful: a filing, a declared purpose or a subject key"
    if answer.amendment.filing:
        from export_gate.errors import ConfigError
        from export_gate.rules.handler import parse_filing

        try:
            parse_filing(answer.amendment.filing, "filing")
        except ConfigError as exc:
            return f"the filing is not usable ({exc})"
    return None


def _text(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def review_record(blocked: Mapping, answer: Answer, run: Mapping, redecision: Mapping | None) -> dict:
    """The audit record of a review: who answered, when, why, what they supplied, and the gate's new decision
    (``redecision``, None when there was none: rejected, timed out, refused). Counts and ids only."""
    return {
        "event": "review",
        "handler_id": blocked.get("handler_id"),
        "year": blocked.get("year"),
        **{key: run.get(key) for key in ("dag_id", "run_id", "task_id", "try_number")},
        "list": {"id": (blocked.get("list") or {}).get("id"), "version": (blocked.get("list") or {}).get("version")},
        "scenario": blocked.get("scenario"),
        "action": redecision.get("action") if redecision else "block",
        "blocked_audit_id": blocked.get("audit_id"),
        "review": answer.to_dict(),
        "redecision": (
            {key: redecision.get(key) for key in ("action", "audit_id", "mechanism", "reservation", "error")}
            if redecision
            else None
        ),
    }


def answer_text(answer: Answer) -> str:
    """How the log and the failure message describe the answer."""
    who = (answer.by or {}).get("name")
    if answer.outcome == "timeout":
        return "no reviewer answered before the review timed out"
    if answer.outcome == "refused":
        return f"the review answer was not accepted: {answer.problem}"
    verb = "approved" if answer.approved else "rejected"
    return f"{verb} by {who}" + (f" ({answer.reason})" if answer.reason else "")
