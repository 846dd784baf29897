"""How the people of partial results combine: a union over identifier digests, in arrays.

Parts (per batch, worker, file or partition of a distributed engine) are ``ExportSubjects`` tables: sorted
distinct digests, each pointing at its person's canonical (smallest) digest, masks at canonical entries. Two
identifiers in one part that belong to one person stay linked in the union, and the same identifier in two
parts joins their people, so however the data is split, the union is exactly the subjects of one pass.

Everything is numpy: digests are pairs of 64-bit words (``digest.pack_digests``), found by binary search,
joined by array-based connected components over a union-find forest of people. Ten million identifiers take
about 300 MB; adding a group of them costs a binary search each plus one copy of the digest columns, so
``SubjectSet`` collects parts and adds them in groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from export_gate.digest import digest_order, pack_digests, run_starts
from export_gate.model import ExportSubjects

#: Identifiers collected from parts before they are added in one go (temporary arrays of ~150 bytes each).
PENDING_IDENTIFIERS = 1 << 18
#: Partitions of a whole scan's subjects (2**6: ten million identifiers are 64 partitions of ~160,000, so
#: adding to one copies a few megabytes).
SCAN_PARTITION_BITS = 6
#: Index type of the columns: half the memory of int64, room for 2**31 identifiers.
INDEX = np.int32
_NO_EDGES = np.zeros((0, 2), dtype=np.int64)


def _unique(digests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct digests of (n, 2) words, in order; the index of each input digest among them)."""
    order = digest_order(digests[:, 0], digests[:, 1])
    ordered = digests[order]
    first = run_starts(ordered[:, 0], ordered[:, 1])
    inverse = np.empty(len(ordered), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def _locate(high: np.ndarray, low: np.ndarray, digests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted distinct ``digests``: (their index in the sorted columns ``high``, ``low``, -1 if absent; where
    each absent one would be inserted). Binary search on the high word; the low word settles equal high words."""
    left = np.searchsorted(high, digests[:, 0], side="left")
    run = np.searchsorted(high, digests[:, 0], side="right") - left
    found = np.full(len(digests), -1, dtype=np.int64)
    insert = left.copy()
    one = np.flatnonzero(run == 1)
    mine, there = digests[one, 1], low[left[one]]
    found[one[mine == there]] = left[one[mine == there]]
    insert[one] += mine > there
    for i in np.flatnonzero(run > 1).tolist():  # several digests share this high word: search their low words
        start, stop = int(left[i]), int(left[i] + run[i])
        at = start + int(np.searchsorted(low[start:stop], digests[i, 1]))
        insert[i] = at
        if at < stop and low[at] == digests[i, 1]:
            found[i] = at
    return found, insert


def _inserted(
    columns: tuple[np.ndarray, ...], at: np.ndarray, values: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, ...]:
    """Columns of one partition with ``values`` inserted before the sorted positions ``at`` (``np.insert``
    without its per-call sort of the positions, one slot mask for all columns)."""
    slots = at + np.arange(len(at))
    kept = np.ones(len(columns[0]) + len(at), dtype=bool)
    kept[slots] = False
    out = []
    for column, value in zip(columns, values, strict=True):
        grown = np.empty(len(kept), dtype=column.dtype)
        grown[kept] = column
        grown[slots] = value
        out.append(grown)
    return tuple(out)


def _grown(column: np.ndarray, more: np.ndarray) -> np.ndarray:
    """``column`` with ``more`` appended, grown in place where it can be (realloc: a large array is remapped,
    not copied, so growing never holds two copies of it)."""
    size = len(column)
    if column.base is not None:  # a view: not ours to resize
        return np.concatenate([column, more])
    column.resize(size + len(more), refcheck=False)  # the set holds the only reference to its columns
    column[size:] = more
    return column


def _drained(partitions: list[np.ndarray]) -> np.ndarray:
    """The partitions one after the other (in digest order), each freed once copied: never two copies of all."""
    out = np.empty(sum(map(len, partitions)), dtype=partitions[0].dtype)
    at = 0
    for i, part in enumerate(partitions):
        out[at : at + len(part)] = part
        at += len(part)
        partitions[i] = np.zeros(0, dtype=part.dtype)  # not part[:0]: a view would keep the partition alive
    return out


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


class SubjectSet:
    """Distinct people under union, as they arrive: ``add`` identifiers (or ``update`` with a part), then
    ``result``.

    Columns, one entry per distinct identifier digest in sorted order: its two words and its person (an id that
    never changes, so inserting digests moves nothing else). People form a union-find forest (``_parent``, by
    id) with their mask at the root. Canonical digests (a person's smallest) are chosen once, in ``result``.
    The columns are split into ``2 ** partition_bits`` partitions by the leading bits of the digest (keyed
    digests are uniform, so the partitions stay even): adding identifiers copies only the partitions they
    fall in, one at a time (a few megabytes each at ten million identifiers), never two copies of the whole
    table. About 30 bytes an identifier.
    Parts are collected and added in groups (``PENDING_IDENTIFIERS``).
    """

    def __init__(self, how: str, *, partition_bits: int = 0) -> None:
        self.identified_by = how
        self._bits = partition_bits
        count = 1 << partition_bits
        self._high = [np.zeros(0, dtype=np.uint64)] * count
        self._low = [np.zeros(0, dtype=np.uint64)] * count
        self._person = [np.zeros(0, dtype=INDEX)] * count
        self._parent = np.zeros(0, dtype=INDEX)
        self._mask = np.zeros(0, dtype=np.uint16)
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
            digests, masks, edges = _raw(self._pending)
            self._pending, self._pending_size = [], 0
            self.add(digests, masks, edges)

    def add(self, digests: np.ndarray, masks: np.ndarray, edges: np.ndarray = _NO_EDGES) -> None:
        """Add identifiers: ``digests`` (words, repeats allowed), what each says about its person (``masks``, 0
        for nothing), and ``edges`` (pairs of indices into ``digests``) that belong to one person."""
        distinct, inverse = _unique(digests)
        people = np.empty(len(distinct), dtype=INDEX)
        parts = distinct[:, 0] >> np.uint64(64 - self._bits) if self._bits else np.zeros(len(distinct), np.uint64)
        bounds = np.searchsorted(parts, np.arange((1 << self._bits) + 1, dtype=np.uint64)).tolist()
        first = next_person = len(self._parent)
        for part in np.flatnonzero(np.diff(bounds)).tolist():  # digests are sorted: each partition is a range
            start, stop = bounds[part], bounds[part + 1]
            chunk = distinct[start:stop]
            found, insert = _locate(self._high[part], self._low[part], chunk)
            known = found >= 0
            people[start:stop][known] = self._person[part][found[known]]
            new = np.flatnonzero(~known)
            if len(new):
                fresh = np.arange(next_person, next_person + len(new), dtype=np.int64)
                next_person += len(new)
                people[start + new] = fresh
                self._high[part], self._low[part], self._person[part] = _inserted(
                    (self._high[part], self._low[part], self._person[part]),
                    insert[new],
                    (chunk[new, 0], chunk[new, 1], fresh),
                )
        if next_person > np.iinfo(INDEX).max:
            raise ValueError("more than 2**31 distinct identifiers in one scan; scan the export in parts")
        if next_person > first:
            self._parent = _grown(self._parent, np.arange(first, next_person, dtype=INDEX))
            self._mask = _grown(self._mask, np.zeros(next_person - first, dtype=np.uint16))
        person = people[inverse]
        if len(edges):
            self._join(person[edges[:, 0]], person[edges[:, 1]])
        said = np.flatnonzero(masks)
        if len(said):
            np.bitwise_or.at(self._mask, self._find(person[said]), masks[said].astype(np.uint16))

    def _find(self, people: np.ndarray) -> np.ndarray:
        roots = self._parent[people]
        while True:
            up = self._parent[roots]
            if np.array_equal(up, roots):
                return roots
            roots = up

    def _join(self, a: np.ndarray, b: np.ndarray) -> None:
        """Make the people at both ends of each edge one person (their masks OR-ed at the new root)."""
        ra, rb = self._find(a), self._find(b)
        apart = ra != rb
        if not apart.any():
            return
        nodes, local = np.unique(np.concatenate([ra[apart], rb[apart]]), return_inverse=True)
        half = int(apart.sum())
        labels = components(len(nodes), local[:half], local[half:])
        moved = np.flatnonzero(labels != np.arange(len(nodes)))
        old, root = nodes[moved], nodes[labels[moved]]
        self._parent[old] = root
        np.bitwise_or.at(self._mask, root, self._mask[old])
        self._mask[old] = 0

    def result(self) -> ExportSubjects:
        """The people: each identifier points at its person's smallest digest, which holds the mask. Ends the set:
        its columns move into the result, each freed as soon as it is used."""
        self._flush()
        while True:  # compress the forest: every person points at its root
            up = self._parent[self._parent]
            if np.array_equal(up, self._parent):
                break
            self._parent = up
        high, low, person = (_drained(column) for column in (self._high, self._low, self._person))
        size = len(high)
        final = self._parent[person]  # each identifier's person (a root)
        del person
        person_masks = self._mask[self._parent]
        people = len(self._parent)
        del self._parent, self._mask  # the set is spent; its columns become the result
        canonical = np.full(people, size, dtype=INDEX)
        np.minimum.at(canonical, final, np.arange(size, dtype=INDEX))  # entries are in digest order
        masks = np.zeros(size, dtype=np.uint16)
        masks[canonical[canonical < size]] = person_masks[canonical < size]
        del person_masks
        roots = canonical[final]
        del final, canonical
        return ExportSubjects(high, low, roots, masks, self.identified_by)


def build(
    digests: np.ndarray, masks: np.ndarray, edges: np.ndarray = _NO_EDGES, *, identified_by: str
) -> ExportSubjects:
    """A table from identifiers (see ``SubjectSet.add``)."""
    subjects = SubjectSet(identified_by)
    subjects.add(digests, masks, edges)
    return subjects.result()


def _raw(parts: list[ExportSubjects]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tables as identifiers for ``SubjectSet.add``: every digest, its mask, and an edge to its canonical one."""
    offsets = np.cumsum([0, *(len(part.roots) for part in parts)]).tolist()
    edges = [
        np.column_stack([offset + np.flatnonzero(others), offset + part.roots[others].astype(np.int64)])
        for part, offset in zip(parts, offsets, strict=False)
        for others in [part.roots != np.arange(len(part.roots))]
    ]
    high = np.concatenate([part.high for part in parts])
    digests = np.column_stack([high, np.concatenate([part.low for part in parts])])
    return digests, np.concatenate([part.masks for part in parts]), np.concatenate(edges)


def merge(parts: Iterable[ExportSubjects], how: str) -> ExportSubjects:
    """The union of partial results, identical to what one pass over all the data gives."""
    subjects = SubjectSet(how, partition_bits=SCAN_PARTITION_BITS)
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
