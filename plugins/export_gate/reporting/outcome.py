"""What an audit record is and what decided it, in a few words a reviewer scans for: "missing: standard
contract", "on file: standard contract SC-2026-001", "gate error: count unknown", "confirmed".

The decision's message says the same in a paragraph; the review list, the record page, the dashboard and the
CSV show this short form (highlighted), so a reviewer sees why an export was blocked without reading every
message. Read from the record only (never from the current list files, which may have changed since).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The events that finish a gate record's reservation: the export ran (confirm) or failed for good (release).
FOLLOW_UP_EVENTS: tuple[str, ...] = ("confirm", "release")
#: Events that are not gate decisions: those, a reviewer's answer to a blocked export, a filing register change.
OTHER_EVENTS: tuple[str, ...] = (*FOLLOW_UP_EVENTS, "review", "filing")


@dataclass(frozen=True)
class Outcome:
    """``kind`` names the condition (a CSS class and a filter value); ``text`` says it in words."""

    kind: str
    text: str


def kind_of(record: dict) -> str:
    """gate | confirm | release (records written before events existed are gate records)."""
    return str(record.get("event") or "gate")


def action_of(record: dict) -> str:
    """allow | annotate | block for a gate record (an error record is a block: the gate failed closed);
    the event itself (confirm, release, review, filing) for the other records."""
    if kind_of(record) in OTHER_EVENTS:
        return kind_of(record)
    decision = record.get("decision") or {}
    return str(record.get("action") or decision.get("action") or ("block" if record.get("error") else "unknown"))


def _words(mechanism: object) -> str:
    return str(mechanism).replace("_", " ")


def _filing_text(filing: Any) -> str:
    if isinstance(filing, dict):
        return " ".join(str(part) for part in (_words(filing.get("kind") or ""), filing.get("reference")) if part)
    return str(filing)


def _review(record: dict) -> Outcome:
    """A reviewer's answer to a blocked export: approved (and the gate's new decision), rejected, no answer in
    time, or an answer the gate refused."""
    answer = record.get("review") or {}
    who = (answer.get("by") or {}).get("name") or "an unknown user"
    found = str(answer.get("outcome") or "")
    if found == "approve":
        redecision = (record.get("redecision") or {}).get("action") or "no new decision"
        reason = str(answer.get("reason") or "")
        reason = reason if len(reason) <= 80 else reason[:79] + "…"
        return Outcome("approved", f"approved by {who} ({reason}); decided again: {redecision}")
    if found == "reject":
        return Outcome("rejected", f"rejected by {who}: stays blocked")
    if found == "timeout":
        return Outcome("timeout", "no reviewer answered in time: stays blocked")
    return Outcome("refused", f"answer not accepted: {answer.get('problem') or 'unknown reason'}")


def _filing(record: dict) -> Outcome:
    change = {"add": "filing added", "expire": "filing expired"}.get(str(record.get("change")), "filing changed")
    return Outcome("filing", f"{change}: {_filing_text(record.get('filing') or {})}")


def related(record: dict, gate_record: int | None = None) -> list[dict[str, Any]]:
    """The records to link from ``record``: the gate record a confirm or release finished (``gate_record``,
    which the caller looked up), or those a review names itself (the blocked gate record, the new decision)."""
    found: list[tuple[str, object]] = [("gate record", gate_record)]
    if kind_of(record) == "review":
        found.append(("blocked gate record", record.get("blocked_audit_id")))
        found.append(("new decision", (record.get("redecision") or {}).get("audit_id")))
    return [{"label": label, "id": record_id} for label, record_id in found if isinstance(record_id, int)]


def outcome(record: dict) -> Outcome:
    """The condition that decided ``record``."""
    event = kind_of(record)
    if event == "review":
        return _review(record)
    if event == "filing":
        return _filing(record)
    if event == "confirm":
        return Outcome("confirmed", "confirmed: the export ran; its people stay counted")
    if event == "release":
        return Outcome("released", "released: the export did not run; its people are no longer counted")
    if record.get("error"):
        return Outcome("error", "gate error: could not decide, count unknown")
    decision = record.get("decision") or {}
    if not decision:
        return Outcome("unknown", "no decision recorded")
    rule = decision.get("rule") or {}
    rule_id = str(rule.get("id") or record.get("rule_id") or "")
    action = action_of(record)
    mechanism = decision.get("mechanism") or record.get("mechanism")
    if rule_id == "gate:unknown-category":
        return Outcome("unknown-category", "blocked: data of a category the rules do not know")
    if rule_id == "gate:no-rule":
        return Outcome("no-rule", "blocked: no rule of the list covers this export")
    if mechanism and action == "block":
        return Outcome("missing", f"missing: {_words(mechanism)}")
    if mechanism:
        used = decision.get("filings_used") or []
        on_file = ", ".join(_filing_text(f) for f in used) or _words(mechanism)
        return Outcome("on-file", f"on file: {on_file}")
    if rule.get("exemption"):
        # the exemption's name, without its explanation: "De minimis (Art. 5(4)) - general personal ..."
        return Outcome("exempt", f"exempt: {str(rule['exemption']).split(' - ')[0]}")
    if action == "annotate":
        return Outcome("near", "near a threshold")
    if action == "block":
        return Outcome("blocked", f"blocked by {rule_id or 'the gate'}")
    return Outcome("below", "below every threshold that requires a mechanism")
