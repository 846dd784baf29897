"""What a recognizer's regex can match, read once from the regex itself, so that most values of an export need
no regex pass at all.

* Plain values (ASCII letters and digits only: order numbers, IDs, product codes, most cells): a recognizer that
  no letter or digit may touch can only match the whole value, and a regex over that alphabet and a bounded
  length has a finite language, a few *shapes* (``alnum_shapes``), each a sequence of allowed bytes per
  position (``1[3-9][0-9]{9}`` is one shape of 11 positions). ``PlainValues.match`` checks them with numpy
  lookups at fixed offsets of the Arrow data buffer, a fraction of the cost of RE2 on each value. A term list's
  ASCII words (``\\bdiabetes\\b``) match a plain value only as the whole value, up to case (``alnum_words``):
  a set lookup.
* Other values: ``needs`` says what every match holds (so many ASCII digits and capitals, an '@'), and
  ``ValueBytes`` counts those per value on the data buffer, so a recognizer skips the values that lack them.

Where a language is infinite or a regex uses what this reading does not model, the functions say so (None, or
no needs) and the caller keeps the regex. Python's own regex parser reads the patterns (they are written to be
valid for RE2 and Python alike, see detectors/recognizers.yaml); RE2's \\p{Han} is read as a non-ASCII class.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import cache
from itertools import product
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]

import numpy as np
import pyarrow as pa

#: The bytes of a plain value.
ALNUM = frozenset((string.ascii_letters + string.digits).encode())
DIGITS = frozenset(string.digits.encode())
#: More shapes than this and the regex is cheaper (a term list of hundreds of words).
MAX_SHAPES = 64
#: Longer values are never matched by shapes (a shape is as long as the regex's longest bounded match).
_LONGEST = 1024
#: Markers for anchors inside a shape, checked against the shape's ends after expansion.
_START, _END, _EDGE, _INNER = "^", "$", "b", "B"
_ANCHORS = {
    sre.AT_BEGINNING: _START,
    sre.AT_BEGINNING_STRING: _START,
    sre.AT_END: _END,
    sre.AT_END_STRING: _END,
    sre.AT_BOUNDARY: _EDGE,  # every byte of a plain value is a word character: \b holds at its two ends only
    sre.AT_NON_BOUNDARY: _INNER,
}
_CATEGORIES = {
    sre.CATEGORY_DIGIT: DIGITS,
    sre.CATEGORY_WORD: ALNUM,
    sre.CATEGORY_SPACE: frozenset(),
    sre.CATEGORY_NOT_DIGIT: ALNUM - DIGITS,
    sre.CATEGORY_NOT_WORD: frozenset(),
    sre.CATEGORY_NOT_SPACE: ALNUM,
}
#: RE2's script class, read by Python's parser as a class of non-ASCII characters (all a plain value lacks).
_HAN = (r"\p{Han}", r"[\u2e80-\U0003134f]")

Shape = tuple[frozenset[int], ...]


class _Unknown(Exception):
    """The regex matches infinitely many plain values, or uses syntax this reading does not model."""


@cache
def _ascii_folds() -> dict[int, int]:
    """Characters outside ASCII that match an ASCII letter when case is ignored (the Kelvin sign and k)."""
    return {
        c: ord(f) for c in range(128, 0x10000) for f in (chr(c).lower(), chr(c).upper()) if len(f) == 1 and f < "\x80"
    }


def _cased(chars: frozenset[int], ignore_case: bool) -> frozenset[int]:
    if not ignore_case:
        return chars
    out = {ord(f) for c in chars for f in (chr(c).lower(), chr(c).upper()) if len(f) == 1 and f < "\x80"}
    if any(c > 127 for c in chars):
        out |= {_ascii_folds()[c] for c in chars if c in _ascii_folds()}
    return frozenset(out | {ord(chr(c).swapcase()) for c in out})  # case is ignored both ways


def _class(items: list, ignore_case: bool) -> frozenset[int]:
    chars: set[int] = set()
    negate = False
    for op, arg in items:
        if op is sre.NEGATE:
            negate = True
        elif op is sre.LITERAL:
            chars.add(arg)
        elif op is sre.RANGE:
            chars.update(range(arg[0], min(arg[1], 127) + 1))
            if ignore_case and arg[1] > 127:
                chars.update(c for c in _ascii_folds() if arg[0] <= c <= arg[1])
        elif op is sre.CATEGORY and arg in _CATEGORIES:
            chars.update(_CATEGORIES[arg])
        else:
            raise _Unknown(op)
    plain = _cased(frozenset(chars), ignore_case) & ALNUM
    return ALNUM - plain if negate else plain


def _sequence(items: list, ignore_case: bool, every: bool = True, limit: int = MAX_SHAPES * 4) -> list[tuple]:
    """Every way the parsed items can spell a plain string: tuples of byte sets and anchor markers. With
    ``every=False`` only whether there is one counts: a repetition then stands for its fewest repeats (if
    those cannot be spelt, no count can), so unbounded repetitions need no bound."""
    options: list[list[tuple]] = []
    for op, arg in items:
        if op is sre.LITERAL:
            choice = [(_cased(frozenset([arg]), ignore_case) & ALNUM,)]
        elif op is sre.NOT_LITERAL:
            choice = [(ALNUM - _cased(frozenset([arg]), ignore_case),)]
        elif op is sre.ANY:
            choice = [(ALNUM,)]
        elif op is sre.IN:
            choice = [(_class(arg, ignore_case),)]
        elif op is sre.AT and arg in _ANCHORS:
            choice = [(_ANCHORS[arg],)]
        elif op is sre.SUBPATTERN:
            _, add, remove, inner = arg
            flag = (ignore_case or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
            choice = _sequence(list(inner), flag, every, limit)
        elif op is sre.BRANCH:
            choice = [s for branch in arg[1] for s in _sequence(list(branch), ignore_case, every, limit)]
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            choice = _repeat(*arg, ignore_case, every, limit)
        else:
            raise _Unknown(op)
        choice = [s for s in choice if all(not isinstance(x, frozenset) or x for x in s)]  # no empty byte set
        if not choice:
            return []
        options.append(choice)
        if _count(options) > limit:
            raise _Unknown("too many shapes")
    return [tuple(x for part in combo for x in part) for combo in product(*options)]


def _repeat(low: int, high: int, inner: list, ignore_case: bool, every: bool, limit: int) -> list[tuple]:
    once = _sequence(list(inner), ignore_case, every, limit)
    if not once:  # nothing plain inside: only zero repetitions spell a plain string
        return [()] if low == 0 else []
    if not every:
        high = low
    if high is sre.MAXREPEAT or high > 64:
        raise _Unknown("unbounded repetition")
    out: list[tuple] = []
    for times in range(low, high + 1):
        out.extend(tuple(x for part in combo for x in part) for combo in product(once, repeat=times))
        if len(out) > limit:
            raise _Unknown("too many shapes")
    return out


def _count(options: list[list[tuple]]) -> int:
    total = 1
    for choice in options:
        total *= len(choice)
    return total


def _anchored(sequence: tuple) -> Shape | None:
    """The byte sets of ``sequence`` if its anchors hold where they stand in a whole plain value."""
    sets = [x for x in sequence if isinstance(x, frozenset)]
    before = 0
    for x in sequence:
        if isinstance(x, frozenset):
            before += 1
            continue
        at_start, at_end = before == 0, before == len(sets)
        if (
            (x == _START and not at_start)
            or (x == _END and not at_end)
            or (x == _EDGE and not (at_start or at_end))
            or (x == _INNER and (at_start or at_end))
        ):
            return None
    return tuple(sets) if sets else None


@cache
def alnum_shapes(regex: str) -> tuple[Shape, ...] | None:
    """The shapes of the plain values (ASCII letters and digits only) that ``regex`` matches as a whole; ()
    when it matches none, None when they are too many or the regex is beyond this reading."""
    try:
        parsed = _parser.parse(regex.replace(*_HAN))
        sequences = _sequence(list(parsed), bool(parsed.state.flags & re.IGNORECASE))
    except (_Unknown, re.error, RecursionError):
        return None
    shapes = {s for s in map(_anchored, sequences) if s is not None}
    if len(shapes) > MAX_SHAPES or any(len(s) > _LONGEST for s in shapes):
        return None
    return tuple(sorted(shapes, key=lambda s: (len(s), [sorted(x) for x in s])))


#: Most words a term list may spell in plain values (a set lookup answers them, whatever their number).
MAX_WORDS = 100_000


@cache
def alnum_words(regex: str) -> frozenset[str] | None:
    """The lower-case plain values that ``regex`` *finds* (searching, not matching as a whole), when each of
    its matches in a plain value must be the whole value (it starts with \\b or ^ and ends with \\b or $, as the
    ASCII words of a term list do) and is one word up to case: then a plain value holds a term exactly when
    its lower-case form is in this set. None otherwise, and the regex decides."""
    try:
        parsed = _parser.parse(regex.replace(*_HAN))
        sequences = _sequence(list(parsed), bool(parsed.state.flags & re.IGNORECASE), limit=MAX_WORDS)
    except (_Unknown, re.error, RecursionError):
        return None
    words = set()
    for sequence in sequences:
        if not sequence or sequence[0] not in (_START, _EDGE) or sequence[-1] not in (_END, _EDGE):
            return None
        if not any(isinstance(x, frozenset) for x in sequence):
            return None  # an empty match: found in every value
        shape = _anchored(sequence)
        if shape is None:
            continue
        word = "".join(chr(min(allowed)).lower() for allowed in shape)
        if any(allowed != _cased(frozenset([ord(c)]), True) for c, allowed in zip(word, shape, strict=True)):
            return None  # a class, not a letter in either case
        words.add(word)
    return frozenset(words)


@cache
def matches_no_plain_text(regex: str) -> bool:
    """Whether ``regex`` can match nothing inside a plain value (it needs '@', '.', a space or a CJK character
    in every match): then a plain value never needs that regex."""
    try:
        parsed = _parser.parse(regex.replace(*_HAN))
        return not _sequence(list(parsed), bool(parsed.state.flags & re.IGNORECASE), every=False)
    except (_Unknown, re.error, RecursionError):
        return False


@cache
def _checks(shape: Shape) -> tuple[bool, list[tuple[int, np.ndarray, bool]]]:
    """(whether only digits fit the shape; (position, allowed-byte lookup table, every digit allowed) of each
    position that does not allow every plain byte, the most selective first)."""
    checks = []
    for position, allowed in sorted(enumerate(shape), key=lambda p: len(p[1])):
        if allowed >= ALNUM:
            continue
        table = np.zeros(256, dtype=bool)
        table[list(allowed)] = True
        checks.append((position, table, allowed >= DIGITS))
    return all(allowed <= DIGITS for allowed in shape), checks


class PlainValues:
    """The plain values of an Arrow string array, addressed in its data buffer (no copy)."""

    def __init__(self, strings: pa.Array, where: np.ndarray, digits: np.ndarray) -> None:
        """``where``: positions of plain values in ``strings``; ``digits``: which of them are digits only."""
        first = strings.offset
        offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)[first : first + len(strings) + 1]
        buffer = strings.buffers()[2] if len(where) else None
        self.data = np.frombuffer(buffer, dtype=np.uint8) if buffer is not None else np.zeros(0, np.uint8)
        self.starts = offsets[:-1][where].astype(np.int64)
        self.lengths = offsets[1:][where] - offsets[:-1][where]
        self.digits = digits
        self._counts = np.bincount(np.minimum(self.lengths, _LONGEST + 1))
        self._sized: dict[int, np.ndarray] = {}

    def _of_length(self, length: int) -> np.ndarray:
        """The values ``length`` bytes long (worked out once per length: a column has few)."""
        if length > _LONGEST or length >= len(self._counts) or self._counts[length] == 0:
            return np.zeros(0, dtype=np.int64)
        if length not in self._sized:
            self._sized[length] = np.flatnonzero(self.lengths == length)
        return self._sized[length]

    def match(self, shapes: tuple[Shape, ...], open_: np.ndarray) -> np.ndarray:
        """Which plain values (a mask over ``where``) still ``open_`` have one of ``shapes``. Each position
        check drops the values it fails, so a column of another shape costs about one lookup per value."""
        ok = np.zeros(len(self.lengths), dtype=bool)
        for shape in shapes:
            only_digits, checks = _checks(shape)
            sized = self._of_length(len(shape))
            sized = sized[open_[sized]]
            numbers = sized[self.digits[sized]]  # a position allowing every digit needs no look at these
            others = sized[~self.digits[sized]] if not only_digits else sized[:0]
            for position, table, every_digit in checks:
                if not every_digit and len(numbers):
                    numbers = numbers[table[self.data[self.starts[numbers] + position]]]
                if len(others):
                    others = others[table[self.data[self.starts[others] + position]]]
            ok[numbers] = True
            ok[others] = True
        return ok


# --- what every match needs, for values with more than letters and digits -----------------------------------


@dataclass(frozen=True)
class Needs:
    """What every match of a regex holds: at least ``digits`` ASCII digits, ``capitals`` ASCII capital letters
    (where the regex is case-sensitive) and each of ``chars`` (ASCII punctuation such as '@'). A value short of
    any of these cannot contain a match, and counting them on the data buffer costs a fraction of a regex
    pass (a lower-case e-mail address holds no ICD-10 code or passport number)."""

    digits: int
    capitals: int
    chars: frozenset[int]


CAPITALS = frozenset(string.ascii_uppercase.encode())


def _needs(items: list, ignore_case: bool) -> tuple[int, int, frozenset[int]]:
    digits, capitals, chars = 0, 0, frozenset[int]()
    for op, arg in items:
        if op is sre.LITERAL:
            digits += arg in DIGITS
            capitals += arg in CAPITALS and not ignore_case
            chars |= {arg} if arg < 128 and arg not in ALNUM else set()
        elif op is sre.IN:
            plain = all(o is not sre.NEGATE for o, _ in arg) and _ascii_only(arg)
            allowed = _class(arg, ignore_case) if plain else ALNUM
            digits += bool(allowed) and allowed <= DIGITS
            capitals += bool(allowed) and allowed <= CAPITALS
        elif op is sre.SUBPATTERN:
            _, add, remove, inner = arg
            flag = (ignore_case or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
            more = _needs(list(inner), flag)
            digits, capitals, chars = digits + more[0], capitals + more[1], chars | more[2]
        elif op is sre.BRANCH:
            options = [_needs(list(branch), ignore_case) for branch in arg[1]]
            digits += min(o[0] for o in options)
            capitals += min(o[1] for o in options)
            chars |= frozenset.intersection(*(o[2] for o in options))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and arg[0] > 0:
            more = _needs(list(arg[2]), ignore_case)
            digits, capitals, chars = digits + arg[0] * more[0], capitals + arg[0] * more[1], chars | more[2]
    return digits, capitals, chars


def _ascii_only(items: list) -> bool:
    """Whether a character class holds ASCII characters only (a class of digits that also takes other
    characters, such as full-width ones, does not promise an ASCII digit)."""
    return all((op is sre.LITERAL and arg < 128) or (op is sre.RANGE and arg[1] < 128) for op, arg in items)


@cache
def needs(regex: str) -> Needs:
    """What every match of ``regex`` holds (nothing, when the regex is beyond this reading)."""
    try:
        parsed = _parser.parse(regex.replace(*_HAN))
        digits, capitals, chars = _needs(list(parsed), bool(parsed.state.flags & re.IGNORECASE))
    except (re.error, RecursionError):
        return Needs(0, 0, frozenset())
    return Needs(digits, capitals, chars)


class ValueBytes:
    """Per-value counts of bytes of an Arrow string array (ASCII digits, single punctuation bytes), read from
    its data buffer with one segmented sum each (numpy reduceat) and no copy of the texts."""

    def __init__(self, strings: pa.Array) -> None:
        first = strings.offset
        offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)[first : first + len(strings) + 1]
        buffer = strings.buffers()[2] if len(strings) else None
        data = np.frombuffer(buffer, dtype=np.uint8) if buffer is not None else np.zeros(0, np.uint8)
        self.data = np.append(data[offsets[0] : offsets[-1]], np.uint8(0))  # a byte past the end for empty tails
        self.starts = offsets[:-1] - offsets[0]
        self.empty = offsets[1:] == offsets[:-1]
        self._counts: dict[int | str, np.ndarray] = {}

    def count(self, what: int | str) -> np.ndarray:
        """How many bytes of each value are ``what`` (a byte value, "digits", "capitals" or "letters")."""
        if what not in self._counts:
            if what == "digits":
                hit = self.data - np.uint8(ord("0")) <= 9
            elif what == "capitals":
                hit = self.data - np.uint8(ord("A")) <= 25
            elif what == "letters":  # ASCII letters of either case (a byte of a multi-byte character has 0x80 set)
                hit = (self.data | np.uint8(0x20)) - np.uint8(ord("a")) <= 25
            else:
                hit = self.data == what
            hit[-1] = False
            counts = np.add.reduceat(hit, self.starts, dtype=np.int32) if len(self.starts) else self.starts
            counts[self.empty] = 0  # reduceat gives an empty segment the byte at its start
            self._counts[what] = counts
        return self._counts[what]

    def can_hold(self, need: Needs) -> np.ndarray:
        """Which values hold enough of what every match of a regex needs."""
        ok = self.count("digits") >= need.digits if need.digits else np.ones(len(self.starts), dtype=bool)
        if need.capitals:
            ok &= self.count("capitals") >= need.capitals
        for char in need.chars:
            ok &= self.count(char) > 0
        return ok
