"""Subjects: roles of columns, inference by shared identifiers, keyed digests, and merge-by-union invariance."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
from export_gate.digest import DIGEST_BYTES, SubjectHasher
from export_gate.model import CATEGORY_BITS, PERSONAL_BIT, ExportSubjects
from export_gate.subjects import STRONG_IDENTIFIERS, by_key, inferred, merge, role_of

HASHER = SubjectHasher(b"k" * 32)
MEDICAL = PERSONAL_BIT | CATEGORY_BITS["medical_health"]
FINANCE = PERSONAL_BIT | CATEGORY_BITS["financial_account"]


def _row_subject(offset: int = 0):
    return lambda row, kind: HASHER.digest(kind, f"t#{offset + row}")


def test_digest_is_keyed_typed_short_and_picklable() -> None:
    a = HASHER.digest("CN_MOBILE", "8613812345678")
    assert len(a) == DIGEST_BYTES
    assert a == HASHER.digest("CN_MOBILE", "8613812345678")
    assert a != HASHER.digest("CN_PASSPORT", "8613812345678")
    assert a != SubjectHasher(b"other-key-000000").digest("CN_MOBILE", "8613812345678")
    assert pickle.loads(pickle.dumps(HASHER)).digest("CN_MOBILE", "8613812345678") == a
    assert SubjectHasher.ephemeral().digest("CN_MOBILE", "8613812345678") != a
    with pytest.raises(ValueError):
        SubjectHasher(b"")


@pytest.mark.parametrize(
    ("column", "role"),
    [
        ("reporter_phone", "reporter_id"),
        ("reporter.address", "reporter_id"),
        ("reporter_id", "reporter_id"),
        ("patient_name", "patient_id"),
        ("diagnosis", "patient_id"),  # no key claims it: the first key
        ("REPORTER_EMAIL", "reporter_id"),
        ("reporter[].mobile", "reporter_id"),
        ("reporters_note", "patient_id"),
    ],
)
def test_role_of_column(column: str, role: str) -> None:
    assert role_of(column, ["patient_id", "reporter_id"]) == role


def test_role_of_longest_prefix_wins() -> None:
    assert role_of("case_reporter_phone", ["case_id", "case_reporter_id"]) == "case_reporter_id"
    assert role_of("anything", []) is None


def test_inferred_links_rows_sharing_an_identifier() -> None:
    phone, idno, mail = (HASHER.digest("X", s) for s in ("p", "i", "m"))
    # row 0: phone; row 1: phone + id (same person as row 0); row 2: id only -> same person again;
    # row 3: e-mail only -> another; row 4: personal info but no identifier; row 5: nothing personal.
    masks = np.array([PERSONAL_BIT, MEDICAL, PERSONAL_BIT, FINANCE, PERSONAL_BIT, 0], dtype=np.uint16)
    subjects = inferred(masks, [0, 1, 1, 2, 3], [phone, phone, idno, idno, mail], _row_subject())
    assert subjects.identified_by == STRONG_IDENTIFIERS
    assert sorted(subjects.masks.values()) == sorted([MEDICAL, FINANCE, PERSONAL_BIT])
    assert subjects.masks[min(phone, idno)] == MEDICAL
    assert subjects.aliases == {max(phone, idno): min(phone, idno)}
    counts = subjects.counts()
    assert (counts.personal, counts.sensitive) == (3, 2)


def test_by_key_one_person_per_key_and_blank_keys_count_alone() -> None:
    patient = np.array([MEDICAL, PERSONAL_BIT, PERSONAL_BIT, PERSONAL_BIT, 0], dtype=np.uint16)
    reporter = np.array([PERSONAL_BIT, 0, 0, 0, FINANCE], dtype=np.uint16)
    subjects = by_key(
        {"patient_id": patient, "reporter_id": reporter},
        {"patient_id": ["P1", " P1 ", None, "  ", "P9"], "reporter_id": ["R1", "R1", None, None, "P1"]},
        _row_subject(),
        HASHER,
    )
    assert subjects.identified_by == "subject_keys:patient_id,reporter_id"
    # patient P1 (rows 0, 1), two patients with blank keys (rows 2, 3), reporter R1, reporter "P1" (not patient P1)
    assert len(subjects.masks) == 5
    assert subjects.masks[HASHER.digest("key:patient_id", "P1")] == MEDICAL
    assert subjects.masks[HASHER.digest("key:reporter_id", "P1")] == FINANCE
    counts = subjects.counts()
    assert (counts.personal, counts.sensitive, counts.categories["financial_account"]) == (5, 2, 1)


def _random_rows(seed: int, n: int) -> tuple[np.ndarray, list[int], list[bytes]]:
    rng = random.Random(seed)
    pool = [HASHER.digest("ID", str(i)) for i in range(n // 3)]
    masks = np.array([rng.choice([0, PERSONAL_BIT, MEDICAL, FINANCE]) for _ in range(n)], dtype=np.uint16)
    rows: list[int] = []
    digests: list[bytes] = []
    for row in np.flatnonzero(masks).tolist():
        for digest in rng.sample(pool, rng.choice([0, 1, 1, 2, 3])):
            rows.append(row)
            digests.append(digest)
    return masks, rows, digests


def _split(masks: np.ndarray, rows: list[int], digests: list[bytes], cuts: list[int]) -> list[ExportSubjects]:
    parts = []
    for start, stop in zip([0, *cuts], [*cuts, len(masks)], strict=True):
        picked = [(r - start, d) for r, d in zip(rows, digests, strict=True) if start <= r < stop]
        parts.append(inferred(masks[start:stop], [r for r, _ in picked], [d for _, d in picked], _row_subject(start)))
    return parts


@pytest.mark.parametrize("seed", range(5))
def test_merging_parts_equals_one_pass(seed: int) -> None:
    masks, rows, digests = _random_rows(seed, 600)
    whole = inferred(masks, rows, digests, _row_subject())
    rng = random.Random(seed)
    for _ in range(3):
        cuts = sorted(rng.sample(range(1, len(masks)), rng.randint(1, 20)))
        parts = _split(masks, rows, digests, cuts)
        rng.shuffle(parts)  # the order parts arrive in does not matter either
        merged = merge(parts, STRONG_IDENTIFIERS)
        assert merged.masks == whole.masks
        assert merged.aliases == whole.aliases
        assert merged.counts() == whole.counts()
    # merging is idempotent: a part delivered twice (a retried worker) changes nothing
    assert merge([whole, whole], STRONG_IDENTIFIERS).masks == whole.masks


def test_merge_refuses_mixed_identification() -> None:
    keyed = ExportSubjects(identified_by="subject_keys:patient_id")
    with pytest.raises(ValueError, match="cannot merge"):
        merge([keyed], STRONG_IDENTIFIERS)
