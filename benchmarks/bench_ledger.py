"""Ledger scale benchmark: preview + reserve of a 1-million-subject export on top of a 10-million-subject year.

    .venv/bin/python benchmarks/bench_ledger.py                      # SQLite file in a temp dir
    .venv/bin/python benchmarks/bench_ledger.py --postgres postgresql+psycopg://user@host/db   # also PostgreSQL
    .venv/bin/python benchmarks/bench_ledger.py --base 2000000 --add 500000    # smaller run

The year is filled through the same API (reservations of --chunk subjects each); then one export of --add
subjects, --overlap of them already counted this year (a tenth sensitive), is previewed and reserved in one
locked transaction, as the gate does. Then --audit records are appended to the audit log and the UI's
queries, verify and export are timed. Prints seconds per step.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path

from export_gate import db
from export_gate.ledger import Store
from export_gate.model import ExportSubjects, mask_of
from export_gate.subject_union import from_mapping

PERSONAL, MEDICAL = mask_of(()), mask_of(("medical_health",))
KEY = b"benchmark-key-not-secret"


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _took(started: tuple[float, float]) -> str:
    """Wall time, and this process's CPU time (on a busy machine the wall time is mostly waiting for a CPU;
    with PostgreSQL the server's CPU is not included)."""
    wall, cpu = time.perf_counter() - started[0], time.process_time() - started[1]
    return f"{wall:.2f} s (CPU here {cpu:.2f} s)"


def digests(count: int) -> list[bytes]:
    """``count`` random 16-byte digests (what the scan's HMAC produces)."""
    blob = os.urandom(16 * count)
    return [blob[i : i + 16] for i in range(0, len(blob), 16)]


def subjects(people: list[bytes]) -> ExportSubjects:
    return from_mapping({d: MEDICAL if i % 10 == 0 else PERSONAL for i, d in enumerate(people)})


def run(url: str, base: int, add: int, overlap: float, chunk: int) -> None:
    store = Store(url, secret_key=KEY)
    counted: list[bytes] = []  # people of the year that the measured export names again
    started = _now()
    for start in range(0, base, chunk):
        people = digests(min(chunk, base - start))
        counted = counted or people[: int(add * overlap)]
        with store.transaction("bench-handler", 2026) as tx:
            tx.reserve(f"fill/{start}", subjects(people))
    print(f"  fill {base:,} subjects in {(base + chunk - 1) // chunk} reservations: {_took(started)}")
    export = subjects(counted + digests(add - len(counted)))
    started = _now()
    with store.transaction("bench-handler", 2026) as tx:
        before, after = tx.preview(export, reservation="bench/export")
        previewed = _took(started)
        tx.reserve("bench/export", export)
    total = _took(started)
    print(f"  preview {add:,} subjects ({overlap:.0%} already counted): {previewed}")
    print(f"  preview + reserve + commit: {total}")
    print(f"  year to date: {before.personal:,} -> {after.personal:,} personal, {after.sensitive:,} sensitive")
    started = _now()
    with store.transaction("bench-handler", 2026) as tx:
        tx.preview(export, reservation="bench/export")
        tx.reserve("bench/export", export)
    print(f"  retry of the same export (replaces its reservation): {_took(started)}")
    started = _now()
    store.release("bench/export")
    print(f"  release it: {_took(started)}")
    started = _now()
    counts = store.counts("bench-handler", 2026)
    print(f"  read year-to-date counts: {_took(started)} ({counts.personal:,} personal)")


def run_audit(url: str, records: int) -> None:
    """Append ``records`` gate records, then time what the UI and the CLI do with them."""
    store = Store(url, secret_key=KEY)
    started = _now()
    for start in range(0, records, 10_000):
        with db.write_transaction(store.engine) as conn:
            for n in range(start, min(start + 10_000, records)):
                store.audit.append(conn, _record(n))
    print(f"  append {records:,} audit records: {_took(started)}")
    for label, query in (
        ("newest page of 50", {}),
        ("one DAG, one page", {"dag_id": "dag_7"}),
        ("blocks, page 100", {"action": "block", "offset": 5000}),
    ):
        started = _now()
        page, total = store.audit.query(**query)
        print(f"  query {label} ({len(page)} of {total:,}): {_took(started)}")
    started = _now()
    result = store.audit.verify()
    print(f"  verify the chain ({result.checked:,} records, ok={result.ok}): {_took(started)}")
    started = _now()
    written = store.audit.export("csv", io.StringIO())
    print(f"  export {written:,} records as CSV: {_took(started)}")


def _record(n: int) -> dict:
    counts = {"personal": n, "sensitive": n // 10, "categories": {"medical_health": n // 10}}
    return {
        "event": "gate",
        "handler_id": f"handler_{n % 3}",
        "year": 2026,
        "dag_id": f"dag_{n % 20}",
        "run_id": f"scheduled__{n}",
        "task_id": "gate",
        "try_number": 1,
        "list": {"id": "cn-national-2024", "version": "sha256:0"},
        "scenario": None,
        "action": ("allow", "annotate", "block")[n % 3],
        "counts": {"export": counts, "ytd_before": counts, "ytd_after": counts},
        "report": {"columns": ["patient_id", "phone", "diagnosis"], "rows": 1000},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=int, default=10_000_000, help="subjects already in the year")
    parser.add_argument("--add", type=int, default=1_000_000, help="subjects in the measured export")
    parser.add_argument("--overlap", type=float, default=0.2, help="share of the export already counted")
    parser.add_argument("--chunk", type=int, default=1_000_000, help="subjects per filling reservation")
    parser.add_argument("--audit", type=int, default=100_000, help="audit records to append and query (0: skip)")
    parser.add_argument("--postgres", metavar="URL", help="also run against this (empty) PostgreSQL database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"SQLite ({Path(tmp) / 'ledger.db'})")
        url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        if args.base or args.add:
            run(url, args.base, args.add, args.overlap, args.chunk)
        if args.audit:
            run_audit(url, args.audit)
    if args.postgres:
        print("PostgreSQL")
        if args.base or args.add:
            run(args.postgres, args.base, args.add, args.overlap, args.chunk)
        if args.audit:
            run_audit(args.postgres, args.audit)


if __name__ == "__main__":
    main()
