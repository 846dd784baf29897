"""CPU of the scan's subject side alone (issue 2 §5): building each batch's people and merging them.

    .venv/bin/python benchmarks/bench_union.py [--rows 200000] [--data FOLDER] [--copies 10] [--repeat 3]

Scans an export once in this process (a CRM export of --rows generated with export_gate.samples.exports, or the
Parquet files of --data), keeping what each batch hands to ``subjects.inferred`` and the ``ExportSubjects`` it
returns. Then times, in CPU seconds of this process (other load on the machine barely changes them), the best
of --repeat runs of:

* inferred: ``subjects.inferred`` over every batch (the row subjects' digests replayed, not hashed again), as the
  worker processes run it; checked against the captured tables;
* update / result: ``SubjectSet.update`` over every batch's table as ``scan.merge_partials`` does in the main
  process (memory handed back after each part), then ``result()``;
* with --copies N: the same merge over the tables re-keyed N times (as from N times the rows, each copy's people
  new), which shows how the merge scales towards ten million rows.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
from export_gate.engine import local as scan
from export_gate.model import ExportSubjects
from export_gate.people import rows as people_rows
from export_gate.people import subjects
from export_gate.people.digest import SubjectHasher
from export_gate.people.union import SCAN_PARTITION_BITS, SubjectSet, build

AS_OF = date(2026, 6, 30)
#: One batch's arguments to ``subjects.inferred``, with the row subjects it asked for: (rows, kind, digests).
Call = tuple[dict, dict, dict, list[tuple[np.ndarray, str, np.ndarray]]]


def _generate(rows: int, out_dir: str) -> None:
    from export_gate.samples.exports import generate

    generate("crm", rows, out_dir, seed=0, fmt="parquet", files=4, as_of=AS_OF)


def capture(files: list[str]) -> tuple[list[Call], list[ExportSubjects]]:
    """Scan ``files`` in this process, recording every ``subjects.inferred`` call and its result."""
    calls: list[Call] = []
    tables: list[ExportSubjects] = []
    inferred = people_rows.inferred

    def recording(
        role_masks: dict, rows: dict, digests: dict, row_subjects: subjects.RowSubjects, how: str
    ) -> ExportSubjects:
        named: list[tuple[np.ndarray, str, np.ndarray]] = []

        def recorded(at: np.ndarray, kind: str) -> np.ndarray:
            named.append((at.copy(), kind, row_subjects(at, kind)))
            return named[-1][2]

        tables.append(inferred(role_masks, rows, digests, recorded, how))
        calls.append((dict(role_masks), dict(rows), dict(digests), named))
        return tables[-1]

    people_rows.inferred = recording  # the batch's people are built by export_gate.people.rows
    try:
        scan.scan_paths(files, as_of=AS_OF, hasher=SubjectHasher(b"bench-union-key"), workers=1)
    finally:
        people_rows.inferred = inferred
    return calls, tables


def _replay(named: list[tuple[np.ndarray, str, np.ndarray]]) -> subjects.RowSubjects:
    recorded = iter(named)

    def row_subjects(rows: np.ndarray, kind: str) -> np.ndarray:
        at, was, digests = next(recorded)
        assert was == kind and np.array_equal(at, rows), "inferred asked for other row subjects than in the scan"
        return digests

    return row_subjects


def _same(a: ExportSubjects, b: ExportSubjects) -> bool:
    columns = ((a.high, b.high), (a.low, b.low), (a.roots, b.roots), (a.masks, b.masks))
    return all(np.array_equal(x, y) for x, y in columns)


def time_inferred(calls: list[Call], tables: list[ExportSubjects]) -> float:
    started = time.process_time()
    built = [subjects.inferred(masks, rows, digests, _replay(named)) for masks, rows, digests, named in calls]
    took = time.process_time() - started
    if not all(map(_same, built, tables)):
        raise SystemExit("subjects.inferred gave other tables than during the scan")
    return took


def time_merge(tables: list[ExportSubjects]) -> tuple[float, float, ExportSubjects]:
    started = time.process_time()
    merged = SubjectSet(tables[0].identified_by, partition_bits=SCAN_PARTITION_BITS)
    for table in tables:
        merged.update(table)
        scan._give_back_memory()
    updated = time.process_time()
    result = merged.result()
    return updated - started, time.process_time() - updated, result


def rekeyed(tables: list[ExportSubjects], copies: int) -> list[ExportSubjects]:
    """The tables, then ``copies - 1`` more copies with every digest XOR-ed with a key of the copy."""
    keys = np.random.default_rng(0).integers(0, 2**63, (copies, 2), dtype=np.int64).astype(np.uint64)
    out = list(tables)
    for high_key, low_key in keys[1:]:
        for table in tables:
            digests = np.column_stack([table.high ^ high_key, table.low ^ low_key])
            edges = np.column_stack([np.arange(len(table.roots)), table.roots.astype(np.int64)])
            out.append(build(digests, table.masks, edges, identified_by=table.identified_by))
    return out


def best(repeat: int, run: Callable[[], tuple]) -> tuple:
    """The run with the smallest first figure."""
    return min((run() for _ in range(repeat)), key=lambda figures: figures[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="CRM rows to generate (without --data)")
    parser.add_argument("--data", default=None, help="a folder of Parquet files to use instead")
    parser.add_argument("--copies", type=int, default=0, help="also merge the tables re-keyed this many times")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.data) if args.data else Path(tmp) / "crm"
        if not args.data:
            child = multiprocessing.get_context("spawn").Process(target=_generate, args=(args.rows, str(folder)))
            child.start()
            child.join()
            if child.exitcode:
                raise SystemExit(f"generating the export failed (exit {child.exitcode})")
        files = sorted(str(p) for p in folder.rglob("*.parquet"))
        started = time.process_time()
        calls, tables = capture(files)
        cpu = time.process_time() - started
        print(f"scanned {len(files)} files in one process: {len(calls)} batches, {cpu:.1f} s CPU")

    pairs = sum(len(words) for _, _, digests, _ in calls for words in digests.values())
    print(f"inferred: {best(args.repeat, lambda: (time_inferred(calls, tables),))[0]:.3f} s CPU ({pairs:,} pairs)")
    update, result, merged = best(args.repeat, lambda: time_merge(tables))
    identifiers = sum(len(table.roots) for table in tables)
    print(
        f"update:   {update:.3f} s CPU, result {result:.3f} s ({identifiers:,} identifiers in; "
        f"{len(merged.roots):,} distinct of {len(merged):,} people)"
    )
    if args.copies > 1:
        many = rekeyed(tables, args.copies)
        update, result, merged = time_merge(many)
        print(
            f"x{args.copies}:     update {update:.2f} s CPU, result {result:.2f} s "
            f"({len(merged.roots):,} identifiers of {len(merged):,} people)"
        )


if __name__ == "__main__":
    main()
