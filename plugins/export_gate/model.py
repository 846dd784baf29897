"""Data types shared by the stages of the gate (scan -> subjects -> ledger -> policy -> act -> review).

Every stage takes and returns these plain values, so the CLI, the Airflow operator and a distributed run
can call the same functions. Nothing here holds a raw personal value: subjects are keyed digests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    def from_masks(cls, masks: object) -> Counts:
        """Count an iterable of subject masks."""
        personal = sensitive = 0
        per = dict.fromkeys(CATEGORIES, 0)
        for mask in masks:  # type: ignore[attr-defined]
            if mask & PERSONAL_BIT:
                personal += 1
            if mask & SENSITIVE_MASK:
                sensitive += 1
                for name, bit in CATEGORY_BITS.items():
                    if mask & bit:
                        per[name] += 1
        return cls(personal, sensitive, per)

    def to_dict(self) -> dict[str, object]:
        return {"personal": self.personal, "sensitive": self.sensitive, "categories": dict(self.categories)}

    @classmethod
    def from_dict(cls, data: dict) -> Counts:
        cats = dict.fromkeys(CATEGORIES, 0)
        cats.update(data.get("categories") or {})
        return cls(int(data["personal"]), int(data["sensitive"]), cats)


@dataclass
class ExportSubjects:
    """The distinct people of one export (or one partition of it), as keyed digests.

    ``masks`` maps a subject's canonical digest to its mask (PERSONAL_BIT | category bits).
    ``aliases`` maps every other identifier digest of an inferred subject to its canonical digest, so
    the ledger can recognise the same person in a later export through any of their identifiers.
    ``identified_by`` says how subjects were identified (subject key columns, or strong identifiers).
    """

    masks: dict[bytes, int] = field(default_factory=dict)
    aliases: dict[bytes, bytes] = field(default_factory=dict)
    identified_by: str = "strong_identifiers"

    def counts(self) -> Counts:
        return Counts.from_masks(self.masks.values())
