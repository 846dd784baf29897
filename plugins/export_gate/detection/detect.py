"""Find personal and sensitive information in every cell of a column, vectorised.

Plain Presidio analyses one string at a time (~250 cells/s here). This module runs the same recognizers
(detectors/recognizers.yaml) over whole Arrow arrays instead:

1. each distinct value is analysed once (dictionary encoding), and its findings form one group that its rows
   point to; a column whose values nearly all differ (order numbers, IDs) skips the encoding (a group per row);
   findings are arrays (``Findings``: kinds, groups, identifiers in Arrow), never a Python object per cell;
2. values made only of ASCII letters and digits (order numbers, IDs, codes: most cells) need no regex at all:
   an identifier there can only be the whole value, and the shapes each recognizer's regex allows
   (export_gate.detection.shapes) are checked on the Arrow data buffer with numpy;
3. for the other values, one RE2 pass with the union of all identifier patterns (bounded by their forbidden
   neighbours) finds those that can hold an identifier at all, and the union of the remaining ones is re-run
   after a recognizer matched, so a value no recognizer can match costs one pass, not one per recognizer;
   recognizers run by priority, one RE2 pass each (pyarrow: linear time, no catastrophic backtracking);
4. a value that *is* an identifier (the whole trimmed cell matches) is validated in bulk by the vectorised
   validators and claimed, so later recognizers skip it; only values with an identifier *inside* text go
   through Python, match by match; term lists (medical, religion, ...) run only on values with letters or CJK;
5. Presidio's spaCy NER runs only on free-text columns, only on values with two capitalised words.

Column names give context (a phone column accepts blocks phonenumbers does not know; a diagnosis column makes
every value health information): see export_gate.detection.profile and detectors/columns.yaml.
"""

from __future__ import annotations

import bisect
import datetime
import hashlib
import itertools
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache, cached_property
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import re2

from export_gate.detection import validators
from export_gate.detection.profile import NER_CANDIDATE, WRITTEN_DATE, ColumnPlan, plan_column, type_family
from export_gate.detection.recognizers import (
    Recognizer,
    detectors_digest,
    load_columns,
    load_recognizers,
    shared_analyzer,
)
from export_gate.detection.shapes import (
    PlainValues,
    ValueBytes,
    alnum_shapes,
    alnum_words,
    matches_no_plain_text,
    needs,
)

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine

__all__ = ["ColumnPlan", "Detector", "DetectorSettings", "Hit"]

#: Sample values of a free-text column run through the full Presidio analyzer when planning.
PRESIDIO_SAMPLE = 20
#: Presidio results below this score are shapes without validation or context (a bare 8-digit "permit").
PRESIDIO_MIN_SCORE = 0.35
#: Texts per spaCy batch.
NER_BATCH = 256
#: The export date planning assumes: the plan names entities only, so the same sample gives the same plan on
#: any day (a birth date is "real" up to this date).
PLANNING_DATE = datetime.date.max
#: Sample values whose entities a plan's reason lists (a plan per column: 5,000 columns must plan fast).
PLAN_DETECT_VALUES = 32
#: Characters of each sample value looked at when planning.
PROFILE_CHARS = 4096
#: Characters before a match searched for a context word ("护照号码：E12345678").
CONTEXT_WINDOW = 20
ALNUM = string.ascii_letters + string.digits
#: Characters a value made only of cannot hold a term (medical, religion, names, addresses need letters or CJK).
NOT_TERM_CHARS = "0123456789 +()./:-"
#: Values NFKC leaves as they are: ASCII, CJK punctuation 、。〃 ... (U+3001-3035) and CJK unified ideographs
#: (extension A and the main block have no decomposition mappings, and nothing composes with them).
NFKC_STABLE = r"^[\x00-\x7F\x{3001}-\x{3035}\x{3400}-\x{4DBF}\x{4E00}-\x{9FFF}]*$"
_NO_ROWS = np.zeros(0, dtype=np.int64)
#: A birth date written year first (1985-03-12, 1985/3/12, 1985年3月12日, 19850312, 1985-03-12 08:00).
YEAR_FIRST_DATE = r"^(?P<y>[0-9]{4})[-/.年]?(?P<m>[0-9]{1,2})[-/.月]?(?P<d>[0-9]{1,2})"
#: Sample values needed to judge whether nearly all of a column's values differ, and the share of distinct
#: ones that means so (a birthday-paradox share: 1,000 draws of 50,000 values repeat 1%).
DISTINCT_SAMPLE = 256
MOSTLY_DISTINCT = 0.99
#: A PERSON span counts when it is a full name (given and family name, capitalised): the small spaCy model
#: also tags single capitalised words ("Shipped") as PERSON.
FULL_NAME = re.compile(r"[A-Z][\w'.-]*(?:\s+[A-Z][\w'.-]*)+")


class Hit(NamedTuple):
    """One finding in one cell, as ``Findings.per_row`` spells it out: no position and no raw text except the
    normalised strong identifier, which the subjects stage turns into a keyed digest at once."""

    entity: str
    identifier: str | None
    categories: frozenset[str]


#: What a finding is: (entity, sensitive categories). Findings carry an index into the detector's kinds, so a
#: column of 10^5 identifiers is a few arrays, not 10^5 Python objects.
Kind = tuple[str, frozenset[str]]


@dataclass(frozen=True)
class Findings:
    """What ``Detector.detect`` found in a column, as arrays. Equal values are analysed once, so findings
    belong to *groups* (one group per distinct value with a finding) and each row points to its group.

    ``rows``: ascending row indices with a finding; ``groups``: each of those rows' group. Per finding, in
    group order (every group has at least one): ``hit_group``, ``hit_kind`` (an index into ``kinds``) and
    ``identifiers`` (the normalised strong identifier, e.g. ``CN_MOBILE:+8613812345678``, or null)."""

    rows: np.ndarray
    groups: np.ndarray
    hit_group: np.ndarray
    hit_kind: np.ndarray
    identifiers: pa.Array
    kinds: tuple[Kind, ...]

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def none(cls, kinds: tuple[Kind, ...] = ()) -> Findings:
        return cls(_NO_ROWS, _NO_ROWS, _NO_ROWS, _NO_ROWS, pa.nulls(0, pa.string()), kinds)

    def group_starts(self) -> np.ndarray:
        """Where each group's findings start (``hit_group`` is ascending and has no gaps)."""
        first = np.ones(len(self.hit_group), dtype=bool)
        first[1:] = self.hit_group[1:] != self.hit_group[:-1]
        return np.flatnonzero(first)

    def entities(self) -> set[str]:
        """The entity names found."""
        return {self.kinds[k][0] for k in np.unique(self.hit_kind).tolist()}

    def per_row(self) -> list[tuple[Hit, ...]]:
        """Each row's findings as ``Hit`` tuples (rows of one group share one tuple object). Python objects per
        finding: for tests, examples and small samples, not for a scan's hot path."""
        hits = [
            Hit(self.kinds[k][0], identifier, self.kinds[k][1])
            for k, identifier in zip(self.hit_kind.tolist(), self.identifiers.to_pylist(), strict=True)
        ]
        bounds = [*self.group_starts().tolist(), len(hits)]
        tuples = [tuple(hits[a:b]) for a, b in itertools.pairwise(bounds)]
        return [tuples[g] for g in self.groups.tolist()]


@dataclass(frozen=True)
class DetectorSettings:
    """Choices that change what counts. An identity document number alone is personal, not sensitive, under
    GB/T 45574-2025; GB/T 35273-2020 listed it as sensitive (then it adds specific_identity). Findings on a row
    with nobody they can belong to (export_gate.people.rows) are reported, not counted, unless
    ``count_unanchored`` (the strict setting) counts each as a person."""

    identity_document_sensitive: bool = False  # False = GB/T 45574-2025 (current); True = GB/T 35273-2020
    ner: bool = True  # spaCy NER for English names in free text
    count_unanchored: bool = False  # strict: findings with no person on their row count as people too


@dataclass
class _Found:
    """Findings over the distinct values of a column: ``pos[i]`` holds a finding of kind ``kind[i]`` with
    identifier ``identifiers[i]`` (None: a recognizer without identifiers); span-carrying matches (start >= 0)
    compete by ``priority`` when they overlap in one value."""

    pos: np.ndarray
    kind: np.ndarray
    identifiers: pa.Array | None
    start: np.ndarray
    end: np.ndarray
    priority: np.ndarray

    @classmethod
    def whole(cls, pos: np.ndarray, kind: int | np.ndarray) -> _Found:
        """Findings that are the whole value, without identifiers."""
        minus = np.full(len(pos), -1, dtype=np.int64)
        kinds = np.broadcast_to(np.asarray(kind, dtype=np.int64), len(pos))
        return cls(pos.astype(np.int64), kinds, None, minus, minus, np.zeros(len(pos), dtype=np.int64))

    def identifier_array(self) -> pa.Array:
        """The identifiers, all null for a recognizer without identifiers (so findings concatenate)."""
        return pa.nulls(len(self.pos), pa.string()) if self.identifiers is None else self.identifiers


#: Below this many values a cached google-re2 object is cheaper than pyarrow compiling the regex per call
#: (pyarrow: ~0.7 ms a regex whatever the size; google-re2's Python wrapper: ~8 us a value).
SMALL = 96


@cache
def _re2(regex: str) -> re2._Regexp:
    return re2.compile(regex)


def _match(strings: pa.Array, regex: str) -> np.ndarray:
    """Which values contain a match of ``regex`` (RE2 either way: linear time)."""
    if len(strings) < SMALL:
        compiled = _re2(regex)
        encoded = [v.encode() if v is not None else None for v in strings.to_pylist()]  # bytes: 3x faster in RE2
        return np.array([v is not None and compiled.search(v) is not None for v in encoded], dtype=bool)
    return pc.fill_null(pc.match_substring_regex(strings, regex), False).to_numpy(zero_copy_only=False)


def _literal(word: str) -> str:
    """``word`` as an RE2 literal: ASCII punctuation as \\x{..} escapes, everything else as it is."""
    return "".join(c if c.isalnum() or ord(c) > 127 else f"\\x{{{ord(c):02x}}}" for c in word)


@cache
def _walls_alnum(bounded: str | None) -> bool:
    """Whether a recognizer's forbidden neighbours (a character class) include every ASCII letter and digit."""
    return bounded is not None and all(re.fullmatch(bounded, c) for c in ALNUM)


def _either(regexes: Iterable[str]) -> str:
    """One regex matching wherever any of ``regexes`` does."""
    return "|".join(f"(?:{r})" for r in regexes)


def _any_of(values: pa.Array, where: np.ndarray, regexes: list[str]) -> np.ndarray:
    """The positions in ``where`` whose value matches any of ``regexes`` (one pass with their union)."""
    if len(where) == 0:
        return where
    return where[_match(_subset(values, where), _either(regexes))]


def _beyond(strings: pa.Array, regexes: tuple[str, ...], excluding: str) -> np.ndarray:
    """Which values still match one of ``regexes`` once every match of ``excluding`` is cut out (each excluded
    word is a match of the patterns, recognizers.yaml: excluding). A separator takes each cut's place, so no new
    match forms across it: one replacing pass, then a match pass over the values that had something cut."""
    out = np.ones(len(strings), dtype=bool)
    cut = pc.replace_substring_regex(strings, excluding, "\x00")
    some = np.flatnonzero(pc.not_equal(pc.binary_length(cut), pc.binary_length(strings)).to_numpy(zero_copy_only=False))
    if len(some):
        out[some] = _match(_subset(cut, some), _either(regexes))
    return out


def _each(values: pa.Array, where: np.ndarray, regexes: tuple[str, ...]) -> np.ndarray:
    """The positions in ``where`` whose value matches one of ``regexes``, one pass each over the values not yet
    matched: a long term list comes in several regexes (recognizers.TERM_CHUNK), each a DFA RE2 can hold."""
    found = []
    for regex in regexes:
        if len(where) == 0:
            break
        hit = _match(_subset(values, where), regex)
        found.append(where[hit])
        where = where[~hit]
    return np.sort(np.concatenate(found)) if found else where[:0]


def _patterns_of(rec: Recognizer, in_context: bool) -> tuple[str, ...]:
    return rec.patterns + (rec.context_patterns if in_context else ())


def _plain(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(which values are made only of ASCII letters and digits, which only of digits): two string kernels."""
    plain = pc.fill_null(pc.ascii_is_alnum(strings), False).to_numpy(zero_copy_only=False)
    digits = pc.fill_null(pc.ascii_is_decimal(strings), False).to_numpy(zero_copy_only=False)
    return plain.copy(), digits & plain


def _subset(values: pa.Array, where: np.ndarray) -> pa.Array:
    """``values`` at the positions ``where`` (ascending), without a copy when that is all of them."""
    return values if len(where) == len(values) else values.take(pa.array(where))


#: Type families whose values cast to ASCII text without surrounding whitespace.
_ASCII_WHEN_CAST = frozenset({"integer", "floating", "decimal", "temporal", "boolean"})


def _prepare(distinct: pa.Array) -> pa.Array:
    """Distinct values as trimmed strings, NFKC-normalised where not ASCII (full-width digits, brackets, '@').
    Columns of ASCII letters and digits only, and numbers or dates cast to text, come back as they are: two
    passes (trim, ASCII test) saved on half the columns of a typical export."""
    family = type_family(distinct.type)
    if family == "floating":  # whole-number floats (see profile._whole_numbers) as integers, not "1.38e+10"
        whole = pc.fill_null(pc.less(pc.abs(distinct), 2.0**53), False)
        whole = pc.and_(whole, pc.equal(distinct, pc.floor(distinct)))
        as_int = pc.cast(pc.if_else(whole, distinct, 0.0), pa.int64(), safe=False)
        distinct = pc.if_else(whole, pc.cast(as_int, pa.string()), pc.cast(distinct, pa.string()))
    strings = distinct if family == "string" else pc.cast(distinct, pa.string())
    if not pa.types.is_string(strings.type):
        strings = pc.cast(strings, pa.string())
    if family in _ASCII_WHEN_CAST or pc.all(pc.ascii_is_alnum(strings)).as_py():
        return strings  # numbers, dates, IDs, codes: nothing to trim or normalise
    strings = pc.utf8_trim_whitespace(strings)
    wide = pc.fill_null(pc.invert(pc.string_is_ascii(strings)), False).to_numpy(zero_copy_only=False)
    if wide.any():  # NFKC costs 4x a regex pass: skip values it cannot change (plain Chinese text)
        where = np.flatnonzero(wide)
        wide[where] = ~_match(strings.take(pa.array(where)), NFKC_STABLE)
    if wide.any():
        mask = pa.array(wide)
        strings = pc.replace_with_mask(strings, mask, pc.utf8_normalize(strings.filter(mask), "NFKC"))
    return strings


@cache
def _ascii_walls(bounded: str | None) -> frozenset[int]:
    """The bytes of a recognizer's forbidden neighbours when they are a plain class of ASCII characters (then
    UTF-8 bytes can be checked directly); empty otherwise."""
    if not bounded or not bounded.isascii() or not re.fullmatch(r"\[[^\^\\\[\]][^\\\[\]]*\]", bounded):
        return frozenset()
    return frozenset(c for c in range(128) if re.fullmatch(bounded, chr(c)))


def _before(text: bytes, start: int) -> str:
    """The CONTEXT_WINDOW characters before byte ``start`` of UTF-8 ``text``."""
    window = text[max(0, start - 4 * CONTEXT_WINDOW - 3) : start]  # at least CONTEXT_WINDOW whole characters
    return window.decode(errors="ignore")[-CONTEXT_WINDOW:]


def _walled(text: bytes, start: int, end: int, walls: frozenset[int], border: re.Pattern[str]) -> bool:
    """Whether a match at bytes ``start:end`` of UTF-8 ``text`` touches a forbidden neighbour: the byte itself
    when the neighbours are ASCII (a byte of a CJK character is never one), else the character."""
    if walls:
        return (start > 0 and text[start - 1] in walls) or (end < len(text) and text[end] in walls)
    before = text[max(0, start - 4) : start].decode(errors="ignore")[-1:]
    after = text[end : end + 4].decode(errors="ignore")[:1]
    return bool(before and border.match(before)) or bool(after and border.match(after))


@cache
def _context_words(words: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE) if words else None


@cache
def _label(not_after: str | None) -> re.Pattern[str] | None:
    """A recognizer's ``not_after`` wording, anchored to end where the match starts."""
    return re.compile(f"(?:{not_after})$") if not_after else None


def _extracted_ints(strings: pa.Array, regex: str) -> dict[str, np.ndarray]:
    """The named groups of ``regex`` as integers per value; -1 where the value does not match."""
    struct = pc.extract_regex(strings, regex)
    matched = pc.is_valid(struct)
    out = {}
    for i in range(struct.type.num_fields):
        group = pc.if_else(matched, pc.struct_field(struct, [i]), pa.scalar(None, pa.string()))
        out[struct.type.field(i).name] = pc.fill_null(pc.cast(group, pa.int64()), -1).to_numpy(zero_copy_only=False)
    return out


def _mostly_distinct(sample: pa.Array) -> bool:
    """Whether nearly every value of a column differs from the others (order numbers, IDs, timestamps), judged
    once per column on its plan's sample: then each row is analysed as it is and only rows with findings are
    grouped (dictionary encoding would cost a pass and save nothing). Speed only: both ways find the same."""
    present = len(sample) - sample.null_count
    return present >= DISTINCT_SAMPLE and pc.count_distinct(sample).as_py() >= MOSTLY_DISTINCT * present


def _distinct(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(index of each row's value in the distinct values, -1 for null; the distinct values)."""
    encoded = values if pa.types.is_dictionary(values.type) else pc.dictionary_encode(values)
    indices = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return indices, encoded.dictionary


def _rows(indices: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows whose distinct value (``indices``, -1 for null) is one of ``pos`` (ascending), and the index
    in ``pos`` of each one's value: its group."""
    if len(pos) == 0:
        return _NO_ROWS, _NO_ROWS
    lookup = np.full(int(max(indices.max(initial=0), pos.max())) + 2, -1, dtype=np.int64)
    lookup[pos] = np.arange(len(pos))
    mapped = lookup[indices]  # index -1 (null) reads the last slot, which is always -1
    rows = np.flatnonzero(mapped >= 0)
    return rows.astype(np.int64), mapped[rows]


def _resolve(members: list[tuple[int, int, int, tuple[int, str | None]]]) -> list[int]:
    """Which findings of one value stay (their index in ``members``): overlapping spans keep the highest
    priority, and a finding equal to one kept (same kind and identifier) collapses into it. Kept spans never
    overlap, so a bisect over their starts finds a clash in log time (a cell may hold 10^5 matches)."""
    starts: list[int] = []
    ends: list[int] = []
    kept: dict[tuple[int, str | None], int] = {}
    for i in sorted(range(len(members)), key=lambda m: (-members[m][2], members[m][0])):
        start, end, _, key = members[i]
        if start >= 0:
            at = bisect.bisect_right(starts, start)
            if (at > 0 and ends[at - 1] > start) or (at < len(starts) and starts[at] < end):
                continue
            starts.insert(at, start)
            ends.insert(at, end)
        kept.setdefault(key, i)
    return sorted(kept.values())


def _combine(found: list[_Found]) -> tuple[np.ndarray, np.ndarray, np.ndarray, pa.Array]:
    """Distinct-value positions with findings (ascending), and per finding (in that order) the index of its
    position, its kind and its identifier. Values with one finding (nearly all) are array work only."""
    found = [f for f in found if len(f.pos)]
    if not found:
        return _NO_ROWS, _NO_ROWS, _NO_ROWS, pa.nulls(0, pa.string())
    pos = np.concatenate([f.pos for f in found])
    kind = np.concatenate([f.kind for f in found])
    identifiers = pa.concat_arrays([f.identifier_array() for f in found])
    if len(pos) < 2 or bool(np.all(pos[1:] > pos[:-1])):  # one finding per value, in order: nothing to resolve
        return pos, np.arange(len(pos)), kind, identifiers
    order = np.argsort(pos, kind="stable")
    pos, kind = pos[order], kind[order]
    identifiers = identifiers.take(pa.array(order))
    unique, first, counts = np.unique(pos, return_index=True, return_counts=True)
    keep = np.ones(len(pos), dtype=bool)
    several = np.flatnonzero(counts > 1)  # overlapping findings in one value: resolved one value at a time
    if len(several):
        start, end, priority = (
            np.concatenate([getattr(f, a) for f in found])[order] for a in ("start", "end", "priority")
        )
        for i, n in zip(first[several].tolist(), counts[several].tolist(), strict=True):
            names = identifiers.slice(i, n).to_pylist()
            members = [
                (int(start[m]), int(end[m]), int(priority[m]), (int(kind[m]), names[m - i])) for m in range(i, i + n)
            ]
            keep[i : i + n] = False
            keep[[i + m for m in _resolve(members)]] = True
        pos, kind = pos[keep], kind[keep]
        identifiers = identifiers.filter(pa.array(keep))
    return unique, np.searchsorted(unique, pos), kind, identifiers


class _Worded:
    """Which values hold a context word of the recognizers that count only after one (passports, permits,
    ICD-10 codes outside a column named for them): one RE2 pass with all their words, the first time one of
    them runs, then each recognizer's own words only on the values that have some."""

    def __init__(self, values: pa.Array, recognizers: list[Recognizer]) -> None:
        self.values = values
        self.every = "|".join(_literal(w) for r in recognizers for w in r.context_words)
        self.mask: np.ndarray | None = None

    def among(self, rec: Recognizer, look: np.ndarray, open_: np.ndarray) -> np.ndarray:
        """The values of ``look`` holding one of ``rec``'s context words (``look`` within ``open_``, and
        ``open_`` within every earlier ``open_``)."""
        if len(look) == 0 or not rec.context_words:
            return look[:0]
        if self.mask is None:
            self.mask = np.zeros(len(self.values), dtype=bool)
            if self.every:
                self.mask[open_] = _match(_subset(self.values, open_), f"(?i:{self.every})")
        look = look[self.mask[look]]
        own = "|".join(_literal(w) for w in rec.context_words)
        return look[_match(_subset(self.values, look), f"(?i:{own})")] if len(look) and own != self.every else look


class _Scripts:
    """Which values of a column hold a non-ASCII character, and which an ASCII letter (read once, when a term
    union first runs), so the union of term lists looks for each script's terms only where they can be
    (recognizers.ScriptTails): one pass per kind of value, each with a small regex."""

    def __init__(self, strings: pa.Array) -> None:
        self.strings = strings
        self._masks: tuple[np.ndarray, np.ndarray] | None = None

    def _wide_and_letters(self) -> tuple[np.ndarray, np.ndarray]:
        if self._masks is None:
            wide = pc.fill_null(pc.invert(pc.string_is_ascii(self.strings)), False).to_numpy(zero_copy_only=False)
            self._masks = wide, ValueBytes(self.strings).count("letters") > 0
        return self._masks

    def any_term(self, where: np.ndarray, terms: list[Recognizer], regexes: dict[str, str]) -> np.ndarray:
        """The positions in ``where`` whose value may hold a match of one of ``terms`` (a prefilter, or the
        recognizer's own regex)."""
        split = [r.tails for r in terms if r.tails is not None]
        common = [r.prefilter or regexes[r.name] for r in terms if r.tails is None]
        if len(where) == 0 or not split:
            return _any_of(self.strings, where, common)
        wide, letters = (mask[where] for mask in self._wide_and_letters())
        found = []
        for has_wide, has_letter in itertools.product((False, True), repeat=2):
            mine = where[(wide == has_wide) & (letters == has_letter)]
            regexes_ = common + [t.wide for t in split if has_wide and t.wide]
            regexes_ += [t.ascii for t in split if has_letter and t.ascii]
            if len(mine) and regexes_:
                found.append(_any_of(self.strings, mine, regexes_))
        return np.sort(np.concatenate(found)) if found else where[:0]


class Detector:
    """The detectors of one scan. Cheap to re-create from its settings in a worker process (pickling sends
    only the settings); Presidio and spaCy are loaded the first time a plan needs them (free text with NER)."""

    def __init__(self, settings: DetectorSettings = DetectorSettings()) -> None:
        self.settings = settings
        self.recognizers: tuple[Recognizer, ...] = load_recognizers()
        self.version = hashlib.sha256(f"{detectors_digest()}|{settings!r}".encode()).hexdigest()[:16]
        _, _, self._empty = load_columns()
        self._kinds: dict[Kind, int] = {}

    def __reduce__(self) -> tuple[type, tuple[DetectorSettings]]:
        return type(self), (self.settings,)

    # --- planning ----------------------------------------------------------------------------------------

    def plan(self, column: str, dtype: pa.DataType, sample: pa.Array) -> ColumnPlan:
        """Decide how ``column`` is scanned from its name, type and a sample; the reason names what the sample
        held (entity names only). Free-text samples run through Presidio with spaCy NER."""
        if isinstance(sample, pa.ChunkedArray):
            sample = sample.combine_chunks()
        if pa.types.is_dictionary(sample.type):
            sample = sample.dictionary_decode()
        if type_family(sample.type) == "string":  # the plan needs the shape of values, not all of a 10 MB cell
            sample = pc.utf8_slice_codeunits(sample, 0, PROFILE_CHARS)
        plan = plan_column(column, dtype, sample, self.recognizers, self.settings.ner)
        if plan.kind == "skip" or len(sample) == 0:
            return plan
        by_value = tuple(n for n in validators.context_by_value(sample, self.recognizers) if n not in plan.context)
        if by_value:  # a column of bare ICD-10 codes, whatever its name
            plan = replace(plan, context=plan.context + by_value, reason=f"{plan.reason}; values are {by_value}")
        if plan.ner:
            entities = self._presidio_entities(sample)
        else:
            entities = sorted(self.detect(plan, sample.slice(0, PLAN_DETECT_VALUES), PLANNING_DATE).entities())
        reason = f"{plan.reason}; sample: {', '.join(entities) or 'nothing found'}"
        return replace(plan, reason=reason, distinct=_mostly_distinct(sample))

    @cached_property
    def analyzer(self) -> AnalyzerEngine:
        """Presidio's AnalyzerEngine over the registry built from detectors/recognizers.yaml, plus spaCy NER.
        Built on first use and shared in the process: importing Presidio imports spaCy (seconds), which an
        export of structured columns never needs."""
        return shared_analyzer(self.recognizers)

    def _presidio_entities(self, sample: pa.Array) -> list[str]:
        texts = [t for t in pc.unique(pc.drop_null(sample.cast(pa.string()))).to_pylist() if t][:PRESIDIO_SAMPLE]
        return sorted(
            {
                r.entity_type
                for text in texts
                for r in self.analyzer.analyze(text, language="en", score_threshold=PRESIDIO_MIN_SCORE)
            }
        )

    # --- detection ---------------------------------------------------------------------------------------

    def detect(self, plan: ColumnPlan, values: pa.Array, as_of: datetime.date) -> Findings:
        """Check every cell of ``values`` (see ``Findings``). Categories may depend on ``as_of``
        (minor_under_14)."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if plan.kind == "skip" or len(values) == 0 or values.null_count == len(values):
            return Findings.none(tuple(self._kinds))
        if plan.distinct and not pa.types.is_dictionary(values.type):  # a group per row
            valid = values.is_valid().to_numpy(zero_copy_only=False)
            rows = np.flatnonzero(valid)
            present = values if len(rows) == len(values) else values.filter(pa.array(valid))
            pos, hit_group, hit_kind, identifiers = _combine(self._findings(plan, present, as_of))
            rows, groups = rows[pos], np.arange(len(pos))
        else:
            indices, distinct = _distinct(values)
            pos, hit_group, hit_kind, identifiers = _combine(self._findings(plan, distinct, as_of))
            rows, groups = _rows(indices, pos)
        return Findings(rows, groups, hit_group, hit_kind, identifiers, tuple(self._kinds))

    def _kind(self, entity: str, categories: frozenset[str]) -> int:
        """The index of (entity, categories) among the kinds this detector has found so far."""
        return self._kinds.setdefault((entity, categories), len(self._kinds))

    def _findings(self, plan: ColumnPlan, distinct: pa.Array, as_of: datetime.date) -> list[_Found]:
        if plan.kind == "birth_date":
            return [self._birth_dates(plan, distinct, as_of)]
        if plan.kind == "age":
            return [self._ages(plan, distinct)]
        if type_family(distinct.type) == "binary":  # only a biometric column plans binary values
            return [_Found.whole(np.arange(len(distinct)), self._column_kind(plan))]
        strings = _prepare(distinct)
        if plan.kind == "coordinate":
            return [self._coordinates(plan, strings)]
        found = []
        if plan.entity is not None:
            found.append(self._column_rule(plan, strings))
        if plan.patterns:
            found.extend(self._patterns(plan, strings, as_of))
        if plan.ner:
            found.append(self._names_by_ner(strings))
        return found

    # --- column rules ------------------------------------------------------------------------------------

    def _column_kind(self, plan: ColumnPlan, categories: frozenset[str] | None = None) -> int:
        assert plan.entity is not None
        return self._kind(plan.entity, frozenset(plan.categories) if categories is None else categories)

    def _column_rule(self, plan: ColumnPlan, strings: pa.Array) -> _Found:
        """Every non-empty value of a column whose name says what it is (name, diagnosis, religion, ...)."""
        ok = (pc.utf8_length(strings).to_numpy(zero_copy_only=False) > 0) & ~_match(strings, self._empty)
        if plan.value_regex:
            ok &= _match(strings, plan.value_regex)
        pos = np.flatnonzero(ok)
        return _Found.whole(pos, self._column_kind(plan))

    def _birth_dates(self, plan: ColumnPlan, distinct: pa.Array, as_of: datetime.date) -> _Found:
        """Valid birth dates; under 14 on ``as_of`` adds minor_under_14."""
        if type_family(distinct.type) == "temporal":
            dates = pc.cast(distinct, pa.date32()) if not pa.types.is_date32(distinct.type) else distinct
            parts = [
                pc.fill_null(f(dates), 0).to_numpy(zero_copy_only=False).astype(np.int64)
                for f in (pc.year, pc.month, pc.day)
            ]
        else:
            strings = _prepare(distinct)
            parts = list(validators.year_first_dates(strings))  # most dates; the regex reads the others
            rest = np.flatnonzero(parts[0] < 0)
            if len(rest):
                groups = _extracted_ints(_subset(strings, rest), YEAR_FIRST_DATE)
                for part, key in zip(parts, "ymd", strict=True):
                    part[rest] = groups[key]
            if (parts[0] < 0).any():  # not year first: 03/15/2010, 15.03.2010
                return self._written_dates(plan, strings, parts, as_of)
        year, month, day = parts
        real = validators.real_dates(year, month, day, as_of)
        minor = (year * 10000 + month * 100 + day) > validators.minor_cutoff(as_of)
        return self._minor_hits(plan, real, minor)

    def _written_dates(
        self, plan: ColumnPlan, strings: pa.Array, year_first: list[np.ndarray], as_of: datetime.date
    ) -> _Found:
        """Birth dates written day and month before the year. A part above 12 says which is the day; otherwise
        the column's sample decides (plan.date_order, from its values with a part above 12); otherwise the
        date is read both ways: it is a birth date if either reading is a real one, and minor_under_14 if either
        real reading is under 14 (counting high, as for any uncertain sensitive finding)."""
        first, second, year = (_extracted_ints(strings, WRITTEN_DATE)[k] for k in ("a", "b", "y"))
        open_ = (year_first[0] < 0) & (year >= 0)
        day_first = open_ & ((first > 12) | ((second <= 12) & (plan.date_order == "dmy")))
        month_first = open_ & ((second > 12) | ((first <= 12) & (plan.date_order == "mdy")))
        cutoff = validators.minor_cutoff(as_of)
        real = np.zeros(len(strings), dtype=bool)
        minor = np.zeros(len(strings), dtype=bool)
        for allowed, month, day in ((~day_first, first, second), (~month_first, second, first)):
            reading = open_ & allowed & validators.real_dates(year, month, day, as_of)
            real |= reading
            minor |= reading & ((year * 10000 + month * 100 + day) > cutoff)
        y, m, d = year_first
        known = validators.real_dates(y, m, d, as_of)
        return self._minor_hits(plan, known | real, np.where(known, (y * 10000 + m * 100 + d) > cutoff, minor))

    def _minor_hits(self, plan: ColumnPlan, valid: np.ndarray, minor: np.ndarray) -> _Found:
        pos = np.flatnonzero(valid)
        young = self._column_kind(plan, frozenset(plan.categories) | {"minor_under_14"})
        return _Found.whole(pos, np.where(minor[pos], young, self._column_kind(plan)))

    def _ages(self, plan: ColumnPlan, distinct: pa.Array) -> _Found:
        """Ages in years ("12", "12岁", 12.5) or months ("8个月": an infant); under 14 adds minor_under_14."""
        strings = _prepare(distinct)
        age = _extracted_ints(strings, r"^(?P<n>[0-9]{1,3})(?:\.[0-9]+)?\s*(?:岁|周岁|years?|yrs?|y)?$")["n"]
        infant = _extracted_ints(strings, r"^(?P<n>[0-9]{1,3})\s*(?:个月|月|months?)$")["n"] >= 0
        valid = ((age >= 0) & (age <= 130)) | infant
        return self._minor_hits(plan, valid, infant | ((age >= 0) & (age < 14)))

    def _coordinates(self, plan: ColumnPlan, strings: pa.Array) -> _Found:
        """A latitude or longitude with at least 3 decimals (~100 m, within GB/T 45574's "precise")."""
        precise = _match(strings, r"^[-+]?(?:1[0-7][0-9]|[0-9]{1,2}|180)\.[0-9]{3,}$")
        pos = np.flatnonzero(precise)
        return _Found.whole(pos, self._column_kind(plan))

    # --- pattern recognizers -----------------------------------------------------------------------------

    def _patterns(self, plan: ColumnPlan, strings: pa.Array, as_of: datetime.date) -> list[_Found]:
        """All recognizers of recognizers.yaml over the distinct values; see the module docstring.

        Recognizers run highest priority first, and a value that *is* a valid identifier (whole cell) is
        claimed: nothing of lower priority can win inside it, so no later pass looks at it again. A column of
        resident IDs thus costs its shape check and validation, not one pass per recognizer.
        """
        recognizers = [r for r in self.recognizers if r.name not in plan.ruled_out]  # column-level evidence
        regexes = {rec.name: self._regex(rec, rec.name in plan.context) for rec in recognizers}
        spans = [r for r in recognizers if not r.span_free]
        plain, digits = _plain(strings)
        if not all(_walls_alnum(r.bounded) or matches_no_plain_text(regexes[r.name]) for r in spans):
            plain[:] = False  # a recognizer may match inside letters and digits: every value takes the regexes
        found, claimed = self._plain_spans(plan, strings, plain, digits, spans, regexes, as_of)
        other = np.flatnonzero(~plain)
        if len(other):
            more, claimed_other = self._spans(plan, strings, other, spans, regexes, as_of)
            found.extend(more)
            claimed[claimed_other] = True
        terms = [r for r in recognizers if r.span_free]
        # Terms need letters or CJK: a plain value needs a letter; other values must keep something once digits
        # and separators are trimmed off both ends (a plain string kernel, a third of the cost of a regex).
        rest = plain & ~digits & ~claimed
        words = {r.name: alnum_words(regexes[r.name]) for r in terms if not matches_no_plain_text(regexes[r.name])}
        if all(w is not None for w in words.values()):  # plain values hold a term only as the whole value
            found.extend(self._plain_terms(strings, np.flatnonzero(rest), terms, words))  # type: ignore[arg-type]
            rest[:] = False
        if len(other):
            trimmed = pc.utf8_length(pc.utf8_trim(_subset(strings, other), NOT_TERM_CHARS))
            rest[other] = trimmed.to_numpy(zero_copy_only=False) > 0
        open_ = np.flatnonzero(rest & ~claimed)
        stale = True
        last_expected = max((i for i, r in enumerate(terms) if r.name in plan.context), default=-1)
        scripts = _Scripts(strings)
        for i, rec in enumerate(terms):  # the same union cascade as the spans: an address column runs one term pass
            if stale and i > last_expected:
                open_ = scripts.any_term(open_, terms[i:], regexes)
                stale = False
            if len(open_) == 0:
                break
            patterns = _patterns_of(rec, rec.name in plan.context)
            inside = _each(strings, open_, patterns)
            if len(inside) and rec.unless:  # generic wording ("适用于糖尿病患者"): not about a person
                inside = inside[~_match(_subset(strings, inside), rec.unless)]
            if len(inside) and rec.excluding:  # 我是公司采购: a word of other text where a name could be
                inside = inside[_beyond(_subset(strings, inside), patterns, rec.excluding)]
            if len(inside):
                stale = True
                found.append(_Found.whole(inside, self._kind(rec.entity, self._categories(rec))))
        return found

    def _plain_spans(
        self,
        plan: ColumnPlan,
        strings: pa.Array,
        plain: np.ndarray,
        digits: np.ndarray,
        spans: list[Recognizer],
        regexes: dict[str, str],
        as_of: datetime.date,
    ) -> tuple[list[_Found], np.ndarray]:
        """Span recognizers over the plain values (ASCII letters and digits only). Only a recognizer that no
        letter or digit may touch can match there, and only as the whole value: its shapes (detection.shapes)
        are checked on the data buffer instead of running its regex. Returns the findings and which values
        (a mask over ``strings``) are claimed by a valid whole match."""
        claimed = np.zeros(len(strings), dtype=bool)
        where = np.flatnonzero(plain)
        if len(where) == 0:
            return [], claimed
        values = PlainValues(strings, where, digits[where])
        open_ = np.ones(len(where), dtype=bool)
        found = []
        for rec in spans:
            if not open_.any():
                break
            if not _walls_alnum(rec.bounded) or self._needs_words(rec, plan):
                continue  # matches nothing plain (checked by the caller), or no room for a context word
            shapes = alnum_shapes(regexes[rec.name])
            if shapes is None:  # beyond the shape reading: the regex decides
                look = np.flatnonzero(open_)
                inside = look[_match(_subset(strings, where[look]), f"^(?:{regexes[rec.name]})$")]
            else:
                inside = np.flatnonzero(values.match(shapes, open_))
            if len(inside) == 0:
                continue
            hits, whole_valid = self._validated(
                rec,
                rec.name in plan.context,
                regexes[rec.name],
                where[inside],
                _subset(strings, where[inside]),
                np.ones(len(inside), dtype=bool),
                as_of,
            )
            found.append(hits)
            open_[inside[whole_valid]] = False
            claimed[where[inside[whole_valid]]] = True
        return found, claimed

    def _plain_terms(
        self, strings: pa.Array, where: np.ndarray, terms: list[Recognizer], words: dict[str, frozenset[str]]
    ) -> list[_Found]:
        """Term recognizers over plain values with a letter (``where``): a set lookup of the lower-case value
        among the words each term list spells in plain text (export_gate.detection.shapes.alnum_words)."""
        every = frozenset().union(*words.values())
        if len(where) == 0 or not every:
            return []
        lowered = pc.ascii_lower(_subset(strings, where))
        known = pc.fill_null(pc.is_in(lowered, value_set=pa.array(sorted(every), pa.string())), False)
        hits = np.flatnonzero(known.to_numpy(zero_copy_only=False))
        if len(hits) == 0:
            return []
        lowered, where = lowered.take(pa.array(hits)), where[hits]
        found = []
        for rec in terms:
            if words.get(rec.name):
                ok = pc.is_in(lowered, value_set=pa.array(sorted(words[rec.name]), pa.string()))
                inside = where[pc.fill_null(ok, False).to_numpy(zero_copy_only=False)]
                found.append(_Found.whole(inside, self._kind(rec.entity, self._categories(rec))))
        return found

    def _spans(
        self,
        plan: ColumnPlan,
        strings: pa.Array,
        where: np.ndarray,
        spans: list[Recognizer],
        regexes: dict[str, str],
        as_of: datetime.date,
    ) -> tuple[list[_Found], np.ndarray]:
        """Span recognizers over the values at ``where`` (those with more than letters and digits), by RE2.

        One pass with the union of all identifier patterns (bounded by their forbidden neighbours) finds the
        values that can hold one at all; the union of the remaining recognizers is re-run only after one
        matched, because only then can values have dropped out of it (RE2 runs a union as one DFA, about the
        cost of a single pattern). A decoy column (timestamps) costs a pass or two, not one per recognizer.
        Returns the findings and the positions (in ``strings``) claimed by a valid whole match."""
        bounded = [self._bounded(rec, regexes[rec.name]) for rec in spans]
        # A recognizer the column's name expects (a phone column's mobiles) would match most values: a union
        # pass before it prunes nothing, so unions wait until it has run.
        expected = [rec.name in plan.context for rec in spans]
        last_expected = max((i for i, e in enumerate(expected) if e), default=-1)
        candidates = where if last_expected >= 0 else _any_of(strings, where, bounded)
        values = _subset(strings, candidates)
        # What every match needs (digits, an '@') is counted on the candidates' data buffer: a recognizer whose
        # needs a value lacks skips it without a pass (a phone column holds too few digits for IDs and cards).
        counts = ValueBytes(values) if len(values) else None
        worded = _Worded(values, [r for r in spans if self._needs_words(r, plan)])
        claimed = np.zeros(len(values), dtype=bool)
        open_ = np.arange(len(values))
        stale = False  # the candidates match the union of all
        found = []
        for i, rec in enumerate(spans):
            open_ = open_[~claimed[open_]]
            if stale and i > last_expected:
                open_ = _any_of(values, open_, bounded[i:])
                stale = False
            if len(open_) == 0 or counts is None:
                break
            look = open_[counts.can_hold(needs(regexes[rec.name]))[open_]]
            if self._needs_words(rec, plan):  # a shape without context counts only after its context words
                look = worded.among(rec, look, open_)
            if expected[i]:  # most values are the identifier as a whole: that pass also says they match
                whole = _match(_subset(values, look), f"^(?:{regexes[rec.name]})$") if len(look) else look[:0] > 0
                rest = look[~whole]
                matched = rest[_match(_subset(values, rest), bounded[i])] if len(rest) else rest
                inside = np.sort(np.concatenate([look[whole], matched]))  # ascending, as _subset wants
                known_whole = np.isin(inside, look[whole], assume_unique=True)
            else:
                inside = look[_match(_subset(values, look), bounded[i])] if len(look) else look
                known_whole = np.zeros(len(inside), dtype=bool)
            if len(inside) == 0:
                continue
            stale = True
            hits, whole_valid = self._validated(
                rec,
                rec.name in plan.context,
                regexes[rec.name],
                candidates[inside],
                _subset(values, inside),
                known_whole,
                as_of,
            )
            found.append(hits)
            claimed[inside[whole_valid]] = True
        return found, candidates[claimed]

    @staticmethod
    def _needs_words(rec: Recognizer, plan: ColumnPlan) -> bool:
        """Whether a match counts only with a context word before it in the value (passports, permits, ICD-10
        codes outside a column named for them)."""
        return rec.validator in validators.CONTEXT_ONLY and rec.name not in plan.context

    @staticmethod
    def _bounded(rec: Recognizer, regex: str) -> str:
        """``regex`` with the recognizer's forbidden neighbours outside it, for the candidate mask: an 8-digit
        run inside every 18-digit ID then never reaches the Python loop."""
        if not rec.bounded:
            return regex
        free = "[^" + rec.bounded[1:]
        return f"(?:^|{free})(?:{regex})(?:{free}|$)"

    @staticmethod
    def _regex(rec: Recognizer, in_context: bool) -> str:
        return _either(_patterns_of(rec, in_context))

    def _categories(self, rec: Recognizer) -> frozenset[str]:
        if rec.identity_document and self.settings.identity_document_sensitive:
            return rec.categories | {"specific_identity"}
        return rec.categories

    def _validated(
        self,
        rec: Recognizer,
        in_column: bool,
        regex: str,
        pos: np.ndarray,
        values: pa.Array,
        known_whole: np.ndarray,
        as_of: datetime.date,
    ) -> tuple[_Found, np.ndarray]:
        """Matches of one recognizer in candidate values, validated in bulk: whole-cell matches straight from
        Arrow, matches inside text extracted with RE2 (linear time) and checked for boundaries and context.
        ``known_whole`` marks values already known to match as a whole. Also returns which values are, as a
        whole, a valid match (a mask over ``values``)."""
        whole = known_whole.copy()
        rest = np.flatnonzero(~whole)
        if len(rest):
            whole[rest] = _match(_subset(values, rest), f"^(?:{regex})$")
        wholes = np.flatnonzero(whole)
        text = _subset(values, wholes)
        owner, start = pos[wholes], np.zeros(len(wholes), dtype=np.int64)
        end = pc.binary_length(text).to_numpy(zero_copy_only=False).astype(np.int64)  # bytes, like inner spans
        context = np.full(len(wholes), in_column)
        if len(wholes) < len(values):  # matches inside text, found match by match
            inner = self._inner_matches(rec, in_column, regex, pos[~whole], values.filter(pa.array(~whole)))
            text = pa.concat_arrays([text.cast(pa.string()), inner[0]])
            parts = zip((owner, start, end, context), inner[1:], strict=True)
            owner, start, end, context = (np.concatenate(x) for x in parts)
        ok = np.zeros(len(text), dtype=bool)
        check = validators.VALIDATORS[rec.validator]
        for flag in (True, False):
            where = np.flatnonzero(context == flag)
            if len(where):
                ok[where] = check(_subset(text, where), validators.Context(flag, as_of))
        keep = np.flatnonzero(ok)
        whole_valid = np.zeros(len(values), dtype=bool)
        whole_valid[wholes] = ok[: len(wholes)]
        found = _Found(
            owner[keep],
            *self._match_hits(rec, _subset(text, keep), as_of),
            start[keep],
            end[keep],
            np.full(len(keep), rec.priority, dtype=np.int64),
        )
        return found, whole_valid

    @staticmethod
    def _inner_matches(
        rec: Recognizer, in_column: bool, regex: str, pos: np.ndarray, values: pa.Array
    ) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        compiled = _re2(regex)
        border = re.compile(rec.bounded) if rec.bounded else None
        walls = _ascii_walls(rec.bounded)
        words = _context_words(rec.context_words)
        label = _label(rec.not_after)
        texts: list[str] = []
        owner, starts, ends, flags = [], [], [], []
        for p, value in zip(pos.tolist(), values.to_pylist(), strict=True):
            # RE2 matches UTF-8 bytes 3x faster than str (no offset conversion). Offsets are bytes for every
            # match, whole or inside: they keep the order and overlaps of spans within a value.
            text = value.encode()
            for m in compiled.finditer(text):
                s, e = m.span()
                if border and _walled(text, s, e, walls, border):
                    continue
                if label and label.search(_before(text, s)):  # 订单2613...: an order number, not a card
                    continue
                texts.append(text[s:e].decode())
                owner.append(p)
                starts.append(s)
                ends.append(e)
                flags.append(in_column or (words is not None and words.search(_before(text, s)) is not None))
        return (
            pa.array(texts, pa.string()),
            np.array(owner, dtype=np.int64),
            np.array(starts, dtype=np.int64),
            np.array(ends, dtype=np.int64),
            np.array(flags, dtype=bool),
        )

    def _match_hits(self, rec: Recognizer, texts: pa.Array, as_of: datetime.date) -> tuple[np.ndarray, pa.Array | None]:
        """The kind of each validated match and its normalised identifier (None: the recognizer has none), in
        Arrow: a resident ID's birth date decides minor_under_14 per match."""
        categories = self._categories(rec)
        kind = np.full(len(texts), self._kind(rec.entity, categories), dtype=np.int64)
        if rec.identifier is None:
            return kind, None
        normalised = validators.NORMALISERS[rec.identifier](texts)
        identifiers = pc.binary_join_element_wise(f"{rec.entity}:", normalised, "").cast(pa.string())
        if rec.has_birth_date:
            minor = validators.BIRTH_DATES[rec.validator](texts) > validators.minor_cutoff(as_of)
            kind[minor] = self._kind(rec.entity, categories | {"minor_under_14"})
        return kind, identifiers

    # --- names by NER ------------------------------------------------------------------------------------

    def _names_by_ner(self, strings: pa.Array) -> _Found:
        """PERSON from the spaCy model Presidio loaded, only on values with two capitalised words in a row.

        Only the NER pipe (and the tok2vec it reads) runs: Presidio's full NLP artifacts (tagger, parser,
        lemmas for its context words) cost four times as much and add nothing to finding a name."""
        candidates = np.flatnonzero(_match(strings, NER_CANDIDATE))
        if len(candidates) == 0:
            return _Found.whole(_NO_ROWS, 0)
        nlp = self.analyzer.nlp_engine.nlp["en"]
        texts = strings.take(pa.array(candidates)).to_pylist()
        skip = [name for name in nlp.pipe_names if name not in ("tok2vec", "ner")]
        person = [
            p
            for p, doc in zip(candidates.tolist(), nlp.pipe(texts, batch_size=NER_BATCH, disable=skip), strict=True)
            if any(ent.label_ == "PERSON" and FULL_NAME.fullmatch(ent.text) for ent in doc.ents)
        ]
        return _Found.whole(np.array(person, dtype=np.int64), self._kind("PERSON", frozenset()))
