"""Audit records shaped like the gate writes them, for the report and review-page tests.

They hold what a real record holds (counts, rule ids, digests, no raw values); the tests that need real
records write them through the real Store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from export_gate.gate import GateRequest, RunIdentity, run_gate
from export_gate.model import CATEGORIES
from export_gate.reading.sources import PathSource
from export_gate.rules.handler import Handler, parse_filing
from gate_data import canary, people, write


def counts(personal: int, sensitive: int, **categories: int) -> dict[str, Any]:
    cats = dict.fromkeys(CATEGORIES, 0)
    cats.update(categories)
    return {"personal": personal, "sensitive": sensitive, "categories": cats}


def decision_record(
    *,
    action: str = "annotate",
    dag_id: str = "pv_case_export_shanghai",
    run_id: str = "scheduled__2026-03-02T00:00:00+00:00",
    task_id: str = "gate",
    handler_id: str = "acme-pharma-sh",
    export: int = 1200,
    before: int = 9000,
    **extra: Any,
) -> dict[str, Any]:
    """A gate decision: ``export`` sensitive (medical) people added to ``before`` this year."""
    after = before + export
    record = {
        "event": "gate",
        "handler_id": handler_id,
        "year": 2026,
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "try_number": 1,
        "reservation": "r-7f3a",
        "source": {"uris": ["file:///data/out/cases.parquet"], "fingerprint": "sha256:9b1c" + "0" * 60},
        "list": {"id": "shanghai_ftz_2024", "version": "c0ffee" + "1" * 58},
        "scenario": "pharmacovigilance",
        "purpose": "adverse event reporting",
        "detector_version": "detectors-2026.1",
        "counts": {
            "export": counts(export, export, medical_health=export),
            "ytd_before": counts(before, before, medical_health=before),
            "ytd_after": counts(after, after, medical_health=after),
        },
        "decision": {
            "action": action,
            "mechanism": "standard_contract" if action != "allow" else None,
            "rule": {
                "id": "national.sensitive.10k",
                "text": "Sensitive personal information of 10,000 people or more since 1 January",
                "comparison": ">=",
                "threshold": 10000,
                "count": "sensitive",
                "source": {
                    "title": "Provisions on Promoting and Regulating Cross-Border Data Flows",
                    "url": "https://www.cac.gov.cn/2024-03/22/c_1712776611775634.htm",
                    "article": "Art. 8",
                    "date": "2024-03-22",
                },
            },
            "margins": [
                {
                    "count": "personal",
                    "value": after,
                    "threshold": 100000,
                    "left": 100000 - after,
                    "rules": ["n.p100k"],
                },
                {
                    "count": "personal",
                    "value": after,
                    "threshold": 1000000,
                    "left": 1000000 - after,
                    "rules": ["n.p1m"],
                },
                {"count": "sensitive", "value": after, "threshold": 10000, "left": 10000 - after, "rules": ["n.s10k"]},
            ],
            "warnings": [],
            "considered": [{"list_id": "shanghai_ftz_2024", "version": "c0ffee", "applies": True, "reason": "zone"}],
            "obligations": ["standard contract filed with the provincial CAC"],
            "filings_used": [{"kind": "standard_contract", "reference": "SC-2026-0042", "date": "2026-01-10"}],
            "message": "allowed: the standard contract SC-2026-0042 is on file",
        },
        "action": action,
        "mechanism": "standard_contract" if action != "allow" else None,
        "rule_id": "national.sensitive.10k",
        "obligations": ["standard contract filed with the provincial CAC"],
        "filings": [{"kind": "standard_contract", "reference": "SC-2026-0042", "date": "2026-01-10"}],
        "error": None,
    }
    record.update(extra)
    return record


def error_record(**extra: Any) -> dict[str, Any]:
    """A gate run that failed closed: no decision, an error."""
    record = {
        "event": "gate",
        "handler_id": "acme-pharma-sh",
        "year": 2026,
        "dag_id": "crm_export_national",
        "run_id": "manual__2026-03-03T08:00:00+00:00",
        "task_id": "gate",
        "try_number": 1,
        "source": {"uris": ["file:///data/out/missing.csv"]},
        "list": {"id": "national"},
        "scenario": None,
        "action": "block",
        "error": "InputError: file:///data/out/missing.csv does not exist",
    }
    record.update(extra)
    return record


def run_real_gates(ledger_url: str, folder: Path, *, dag_id: str = "pv_case_export_shanghai") -> dict[str, int]:
    """Fill the audit log and the ledger through the real gate (Presidio, policy, ledger) with a few small
    exports: allowed, annotated, blocked, one carrying the canary ID number and phone, and one that fails
    closed. Returns the audit id of each, by name."""
    files = {
        "allowed": write(people(40), folder / "personal.parquet"),
        "annotated": write(people(30, start=100, diagnosis=True), folder / "sensitive-a.parquet"),
        "blocked": write(people(25, start=200, diagnosis=True), folder / "sensitive-b.parquet"),
        "canary": write(canary(), folder / "canary.parquet"),
        "failed": folder / "missing.parquet",
    }
    contract = parse_filing("standard_contract=SC-2026-001@2026-01-02")
    ids = {}
    with pytest.MonkeyPatch.context() as env:
        # the gate writes its report files under EXPORT_GATE_HOME: keep them in this folder, whatever the scope
        env.setenv("EXPORT_GATE_HOME", str(folder / "export-gate-home"))
        for i, (name, path) in enumerate(files.items()):
            ids[name] = _gate(name, path, i, ledger_url, dag_id, contract)
    return ids


def _gate(name: str, path: Path, i: int, ledger_url: str, dag_id: str, contract: Any) -> int:
    """One real gate run, on the i-th day of March 2026, as task ``gate`` of a run of ``dag_id``."""
    outcome = run_gate(
        GateRequest(
            source=PathSource((str(path),)),
            list_id="cn-national-2024",
            handler=Handler("acme-pharma-sh"),
            as_of=datetime(2026, 3, 1 + i, 9, 0, tzinfo=UTC),
            subject_keys=() if name == "canary" else ("customer_id",),
            filings=(contract,) if name == "annotated" else (),
            ledger_url=ledger_url,
            secret_key=b"review-test-secret-key-0123456789",
            reservation=f"{dag_id}/run-{i}/gate",
            run=RunIdentity(dag_id, f"scheduled__2026-03-0{1 + i}T09:00:00+00:00", "gate", 1),
        )
    )
    return outcome.audit_id
