"""The memory budget (issue 16): a setting, the workers and batches in flight it allows, and the subject table
spilled to disk past its share: the same people as in memory, keyed digests only on disk, in a private folder
that is gone when the merge ends (also when it fails)."""

from __future__ import annotations

import stat
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from export_gate.detection.detect import Detector
from export_gate.engine.budget import BUDGET_ENV, MemoryBudget
from export_gate.engine.local import Job, Partial, merge_partials, scan_batch, scan_table
from export_gate.errors import ConfigError
from export_gate.model import ExportSubjects, mask_of
from export_gate.people import union
from export_gate.people.digest import SubjectHasher
from export_gate.people.subjects import STRONG_IDENTIFIERS
from export_gate.people.union import SubjectSet, build
from export_gate.reading import read
from faker import Faker

AS_OF = date(2026, 6, 30)
HASHER = SubjectHasher(b"test-key-0123456789abcdef")


def _people(count: int) -> list[tuple[str, str]]:
    fake = Faker("zh_CN")
    fake.seed_instance(16)
    return [(fake.phone_number(), fake.email()) for _ in range(count)]


def _parts(people: list[tuple[str, str]], count: int) -> Iterator[ExportSubjects]:
    """Parts naming random people by mobile and e-mail (linked: one person), some medical, overlapping."""
    rng = np.random.default_rng(5)
    medical, personal = mask_of(("medical_health",)), mask_of(())
    for _ in range(count):
        chosen = rng.choice(len(people), size=400, replace=False)
        typed = [("CN_MOBILE", people[i][0]) for i in chosen] + [("EMAIL_ADDRESS", people[i][1]) for i in chosen]
        masks = np.where(rng.random(len(typed)) < 0.1, medical, personal).astype(np.uint16)
        edges = np.column_stack([np.arange(400), np.arange(400) + 400]).astype(np.int64)
        yield build(HASHER.digests(typed), masks, edges, identified_by=STRONG_IDENTIFIERS)


def _same(a: ExportSubjects, b: ExportSubjects) -> None:
    for column in ("high", "low", "roots", "masks"):
        assert np.array_equal(getattr(a, column), getattr(b, column)), column


def test_a_spilled_table_gives_the_same_people_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(union, "PENDING_IDENTIFIERS", 2000)  # many flushes, most of them after the spill
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    people = _people(3000)
    in_memory = SubjectSet(STRONG_IDENTIFIERS, partition_bits=3)
    spilled = SubjectSet(STRONG_IDENTIFIERS, partition_bits=3, spill_bytes=10_000)
    seen_on_disk: list[bytes] = []
    for part in _parts(people, 40):
        in_memory.update(part)
        spilled.update(part)
        for folder in tmp_path.glob("export-gate-subjects-*"):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700
            seen_on_disk += [file.read_bytes() for file in folder.iterdir()]
    assert spilled.spilled and not in_memory.spilled
    assert seen_on_disk, "the table never reached the disk: the test would prove nothing"
    _same(spilled.result(), in_memory.result())
    assert not list(tmp_path.iterdir()), "the spill folder must be removed"
    for mobile, email in people[:200]:  # keyed digests only: no identifier in any form
        for content in seen_on_disk:
            assert mobile.encode() not in content and email.encode() not in content


def test_a_merge_that_fails_removes_its_spill_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(union, "PENDING_IDENTIFIERS", 500)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    detector, job = Detector(), Job(hasher=HASHER, as_of=AS_OF)
    mobiles = [mobile for mobile, _ in _people(3000)]
    batches = list(read.table_batches(pa.table({"手机号": mobiles}), name="t", batch_rows=300))
    plans = {leaf.name: detector.plan(leaf.name, leaf.values.type, leaf.values) for leaf in batches[0].columns}

    def parts() -> Iterator[Partial]:
        for batch in batches[:6]:
            yield scan_batch(batch, plans, job, detector)
        assert list(tmp_path.glob("export-gate-subjects-*")), "spilled by now"
        raise OSError("the disk is full")

    with pytest.raises(OSError, match="disk is full"):
        merge_partials(parts(), STRONG_IDENTIFIERS, spill_bytes=1)
    assert not list(tmp_path.iterdir())


def test_a_scan_under_the_smallest_budget_counts_the_same() -> None:
    mobiles = [mobile for mobile, _ in _people(2000)]
    table = pa.table({"mobile": mobiles, "note": ["已付款"] * len(mobiles)})
    small = scan_table(table, as_of=AS_OF, hasher=HASHER, workers=2, memory_budget=MemoryBudget(256 << 20))
    default = scan_table(table, as_of=AS_OF, hasher=HASHER, workers=2)
    assert small.report == default.report


@pytest.mark.parametrize(
    ("text", "total"),
    [("", 1 << 30), ("1GiB", 1 << 30), ("768MiB", 768 << 20), ("536870912", 512 << 20), ("1.5 GiB", 3 << 29)],
)
def test_the_budget_is_a_setting(monkeypatch: pytest.MonkeyPatch, text: str, total: int) -> None:
    monkeypatch.setenv(BUDGET_ENV, text)
    assert MemoryBudget.from_env().total == total


@pytest.mark.parametrize("text", ["lots", "1GB", "100MiB", "-1"])
def test_a_budget_that_cannot_hold_a_scan_is_refused(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv(BUDGET_ENV, text)
    with pytest.raises(ConfigError, match=BUDGET_ENV):
        MemoryBudget.from_env()


def test_the_budget_caps_workers_and_batches_in_flight() -> None:
    one_gib = MemoryBudget()
    assert one_gib.workers(2) == 2 and one_gib.in_flight(2, 2) == 4  # what this 2-core machine always ran
    assert one_gib.workers(16) == 3  # 16 cores, 1 GiB: three workers fit
    assert MemoryBudget(4 << 30).workers(16) == 12
    smallest = MemoryBudget(256 << 20)
    assert smallest.workers(8) == 1 and smallest.in_flight(1, 2) == 1
    assert one_gib.subject_bytes == 128 << 20
