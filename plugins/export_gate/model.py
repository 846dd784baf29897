"""Data types shared by the stages of the gate (scan -> subjects -> ledger -> policy -> act -> review).

Every stage takes and returns these plain values, so the CLI, the Airflow operator and a distributed run
can call the same functions. Nothing here holds a raw personal value: subjects are keyed digests.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from export_gate.people.digest import unpack_digests

#: The sensitive categories of PIPL Art. 28 / GB/T 45574-2025, with the names the reports use.
CATEGORIES: tuple[str, ...] = (
    "biometric",
    "religious_belief",
    "specific_identity",
    "medical_health",
    "financial_account",
    "location_tracking",
    "minor_under_14",
)

#: Bit set in a subject's mask when any personal information about the subject is in the export.
PERSONAL_BIT = 1
#: One bit per sensitive category, after PERSONAL_BIT.
CATEGORY_BITS: dict[str, int] = {name: 1 << (i + 1) for i, name in enumerate(CATEGORIES)}
#: All sensitive category bits together: a subject is sensitive when ``mask & SENSITIVE_MASK``.
SENSITIVE_MASK = sum(CATEGORY_BITS.values())


def mask_of(categories: frozenset[str] | set[str] | tuple[str, ...]) -> int:
    """The mask of a personal subject with these sensitive categories."""
    mask = PERSONAL_BIT
    for name in categories:
        mask |= CATEGORY_BITS[name]
    return mask


def categories_of(mask: int) -> tuple[str, ...]:
    """The sensitive categories set in ``mask``, in CATEGORIES order."""
    return tuple(name for name in CATEGORIES if mask & CATEGORY_BITS[name])


@dataclass(frozen=True)
class Counts:
    """Distinct people: with any personal information, with any sensitive information, and per category."""

    personal: int = 0
    sensitive: int = 0
    categories: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))

    @classmethod
    def from_histogram(cls, histogram: Mapping[int, int]) -> Counts:
        """Counts from {mask: number of people with exactly that mask} (at most 256 masks, however many people)."""
        personal = sensitive = 0
        per = dict.fromkeys(CATEGORIES, 0)
        for mask, people in histogram.items():
            if mask & PERSONAL_BIT:
                personal += people
            if mask & SENSITIVE_MASK:
                sensitive += people
                for name, bit in CATEGORY_BITS.items():
                    if mask & bit:
                        per[name] += people
        return cls(personal, sensitive, per)

    @classmethod
    def from_masks(cls, masks: Iterable[int] | np.ndarray) -> Counts:
        """Count subject masks (an array or any iterable of ints)."""
        return cls.from_histogram(
            mask_histogram(np.fromiter(masks, np.int64) if not isinstance(masks, np.ndarray) else masks)
        )

    def to_dict(self) -> dict[str, object]:
        return {"personal": self.personal, "sensitive": self.sensitive, "categories": dict(self.categories)}

    @classmethod
    def from_dict(cls, data: dict) -> Counts:
        cats = dict.fromkeys(CATEGORIES, 0)
        cats.update(data.get("categories") or {})
        return cls(int(data["personal"]), int(data["sensitive"]), cats)


def mask_histogram(masks: np.ndarray) -> dict[int, int]:
    """{mask: how many entries of ``masks`` have it}, zero masks left out (``np.unique`` sorts a copy in the
    masks' own type, 2 bytes each; ``bincount`` would widen ten million of them to a 100 MB copy)."""
    values, counts = np.unique(masks, return_counts=True)
    return {int(mask): int(count) for mask, count in zip(values.tolist(), counts.tolist(), strict=True) if mask}


@dataclass(frozen=True, eq=False)
class ExportSubjects:
    """The distinct people of one export (or one partition of it), as keyed digests, in compact columns.

    Every identifier digest known for the people, sorted and distinct: ``high`` and ``low`` are its two 64-bit
    words (see ``digest.pack_digests``); ``roots[i]`` is the index of the canonical digest of the person
    identifier ``i`` belongs to (the person's smallest digest, so ``roots[i] <= i``; a canonical digest is its
    own root); ``masks[i]`` is the person's mask (PERSONAL_BIT | category bits) at canonical entries, 0
    elsewhere. The other identifiers of a person (aliases) let the ledger recognise them in a later export
    through any of them. 30 bytes per identifier, so ten million people fit in a few hundred megabytes (dicts of
    bytes took ten times that). Built and merged by ``export_gate.people.union``. ``identified_by`` says how
    subjects were identified (subject key columns, or strong identifiers).
    """

    high: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    low: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    roots: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    masks: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint16))
    identified_by: str = "strong_identifiers"

    def _canonical(self) -> np.ndarray:
        return np.flatnonzero(self.roots == np.arange(len(self.roots), dtype=self.roots.dtype))

    def _digests(self, at: np.ndarray) -> list[bytes]:
        return unpack_digests(np.column_stack([self.high[at], self.low[at]]))

    def __len__(self) -> int:
        """The number of people."""
        return len(self._canonical())

    def people(self) -> Iterator[tuple[bytes, int]]:
        """(canonical digest, mask) of every person, in digest order."""
        canonical = self._canonical()
        return zip(self._digests(canonical), self.masks[canonical].tolist(), strict=True)

    def aliases(self) -> Iterator[tuple[bytes, bytes]]:
        """(identifier digest, canonical digest) for every identifier that is not its person's canonical one."""
        other = np.flatnonzero(self.roots != np.arange(len(self.roots), dtype=self.roots.dtype))
        return zip(self._digests(other), self._digests(self.roots[other]), strict=True)

    def counts(self) -> Counts:
        return Counts.from_masks(self.masks)

    def in_batches(self, size: int) -> SubjectBatches:
        """These people as batches of whole people of about ``size`` identifiers each (fewer than ``size`` plus the
        largest person's), each batch a table of its own (digest order, roots within the batch): a batch starts
        with the first person at or after each multiple of ``size`` in person order. For callers that hand a table
        to the ledger in parts, and for tests that the split changes nothing."""
        if size < 1:
            raise ValueError(f"a batch holds at least one identifier, not {size}")
        order = np.argsort(self.roots, kind="stable")  # people together, each one's identifiers in digest order
        grouped = self.roots[order]
        starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]]) if len(order) else order
        wanted = np.arange(0, len(order), size)
        cuts = [*np.unique(starts[np.searchsorted(starts, wanted).clip(max=len(starts) - 1)]).tolist(), len(order)]

        def batches() -> Iterator[ExportSubjects]:
            for start, stop in itertools.pairwise(cuts):
                at = np.sort(order[start:stop])  # indices are in digest order; a person's root is among them
                roots = np.searchsorted(at, self.roots[at]).astype(self.roots.dtype)
                yield ExportSubjects(self.high[at], self.low[at], roots, self.masks[at], self.identified_by)

        return SubjectBatches(
            batches(), identified_by=self.identified_by, histogram=mask_histogram(self.masks), people=len(self)
        )


class SubjectBatches:
    """An export's people as a stream of ``ExportSubjects`` tables, each of whole people: every identifier of a
    person is in the batch that holds the person, and no identifier is in two batches. The ledger takes them one
    at a time, so whoever streams them (the Spark driver) never holds the whole export: a billion-row table names
    more people than one machine's memory holds as digests.

    The export's counts are known before the stream is read (the engine counts where the people are, for the
    report and the decision): ``histogram`` ({mask: people}, zero masks left out) and ``people``; the ledger
    checks that the batches add up to them and refuses the export if not. One pass: reading it again is an
    error, never an empty export."""

    def __init__(
        self, batches: Iterable[ExportSubjects], *, identified_by: str, histogram: Mapping[int, int], people: int
    ) -> None:
        self._batches = iter(batches)
        self._read = False
        self.identified_by = identified_by
        self.histogram = {int(mask): int(n) for mask, n in histogram.items() if mask and n}
        self.people = int(people)

    def __iter__(self) -> Iterator[ExportSubjects]:
        if self._read:
            raise ValueError("these subject batches were read already; a stream of people is read once")
        self._read = True
        return self._batches

    def __len__(self) -> int:
        """The number of people."""
        return self.people

    def counts(self) -> Counts:
        return Counts.from_histogram(self.histogram)
