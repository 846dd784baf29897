"""Who the people in an export are, as keyed digests, and how partial results combine.

Two ways to identify people (the report says which one was used, ``ExportSubjects.identified_by``):

* Subject keys: the user names the columns that identify people (``--subject-key patient_id
  --subject-key reporter_id``). Every column's findings belong to one role: the key whose name, without its
  last ``_``-suffix, prefixes the column name (``reporter_phone``, ``reporter.address`` and ``reporter[].mobile``
  belong to ``reporter_id``; the longest such prefix wins); a column no key claims belongs to the first key. A row whose
  key cell is empty still holds a person: it counts as one person of its own (count high, never low).
* Strong identifiers: without keys, findings that carry a normalised identifier (resident ID, mobile,
  passport, e-mail, bank card, ...) link rows: rows sharing any identifier are one person (union-find), so
  the same mobile written two ways is one person. A row with personal information but no strong identifier
  is one person of its own. A row with no personal information is nobody.

Partial results (per batch, file, worker or partition) are ``ExportSubjects``: digest -> mask, plus aliases
linking every other identifier of a person to its canonical digest. The canonical digest of a person is the
smallest digest of their identifiers, so however the data is split, merging the parts by union gives
exactly the subjects of one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from export_gate.digest import SubjectHasher
from export_gate.model import ExportSubjects

#: ``identified_by`` when people were inferred from shared strong identifiers.
STRONG_IDENTIFIERS = "strong_identifiers"
#: Digest type of a person who is known only by the row they are on.
ROW_KIND = "row"
#: What may follow a role prefix in a column name: reporter_phone, reporter.phone, reporter[].phone, reporter{}.
_ROLE_SEPARATORS = frozenset("_.[{")


def identified_by(subject_keys: Sequence[str]) -> str:
    """How subjects are identified, as the report and the ledger record it."""
    return "subject_keys:" + ",".join(subject_keys) if subject_keys else STRONG_IDENTIFIERS


def role_of(column: str, subject_keys: Sequence[str]) -> str | None:
    """The subject key whose person a column's findings belong to (see the module docstring for the rule)."""
    if not subject_keys:
        return None
    name = column.lower()
    best, best_len = subject_keys[0], -1
    for key in subject_keys:
        lowered = key.lower()
        prefix = lowered.rsplit("_", 1)[0] if "_" in lowered else lowered
        if name == lowered:
            return key
        claims = name.startswith(prefix) and name[len(prefix) : len(prefix) + 1] in _ROLE_SEPARATORS
        if claims and len(prefix) > best_len:
            best, best_len = key, len(prefix)
    return best


class SubjectSet:
    """Distinct people under union: add a person's mask, link two identifiers of one person, merge parts.

    Each component is represented by its smallest digest (its root). ``_parent`` holds only non-roots, so a
    person known by one identifier costs one entry.
    """

    def __init__(self, how: str) -> None:
        self.identified_by = how
        self._masks: dict[bytes, int] = {}
        self._parent: dict[bytes, bytes] = {}

    def find(self, digest: bytes) -> bytes:
        parent = self._parent
        root = digest
        while root in parent:
            root = parent[root]
        while digest != root:  # path compression keeps later look-ups short
            parent[digest], digest = root, parent[digest]
        return root

    def add(self, digest: bytes, mask: int) -> None:
        """Record ``mask`` for the person with this identifier digest."""
        root = self.find(digest)
        self._masks[root] = self._masks.get(root, 0) | mask

    def link(self, a: bytes, b: bytes) -> bytes:
        """Declare two identifier digests to belong to one person; returns the person's canonical digest."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        low, high = (ra, rb) if ra < rb else (rb, ra)
        self._parent[high] = low
        masks = self._masks
        if high in masks:
            masks[low] = masks.get(low, 0) | masks.pop(high)
        return low

    def update(self, part: ExportSubjects) -> None:
        """Merge a partial result in (union)."""
        if part.identified_by != self.identified_by:
            raise ValueError(f"cannot merge subjects identified by {part.identified_by!r} into {self.identified_by!r}")
        for alias, canonical in part.aliases.items():
            self.link(alias, canonical)
        for digest, mask in part.masks.items():
            self.add(digest, mask)

    def result(self) -> ExportSubjects:
        """The people so far, every alias pointing straight at its canonical digest. The result shares this
        set's dictionaries instead of copying them (millions of people): merge nothing more after it."""
        parent = self._parent
        for alias in parent:
            parent[alias] = self.find(alias)
        return ExportSubjects(masks=self._masks, aliases=parent, identified_by=self.identified_by)


def merge(parts: Iterable[ExportSubjects], how: str) -> ExportSubjects:
    """The union of partial results, identical to what one pass over all the data gives."""
    subjects = SubjectSet(how)
    for part in parts:
        subjects.update(part)
    return subjects.result()


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def by_key(
    role_masks: dict[str, np.ndarray],
    key_values: dict[str, Sequence[object]],
    row_subject: Callable[[int, str], bytes],
    hasher: SubjectHasher,
) -> ExportSubjects:
    """People of one batch named by subject key columns.

    ``role_masks[key][i]`` is the mask of what row ``i`` holds about the person in role ``key``;
    ``key_values[key][i]`` is that person's key. ``row_subject(i, key)`` names a person whose key is empty.
    """
    subjects = SubjectSet(identified_by(list(role_masks)))
    for key, masks in role_masks.items():
        values = key_values[key]
        digests: dict[str, bytes] = {}
        for row in np.flatnonzero(masks).tolist():
            value = values[row]
            if _is_blank(value):
                digest = row_subject(row, f"{ROW_KIND}:{key}")
            else:
                text = str(value).strip()
                digest = digests.get(text)
                if digest is None:
                    digest = digests[text] = hasher.digest(f"key:{key}", text)
            subjects.add(digest, int(masks[row]))
    return subjects.result()


def _components(size: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
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


def inferred(
    row_masks: np.ndarray,
    identifier_rows: np.ndarray,
    identifier_digests: Sequence[bytes],
    row_subject: Callable[[int, str], bytes],
) -> ExportSubjects:
    """People of one batch inferred from strong identifiers.

    ``row_masks[i]`` is everything row ``i`` holds; the pairs (``identifier_rows[j]``,
    ``identifier_digests[j]``) say which identifier digests appear on which row. Identifiers are numbered in
    digest order, so the smallest number of a component is its canonical (smallest) digest.
    """
    distinct = sorted(set(identifier_digests))
    number = {digest: i for i, digest in enumerate(distinct)}
    nodes = np.fromiter(map(number.__getitem__, identifier_digests), dtype=np.int64, count=len(identifier_digests))
    rows = np.asarray(identifier_rows, dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    rows, nodes = rows[order], nodes[order]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if len(rows) else np.zeros(0, dtype=np.int64)
    anchors = np.repeat(nodes[starts], np.diff(np.r_[starts, len(rows)]))  # each pair's row's first identifier
    labels = _components(len(distinct), nodes, anchors)
    row_label = np.full(len(row_masks), -1, dtype=np.int64)
    row_label[rows[starts]] = labels[nodes[starts]]
    personal = np.flatnonzero(row_masks)
    linked = personal[row_label[personal] >= 0]
    component_masks = np.zeros(len(distinct), dtype=np.int64)
    np.bitwise_or.at(component_masks, row_label[linked], row_masks[linked].astype(np.int64))
    roots = np.flatnonzero(labels == np.arange(len(distinct)))
    masks = dict(zip([distinct[i] for i in roots.tolist()], component_masks[roots].tolist(), strict=True))
    for row in personal[row_label[personal] < 0].tolist():
        masks[row_subject(row, ROW_KIND)] = int(row_masks[row])
    others = np.flatnonzero(labels != np.arange(len(distinct)))
    aliases = dict(
        zip([distinct[i] for i in others.tolist()], [distinct[i] for i in labels[others].tolist()], strict=True)
    )
    return ExportSubjects(masks=masks, aliases=aliases, identified_by=STRONG_IDENTIFIERS)
