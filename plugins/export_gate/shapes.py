"""What a recognizer's regex can match in a value made only of ASCII letters and digits, worked out once from the
regex itself, so such values (order numbers, IDs, product codes: most cells of an export) need no regex pass.

In such a "plain" value a recognizer that no letter or digit may touch can only match the whole value, and a
regex over a bounded alphabet and length has a finite language: a few *shapes*, each a sequence of allowed
bytes per position (``1[3-9][0-9]{9}`` is one shape of 11 positions). Checking a shape is a handful of numpy
lookups at fixed offsets of the Arrow data buffer (``match_plain``), a tenth of the cost of RE2 on each value.
Where the language is infinite or the regex uses what this reading does not model, ``alnum_shapes`` says so
(None) and the caller keeps the regex. Python's own regex parser reads the patterns (they are written to be
valid for RE2 and Python alike, see detectors/recognizers.yaml).
"""

from __future__ import annotations

import re
import string
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
    folds = _ascii_folds()
    out = {ord(f) for c in chars for f in (chr(c).lower(), chr(c).upper()) if len(f) == 1 and f < "\x80"}
    return frozenset(out | {folds[c] for c in chars if c in folds})


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
            if ignore_case:
                chars.update(c for c in _ascii_folds() if arg[0] <= c <= arg[1])
        elif op is sre.CATEGORY and arg in _CATEGORIES:
            chars.update(_CATEGORIES[arg])
        else:
            raise _Unknown(op)
    plain = _cased(frozenset(chars), ignore_case) & ALNUM
    return ALNUM - plain if negate else plain


def _sequence(items: list, ignore_case: bool, every: bool = True) -> list[tuple]:
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
            choice = _sequence(list(inner), flag, every)
        elif op is sre.BRANCH:
            choice = [s for branch in arg[1] for s in _sequence(list(branch), ignore_case, every)]
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            choice = _repeat(*arg, ignore_case, every)
        else:
            raise _Unknown(op)
        choice = [s for s in choice if all(not isinstance(x, frozenset) or x for x in s)]  # no empty byte set
        if not choice:
            return []
        options.append(choice)
        if _count(options) > MAX_SHAPES * 4:
            raise _Unknown("too many shapes")
    return [tuple(x for part in combo for x in part) for combo in product(*options)]


def _repeat(low: int, high: int, inner: list, ignore_case: bool, every: bool) -> list[tuple]:
    once = _sequence(list(inner), ignore_case, every)
    if not once:  # nothing plain inside: only zero repetitions spell a plain string
        return [()] if low == 0 else []
    if not every:
        high = low
    if high is sre.MAXREPEAT or high > 64:
        raise _Unknown("unbounded repetition")
    out: list[tuple] = []
    for times in range(low, high + 1):
        out.extend(tuple(x for part in combo for x in part) for combo in product(once, repeat=times))
        if len(out) > MAX_SHAPES * 4:
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
    return tuple(sorted(shapes, key=lambda s: (len(s), [sorted(x) for x in s]))) if len(shapes) <= MAX_SHAPES else None


def matches_no_plain_text(regex: str) -> bool:
    """Whether ``regex`` can match nothing inside a plain value (it needs '@', '.', a space or a CJK character
    in every match): then a plain value never needs that regex."""
    try:
        parsed = _parser.parse(regex.replace(*_HAN))
        return not _sequence(list(parsed), bool(parsed.state.flags & re.IGNORECASE), every=False)
    except (_Unknown, re.error, RecursionError):
        return False


def _tables(shape: Shape) -> list[tuple[int, np.ndarray, bool, bool]]:
    """(position, allowed-byte lookup table, digits all allowed, digits none allowed) of the positions that
    do not allow every plain byte."""
    out = []
    for position, allowed in enumerate(shape):
        if allowed >= ALNUM:
            continue
        table = np.zeros(256, dtype=bool)
        table[list(allowed)] = True
        out.append((position, table, allowed >= DIGITS, not allowed & DIGITS))
    return out


class PlainValues:
    """The plain values of an Arrow string array, addressed in its data buffer (no copy)."""

    def __init__(self, strings: pa.Array, where: np.ndarray, digits: np.ndarray) -> None:
        """``where``: positions of plain values in ``strings``; ``digits``: which of them are digits only."""
        offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)[
            strings.offset : strings.offset + len(strings) + 1
        ]
        self.data = np.frombuffer(strings.buffers()[2], dtype=np.uint8) if len(strings) else np.zeros(0, np.uint8)
        self.where = where
        self.starts = offsets[:-1][where].astype(np.int64)
        self.lengths = (offsets[1:][where] - offsets[:-1][where]).astype(np.int64)
        self.digits = digits

    def match(self, shapes: tuple[Shape, ...], among: np.ndarray) -> np.ndarray:
        """Which of the plain values ``among`` (indices into ``where``) have one of ``shapes``."""
        ok = np.zeros(len(among), dtype=bool)
        lengths = self.lengths[among]
        for shape in shapes:
            sized = np.flatnonzero(lengths == len(shape))
            if len(sized) == 0:
                continue
            digits = self.digits[among[sized]]
            fits = np.ones(len(sized), dtype=bool)
            for position, table, all_digits, no_digits in _tables_of(shape):
                if no_digits:
                    fits &= ~digits
                check = ~digits if all_digits else np.ones(len(sized), dtype=bool)
                check &= fits
                if check.any():
                    at = np.flatnonzero(check)
                    fits[at] = table[self.data[self.starts[among[sized[at]]] + position]]
            ok[sized] |= fits
        return ok


@cache
def _tables_of(shape: Shape) -> list[tuple[int, np.ndarray, bool, bool]]:
    return _tables(shape)
