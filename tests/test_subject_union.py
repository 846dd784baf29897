"""The union of partial subject tables: against a plain dictionary union-find, in any grouping, with digests
whose high words tie, and the digest format itself (plain HMAC-SHA256, 16 bytes, packed as words)."""

from __future__ import annotations

import hashlib
import hmac
import pickle
import random

import numpy as np
import pyarrow as pa
import pytest
from export_gate.model import CATEGORY_BITS, PERSONAL_BIT, ExportSubjects
from export_gate.people import union as subject_union
from export_gate.people.digest import (
    BLAKE2B,
    DIGEST_SCHEME,
    HMAC_SHA256,
    SCHEMES,
    SubjectHasher,
    pack_digests,
    unpack_digests,
)
from export_gate.people.union import SubjectSet, build, from_mapping, merge

HOW = "strong_identifiers"
MASKS = [PERSONAL_BIT, PERSONAL_BIT | CATEGORY_BITS["medical_health"], PERSONAL_BIT | CATEGORY_BITS["biometric"]]


def _reference_digest(key: bytes, scheme: str, message: bytes) -> bytes:
    """The scheme computed with the standard library's one-shot functions, independently of SubjectHasher."""
    if scheme == HMAC_SHA256:
        return hmac.new(key, message, hashlib.sha256).digest()[:16]
    blake_key = hmac.new(key, b"export-gate subject digests: keyed BLAKE2b", hashlib.sha256).digest()
    return hashlib.blake2b(message, key=blake_key, digest_size=16).digest()


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("key", [b"k" * 32, b"long key " * 20])
def test_digest_is_the_plain_keyed_hash_of_its_scheme(key: bytes, scheme: str) -> None:
    hasher = SubjectHasher(key, scheme)
    expected = _reference_digest(key, scheme, b"CN_MOBILE\x1f8613812345678")
    assert hasher.digest("CN_MOBILE", "8613812345678") == expected
    assert unpack_digests(hasher.digests([("CN_MOBILE", "8613812345678"), ("X", "y")]))[0] == expected
    assert pickle.loads(pickle.dumps(hasher)).digest("CN_MOBILE", "8613812345678") == expected
    # an Arrow array of one kind digests the same: short, multi-block (> 55 bytes) and non-ASCII identifiers
    identifiers = ["8613812345678", "x" * 200, "张三@例子.中国"]
    for array in (pa.array(identifiers), pa.array(identifiers, pa.large_string())):
        words = hasher.digests_of("CN_MOBILE", array)
        assert np.array_equal(words, hasher.digests(("CN_MOBILE", i) for i in identifiers))
        assert unpack_digests(words) == [
            _reference_digest(key, scheme, f"CN_MOBILE\x1f{i}".encode()) for i in identifiers
        ]


def test_schemes_differ_and_new_years_take_blake2b() -> None:
    """The same key and identifier under the two schemes are two digests (why a year keeps its scheme), and
    the default is the faster keyed BLAKE2b."""
    key = b"k" * 32
    assert SubjectHasher(key).scheme == DIGEST_SCHEME == BLAKE2B
    assert SubjectHasher(key, BLAKE2B).digest("X", "1") != SubjectHasher(key, HMAC_SHA256).digest("X", "1")
    assert SubjectHasher.ephemeral(HMAC_SHA256).scheme == HMAC_SHA256
    with pytest.raises(ValueError, match="unknown subject digest scheme 'md5'"):
        SubjectHasher(key, "md5")


def test_packed_digests_sort_like_bytes_and_refuse_raw_values() -> None:
    digests = [bytes([255 - i]) + bytes(14) + bytes([i]) for i in range(5)] + [bytes(16)]
    words = pack_digests(digests)
    order = np.lexsort((words[:, 1], words[:, 0]))
    assert unpack_digests(words[order]) == sorted(digests)
    with pytest.raises(ValueError, match="16-byte keyed digests"):
        pack_digests([b"13812345678"])
    with pytest.raises(ValueError, match="16-byte keyed digests"):
        from_mapping({"13812345678": 1})  # type: ignore[dict-item]


def _reference(parts: list[tuple[dict[bytes, int], list[tuple[bytes, bytes]]]]) -> tuple[dict, dict]:
    """The union with a dictionary union-find: (canonical -> mask, alias -> canonical); canonical = smallest."""
    parent: dict[bytes, bytes] = {}

    def find(d: bytes) -> bytes:
        while parent.setdefault(d, d) != d:
            d = parent[d]
        return d

    for masks, links in parts:
        for d in masks:
            find(d)
        for a, b in links:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    people: dict[bytes, int] = {}
    for masks, _ in parts:
        for d, m in masks.items():
            people[find(d)] = people.get(find(d), 0) | m
    aliases = {d: find(d) for d in parent if find(d) != d}
    for canonical in {find(d) for d in parent}:
        people.setdefault(canonical, 0)
    return people, aliases


def _random_parts(seed: int, tie: bool) -> list[tuple[dict[bytes, int], list[tuple[bytes, bytes]]]]:
    rng = random.Random(seed)
    high = bytes(8)
    pool = [(high if tie and i % 3 == 0 else rng.randbytes(8)) + rng.randbytes(8) for i in range(300)]
    parts = []
    for _ in range(rng.randint(5, 30)):
        chosen = rng.sample(pool, rng.randint(1, 25))
        masks = {d: rng.choice(MASKS) for d in chosen}
        links = [(rng.choice(chosen), rng.choice(chosen)) for _ in range(rng.randint(0, 8))]
        parts.append((masks, links))
    return parts


def _table(masks: dict[bytes, int], links: list[tuple[bytes, bytes]]) -> ExportSubjects:
    digests = [*masks, *(d for link in links for d in link)]
    values = np.zeros(len(digests), dtype=np.uint16)
    values[: len(masks)] = list(masks.values())
    ends = np.arange(len(masks), len(digests)).reshape(-1, 2)
    return build(pack_digests(digests), values, ends, identified_by=HOW)


@pytest.mark.parametrize("tie", [False, True], ids=["random", "high-words-tie"])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("group", [1, 7, 10**9], ids=["one-by-one", "small-groups", "all-at-once"])
@pytest.mark.parametrize("bits", [0, 3, 8], ids=lambda bits: f"{2**bits}-partitions")
def test_union_equals_a_dictionary_union_find(
    seed: int, tie: bool, group: int, bits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subject_union, "PENDING_IDENTIFIERS", group)
    monkeypatch.setattr(subject_union, "SCAN_PARTITION_BITS", bits)
    parts = _random_parts(seed, tie)
    people, aliases = _reference(parts)
    merged = merge([_table(masks, links) for masks, links in parts], HOW)
    assert dict(merged.people()) == people
    assert dict(merged.aliases()) == aliases
    assert len(merged) == len(people)
    assert merged.counts().personal == len(people)
    assert list(merged.high) == sorted(merged.high.tolist())  # the columns stay in digest order


def test_a_part_joining_two_people_of_the_table_keeps_the_smallest_digest_and_both_masks() -> None:
    a, b, c = bytes([1]) * 16, bytes([2]) * 16, bytes([3]) * 16
    subjects = SubjectSet(HOW, partition_bits=1)
    subjects.update(from_mapping({a: MASKS[1]}))
    subjects.update(from_mapping({c: MASKS[2]}))
    subjects.update(from_mapping({b: PERSONAL_BIT}, {b: c}))
    subjects.update(from_mapping({a: PERSONAL_BIT}, {a: b}))
    result = subjects.result()
    assert dict(result.people()) == {a: MASKS[1] | MASKS[2]}
    assert dict(result.aliases()) == {b: a, c: a}
    assert pickle.loads(pickle.dumps(result)).counts() == result.counts()


@pytest.mark.parametrize("bits", [0, 3], ids=lambda bits: f"{2**bits}-partitions")
def test_identifiers_added_in_calls_equal_one_build(bits: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subject_union, "PENDING_IDENTIFIERS", 5)  # some calls flush, some wait for the next
    rng = np.random.default_rng(1)
    digests = pack_digests([rng.bytes(16) for _ in range(40)])[rng.integers(0, 40, 120)]  # repeats across calls
    masks = rng.choice(np.array([*MASKS, 0], dtype=np.uint16), len(digests))
    edges = rng.integers(0, len(digests), (30, 2))
    whole = build(digests, masks, edges, identified_by=HOW)
    subjects = SubjectSet(HOW, partition_bits=bits)
    for calls in np.array_split(np.arange(len(digests)), 4):
        mine = edges[np.isin(edges[:, 0], calls) & np.isin(edges[:, 1], calls)]
        subjects.add(digests[calls], masks[calls], np.searchsorted(calls, mine))
    subjects.add(digests, np.zeros(len(digests), np.uint16), edges)  # the links between calls, saying nothing new
    result = subjects.result()
    assert dict(result.people()) == dict(whole.people())
    assert dict(result.aliases()) == dict(whole.aliases())
