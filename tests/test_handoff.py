"""Batches cross to forked workers through shared slots: the same data arrives, only a small header goes
through the pipe, and whatever does not fit takes the pipe whole."""

from __future__ import annotations

import multiprocessing

import pyarrow as pa
from export_gate.engine.handoff import Handoff, Parcel

BATCH = pa.record_batch({"mobile": [f"1381234{i:04d}" for i in range(5000)], "n": list(range(5000))})


def _in_child(handoff: Handoff, parcel: Parcel, results: multiprocessing.Queue) -> None:
    batch = handoff.unpack(parcel)
    results.put(pa.RecordBatch.equals(batch, BATCH))


def test_a_forked_worker_rebuilds_the_batch_from_the_shared_slot() -> None:
    handoff = Handoff(2, slot_bytes=1 << 20)
    parcel = handoff.pack(BATCH)
    assert parcel.slot == 0
    assert len(parcel.pickled) < 2_000 < BATCH.nbytes  # the buffers are not in what the pipe carries
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_in_child, args=(handoff, parcel, results))
    child.start()
    assert results.get(timeout=60) is True
    child.join(60)
    assert child.exitcode == 0


def test_slots_are_reused_only_after_release_and_overflow_takes_the_pipe() -> None:
    handoff = Handoff(1, slot_bytes=1 << 20)
    first = handoff.pack(BATCH)
    second = handoff.pack(BATCH)  # the only slot is taken
    assert (first.slot, second.slot) == (0, None)
    assert handoff.unpack(second).equals(BATCH)
    handoff.release(first)
    assert handoff.pack(BATCH).slot == 0
    big = pa.record_batch({"text": ["x" * 1000] * 2000})  # 2 MB: larger than a slot
    too_big = Handoff(1, slot_bytes=1 << 20).pack(big)
    assert too_big.slot is None and Handoff(0).unpack(too_big).equals(big)


def test_without_shared_memory_everything_takes_the_pipe() -> None:
    parcel = Handoff(0).pack(BATCH)
    assert parcel.slot is None and Handoff(0).unpack(parcel).equals(BATCH)
