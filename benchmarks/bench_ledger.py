"""Ledger scale benchmark: preview + reserve of a 5-million-person export (1 million aliases) into an empty year
and into a 10-million-person year, with the process's peak memory.

    .venv/bin/python benchmarks/bench_ledger.py                      # SQLite file in a temp dir
    .venv/bin/python benchmarks/bench_ledger.py --postgres postgresql+psycopg://user@host/db   # also PostgreSQL
    .venv/bin/python benchmarks/bench_ledger.py --base 2000000 --add 500000 --aliases 100000   # smaller run
    .venv/bin/python benchmarks/bench_ledger.py --postgres-server --add 1000000 --aliases 200000 --audit 0 --no-sqlite

First the export of --add people (--aliases of them known by a second identifier too, a tenth sensitive) is
previewed and reserved into an empty year. Then another handler's year is filled through the same API
(reservations of --chunk people each), and an export of the same shape, --overlap of its people already
counted this year, is previewed and reserved in one locked transaction, as the gate does; then retried
(replacing its reservation) and released. Then --audit records are appended to the audit log and the UI's
queries, verify and export are timed. Prints seconds per step and, for the measured steps, the peak resident
memory of this process (Linux: the peak is reset before each step) next to the size of the export's arrays.

``--stream N [N ...]`` measures instead what issue 14 asks of the Spark driver: the peak resident memory of
this process while an export of N identifier digests (a fifth of its people known by a second identifier) is
previewed and reserved from batches of --batch identifiers, made one at a time as a driver receives them (the
export is never whole in memory), into an empty year, then retried (every person known: the replaced
reservation's people). The peak must not grow with N.

``--postgres-server`` starts a throwaway PostgreSQL server (as the tests do, tests/pg.py) and runs on a fresh
database there with autovacuum off for the ledger's tables: every handler/year is then written since the last
ANALYZE, the case where plans that trust the statistics went quadratic (issue 16: 77 s for 32,493 people), so the
figures show what the ledger's own statistics refresh gives.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import io
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from export_gate.model import ExportSubjects, SubjectBatches, mask_histogram, mask_of
from export_gate.people.union import build
from export_gate.records import database as db
from export_gate.records.ledger import Store

PERSONAL, MEDICAL = mask_of(()), mask_of(("medical_health",))
KEY = b"benchmark-key-not-secret"


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _took(started: tuple[float, float]) -> str:
    """Wall time, and this process's CPU time (on a busy machine the wall time is mostly waiting for a CPU;
    with PostgreSQL the server's CPU is not included)."""
    wall, cpu = time.perf_counter() - started[0], time.process_time() - started[1]
    return f"{wall:.2f} s (CPU here {cpu:.2f} s)"


def _rss_mb(field: str) -> float:
    """This process's resident memory (VmRSS) or its peak (VmHWM), in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    """Start a new peak-memory measurement (writing 5 to clear_refs resets VmHWM to the current RSS)."""
    Path("/proc/self/clear_refs").write_text("5")
    _sqlite_peak_mb(reset=True)


def _sqlite_peak_mb(*, reset: bool = False) -> float:
    """The high-water mark of SQLite's own allocations in this process (page caches, sorter, temp tables held in
    memory), in MB: the C library Python's sqlite3 module is linked with, asked through ctypes."""
    library = ctypes.util.find_library("sqlite3")
    if library is None:
        return float("nan")
    sqlite = ctypes.CDLL(library)
    sqlite.sqlite3_memory_highwater.restype = ctypes.c_int64
    return sqlite.sqlite3_memory_highwater(int(reset)) / 2**20


def _memory(subjects: ExportSubjects) -> str:
    arrays = sum(column.nbytes for column in (subjects.high, subjects.low, subjects.roots, subjects.masks))
    return f"peak RSS {_rss_mb('VmHWM'):,.0f} MB (export arrays {arrays / 2**20:,.0f} MB)"


def words(count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random digests as (n, 2) words (what the scan's keyed digests produce)."""
    return rng.integers(0, 2**64, size=(count, 2), dtype=np.uint64)


def subjects(people: np.ndarray, others: np.ndarray) -> ExportSubjects:
    """People (a tenth sensitive); the first ``len(others)`` of them also known by the identifiers ``others``."""
    masks = np.full(len(people) + len(others), PERSONAL, dtype=np.uint16)
    masks[: len(people) : 10] = MEDICAL
    edges = np.column_stack([np.arange(len(others)) + len(people), np.arange(len(others))]).astype(np.int64)
    return build(np.concatenate([people, others]), masks, edges, identified_by="strong_identifiers")


def add_export(store: Store, handler: str, key: str, export: ExportSubjects, label: str) -> None:
    """Preview and reserve ``export`` in one locked transaction, as the gate does; print time and peak memory."""
    _reset_peak()
    started = _now()
    with store.transaction(handler, 2026) as tx:
        before, after = tx.preview(export, reservation=key)
        previewed = _took(started)
        tx.reserve(key, export)
    print(f"  {label}: preview {previewed}; preview + reserve + commit {_took(started)}; {_memory(export)}")
    print(f"    year to date: {before.personal:,} -> {after.personal:,} personal, {after.sensitive:,} sensitive")


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on a throwaway server (tests/pg.py), migrated, autovacuum off for the ledger's tables."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from pg import throwaway_server

    with throwaway_server() as server:
        url = server.database()
        store = Store(url, secret_key=KEY)
        with store.engine.begin() as conn:
            for table in ("ledger_person", "ledger_alias", "ledger_membership"):
                conn.exec_driver_sql(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        store.engine.dispose()
        yield url


def run(url: str, base: int, add: int, aliases: int, overlap: float, chunk: int) -> None:
    store = Store(url, secret_key=KEY)
    rng = np.random.default_rng(0)
    export = subjects(words(add, rng), words(aliases, rng))
    print(f"  export: {add:,} people, {aliases:,} aliases; RSS before {_rss_mb('VmRSS'):,.0f} MB")
    add_export(store, "bench-empty", "bench/empty", export, "into an empty year")
    del export
    year = words(base, rng)
    started = _now()
    for start in range(0, base, chunk):
        with store.transaction("bench-handler", 2026) as tx:
            tx.reserve(f"fill/{start}", subjects(year[start : start + chunk], year[:0]))
    print(f"  fill {base:,} people in {(base + chunk - 1) // chunk} reservations: {_took(started)}")
    counted = year[: min(base, int(add * overlap))]  # people of the year that the measured export names again
    export = subjects(np.concatenate([counted, words(add - len(counted), rng)]), words(aliases, rng))
    del year, counted
    print(f"  RSS before {_rss_mb('VmRSS'):,.0f} MB")
    add_export(store, "bench-handler", "bench/export", export, f"into the year ({overlap:.0%} already counted)")
    add_export(store, "bench-handler", "bench/export", export, "retry (replaces its reservation)")
    started = _now()
    store.release("bench/export")
    print(f"  release it: {_took(started)}")
    started = _now()
    counts = store.counts("bench-handler", 2026)
    print(f"  read year-to-date counts: {_took(started)} ({counts.personal:,} personal)")


def streamed(identifiers: int, batch: int, seed: int) -> SubjectBatches:
    """An export of about ``identifiers`` digests as batches of whole people made one at a time (the same ones
    for the same ``seed``); its counts are known upfront, as a Spark scan counts them in Spark."""
    sizes = [min(batch, identifiers - start) for start in range(0, identifiers, batch)]

    def make(number: int, size: int) -> ExportSubjects:
        rng = np.random.default_rng((seed, number))
        others = size // 6  # a fifth of the people have a second identifier
        return subjects(words(size - others, rng), words(others, rng))

    histogram: Counter[int] = Counter()
    for number, size in enumerate(sizes):
        histogram.update(mask_histogram(make(number, size).masks))
    people = sum(histogram.values())
    parts = (make(number, size) for number, size in enumerate(sizes))
    return SubjectBatches(parts, identified_by="strong_identifiers", histogram=histogram, people=people)


def run_stream(url: str, sizes: list[int], batch: int) -> None:
    """Peak memory of preview + reserve of streamed exports of each size (a fresh handler each)."""
    store = Store(url, secret_key=KEY)
    for size in sizes:
        handler = f"stream-{size}"
        for label in ("into an empty year", "retry (all known)"):
            _reset_peak()
            rss = _rss_mb("VmRSS")
            started = _now()
            export = streamed(size, batch, seed=size)
            with store.transaction(handler, 2026) as tx:
                before, after = tx.preview(export, reservation=f"{handler}/export")
                tx.reserve(f"{handler}/export", export)
            print(
                f"  {size:,} identifiers in batches of {batch:,}, {label}: {_took(started)}; RSS before "
                f"{rss:,.0f} MB, peak {_rss_mb('VmHWM'):,.0f} MB (SQLite's own allocations peaked at "
                f"{_sqlite_peak_mb():,.0f} MB); year to date {before.personal:,} -> "
                f"{after.personal:,}"
            )


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
    parser.add_argument("--base", type=int, default=10_000_000, help="people already in the year")
    parser.add_argument("--add", type=int, default=5_000_000, help="people in the measured export")
    parser.add_argument("--aliases", type=int, default=1_000_000, help="of them, known by a second identifier")
    parser.add_argument("--overlap", type=float, default=0.2, help="share of the export already counted")
    parser.add_argument("--chunk", type=int, default=2_000_000, help="people per filling reservation")
    parser.add_argument("--audit", type=int, default=100_000, help="audit records to append and query (0: skip)")
    parser.add_argument("--postgres", metavar="URL", help="also run against this (empty) PostgreSQL database")
    parser.add_argument(
        "--postgres-server", action="store_true", help="also run on a fresh database of a throwaway PostgreSQL server"
    )
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite run")
    parser.add_argument("--stream", type=int, nargs="+", metavar="N", help="peak memory of streamed exports")
    parser.add_argument("--batch", type=int, default=1 << 18, help="identifiers per streamed batch")
    args = parser.parse_args()

    def run_all(url: str) -> None:
        if args.stream:
            run_stream(url, args.stream, args.batch)
            return
        if args.base or args.add:
            run(url, args.base, args.add, args.aliases, args.overlap, args.chunk)
        if args.audit:
            run_audit(url, args.audit)

    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"SQLite ({Path(tmp) / 'ledger.db'})")
            run_all(f"sqlite:///{Path(tmp) / 'ledger.db'}")
    if args.postgres:
        print("PostgreSQL")
        run_all(args.postgres)
    if args.postgres_server:
        print("PostgreSQL (throwaway server, fresh tables, autovacuum off)")
        with postgres_database() as url:
            run_all(url)


if __name__ == "__main__":
    main()
