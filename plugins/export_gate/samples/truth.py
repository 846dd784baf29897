"""Ground truth of a labelled sample: which rows hold which entity, and the distinct data subjects per
identification mode (see export_gate.samples.exports): by the subject keys, counted the way
export_gate.people.subjects documents it, and the real people the generator drew, which a scan without keys is
measured against (docs/counting.md: within +5% of them and never below).

Each chunk of generated rows reports, per role (patient, reporter, ...), the subject key, the real person and
the mask of what the row holds about them; the builder keeps only key -> OR of masks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from export_gate.model import CATEGORIES, CATEGORY_BITS, PERSONAL_BIT, SENSITIVE_MASK, Counts

#: Identification modes of the ground truth.
MODES = ("subject_keys", "persons")
#: Per-row labels are kept up to this many rows (counts are always kept).
LABEL_ROWS_LIMIT = 2_000_000
#: Mask bit: the subject's information includes an identity document number (sensitive only under
#: GB/T 35273-2020, i.e. DetectorSettings(identity_document_sensitive=True)).
ID_DOCUMENT = 1 << 40


@dataclass
class GroundTruth:
    """What a perfect scan of the generated files finds.

    ``subjects[setting][mode]``: distinct subjects (personal, sensitive, per category) for the settings
    ``default`` (GB/T 45574-2025: an ID number alone is not sensitive) and ``identity_document_sensitive``
    (GB/T 35273-2020), and the modes in MODES. ``cells[column][entity]``: cells holding that entity.
    ``labels[column][entity]``: which rows (all files, in file order) hold it, when rows <= LABEL_ROWS_LIMIT.
    """

    kind: str
    rows: int
    files: list[str]
    file_rows: list[int]
    as_of: date
    seed: int
    subject_keys: tuple[str, ...]
    subjects: dict[str, dict[str, Counts]]
    cells: dict[str, dict[str, int]]
    column_categories: dict[str, list[str]]
    labels: dict[str, dict[str, np.ndarray]] | None = None

    def counts(self, mode: str = "subject_keys", *, identity_document_sensitive: bool = False) -> Counts:
        if not self.subjects:
            raise ValueError("this sample was generated with subjects=False: no subject counts")
        setting = "identity_document_sensitive" if identity_document_sensitive else "default"
        return self.subjects[setting][mode]

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "files": list(self.files),
            "file_rows": list(self.file_rows),
            "as_of": self.as_of.isoformat(),
            "seed": self.seed,
            "subject_keys": list(self.subject_keys),
            "subjects": {s: {m: c.to_dict() for m, c in modes.items()} for s, modes in self.subjects.items()},
            "columns": {
                name: {"entities": dict(self.cells.get(name, {})), "categories": cats}
                for name, cats in self.column_categories.items()
            },
        }

    def write(self, path: str | Path) -> None:
        """Write the truth as JSON (keep it outside the export folder: it is not part of the export)."""
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")


# --- what one chunk of rows holds about whom -----------------------------------------------------------------


@dataclass
class Chunk:
    """The truth of one chunk: labels, and per role the subject key, person and mask of each row."""

    labels: dict[str, dict[str, np.ndarray]]
    keys: list[np.ndarray]  # per role: key number per row (-1: empty)
    persons: list[np.ndarray]  # per role: person number per row
    masks: list[np.ndarray]  # per role: mask per row (0: nothing about this person on the row)


# --- the truth: subjects per mode ----------------------------------------------------------------------------


def _or_by_key(keys: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys and the OR of their masks."""
    if not len(keys):
        return keys, masks
    order = np.argsort(keys, kind="stable")
    keys, masks = keys[order], masks[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[starts], np.bitwise_or.reduceat(masks, starts)


class _OrMap:
    """key -> OR of masks, accumulated chunk by chunk and compacted as it grows."""

    def __init__(self) -> None:
        self.keys, self.masks = np.empty(0, np.int64), np.empty(0, np.int64)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._size = 0

    def add(self, keys: np.ndarray, masks: np.ndarray) -> None:
        self._pending.append((keys, masks))
        self._size += len(keys)
        if self._size > max(1_000_000, len(self.keys)):
            self.compact()

    def compact(self) -> tuple[np.ndarray, np.ndarray]:
        if self._pending:
            keys = np.concatenate([self.keys, *(k for k, _ in self._pending)])
            masks = np.concatenate([self.masks, *(m for _, m in self._pending)])
            self.keys, self.masks = _or_by_key(keys, masks)
            self._pending, self._size = [], 0
        return self.keys, self.masks


@dataclass
class TruthBuilder:
    keep_labels: bool
    count_subjects: bool
    keyed: _OrMap = field(default_factory=_OrMap)
    persons: _OrMap = field(default_factory=_OrMap)
    loose_keyed: list[np.ndarray] = field(default_factory=list)
    cells: dict[str, dict[str, int]] = field(default_factory=dict)
    labels: dict[str, dict[str, list[np.ndarray]]] = field(default_factory=dict)

    def add(self, chunk: Chunk) -> None:
        for column, entities in chunk.labels.items():
            for entity, present in entities.items():
                counted = self.cells.setdefault(column, {})
                counted[entity] = counted.get(entity, 0) + int(present.sum())
                if self.keep_labels:
                    self.labels.setdefault(column, {}).setdefault(entity, []).append(present)
        if self.count_subjects:
            self._add_subjects(chunk)

    def _add_subjects(self, chunk: Chunk) -> None:
        for role, (keys, persons, masks) in enumerate(zip(chunk.keys, chunk.persons, chunk.masks, strict=True)):
            found = masks != 0
            # A role's key with findings is a person; an empty key with findings is a person of its own row.
            named = found & (keys >= 0)
            self.keyed.add((np.int64(role) << np.int64(56)) | keys[named], masks[named])
            self.loose_keyed.append(masks[found & (keys < 0)])
            self.persons.add(persons[found], masks[found])

    def finish(self, **meta: object) -> GroundTruth:
        subjects: dict[str, dict[str, Counts]] = {}
        if self.count_subjects:
            masks = {
                "subject_keys": np.concatenate([self.keyed.compact()[1], *self.loose_keyed]),
                "persons": self.persons.compact()[1],
            }
            subjects = {
                "default": {mode: _counts(m & ~ID_DOCUMENT) for mode, m in masks.items()},
                "identity_document_sensitive": {mode: _counts(_documents_sensitive(m)) for mode, m in masks.items()},
            }
        labels = None
        if self.keep_labels:
            labels = {c: {e: np.concatenate(parts) for e, parts in ents.items()} for c, ents in self.labels.items()}
        files, file_rows = meta["files"], meta["file_rows"]
        return GroundTruth(
            kind=str(meta["kind"]),
            rows=int(sum(file_rows)),  # type: ignore[arg-type]
            files=list(files),  # type: ignore[call-overload]
            file_rows=list(file_rows),  # type: ignore[call-overload]
            as_of=meta["as_of"],  # type: ignore[arg-type]
            seed=int(meta["seed"]),  # type: ignore[call-overload]
            subject_keys=tuple(meta["keys"]),  # type: ignore[call-overload]
            subjects=subjects,
            cells=self.cells,
            column_categories=dict(meta["categories"]),  # type: ignore[call-overload]
            labels=labels,
        )


def _documents_sensitive(masks: np.ndarray) -> np.ndarray:
    holds = (masks & ID_DOCUMENT) != 0
    return np.where(holds, masks | CATEGORY_BITS["specific_identity"], masks) & ~ID_DOCUMENT


def _counts(masks: np.ndarray) -> Counts:
    return Counts(
        personal=int(((masks & PERSONAL_BIT) != 0).sum()),
        sensitive=int(((masks & SENSITIVE_MASK) != 0).sum()),
        categories={name: int(((masks & CATEGORY_BITS[name]) != 0).sum()) for name in CATEGORIES},
    )
