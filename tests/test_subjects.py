"""Subjects: roles of columns, inference by shared identifiers, keyed digests, and merge-by-union invariance."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
from export_gate.model import CATEGORY_BITS, PERSONAL_BIT, ExportSubjects
from export_gate.people.digest import DIGEST_BYTES, SubjectHasher, pack_digests
from export_gate.people.roles import DEFAULT_ROLE, inferred_roles, role_of, role_word
from export_gate.people.subjects import STRONG_IDENTIFIERS, by_key
from export_gate.people.subjects import inferred as inferred_words
from export_gate.people.union import merge

HASHER = SubjectHasher(b"k" * 32)
MEDICAL = PERSONAL_BIT | CATEGORY_BITS["medical_health"]
FINANCE = PERSONAL_BIT | CATEGORY_BITS["financial_account"]


def _row_subject(offset: int = 0):
    return lambda rows, kind: pack_digests([HASHER.digest(kind, f"t#{offset + row}") for row in rows.tolist()])


def inferred(masks: dict, rows: dict, digests: dict[str, list[bytes]], row_subjects) -> ExportSubjects:
    """``subjects.inferred`` with the identifier digests given as bytes."""
    return inferred_words(masks, rows, {role: pack_digests(found) for role, found in digests.items()}, row_subjects)


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


@pytest.mark.parametrize(
    ("column", "role"),
    [
        ("patient_name", "patient"),
        ("Patient Phone", "patient"),
        ("患者姓名", "patient"),
        ("病人身份证号", "patient"),
        ("reporter[].mobile", "reporter"),
        ("报告人电话", "reporter"),
        ("报告者邮箱", "reporter"),
        ("被保险人身份证号", "insured"),
        ("投保人手机号", "policyholder"),
        ("受益人.银行卡号", "beneficiary"),
        ("contact_phone", "contact"),
        ("联系人电话", "contact"),
        ("emergency_contact_mobile", "emergency_contact"),  # the longest word wins
        ("紧急联系人电话", "emergency_contact"),
        ("客户经理手机", "account_manager"),
        ("客户编号", "customer"),
        ("doctor.name", "doctor"),
        ("员工工号", "employee"),
        ("agent", "agent"),
        ("diagnosis", None),
        ("patients_note", None),  # a word must end at a separator (English) ...
        ("agency_phone", None),
        ("手机号", None),
        ("联系方式[].值", None),  # ... and 联系 alone is no role
    ],
)
def test_role_word_of_column(column: str, role: str | None) -> None:
    assert role_word(column) == role


def test_inferred_roles_one_named_role_claims_every_column_several_leave_the_rest_unnamed() -> None:
    assert inferred_roles(["insured_name", "payout_card", "diagnosis"]) == dict.fromkeys(
        ["insured_name", "payout_card", "diagnosis"], "insured"
    )
    assert inferred_roles(["姓名", "手机号"]) == {"姓名": DEFAULT_ROLE, "手机号": DEFAULT_ROLE}
    assert inferred_roles(["患者姓名", "reporter_phone", "icd10", "patient_age"]) == {
        "患者姓名": "patient",
        "reporter_phone": "reporter",
        "icd10": DEFAULT_ROLE,
        "patient_age": "patient",
    }


def test_inferred_links_rows_sharing_an_identifier() -> None:
    phone, idno, mail = (HASHER.digest("X", s) for s in ("p", "i", "m"))
    # row 0: phone; row 1: phone + id (same person as row 0); row 2: id only -> same person again;
    # row 3: e-mail only -> another; row 4: personal info but no identifier; row 5: nothing personal.
    masks = np.array([PERSONAL_BIT, MEDICAL, PERSONAL_BIT, FINANCE, PERSONAL_BIT, 0], dtype=np.uint16)
    subjects = inferred({"": masks}, {"": [0, 1, 1, 2, 3]}, {"": [phone, phone, idno, idno, mail]}, _row_subject())
    assert subjects.identified_by == STRONG_IDENTIFIERS
    people = dict(subjects.people())
    assert sorted(people.values()) == sorted([MEDICAL, FINANCE, PERSONAL_BIT])
    assert people[min(phone, idno)] == MEDICAL
    assert dict(subjects.aliases()) == {max(phone, idno): min(phone, idno)}
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
    people = dict(subjects.people())
    assert len(subjects) == len(people) == 5
    assert people[HASHER.digest("key:patient_id", "P1")] == MEDICAL
    assert people[HASHER.digest("key:reporter_id", "P1")] == FINANCE
    counts = subjects.counts()
    assert (counts.personal, counts.sensitive, counts.categories["financial_account"]) == (5, 2, 1)


def test_inferred_links_only_identifiers_of_one_role_on_a_row() -> None:
    reporter_phone, p1, p2 = (HASHER.digest("X", s) for s in ("r", "p1", "p2"))
    # one reporter (same phone on rows 0-2) reports patient p1 twice (rows 0, 1) and a patient without an
    # identifier (row 2); row 0 also holds a diagnosis in a column naming no role; row 3 holds nothing.
    patient = np.array([PERSONAL_BIT, PERSONAL_BIT, PERSONAL_BIT, 0], dtype=np.uint16)
    reporter = np.array([PERSONAL_BIT, PERSONAL_BIT, PERSONAL_BIT, 0], dtype=np.uint16)
    unnamed = np.array([MEDICAL, 0, 0, 0], dtype=np.uint16)
    subjects = inferred(
        {"patient": patient, "reporter": reporter, "": unnamed},
        {"patient": [0, 1], "reporter": [0, 1, 2]},
        {"patient": [p1, p1], "reporter": [reporter_phone] * 3},
        _row_subject(),
    )
    # patient p1, the patient of row 2, the reporter, the unnamed person of row 0
    people = dict(subjects.people())
    assert len(people) == 4
    assert people[p1] == PERSONAL_BIT
    assert people[reporter_phone] == PERSONAL_BIT
    assert people[HASHER.digest("row:patient", "t#2")] == PERSONAL_BIT
    assert people[HASHER.digest("row", "t#0")] == MEDICAL
    assert dict(subjects.aliases()) == {}
    assert (subjects.counts().personal, subjects.counts().sensitive) == (4, 1)
    # the same identifier in two roles (a reporter who is also a patient elsewhere) is one person
    both = inferred(
        {"patient": patient, "reporter": reporter},
        {"patient": [2], "reporter": [0]},
        {"patient": [p2], "reporter": [p2]},
        _row_subject(),
    )
    assert both.counts().personal == 1 + 2 + 2  # p2 (patient row 2 = reporter row 0), patients 0, 1, reporters 1, 2


ROLES = ("patient", "reporter", "")
Rows = tuple[dict[str, np.ndarray], dict[str, list[int]], dict[str, list[bytes]]]


def _random_rows(seed: int, n: int) -> Rows:
    """Rows with three people each; a role's identifiers come from a pool shared by all roles."""
    rng = random.Random(seed)
    pool = [HASHER.digest("ID", str(i)) for i in range(n // 3)]
    masks, rows, digests = {}, {}, {}
    for role in ROLES:
        masks[role] = np.array([rng.choice([0, 0, PERSONAL_BIT, MEDICAL, FINANCE]) for _ in range(n)], np.uint16)
        rows[role], digests[role] = [], []
        for row in np.flatnonzero(masks[role]).tolist():
            for digest in rng.sample(pool, rng.choice([0, 1, 1, 2, 3])):
                rows[role].append(row)
                digests[role].append(digest)
    return masks, rows, digests


def _split(data: Rows, cuts: list[int]) -> list[ExportSubjects]:
    masks, rows, digests = data
    parts = []
    for start, stop in zip([0, *cuts], [*cuts, len(masks[ROLES[0]])], strict=True):
        picked = {
            role: [(r - start, d) for r, d in zip(rows[role], digests[role], strict=True) if start <= r < stop]
            for role in ROLES
        }
        parts.append(
            inferred(
                {role: masks[role][start:stop] for role in ROLES},
                {role: [r for r, _ in picked[role]] for role in ROLES},
                {role: [d for _, d in picked[role]] for role in ROLES},
                _row_subject(start),
            )
        )
    return parts


@pytest.mark.parametrize("seed", range(5))
def test_merging_parts_equals_one_pass(seed: int) -> None:
    data = _random_rows(seed, 600)
    whole = inferred(*data, _row_subject())
    rng = random.Random(seed)
    for _ in range(3):
        cuts = sorted(rng.sample(range(1, 600), rng.randint(1, 20)))
        parts = _split(data, cuts)
        rng.shuffle(parts)  # the order parts arrive in does not matter either
        merged = merge(parts, STRONG_IDENTIFIERS)
        assert dict(merged.people()) == dict(whole.people())
        assert dict(merged.aliases()) == dict(whole.aliases())
        assert merged.counts() == whole.counts()
    # merging is idempotent: a part delivered twice (a retried worker) changes nothing
    assert dict(merge([whole, whole], STRONG_IDENTIFIERS).people()) == dict(whole.people())


def test_merge_refuses_mixed_identification() -> None:
    keyed = ExportSubjects(identified_by="subject_keys:patient_id")
    with pytest.raises(ValueError, match="cannot merge"):
        merge([keyed], STRONG_IDENTIFIERS)
