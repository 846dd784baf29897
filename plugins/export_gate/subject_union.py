"""How the people of partial results combine: a union over identifier digests, in arrays.

Parts (per batch, worker, file or partition of a distributed engine) are ``ExportSubjects`` tables: sorted
distinct digests, each pointing at its person's canonical (smallest) digest, masks at canonical entries. Two
identifiers in one part that belong to one person stay linked in the union, and the same identifier in two
parts joins their people, so however the data is split, the union is exactly the subjects of one pass.

Everything is numpy: digests are pairs of 64-bit words (``digest.pack_digests``), found by binary search,
joined by array-based connected components. A table of ten million identifiers is about 260 MB, and adding a
part costs a search per new identifier plus one copy of the table's columns, so ``SubjectSet`` collects parts
and adds them in groups of about a million identifiers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from export_gate.digest import pack_digests
from export_gate.model import ExportSubjects

#: Identifiers collected from parts before they are added to the table in one go (about 40 MB of arrays).
PENDING_IDENTIFIERS = 1 << 20
_NO_EDGES = np.zeros((0, 2), dtype=np.int64)


def _order(digests: np.ndarray) -> np.ndarray:
    """The permutation sorting (n, 2) digest words: by the high word (one numpy sort), or by both words when two
    high words are equal (about one chance in 10^6 at ten million digests; then exact, not guessed)."""
    order = np.argsort(digests[:, 0])
    high = digests[order, 0]
    if len(high) > 1 and bool((high[1:] == high[:-1]).any()):
        order = np.lexsort((digests[:, 1], digests[:, 0]))
    return order


def _unique(digests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct digests in order, the index of each input digest among them)."""
    order = _order(digests)
    ordered = digests[order]
    first = np.ones(len(ordered), dtype=bool)
    first[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    inverse = np.empty(len(ordered), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def _locate(table: np.ndarray, digests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted distinct ``digests``: (their index in the sorted ``table``, -1 if absent; where each absent
    one would be inserted). Binary search on the high word; the low word settles equal high words."""
    left = np.searchsorted(table[:, 0], digests[:, 0], side="left")
    run = np.searchsorted(table[:, 0], digests[:, 0], side="right") - left
    found = np.full(len(digests), -1, dtype=np.int64)
    insert = left.copy()
    one = np.flatnonzero(run == 1)
    low, there = digests[one, 1], table[left[one], 1]
    found[one[low == there]] = left[one[low == there]]
    insert[one] += low > there
    for i in np.flatnonzero(run > 1).tolist():  # several table digests share this high word: search their lows
        start, stop = int(left[i]), int(left[i] + run[i])
        at = start + int(np.searchsorted(table[start:stop, 1], digests[i, 1]))
        insert[i] = at
        if at < stop and table[at, 1] == digests[i, 1]:
            found[i] = at
    return found, insert


def components(size: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of the graph with nodes 0..size-1 and edges (a[i], b[i]): each node's label is
    the smallest node of its component. Array work (hooking roots onto smaller roots, then pointer jumping),
    a few rounds for the shallow graphs identifiers make."""
    labels = np.arange(size, dtype=np.int64)
    while True:
        la, lb = labels[a], labels[b]
        if np.array_equal(la, lb):
            return labels
        low = np.minimum(la, lb)
        np.minimum.at(labels, la, low)
        np.minimum.at(labels, lb, low)
        while True:
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped


def absorb(
    table: ExportSubjects, digests: np.ndarray, masks: np.ndarray, edges: np.ndarray = _NO_EDGES
) -> ExportSubjects:
    """``table`` with more identifiers added: ``digests`` (words, repeats allowed), what each says about its
    person (``masks``, 0 for nothing), and ``edges`` (pairs of indices into ``digests``) that belong to one
    person. The returned table replaces ``table`` (its arrays are not copied when nothing is new)."""
    distinct, inverse = _unique(digests)
    found, insert = _locate(table.digests, distinct)
    new = found < 0
    added = int(new.sum())
    known_digests, roots, person_masks = table.digests, table.roots, table.masks
    if added:
        at = insert[new]
        placed = at + np.arange(added)
        # an old entry moves up by the number of new entries inserted at or before it
        roots = np.insert(roots + np.searchsorted(at, roots, side="right"), at, placed)
        known_digests = np.insert(known_digests, at, distinct[new], axis=0)
        person_masks = np.insert(person_masks, at, 0)
        position = np.empty(len(distinct), dtype=np.int64)
        position[new] = placed
        position[~new] = found[~new] + np.searchsorted(at, found[~new], side="right")
    else:
        position = found
    entry = position[inverse]
    if len(edges):
        a, b = roots[entry[edges[:, 0]]], roots[entry[edges[:, 1]]]
        apart = a != b
        if apart.any():
            nodes, local = np.unique(np.concatenate([a[apart], b[apart]]), return_inverse=True)
            labels = components(len(nodes), local[: int(apart.sum())], local[int(apart.sum()) :])
            moved = np.flatnonzero(labels != np.arange(len(nodes)))
            old, merged = nodes[moved], nodes[labels[moved]]
            if not added:  # the arrays are still the caller's: copy before writing
                roots, person_masks = roots.copy(), person_masks.copy()
            np.bitwise_or.at(person_masks, merged, person_masks[old])
            person_masks[old] = 0
            relabel = np.arange(len(roots), dtype=np.int64)
            relabel[old] = merged
            roots = relabel[roots]
    said = np.flatnonzero(masks)
    if len(said):
        if person_masks is table.masks:
            person_masks = person_masks.copy()
        np.bitwise_or.at(person_masks, roots[entry[said]], masks[said].astype(np.uint16))
    return ExportSubjects(known_digests, roots, person_masks, table.identified_by)


def build(
    digests: np.ndarray, masks: np.ndarray, edges: np.ndarray = _NO_EDGES, *, identified_by: str
) -> ExportSubjects:
    """A table from identifiers (see ``absorb``)."""
    return absorb(ExportSubjects(identified_by=identified_by), digests, masks, edges)


def _raw(parts: list[ExportSubjects]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tables as identifiers for ``absorb``: every digest, its mask, and an edge to its canonical digest."""
    offsets = np.cumsum([0, *(len(part.roots) for part in parts)])
    edges = [
        np.column_stack([offset + np.flatnonzero(others), offset + part.roots[others]])
        for part, offset in zip(parts, offsets.tolist(), strict=False)
        for others in [part.roots != np.arange(len(part.roots))]
    ]
    return (
        np.concatenate([part.digests for part in parts]),
        np.concatenate([part.masks for part in parts]),
        np.concatenate(edges),
    )


class SubjectSet:
    """The union of parts as they arrive (``update``), then the table (``result``). Parts are collected and
    added about a million identifiers at a time: memory stays near the size of the table itself."""

    def __init__(self, how: str) -> None:
        self.identified_by = how
        self._table = ExportSubjects(identified_by=how)
        self._pending: list[ExportSubjects] = []
        self._pending_size = 0

    def update(self, part: ExportSubjects) -> None:
        """Merge a partial result in (union)."""
        if part.identified_by != self.identified_by:
            raise ValueError(f"cannot merge subjects identified by {part.identified_by!r} into {self.identified_by!r}")
        self._pending.append(part)
        self._pending_size += len(part.roots)
        if self._pending_size >= PENDING_IDENTIFIERS:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._table = absorb(self._table, *_raw(self._pending))
            self._pending, self._pending_size = [], 0

    def result(self) -> ExportSubjects:
        """The people of every part so far."""
        self._flush()
        return self._table


def merge(parts: Iterable[ExportSubjects], how: str) -> ExportSubjects:
    """The union of partial results, identical to what one pass over all the data gives."""
    subjects = SubjectSet(how)
    for part in parts:
        subjects.update(part)
    return subjects.result()


def from_mapping(
    masks: Mapping[bytes, int],
    aliases: Mapping[bytes, bytes] | None = None,
    *,
    identified_by: str = "strong_identifiers",
) -> ExportSubjects:
    """A table from digest -> mask and identifier digest -> another identifier digest of the same person (for
    callers holding a few digests, and tests). The canonical digest of a person is their smallest one."""
    aliases = aliases or {}
    digests = pack_digests([*masks, *aliases, *aliases.values()])
    values = np.zeros(len(digests), dtype=np.uint16)
    values[: len(masks)] = list(masks.values())
    first, count = len(masks), len(aliases)
    edges = np.column_stack([np.arange(first, first + count), np.arange(first + count, first + 2 * count)])
    return build(digests, values, edges.astype(np.int64), identified_by=identified_by)
