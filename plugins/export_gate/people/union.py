"""How the people of partial results combine: a union over identifier digests, in arrays.

Parts (per batch, worker, file or partition of a distributed engine) are ``ExportSubjects`` tables: sorted
distinct digests, each pointing at its person's canonical (smallest) digest, masks at canonical entries. Two
identifiers in one part that belong to one person stay linked in the union, and the same identifier in two
parts joins their people, so however the data is split, the union is exactly the subjects of one pass.

Everything is numpy: digests are pairs of 64-bit words (``digest.pack_digests``), found by binary search,
joined by array-based connected components. A part's people arrive already formed, so merging a part costs a
binary search per identifier, and only the part's people that meet known people, or people of another part in
the same group, have edges in the graph to solve; everyone else simply becomes a new person of the set.
Ten million identifiers take about 300 MB; adding a group of them copies the digest columns once, so
``SubjectSet`` collects parts and adds them in groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from export_gate.model import ExportSubjects
from export_gate.people.digest import digest_order, pack_digests, run_starts
from export_gate.people.partitions import BYTES_PER_IDENTIFIER, INDEX, Partitions

#: Identifiers collected from parts before they are added in one go (22 bytes each while pending, ~100 during
#: the flush: about 100 MB at the flush, the same as a share of the set holds at ten million)...
PENDING_IDENTIFIERS = 1 << 20
#: ... or this share of the identifiers held, if more: every flush rewrites the sorted columns, so a fixed
#: batch would copy the table once per fixed number of new identifiers (quadratic as the set grows). 2**20
#: rather than 2**18: a ten-million-row scan flushes 18 times instead of 43, its union takes 8.7 s, not 12.4.
PENDING_SHARE = 16
#: Partitions of a whole scan's subjects (2**6: ten million identifiers are 64 partitions of ~160,000, so
#: adding to one copies a few megabytes).
SCAN_PARTITION_BITS = 6
_NO_EDGES = np.zeros((0, 2), dtype=np.int64)


def unique_digests(digests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct digests of (n, 2) words, in order; the index of each input digest among them). Eight times
    faster than ``np.unique(axis=0)``, which sorts the rows as structured values (0.8 s against 6.7 s for 3.8M)."""
    order = digest_order(digests[:, 0], digests[:, 1])
    ordered = np.take(digests, order, axis=0)  # a row take: a fraction of the cost of fancy-indexing rows
    first = run_starts(ordered[:, 0], ordered[:, 1])
    inverse = np.empty(len(ordered), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return np.take(ordered, np.flatnonzero(first), axis=0), inverse


def _locate(
    high: np.ndarray, low: np.ndarray, want_high: np.ndarray, want_low: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For sorted distinct digests (``want_high``, ``want_low``): (whether each is in the sorted columns ``high``,
    ``low``; its index there, or where it would be inserted). One binary search on the high word; the low word
    is searched only where a different digest shares the high word (about one in 10^6 at ten million)."""
    at = np.searchsorted(high, want_high)
    if not len(high):
        return np.zeros(len(at), dtype=bool), at
    there = np.minimum(at, len(high) - 1)
    same_high = high[there] == want_high
    found = same_high & (low[there] == want_low)
    for i in np.flatnonzero(same_high & ~found).tolist():  # a tie of high words: search their low words
        start, stop = int(at[i]), int(np.searchsorted(high, want_high[i], side="right"))
        at[i] = start + int(np.searchsorted(low[start:stop], want_low[i]))
        found[i] = at[i] < stop and low[at[i]] == want_low[i]
    return found, at


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
    """Distinct people under union, as they arrive: ``update`` with a part (or ``add`` identifiers), then
    ``result``.

    Columns, one entry per distinct identifier digest in sorted order: its two words and its person (an id that
    never changes, so inserting digests moves nothing else). People form a union-find forest (``_parent``, by
    id) with their mask at the root. Canonical digests (a person's smallest) are chosen once, in ``result``.
    The columns are split into ``2 ** partition_bits`` partitions by the leading bits of the digest (keyed
    digests are uniform, so the partitions stay even): adding identifiers copies only the partitions they
    fall in, one at a time (a few megabytes each at ten million identifiers), never two copies of the whole
    table. About 20 bytes an identifier and 6 a person.
    Parts are collected and added in groups (``PENDING_IDENTIFIERS``, growing with the set: ``PENDING_SHARE``).
    Once the columns hold more than ``spill_bytes``, they move to disk (``partitions.Partitions``) and each
    partition is read back only while a flush works on it; ``close`` removes them if the set is abandoned.
    """

    def __init__(self, how: str, *, partition_bits: int = 0, spill_bytes: int | None = None) -> None:
        self.identified_by = how
        self._bits = partition_bits
        self._columns = Partitions(1 << partition_bits)
        self._spill_bytes = spill_bytes
        self._parent = np.zeros(0, dtype=INDEX)
        self._mask = np.zeros(0, dtype=np.uint16)
        self._pending: list[ExportSubjects] = []
        self._pending_size = 0
        self._size = 0  # identifiers held

    def update(self, part: ExportSubjects) -> None:
        """Merge a partial result in (union)."""
        if part.identified_by != self.identified_by:
            raise ValueError(f"cannot merge subjects identified by {part.identified_by!r} into {self.identified_by!r}")
        self._pending.append(part)
        self._pending_size += len(part.roots)
        if self._pending_size >= max(PENDING_IDENTIFIERS, self._size // PENDING_SHARE):
            self._flush()

    def add(self, digests: np.ndarray, masks: np.ndarray, edges: np.ndarray = _NO_EDGES) -> None:
        """Add identifiers: ``digests`` (words, repeats allowed), what each says about its person (``masks``, 0
        for nothing), and ``edges`` (pairs of indices into ``digests``) that belong to one person."""
        self.update(build(digests, masks, edges, identified_by=self.identified_by))

    def _flush(self) -> None:
        """Add the pending parts.

        Each entry of a part belongs to its part-person (the part's canonical entry). A digest in several parts
        joins their part-people, and a digest the set knows joins a part-person to that person of the set: a
        graph over the set's people met (numbered first) and the entries. Each component holding a person of the
        set becomes its smallest such person (the others hang under it); any other component is a new person.
        Part-people that meet nobody, most of them, are new people without graph work."""
        if not self._pending:
            return
        parts, self._pending, self._pending_size = self._pending, [], 0
        offsets = np.cumsum([0, *(len(part.roots) for part in parts)]).tolist()
        high = np.concatenate([part.high for part in parts])
        low = np.concatenate([part.low for part in parts])
        owner = np.concatenate(
            [part.roots.astype(np.int64) + offset for part, offset in zip(parts, offsets, strict=False)]
        )
        masks = np.concatenate([part.masks for part in parts])
        part_people = np.flatnonzero(owner == np.arange(len(owner)))
        said = np.flatnonzero(masks)
        said_by, masks = owner[said], masks[said]  # what each part says, by part-person
        nodes_total = len(owner)
        repeats = np.zeros((2, 0), dtype=np.int64)
        if len(parts) > 1:  # sort the parts' entries together; a digest in two parts joins their part-people
            order = digest_order(high, low)
            high, low = high[order], low[order]
            first = run_starts(high, low)
            if not first.all():
                again = np.flatnonzero(~first)
                starts = np.flatnonzero(first)
                repeats = np.stack([owner[order[again]], owner[order[starts[np.cumsum(first)[again] - 1]]]])
                high, low, order = high[starts], low[starts], order[starts]
            owner = owner[order]
            del order
        del parts
        bounds, known, at = self._located(high, low)
        met = self._people_at(np.flatnonzero(known), bounds, at)
        people, local = np.unique(met, return_inverse=True)  # the set's people met, as the first nodes
        nodes = len(people)
        labels = components(
            nodes + nodes_total,
            np.concatenate([local, repeats[0] + nodes]),
            np.concatenate([owner[known] + nodes, repeats[1] + nodes]),
        )
        del met, local, repeats
        # each component's person: the smallest person of the set in it, else a new one
        person_of = np.empty(len(labels), dtype=INDEX)
        person_of[:nodes] = people
        new = part_people[labels[part_people + nodes] == part_people + nodes] + nodes
        person_of[new] = self._new_people(len(new))
        joined = np.flatnonzero(labels[:nodes] != np.arange(nodes))
        if len(joined):
            self._hang(people[joined], people[labels[joined]])
        np.bitwise_or.at(self._mask, person_of[labels[said_by + nodes]], masks)
        self._insert(high, low, person_of[labels[owner[~known] + nodes]], bounds, known, at)

    def _bounds(self, high: np.ndarray) -> list[int]:
        """Where each partition's range starts in sorted high words (and where the last ends)."""
        if not self._bits:
            return [0, len(high)]
        leading = high >> np.uint64(64 - self._bits)
        return np.searchsorted(leading, np.arange((1 << self._bits) + 1, dtype=np.uint64)).tolist()

    def _located(self, high: np.ndarray, low: np.ndarray) -> tuple[list[int], np.ndarray, np.ndarray]:
        """For sorted distinct digests: (partition bounds; whether each is in the set; its index in its
        partition, or where it goes)."""
        bounds = self._bounds(high)
        known = np.zeros(len(high), dtype=bool)
        at = np.zeros(len(high), dtype=np.int64)
        for part in np.flatnonzero(np.diff(bounds)).tolist():
            start, stop = bounds[part], bounds[part + 1]
            held_high, held_low, _ = self._columns.get(part)
            known[start:stop], at[start:stop] = _locate(held_high, held_low, high[start:stop], low[start:stop])
        return bounds, known, at

    def _people_at(self, found: np.ndarray, bounds: list[int], at: np.ndarray) -> np.ndarray:
        """The people (roots) of the digests at sorted positions ``found`` (all in the set)."""
        people = np.empty(len(found), dtype=INDEX)
        cuts = np.searchsorted(found, bounds).tolist()
        for part in np.flatnonzero(np.diff(cuts)).tolist():
            start, stop = cuts[part], cuts[part + 1]
            people[start:stop] = self._columns.get(part)[2][at[found[start:stop]]]
        return self._find(people)

    def _new_people(self, count: int) -> np.ndarray:
        """Ids for ``count`` new people, each their own root with an empty mask."""
        first = len(self._parent)  # people never outnumber identifiers, so the ids fit INDEX (see _insert)
        fresh = np.arange(first, first + count, dtype=INDEX)
        self._parent = _grown(self._parent, fresh)
        self._mask = _grown(self._mask, np.zeros(count, dtype=np.uint16))
        return fresh

    def _hang(self, old: np.ndarray, root: np.ndarray) -> None:
        """Make the roots ``old`` part of the people ``root`` (distinct roots), their masks OR-ed in."""
        self._parent[old] = root
        np.bitwise_or.at(self._mask, root, self._mask[old])
        self._mask[old] = 0

    def _insert(
        self,
        high: np.ndarray,
        low: np.ndarray,
        people: np.ndarray,
        bounds: list[int],
        known: np.ndarray,
        at: np.ndarray,
    ) -> None:
        """Insert the sorted digests not ``known`` (with their ``people``) at their places ``at``."""
        cuts = np.cumsum(np.r_[0, ~known])[bounds].tolist()  # where each partition's new digests start in people
        self._size += cuts[-1]
        if self._size > np.iinfo(INDEX).max:
            raise ValueError("more than 2**31 distinct identifiers in one scan; scan the export in parts")
        for part in np.flatnonzero(np.diff(cuts)).tolist():
            start, stop = bounds[part], bounds[part + 1]
            new = np.flatnonzero(~known[start:stop]) + start
            added = (high[new], low[new], people[cuts[part] : cuts[part + 1]])
            self._columns.put(part, _inserted(self._columns.get(part), at[new], added))
        if self._spill_bytes is not None and self._size * BYTES_PER_IDENTIFIER > self._spill_bytes:
            self._columns.spill()

    @property
    def spilled(self) -> bool:
        """Whether the columns are on disk (past ``spill_bytes``)."""
        return self._columns.spilled

    def close(self) -> None:
        """Remove the spilled columns now (a scan that stops before ``result``); the set is unusable after."""
        self._columns.close()

    def _find(self, people: np.ndarray) -> np.ndarray:
        """The roots of ``people``; their paths are shortened on the way (each points at its root)."""
        roots = self._parent[people]
        while True:
            up = self._parent[roots]
            if np.array_equal(up, roots):
                self._parent[people] = roots
                return roots
            roots = up

    def result(self) -> ExportSubjects:
        """The people: each identifier points at its person's smallest digest, which holds the mask. Ends the set:
        its columns move into the result, each freed as soon as it is used."""
        self._flush()
        while True:  # compress the forest: every person points at its root
            up = self._parent[self._parent]
            if np.array_equal(up, self._parent):
                break
            self._parent = up
        high, low, person = self._columns.drain()
        size = len(high)
        final = self._parent[person]  # each identifier's person (a root)
        del person
        people = len(self._parent)
        roots_mask = self._mask
        del self._parent, self._mask  # the set is spent; its columns become the result
        canonical = np.full(people, size, dtype=INDEX)
        np.minimum.at(canonical, final, np.arange(size, dtype=INDEX))  # entries are in digest order
        masks = np.zeros(size, dtype=np.uint16)
        held = canonical < size  # the roots
        masks[canonical[held]] = roots_mask[held]
        del roots_mask, held
        roots = canonical[final]
        del final, canonical
        return ExportSubjects(high, low, roots, masks, self.identified_by)


def build(
    digests: np.ndarray, masks: np.ndarray, edges: np.ndarray = _NO_EDGES, *, identified_by: str
) -> ExportSubjects:
    """A table from identifiers (see ``SubjectSet.add``): the distinct digests in order, people as the connected
    components of the edges (a component's smallest node is its smallest digest, the canonical one)."""
    distinct, inverse = unique_digests(digests)
    roots = components(len(distinct), inverse[edges[:, 0]], inverse[edges[:, 1]])
    said = np.flatnonzero(masks)
    held = np.zeros(len(distinct), dtype=np.uint16)
    np.bitwise_or.at(held, roots[inverse[said]], masks[said].astype(np.uint16))
    return ExportSubjects(distinct[:, 0].copy(), distinct[:, 1].copy(), roots.astype(INDEX), held, identified_by)


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


def _ascending(*columns: np.ndarray) -> bool:
    """Whether the rows of ``columns`` (compared as tuples, first column first) strictly ascend."""
    if len(columns[0]) < 2:
        return True
    less, equal = np.zeros(len(columns[0]) - 1, dtype=bool), np.ones(len(columns[0]) - 1, dtype=bool)
    for column in columns:
        less |= equal & (column[:-1] < column[1:])
        equal &= column[:-1] == column[1:]
    return bool(less.all())


def _labelled_table(words: np.ndarray, labels: np.ndarray, masks: np.ndarray, identified_by: str) -> ExportSubjects:
    """A table of whole people from their rows sorted by (label, digest) (see ``labelled_batches``)."""
    first = run_starts(labels[:, 0], labels[:, 1])  # each person's first row: their label's
    starts = np.flatnonzero(first)
    if not np.array_equal(words[starts], labels[starts]):
        raise ValueError("a person's label is not their smallest identifier digest; nothing was counted")
    order = digest_order(words[:, 0], words[:, 1])
    if not run_starts(words[order, 0], words[order, 1]).all():
        raise ValueError("an identifier digest belongs to two people; nothing was counted")
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    label_row = starts[np.cumsum(first) - 1]
    roots = np.empty(len(order), dtype=INDEX)
    roots[position] = position[label_row]
    return ExportSubjects(words[order, 0], words[order, 1], roots, masks[order], identified_by)


def labelled_batches(
    parts: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]], *, identified_by: str, size: int = PENDING_IDENTIFIERS
) -> Iterator[ExportSubjects]:
    """Tables of whole people (for ``model.SubjectBatches``) of about ``size`` identifiers, from parts of rows
    sorted by (label, digest) across all parts, as a distributed engine streams an export's people: each part is
    (digests, labels, masks): identifier digests and their person's label (the person's smallest digest) as (n, 2)
    words, and the person's mask on the row of the label (0 on the others). A person's rows are contiguous in
    that order, so a table is cut only where the label changes: the rows of the last person of what arrived wait
    for the next part, and no person is ever split between tables. Rows out of order are refused."""
    held: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    count, last = 0, None
    for words, labels, masks in parts:
        if not len(words):
            continue
        columns = (labels[:, 0], labels[:, 1], words[:, 0], words[:, 1])
        joins = last is None or _ascending(
            *(np.array([end, column[0]]) for end, column in zip(last, columns, strict=True))
        )
        if not joins or not _ascending(*columns):
            raise ValueError("the people arrived out of (label, digest) order; nothing was counted")
        last = [column[-1] for column in columns]
        held.append((words, labels, masks))
        count += len(words)
        if count >= size:
            words, labels, masks = (np.concatenate(column) for column in zip(*held, strict=True))
            cut = int(np.flatnonzero(run_starts(labels[:, 0], labels[:, 1]))[-1])  # where the last person starts
            if cut:
                yield _labelled_table(words[:cut], labels[:cut], masks[:cut], identified_by)
            held, count = [(words[cut:], labels[cut:], masks[cut:])], len(words) - cut
    if held:
        words, labels, masks = (np.concatenate(column) for column in zip(*held, strict=True))
        yield _labelled_table(words, labels, masks, identified_by)
