"""The scan engine: read -> plan -> detect -> subjects, over every cell of every row, on all cores.

The CLI and the Airflow operator call ``scan_paths`` (files, folders, globs, fsspec URLs), ``scan_table`` (a
pandas or Arrow table) or ``scan_batches`` (what both call). A distributed run calls the same pieces per
partition: ``scan_batch`` -> ``Partial``, ``merge_partials`` (union) and ``finish`` (the report).

How the work is split: the main process reads Arrow batches and chooses each column's plan from the first
batch that holds the column (a sample decides which detectors a column needs; counts always come from all
rows). Worker processes detect and turn each batch into a partial result: per-column tallies plus the
batch's subjects (keyed digests). Partial results merge by union, so the order and the split do not change
the outcome. Nothing raw leaves a worker: digests, counts and (only when asked) masked examples.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib
import itertools
import logging
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date
from multiprocessing import get_all_start_methods, get_context
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from export_gate.detection.detect import ColumnPlan, Detector, DetectorSettings, Findings
from export_gate.engine.budget import MemoryBudget
from export_gate.engine.handoff import Handoff, Parcel
from export_gate.errors import GateError, InputError
from export_gate.model import CATEGORY_BITS, ExportSubjects, SubjectBatches, mask_of
from export_gate.people.digest import SubjectHasher
from export_gate.people.roles import inferred_roles, person_key_role, role_of
from export_gate.people.rows import ANCHOR_ENTITIES, BatchPeople
from export_gate.people.subjects import identified_by
from export_gate.people.union import SCAN_PARTITION_BITS, SubjectSet
from export_gate.reading import read
from export_gate.reading.names import ColumnNames
from export_gate.reporting.report import (
    EXAMPLES_PER_COLUMN,
    MAX_EXAMPLE_CELL,
    Tally,
    build_report,
    mask_identifier,
    mask_text,
)

log = logging.getLogger(__name__)

#: Values of the first batch holding a column that choose its plan.
SAMPLE_VALUES = 1000
#: prctl option: signal this process when its parent dies (linux/prctl.h).
_PR_SET_PDEATHSIG = 1
#: Batches in flight per worker: enough to keep every core busy, few enough to keep memory flat.
IN_FLIGHT_PER_WORKER = 2


@dataclass
class ScanResult:
    """A scan's outcome: the JSON-ready report (no raw values) and the people found, as digests."""

    report: dict
    subjects: ExportSubjects | SubjectBatches  # the Spark engine's stay in Spark until the ledger reads them


@dataclass(frozen=True)
class Job:
    """What every worker needs to turn a batch into a partial result; fixed for the whole scan."""

    hasher: SubjectHasher
    as_of: date
    subject_keys: tuple[str, ...] = ()
    settings: DetectorSettings = field(default_factory=DetectorSettings)
    show_examples: bool = False


@dataclass
class Partial:
    """The result of scanning part of an export (``scan_batch``). Parts merge by union (``merge_partials``)."""

    tally: Tally
    subjects: ExportSubjects | SubjectBatches


class _Findings:
    """What one column of one batch adds to the partial result, from the detector's ``Findings`` with numpy
    only: per-row masks, cells per entity and category, and (row, digest) for every strong identifier. Groups
    (equal values) are worked on once and spread over their rows; Python touches only each identifier's keyed digest."""

    def __init__(self, found: Findings, hasher: SubjectHasher, with_identifiers: bool) -> None:
        self.found = found
        self._starts = starts = found.group_starts()
        present = np.flatnonzero(np.bincount(found.hit_kind, minlength=len(found.kinds))).tolist()
        entity_codes = {entity: i for i, entity in enumerate(dict.fromkeys(found.kinds[k][0] for k in present))}
        kind_masks = np.zeros(len(found.kinds), dtype=np.int64)
        kind_entities = np.zeros(len(found.kinds), dtype=np.uint64)
        for k in present:
            entity, categories = found.kinds[k]
            kind_masks[k], kind_entities[k] = mask_of(categories), entity_codes[entity]
        # per group: masks OR-ed, entities as bits (a cell with two mobiles counts once); per row by its group
        group_masks = np.bitwise_or.reduceat(kind_masks[found.hit_kind], starts) if len(starts) else kind_masks[:0]
        entity_bits = np.left_shift(np.uint64(1), kind_entities[found.hit_kind])
        group_entities = np.bitwise_or.reduceat(entity_bits, starts) if len(starts) else entity_bits
        self.masks = group_masks.astype(np.uint16)[found.groups]
        # per row: whether a finding says someone is there (a name, a birth date, a strong identifier)
        kind_anchors = np.array([entity in ANCHOR_ENTITIES for entity, _ in found.kinds], dtype=bool)
        hit_anchors = kind_anchors[found.hit_kind] | found.identifiers.is_valid().to_numpy(zero_copy_only=False)
        group_anchors = np.logical_or.reduceat(hit_anchors, starts) if len(starts) else hit_anchors
        self.anchors = group_anchors[found.groups]
        weight = np.bincount(found.groups, minlength=len(starts))
        self.entity_cells = {
            name: int(weight[(group_entities >> np.uint64(code)) & np.uint64(1) == 1].sum())
            for name, code in entity_codes.items()
        }
        self.category_cells = {
            name: int(weight[(group_masks & bit) != 0].sum())
            for name, bit in CATEGORY_BITS.items()
            if (group_masks & bit).any()
        }
        # strong identifiers: one digest per identifier finding of a group, hashed per kind of identifier
        self._with = np.flatnonzero(found.identifiers.is_valid().to_numpy(zero_copy_only=False))
        self.digests = np.zeros((len(self._with), 2), dtype=np.uint64)
        if with_identifiers and len(self._with):
            entities = kind_entities[found.hit_kind[self._with]]
            for name, code in entity_codes.items():
                mine = np.flatnonzero(entities == code)
                if len(mine):
                    values = found.identifiers.take(pa.array(self._with[mine]))
                    self.digests[mine] = hasher.digests_of(name, values)

    def identifier_pairs(self, batch_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, identifier digest) for every identifier found on every row of this column."""
        groups = self.found.groups
        if len(self._with) == len(self._starts) == len(self.found.hit_group):  # one identifier per value
            return batch_rows, self.digests[groups]
        per_group = np.bincount(self.found.hit_group[self._with], minlength=len(self._starts))
        start = np.cumsum(per_group) - per_group
        count = per_group[groups]
        rows = np.repeat(batch_rows, count)
        within = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
        index = np.repeat(start[groups], count) + within
        return rows, self.digests[index]

    def examples(self, values: pa.Array) -> list[str]:
        """Masked examples, one value at a time in row order: identifiers found, or short cells; never more than
        a report shows."""
        found = self.found
        bounds = [*self._starts.tolist(), len(found.hit_group)]
        _, first = np.unique(found.groups, return_index=True)  # each group's first row (an index into rows)
        masked: list[str] = []
        for group in np.argsort(first).tolist():
            if len(masked) >= EXAMPLES_PER_COLUMN:
                break
            a, b = bounds[group], bounds[group + 1]
            kinds = found.hit_kind[a:b].tolist()
            identifiers = [
                mask_identifier(found.kinds[k][0], identifier)
                for k, identifier in zip(kinds, found.identifiers.slice(a, b - a).to_pylist(), strict=True)
                if identifier
            ]
            if identifiers:
                masked.extend(identifiers)
            else:
                cell = values[int(found.rows[first[group]])].as_py()
                if isinstance(cell, str) and len(cell) <= MAX_EXAMPLE_CELL:
                    masked.append(mask_text(cell))
        return masked


def key_values(batch: read.Batch, subject_keys: Sequence[str]) -> dict[str, list[object]]:
    """Each subject key column's values; InputError naming the source when a key is missing, repeated or inside a
    list. The Spark engine checks its frame's (empty) schema batch with it too, so both engines refuse alike."""
    by_name = {leaf.name: leaf for leaf in batch.columns}
    values: dict[str, list[object]] = {}
    for key in subject_keys:
        copies = sum(leaf.name == key for leaf in batch.columns)
        if copies > 1:  # a CSV header may repeat a name; which copy holds the person is a guess: refuse it
            raise InputError(
                f"{batch.source}: subject key column {key!r} appears {copies} times; give each column its own "
                "name (or drop the copies) and scan again"
            )
        leaf = by_name.get(key)
        if leaf is None:
            raise InputError(
                f"{batch.source}: subject key column {key!r} is not in the data "
                f"(columns: {', '.join(sorted(by_name)) or 'none'}); name a top-level column with --subject-key"
            )
        if leaf.rows is not None:
            raise InputError(
                f"{batch.source}: subject key column {key!r} is inside a list; a subject key must hold one "
                "value per row"
            )
        values[key] = leaf.values.to_pylist()
    return values


def scan_batch(batch: read.Batch, plans: dict[str, ColumnPlan], job: Job, detector: Detector) -> Partial:
    """Detect every cell of one batch and turn the findings into a partial result."""
    n = batch.num_rows
    keys = job.subject_keys
    keys_of_rows = key_values(batch, keys)  # before detecting: a missing key column fails at once
    tally = Tally(rows=n)
    roles = (
        {leaf.name: role_of(leaf.name, keys) for leaf in batch.columns}
        if keys
        else inferred_roles(leaf.name for leaf in batch.columns)
    )
    people = BatchPeople.of(n, roles.values(), keys)
    found_rows: dict[str, np.ndarray] = {}  # rows of each column with findings, for the unanchored tally
    for leaf in batch.columns:
        plan = plans[leaf.name]
        col = tally.column(leaf.name)
        col.kind, col.reason = plan.kind, plan.reason
        col.cells += len(leaf.values) - leaf.values.null_count
        role = roles[leaf.name]
        if not keys and leaf.rows is None and person_key_role(leaf.name) is not None:
            people.add_person_key(role, leaf.values)
        found = detector.detect(plan, leaf.values, job.as_of)
        if not len(found):
            continue
        findings = _Findings(found, job.hasher, with_identifiers=people.needs_identifiers)
        batch_rows = found.rows if leaf.rows is None else np.asarray(leaf.rows)[found.rows]
        found_rows[leaf.name] = batch_rows
        people.add(role, batch_rows, findings.masks, findings.anchors, distinct=leaf.rows is None)
        if plan.kind == "person_name" and leaf.rows is None:
            people.add_names(role, leaf.values)
        for mine, cells in ((col.entities, findings.entity_cells), (col.categories, findings.category_cells)):
            for name, count in cells.items():
                mine[name] = mine.get(name, 0) + count
        if job.show_examples:
            col.add_examples(findings.examples(leaf.values))
        if people.needs_identifiers:
            people.add_identifiers(role, *findings.identifier_pairs(batch_rows))

    def row_subjects(rows: np.ndarray, kind: str) -> np.ndarray:
        numbers = pc.cast(pa.array(rows + batch.row_offset, pa.int64()), pa.string())
        return job.hasher.digests_of(kind, pc.binary_join_element_wise(f"{batch.source}#", numbers, ""))

    subjects, unanchored = people.people(
        keys_of_rows, row_subjects, job.hasher, count_unanchored=job.settings.count_unanchored
    )
    for column, rows in found_rows.items():
        nobody = unanchored.get(roles[column])
        if nobody is not None:
            tally.column(column).unanchored += int(np.count_nonzero(nobody[rows]))
    return Partial(tally, subjects)


# --- worker processes ------------------------------------------------------------------------------------

_worker: tuple[Job, Detector, Handoff] | None = None


def _start_method() -> tuple[str, bool]:
    """``fork`` where the platform has it: workers start at once, share the parent's loaded models (spaCy,
    term lists) copy-on-write instead of loading their own, and never re-import the caller's ``__main__``
    (which breaks scripts without a ``__main__`` guard under spawn). Elsewhere ``spawn``."""
    return ("fork", True) if "fork" in get_all_start_methods() else ("spawn", False)


def _die_with_parent(parent: int) -> None:
    """On Linux, ask the kernel to stop this worker when the scanning process dies (an Airflow task killed
    with SIGTERM must not leave workers burning CPU); elsewhere workers end when their queue closes."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _init_worker(job: Job, detector: Detector | None, parent: int, handoff: Handoff) -> None:
    global _worker
    _die_with_parent(parent)
    _worker = (job, detector if detector is not None else Detector(job.settings), handoff)


def _work(parcel: Parcel, plans: dict[str, ColumnPlan]) -> Partial:
    assert _worker is not None, "worker process was not initialised"
    job, detector, handoff = _worker
    batch = cast(read.Batch, handoff.unpack(parcel))
    try:
        return scan_batch(batch, plans, job, detector)
    finally:
        del batch  # views of the shared slot, which the scanning process reuses once this result is back
        _give_back_memory()


def _give_back_memory() -> None:
    """Return the memory Arrow's allocator keeps after a batch (about 100 MB a process here) to the operating
    system, which would otherwise make a long scan look and count larger than it is. glibc's heap is left to
    itself: trimming it after every batch measured the same peak and cost 0.3 s of page faults per 1M rows."""
    pa.default_memory_pool().release_unused()


def _planned(batches: Iterable[read.Batch], detector: Detector) -> Iterator[tuple[read.Batch, dict[str, ColumnPlan]]]:
    """Each batch with the plans of its columns; a column is planned from the first batch that holds it."""
    plans: dict[str, ColumnPlan] = {}
    for batch in batches:
        for leaf in batch.columns:
            if leaf.name not in plans:
                plans[leaf.name] = detector.plan(leaf.name, leaf.values.type, leaf.values.slice(0, SAMPLE_VALUES))
        yield batch, {leaf.name: plans[leaf.name] for leaf in batch.columns}


def _partials(
    planned: Iterator[tuple[read.Batch, dict[str, ColumnPlan]]],
    job: Job,
    detector: Detector,
    workers: int,
    in_flight: int,
) -> Iterator[Partial]:
    """Partial results, computed in this process for one batch or one worker, else in a process pool with at
    most ``in_flight`` batches handed out and not yet merged."""
    first = next(planned, None)
    if first is None:
        return
    second = next(planned, None)
    everything = itertools.chain([first] if second is None else [first, second], planned)
    if second is None or workers <= 1:
        for batch, plans in everything:
            yield scan_batch(batch, plans, job, detector)
        return
    method, inherits = _start_method()
    if inherits:
        gc.freeze()  # objects loaded so far stay shared with the forked workers instead of being copied by GC
    handoff = Handoff(in_flight if inherits else 0)  # forked workers inherit the shared slots
    pool = ProcessPoolExecutor(
        workers,
        mp_context=get_context(method),
        initializer=_init_worker,
        initargs=(job, detector if inherits else None, os.getpid(), handoff),
    )
    pending: deque[tuple[Future[Partial], Parcel]] = deque()

    def done() -> Partial:
        future, parcel = pending.popleft()
        result = future.result()
        handoff.release(parcel)
        return result

    try:
        for batch, plans in everything:
            parcel = handoff.pack(batch)
            pending.append((pool.submit(_work, parcel, plans), parcel))
            if len(pending) >= in_flight:
                yield done()
        while pending:
            yield done()
    except BrokenProcessPool as exc:
        raise GateError(
            "a scan worker process died (out of memory or killed); rerun with fewer workers or more memory"
        ) from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        gc.unfreeze()


def scan_batches(
    batches: Iterable[read.Batch],
    *,
    as_of: date,
    hasher: SubjectHasher,
    subject_keys: Sequence[str] = (),
    settings: DetectorSettings | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    show_examples: bool = False,
    files: Sequence[str] = (),
    source_fingerprint: str | None = None,
    memory_budget: MemoryBudget | None = None,
) -> ScanResult:
    """Scan every cell of ``batches`` and count the people in them (see the module docstring). The memory
    budget (default: ``MemoryBudget.from_env()``) caps the workers and the batches in flight and sets when the
    subject table spills to disk."""
    settings = settings or DetectorSettings()
    budget = memory_budget or MemoryBudget.from_env()
    workers = budget.workers(workers or os.cpu_count() or 1)
    keys = tuple(dict.fromkeys(subject_keys))
    job = Job(hasher=hasher, as_of=as_of, subject_keys=keys, settings=settings, show_examples=show_examples)
    detector = Detector(settings)
    screened = map(ColumnNames(detector, hasher, as_of).screened, batches)  # names hold data too
    merged = merge_partials(
        _partials(
            _planned(screened, detector), job, detector, workers, budget.in_flight(workers, IN_FLIGHT_PER_WORKER)
        ),
        identified_by(keys),
        progress,
        spill_bytes=budget.subject_bytes,
    )
    return finish(merged, job, detector.version, files=files, source_fingerprint=source_fingerprint)


def merge_partials(
    parts: Iterable[Partial],
    how: str,
    progress: Callable[[int], None] | None = None,
    *,
    spill_bytes: int | None = None,
) -> Partial:
    """The union of partial results (per batch, file, worker or partition of a distributed engine): the
    same tallies and people as one pass. ``how`` is the parts' ``identified_by``. Past ``spill_bytes`` the
    subject table is kept on disk (keyed digests only, in a private folder removed when the merge ends)."""
    tally = Tally()
    subjects = SubjectSet(how, partition_bits=SCAN_PARTITION_BITS, spill_bytes=spill_bytes)
    try:
        for part in parts:
            tally.merge(part.tally)
            subjects.update(part.subjects)
            _give_back_memory()
            if progress is not None:
                progress(part.tally.rows)
        if subjects.spilled:
            log.info("the subject table passed its %d MiB share and was kept on disk", (spill_bytes or 0) >> 20)
        return Partial(tally, subjects.result())
    finally:
        subjects.close()


def finish(
    merged: Partial, job: Job, detector_version: str, *, files: Sequence[str] = (), source_fingerprint: str | None
) -> ScanResult:
    """The report of a whole export from its merged partial result."""
    counts = merged.subjects.counts()
    log.info(
        "scanned %d rows, %d columns: %d people with personal information, %d with sensitive (%s)",
        merged.tally.rows,
        len(merged.tally.columns),
        counts.personal,
        counts.sensitive,
        merged.subjects.identified_by,
    )
    report = build_report(
        tally=merged.tally,
        counts=counts,
        identified_by=merged.subjects.identified_by,
        files=list(files),
        source_fingerprint=source_fingerprint,
        as_of=job.as_of,
        detector_version=detector_version,
        identity_document_sensitive=job.settings.identity_document_sensitive,
        show_examples=job.show_examples,
        count_unanchored=job.settings.count_unanchored,
    )
    return ScanResult(report=report, subjects=merged.subjects)


def scan_paths(
    paths: Sequence[str], *, fmt: str | None = None, encoding: str | None = None, **options: Any
) -> ScanResult:
    """Scan files, folders, globs or fsspec URLs (Parquet, CSV, JSON Lines). Keywords as ``scan_batches``.

    The source fingerprint reads every byte once more (about a second a gigabyte). A thread hashes while the
    scan runs (file reads and hashlib release the GIL), so the workers do not wait for it to start. Both check
    each file against what it was when the scan started (``read.Watch``), and every file is checked again at
    the end: a file that changed during the scan is an InputError, so the fingerprint is of the bytes parsed."""
    files = read.resolve(paths, fmt=fmt)
    watch = read.Watch(files)
    with ThreadPoolExecutor(1, thread_name_prefix="export-gate-fingerprint") as hashing:
        fingerprint = hashing.submit(read.fingerprint, files, watch=watch)
        batches = read.read_batches(files, fmt=fmt, encoding=encoding, watch=watch)
        result = scan_batches(batches, files=files, **options)
        result.report["source_fingerprint"] = fingerprint.result()
    watch.check_all()
    return result


def _fingerprinted(batches: Iterable[read.Batch], digest: Any) -> Iterator[read.Batch]:
    """Pass batches through while hashing their content (each leaf column as Arrow IPC, which is the same
    however the rows are sliced), for a table that has no file to fingerprint."""
    for batch in batches:
        for leaf in batch.columns:
            digest.update(leaf.name.encode() + b"\0")
            digest.update(pa.RecordBatch.from_arrays([leaf.values], ["v"]).serialize())
        yield batch


def scan_table(data: object, *, name: str = "<table>", **options: Any) -> ScanResult:
    """Scan a pandas DataFrame, an Arrow table or record batch reader. Keywords as ``scan_batches``; the
    source fingerprint is SHA-256 over the table's content."""
    digest = hashlib.sha256()
    result = scan_batches(_fingerprinted(read.table_batches(data, name=name), digest), files=[name], **options)
    result.report["source_fingerprint"] = "sha256:" + digest.hexdigest()
    return result
