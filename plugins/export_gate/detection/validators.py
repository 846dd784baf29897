"""Validators named by the recognizers in recognizers.yaml.

A regex only says a text has the shape of an identifier; these functions say whether it is one (check digit,
real birth date, known region, allocated number block, Luhn). They are vectorised: each takes an Arrow string
array of candidate texts (one regex match each) and returns a numpy bool mask, because a column of a million
resident IDs must not cost a million Python calls. Libraries (python-stdnum, phonenumbers) are the reference;
where they are wrong for real data the function says so and the tests show it.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from stdnum import numdb

from export_gate.detection.shapes import PlainValues, alnum_shapes
from export_gate.resources import detectors_dir

if TYPE_CHECKING:  # recognizers.py imports this module
    from export_gate.detection.recognizers import Recognizer


@dataclass(frozen=True)
class Context:
    """What a validator may know beyond the text: whether the column (or nearby words) says what the value is,
    and the export date (a birth date after it is not real)."""

    in_context: bool
    as_of: datetime.date


Validator = Callable[[pa.Array, Context], np.ndarray]
Normaliser = Callable[[pa.Array], pa.Array]


def _strings(texts: pa.Array) -> pa.Array:
    return texts.cast(pa.string()) if not pa.types.is_string(texts.type) else texts


def _buffers(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets of each text, n + 1 of them; the data buffer) of a string array, as numpy views: no copy, a
    sliced array's own offset respected."""
    texts = _strings(texts)
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int32)[texts.offset : texts.offset + len(texts) + 1]
    data = texts.buffers()[2]
    return offsets, np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)


def digits_only(texts: pa.Array) -> pa.Array:
    """The digits of each text (separators, brackets, '+' and anything else removed). Done on the UTF-8 bytes
    with numpy: a byte of a multi-byte character is never an ASCII digit, so dropping every non-digit byte drops
    exactly the non-digit characters, at a fraction of the cost of a regex replace."""
    texts = _strings(texts)
    if len(texts) == 0 or pc.all(pc.ascii_is_decimal(texts)).as_py() is not False:  # digits already, or empty
        return texts
    offsets, data = _buffers(texts)
    data = np.append(data[offsets[0] : offsets[-1]], np.uint8(0))  # a byte past the end for empty tails
    keep = data - np.uint8(ord("0")) <= 9
    counts = np.add.reduceat(keep, offsets[:-1] - offsets[0], dtype=np.int32)  # digits per text
    counts[offsets[1:] == offsets[:-1]] = 0  # reduceat gives an empty text the byte at its start
    kept = np.concatenate(([0], np.cumsum(counts, dtype=np.int32)), dtype=np.int32)
    validity = pa.concat_arrays([texts]).buffers()[0] if texts.null_count else None  # bitmap from offset 0
    buffers = [validity, pa.py_buffer(kept), pa.py_buffer(data[keep])]
    return pa.Array.from_buffers(pa.string(), len(texts), buffers, texts.null_count)


def char_columns(texts: pa.Array, width: int, where: np.ndarray | None = None) -> np.ndarray:
    """Byte ``j`` of each text (those at ``where``, or all) in row ``j`` of a (width, n) uint8 matrix: one row
    per position, so per-position arithmetic runs over contiguous vectors (a reduction along a short row of a
    text-per-row matrix costs ten times more). The texts must be at least ``width`` bytes long."""
    offsets, data = _buffers(texts)
    starts = offsets[:-1] if where is None else offsets[:-1][where]
    if len(starts) == 0:
        return np.zeros((width, 0), dtype=np.uint8)
    if where is None and offsets[-1] - offsets[0] == width * len(starts):  # all exactly ``width``: back to back
        return np.ascontiguousarray(data[offsets[0] : offsets[-1]].reshape(len(starts), width).T)
    return data[starts[None, :] + np.arange(width)[:, None]]


def _number(digits: np.ndarray) -> np.ndarray:
    """The number spelt by up to 9 rows of digit values (most significant first), one per column, as int32."""
    out = np.zeros(digits.shape[1], dtype=np.int32)
    for row in digits:
        out = out * 10 + row
    return out


def _scatter(size: int, where: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.zeros(size, dtype=bool)
    out[where] = values
    return out


def _matches(texts: pa.Array, regex: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(_strings(texts), regex), False).to_numpy(zero_copy_only=False)


# --- dates -------------------------------------------------------------------------------------------------


def real_dates(year: np.ndarray, month: np.ndarray, day: np.ndarray, as_of: datetime.date) -> np.ndarray:
    """True where year-month-day is a calendar date from 1900 up to ``as_of`` (births are not in the future)."""
    month_days = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)
    ok = (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days[np.clip(month, 0, 12)]) & (year >= 1900)
    feb29 = np.flatnonzero(ok & (month == 2) & (day == 29))
    if len(feb29):
        leap = year[feb29]
        ok[feb29] = ((leap % 4 == 0) & (leap % 100 != 0)) | (leap % 400 == 0)
    today = as_of.year * 10000 + as_of.month * 100 + as_of.day
    return ok & (year * 10000 + month * 100 + day <= today)


def year_first_dates(texts: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) of texts starting "YYYY-MM-DD" (any of - / . as each separator) or "YYYYMMDD", read
    off the byte matrix; -1 for texts that start otherwise (the caller's regex reads those). What this reads
    is what ``^(?P<y>[0-9]{4})[-/.年]?(?P<m>[0-9]{1,2})[-/.月]?(?P<d>[0-9]{1,2})`` extracts from the same text,
    at a tenth of the cost of extracting it."""
    texts = _strings(texts)
    out = [np.full(len(texts), -1, dtype=np.int64) for _ in range(3)]
    lengths = pc.fill_null(pc.binary_length(texts), 0).to_numpy(zero_copy_only=False)
    for width, separated in ((10, True), (8, False)):
        where = np.flatnonzero(lengths >= width)
        if not len(where):
            continue
        chars = char_columns(texts, width, where).astype(np.int64) - ord("0")
        digit = (chars >= 0) & (chars <= 9)
        if separated:  # - / . are 0x2d-0x2f: below "0" by 3, 2 and 1
            ok = digit[[0, 1, 2, 3, 5, 6, 8, 9]].all(axis=0) & (chars[4] >= -3) & (chars[4] <= -1)
            ok &= (chars[7] >= -3) & (chars[7] <= -1)
            digits = chars[[0, 1, 2, 3, 5, 6, 8, 9]]
        else:
            ok = digit.all(axis=0)
            digits = chars
        where, digits = where[ok], digits[:, ok]
        for part, rows in zip(out, (digits[:4], digits[4:6], digits[6:8]), strict=True):
            part[where] = _number(rows)
    return out[0], out[1], out[2]


def minor_cutoff(as_of: datetime.date) -> int:
    """Births after this YYYYMMDD are under 14 on ``as_of`` (29 February falls back to the 28th)."""
    year = as_of.year - 14
    day = min(as_of.day, 28) if as_of.month == 2 and as_of.day == 29 else as_of.day
    return year * 10000 + as_of.month * 100 + day


# --- resident identity card (GB 11643-1999) ----------------------------------------------------------------

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
#: The check character's digit value (X is 10) for each weighted sum mod 11.
_ID_CHECK_VALUE = np.array([1, 0, 10, 9, 8, 7, 6, 5, 4, 3, 2], dtype=np.uint8)


@lru_cache(maxsize=1)
def known_prefectures() -> np.ndarray:
    """A lookup table over 4-digit region prefixes: True for every prefecture python-stdnum's county table
    (cn/loc.dat, historical codes included) knows, plus 8100/8200/8300 (HK/Macau/Taiwan residence permits).

    A code is plausible when its prefecture is known. stdnum's own ``cn.ric.validate`` is stricter in two ways
    real IDs break: it rejects a county created after the birth year (someone born in 1950 who registered in
    1985 in a county created in 1983 keeps that code), and it cannot know counties newer than its table.
    """
    table = np.zeros(10_000, dtype=bool)
    table[[8100, 8200, 8300]] = True
    for _, province, _, _, children in numdb.get("cn/loc").prefixes:
        for _, county, _, _, _ in children:
            table[int(province + county[:2])] = True
    return table


def _id_digits(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(indices of well-formed 18-character texts, their digit values as an (18, n) uint8 matrix, the check
    character X as 10) with a lower-case x read as X. The shape (17 digits and a digit or X) is checked on the
    byte matrix of the 18-byte texts: no regex pass."""
    texts = _strings(texts)
    lengths = pc.fill_null(pc.binary_length(texts), 0).to_numpy(zero_copy_only=False)
    if (lengths == 20).any():  # maybe printed in 6-8-4 groups: without the spaces, 18 characters
        texts = pc.replace_substring(texts, " ", "")
        lengths = pc.fill_null(pc.binary_length(texts), 0).to_numpy(zero_copy_only=False)
    sized = np.flatnonzero(lengths == 18)
    digits = char_columns(texts, 18, None if len(sized) == len(texts) else sized) - np.uint8(ord("0"))
    last = digits[17]
    is_x = (last == ord("X") - ord("0")) | (last == ord("x") - ord("0"))
    shaped = (digits[:17] <= 9).all(axis=0) & ((last <= 9) | is_x)
    digits[17] = np.where(is_x, 10, last)
    if shaped.all():  # most columns: no copy
        return sized, digits
    return sized[shaped], digits[:, shaped]


def _gb11643_ok(digits: np.ndarray) -> np.ndarray:
    total = np.zeros(digits.shape[1], dtype=np.uint16)
    for row, weight in zip(digits[:17], _ID_WEIGHTS.tolist(), strict=True):
        total += row * np.uint16(weight)
    return _ID_CHECK_VALUE[total % 11] == digits[17]


def _real_birth(digits: np.ndarray, as_of: datetime.date) -> np.ndarray:
    return real_dates(_number(digits[6:10]), _number(digits[10:12]), _number(digits[12:14]), as_of)


def resident_id(texts: pa.Array, ctx: Context) -> np.ndarray:
    """GB 11643 check character, a real birth date not after the export date, and a plausible region code."""
    shaped, digits = _id_digits(texts)
    known = np.flatnonzero(known_prefectures()[_number(digits[:4])])  # cheapest first: order numbers stop here
    if len(known) < len(shaped):
        shaped, digits = shaped[known], digits[:, known]
    ok = _gb11643_ok(digits) & _real_birth(digits, ctx.as_of)
    return _scatter(len(texts), shaped, ok)


def resident_id_checks(texts: pa.Array) -> np.ndarray:
    """Whether the check character is right, for each text shaped like an 18-character ID with a known
    prefecture and a real birth date (a batch number built from a region and a date is shaped so too): only its
    check character is left to chance there, and it passes one time in eleven. Texts without that shape are left
    out: they fail the validator whatever their column holds."""
    _, digits = _id_digits(texts)
    digits = digits[:, known_prefectures()[_number(digits[:4])]]
    return _gb11643_ok(digits[:, _real_birth(digits, datetime.date.max)])


def _birth_dates_of(texts: pa.Array, digits_of: Callable[[pa.Array], tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Birth date (YYYYMMDD as int) of each text ``digits_of`` reads as an ID (its digits in the 18-digit
    form); 0 where the text has no such shape."""
    shaped, digits = digits_of(texts)
    out = np.zeros(len(texts), dtype=np.int64)
    out[shaped] = _number(digits[6:14])
    return out


def resident_id_birth_dates(texts: pa.Array) -> np.ndarray:
    """Birth date (YYYYMMDD as int) in each valid-shaped 18-character ID; 0 where the text has no such shape."""
    return _birth_dates_of(texts, _id_digits)


def _legacy_digits(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(indices of 15-digit texts, their digits as an (18, n) matrix of the 18-digit form: region, "19", the
    two-digit year, month, day, sequence, and the GB 11643 check character (X as 10))."""
    texts = _strings(texts)
    lengths = pc.fill_null(pc.binary_length(texts), 0).to_numpy(zero_copy_only=False)
    sized = np.flatnonzero(lengths == 15)
    legacy = char_columns(texts, 15, None if len(sized) == len(texts) else sized) - np.uint8(ord("0"))
    shaped = (legacy <= 9).all(axis=0)
    legacy = legacy[:, shaped]
    century = np.tile(np.array([[1], [9]], dtype=np.uint8), (1, legacy.shape[1]))
    digits = np.concatenate([legacy[:6], century, legacy[6:], np.zeros((1, legacy.shape[1]), np.uint8)])
    total = np.zeros(digits.shape[1], dtype=np.uint16)
    for row, weight in zip(digits[:17], _ID_WEIGHTS.tolist(), strict=True):
        total += row * np.uint16(weight)
    digits[17] = _ID_CHECK_VALUE[total % 11]
    return sized[shaped], digits


def resident_id_15(texts: pa.Array, ctx: Context) -> np.ndarray:
    """The first-generation (1985-2004) 15-digit card: region, YYMMDD of a birth in the 1900s, a 3-digit
    sequence and no check digit. Fifteen digits are common (order numbers, 0086 + a mobile), so only with
    context (a column named for the ID, or a context word before it), a known prefecture and a real date."""
    if not ctx.in_context:
        return np.zeros(len(texts), dtype=bool)
    shaped, digits = _legacy_digits(texts)
    ok = known_prefectures()[_number(digits[:4])] & _real_birth(digits, ctx.as_of)
    return _scatter(len(texts), shaped, ok)


def resident_id_15_birth_dates(texts: pa.Array) -> np.ndarray:
    """Birth date (YYYYMMDD as int, 19YYMMDD) of each 15-digit legacy ID; 0 where the text has no such shape."""
    return _birth_dates_of(texts, _legacy_digits)


def resident_id_18(texts: pa.Array) -> pa.Array:
    """Identifier form of a legacy 15-digit ID: the 18-digit number the same person holds today (GB 11643:
    "19" before the year, the check character appended), so one person written both ways is one identifier."""
    texts = _strings(texts)
    shaped, digits = _legacy_digits(texts)
    chars = (digits + np.uint8(ord("0"))).T.copy()
    chars[:, 17] = np.where(digits[17] == 10, ord("X"), chars[:, 17])
    offsets = pa.py_buffer(np.arange(0, 18 * (len(shaped) + 1), 18, dtype=np.int32).tobytes())
    converted = pa.Array.from_buffers(pa.string(), len(shaped), [None, offsets, pa.py_buffer(chars.tobytes())])
    out = upper(texts)  # texts that are not 15 digits are left as they are (they never validate)
    if len(shaped) == 0:
        return out
    mask = np.zeros(len(texts), dtype=bool)
    mask[shaped] = True
    return pc.replace_with_mask(out, pa.array(mask), converted)


def foreigner_permanent_id(texts: pa.Array, ctx: Context) -> np.ndarray:
    """The 2023 foreigner's permanent residence ID: 18 characters starting with 9, GB 11643 check character and
    a real birth date in positions 7-14 (the old 15-character card has no public check and needs context)."""
    shaped, digits = _id_digits(texts)
    ok = (digits[0] == 9) & _gb11643_ok(digits) & _real_birth(digits, ctx.as_of)
    new = _scatter(len(texts), shaped, ok)
    if not ctx.in_context:
        return new
    return new | _matches(pc.utf8_upper(_strings(texts)), r"^[A-Z]{3}[0-9]{12}$")


# --- mainland mobile numbers ---------------------------------------------------------------------------------


@cache
def _data_prefixes() -> tuple[str, ...]:
    """Allocated mobile prefixes phonenumbers rejects (detectors/cn_mobile_prefixes.txt)."""
    lines = (detectors_dir() / "cn_mobile_prefixes.txt").read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


@cache
def _allocated_block(block: str) -> bool:
    """phonenumbers' opinion of a 7-digit number block (1XX XXXX); a data/IoT prefix its metadata does not list
    (149 ..., see cn_mobile_prefixes.txt). The CN mobile patterns look at no more than the first 5 digits, so
    one lookup per block is exact and each distinct block is parsed once."""
    if block.startswith(_data_prefixes()):
        return True
    number = phonenumbers.parse("+86" + block + "0000")
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def national_mobile(texts: pa.Array) -> pa.Array:
    """The 11 national digits of a mobile number written with or without +86 / 86 / 0086 (a byte slice: digits
    are ASCII, and the byte kernel is six times cheaper than the code-unit one)."""
    return pc.binary_slice(digits_only(texts).view(pa.binary()), -11).view(pa.string())


#: A mobile number once only its digits are left: 11 national digits after an optional country code.
_MOBILE_DIGITS = r"(?:0086|86)?1[3-9][0-9]{9}"


def _digits_match(digits: pa.Array, regex: str) -> np.ndarray:
    """Which texts of digits (digits_only's output) ``regex`` matches as a whole, by the shapes of the regex
    (export_gate.detection.shapes) read on the data buffer instead of a regex pass."""
    shapes = alnum_shapes(regex)
    if shapes is None or len(digits) == 0:
        return _matches(digits, f"^(?:{regex})$")
    every = np.arange(len(digits))
    return PlainValues(digits, every, np.ones(len(digits), dtype=bool)).match(shapes, np.ones(len(digits), bool))


def cn_mobile(texts: pa.Array, ctx: Context) -> np.ndarray:
    """11 digits 1[3-9]XXXXXXXXX after an optional country code; outside a phone column the block must also be
    allocated per phonenumbers. In a phone column the permissive shape is enough: phonenumbers lags behind new
    blocks and rejects numbers people do have (data-only 149, satellite 1749), see the tests."""
    ok = _digits_match(digits_only(texts), _MOBILE_DIGITS)
    if ctx.in_context or not ok.any():
        return ok
    blocks = pc.utf8_slice_codeunits(national_mobile(texts), 0, 7)
    allocated = [b for b in pc.unique(blocks).to_pylist() if b and len(b) == 7 and _allocated_block(b)]
    return ok & pc.is_in(blocks, value_set=pa.array(allocated, pa.string())).to_numpy(zero_copy_only=False)


def cn_mobile_identifier(texts: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise("+86", national_mobile(texts), "")


# --- numbers outside the mainland ---------------------------------------------------------------------------------


@cache
def _international(digits: str) -> bool:
    """Whether +``digits`` is a valid number of a country other than China, per phonenumbers."""
    try:
        number = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return False
    return number.country_code != 86 and phonenumbers.is_valid_number(number)


def intl_phone(texts: pa.Array, ctx: Context) -> np.ndarray:
    """A number written with its country code (+886 912 345 678, +852-5123-4567, +1 212 555 0123) that
    phonenumbers finds valid for its country; mainland numbers are cn_mobile's. A valid plan is the check: no
    context needed, the '+' and the country's own numbering make a chance match rare."""
    return np.array([_international(d) for d in digits_only(texts).to_pylist()], dtype=bool)


def e164(texts: pa.Array) -> pa.Array:
    """Identifier form of a number with its country code: '+' and the digits."""
    return pc.binary_join_element_wise("+", digits_only(texts), "")


# --- bank cards ------------------------------------------------------------------------------------------------


def luhn(digits: pa.Array) -> np.ndarray:
    """Luhn (mod 10) over texts of digits, grouped by length so each group is one column-major digit matrix
    (see char_columns); texts with anything but digits fail. A doubled digit d adds 2d, less 9 from d = 5 on."""
    digits = _strings(digits)
    lengths = pc.fill_null(pc.binary_length(digits), 0).to_numpy(zero_copy_only=False)
    out = np.zeros(len(digits), dtype=bool)
    for width in np.flatnonzero(np.bincount(lengths)).tolist():  # the lengths present, without a sort
        if width < 2:
            continue
        where = np.flatnonzero(lengths == width)
        values = char_columns(digits, width, None if len(where) == len(digits) else where) - np.uint8(ord("0"))
        doubled = values[width - 2 :: -2]  # every second digit from the right, the check digit not included
        total = values[width - 1 :: -2].sum(axis=0, dtype=np.int64) + 2 * doubled.sum(axis=0, dtype=np.int64)
        total -= 9 * (doubled >= 5).sum(axis=0, dtype=np.int64)
        out[where] = (total % 10 == 0) & (values <= 9).all(axis=0)  # non-digits wrapped past 9 when shifted
    return out


def bank_card(texts: pa.Array, ctx: Context) -> np.ndarray:
    """16-19 digits with a card BIN (UnionPay 62, Visa 4, Mastercard 51-55/22-27, JCB 35, Discover 60/65, old
    domestic 9), 15 with American Express's (34, 37) or JCB's (1800, 2131), 14 with Diners Club's (30, 36, 38,
    39), and Luhn. Several
    card libraries turn Luhn off for UnionPay; in a card/account column a 62 number that fails Luhn still counts
    (Luhn is only a booster there), elsewhere it is a look-alike."""
    digits = digits_only(texts)
    lengths = pc.fill_null(pc.binary_length(digits), 0).to_numpy(zero_copy_only=False)
    sized = np.flatnonzero((lengths >= 14) & (lengths <= 19))  # digits only: the length is the shape
    if len(sized) < len(digits):
        digits = digits.take(pa.array(sized, pa.int64()))
    size = lengths[sized]
    first, two = _leading_numbers(digits)
    unionpay = (two == 62) & (size >= 16)
    shaped = unionpay | (first == 4) | ((two >= 51) & (two <= 55)) | ((two >= 22) & (two <= 27))
    shaped |= (two == 35) | (two == 60) | (two == 65) | (first == 9)
    shaped &= size >= 16
    shaped |= ((two == 34) | (two == 37) | (two == 18) | (two == 21)) & (size == 15)  # Amex 4-6-5, JCB 1800/2131
    shaped |= ((two == 36) | (two == 30) | (two == 38) | (two == 39)) & (size == 14)  # Diners Club, 4-6-4
    ok = shaped.copy()
    if shaped.any():  # Luhn only on numbers with a card BIN (order and batch numbers mostly have none)
        where = np.flatnonzero(shaped)
        ok[where] = luhn(digits if len(where) == len(digits) else digits.take(pa.array(where, pa.int64())))
    if ctx.in_context:
        ok |= unionpay
    return _scatter(len(texts), sized, ok)


def _leading_numbers(digits: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The first digit and the first two digits (as numbers) of texts of at least two digits, read from the
    Arrow data buffer at each text's start: the card BIN check without a regex pass."""
    leading = char_columns(digits, 2).astype(np.int64) - ord("0")
    return leading[0], leading[0] * 10 + leading[1]


# --- Hong Kong identity card ---------------------------------------------------------------------------------


def _hkid_ok(text: str) -> bool:
    body = text.upper().replace("(", "").replace(")", "")
    letters, number, check = body[:-7], body[-7:-1], body[-1]
    values = ([36] if len(letters) == 1 else []) + [ord(c) - 55 for c in letters] + [int(c) for c in number]
    total = sum(v * w for v, w in zip(values, range(9, 1, -1), strict=True))
    return "0123456789A"[(11 - total % 11) % 11] == check


def hk_identity_checks(texts: pa.Array) -> np.ndarray:
    """Whether each Hong Kong ID-shaped text (one or two letters, six digits, a check character) passes the
    mod-11 check."""
    return np.array([bool(t) and _hkid_ok(t) for t in _strings(texts).to_pylist()], dtype=bool)


def hk_identity_card(texts: pa.Array, ctx: Context) -> np.ndarray:
    """One or two letters, six digits and a check character (0-9 or A), mod 11. A mod-11 check passes one
    product code in eleven, so without context the check character must be in brackets, as on the card."""
    return hk_identity_checks(texts) & (ctx.in_context | _matches(texts, r"\([0-9Aa]\)$"))


# --- shapes without a public check ---------------------------------------------------------------------------


def needs_context(texts: pa.Array, ctx: Context) -> np.ndarray:
    """Passports, travel permits, ICD-10 codes: no public check digit, so the shape counts only with context
    (a column named for it, or a keyword just before the match)."""
    return np.full(len(texts), ctx.in_context, dtype=bool)


@cache
def icd10_categories() -> pa.Array:
    """The three-character ICD-10 categories (A00 ... Z99) of detectors/icd10_codes.txt."""
    lines = (detectors_dir() / "icd10_codes.txt").read_text(encoding="utf-8").splitlines()
    return pa.array(sorted({line[:3] for line in lines if line and not line.startswith("#")}), pa.string())


def icd10_category_known(texts: pa.Array) -> np.ndarray:
    """Whether each code's category (its first three characters) is one WHO ICD-10 has. Evidence for a column
    of bare codes, not a check of one code: national and clinical modifications add categories (ICD-10-CM's
    G89, N52), so in a column named for diagnoses any code-shaped value counts."""
    category = pc.utf8_upper(pc.utf8_slice_codeunits(_strings(texts), 0, 3))
    return pc.fill_null(pc.is_in(category, value_set=icd10_categories()), False).to_numpy(zero_copy_only=False)


def always(texts: pa.Array, ctx: Context) -> np.ndarray:
    """The regex alone decides (term lists, e-mail shapes)."""
    return np.ones(len(texts), dtype=bool)


def vehicle_plate(texts: pa.Array, ctx: Context) -> np.ndarray:
    """A mainland plate: the regex fixes province, authority letter and serial shape; a 4- or 5-character
    serial holds at most two letters (the public number rules), so product codes after a province-like
    character ("上新SKUAB") are not plates. A 6-character serial is a new-energy plate (D/F), always valid."""
    serial = pc.replace_substring_regex(pc.utf8_slice_codeunits(_strings(texts), 2), r"[·• \-]", "")
    letters = pc.count_substring_regex(serial, "[A-Z]").to_numpy(zero_copy_only=False)
    six = pc.utf8_length(serial).to_numpy(zero_copy_only=False) == 6
    return six | (letters <= 2)


_IPV4 = r"^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$"


def ip_address(texts: pa.Array, ctx: Context) -> np.ndarray:
    """A real IPv4/IPv6 address. IPv4 is decided by its regex (octets 0-255) in bulk; only IPv6 candidates go
    through ``ipaddress``, which rejects shapes like 1:2::3::4."""
    ok = _matches(texts, _IPV4)
    for i in np.flatnonzero(~ok).tolist():
        try:
            ipaddress.IPv6Address(texts[i].as_py() or "")
        except ValueError:
            continue
        ok[i] = True
    return ok


def upper_compact(texts: pa.Array) -> pa.Array:
    """Identifier form of documents: upper case without spaces, brackets or dashes."""
    return pc.replace_substring_regex(pc.utf8_upper(_strings(texts)), pattern=r"[\s()\-]", replacement="")


def upper(texts: pa.Array) -> pa.Array:
    """Identifier form of IDs whose regex admits no separators (a lower-case check character x)."""
    return pc.utf8_upper(_strings(texts))


def upper_ungrouped(texts: pa.Array) -> pa.Array:
    """Identifier form of an ID that may be printed in groups (6-8-4): upper case, the spaces dropped; a
    literal replace, and only when a text has one (most IDs are written without)."""
    texts = _strings(texts)
    if pc.any(pc.greater(pc.binary_length(texts), 18)).as_py():
        texts = pc.replace_substring(texts, " ", "")
    return pc.utf8_upper(texts)


def lower(texts: pa.Array) -> pa.Array:
    return pc.utf8_lower(_strings(texts))


VALIDATORS: dict[str, Validator] = {
    "resident_id": resident_id,
    "resident_id_15": resident_id_15,
    "foreigner_permanent_id": foreigner_permanent_id,
    "cn_mobile": cn_mobile,
    "bank_card": bank_card,
    "intl_phone": intl_phone,
    "hk_identity_card": hk_identity_card,
    "needs_context": needs_context,
    "ip_address": ip_address,
    "vehicle_plate": vehicle_plate,
    "always": always,
}

NORMALISERS: dict[str, Normaliser] = {
    "upper_compact": upper_compact,
    "upper": upper,
    "upper_ungrouped": upper_ungrouped,
    "resident_id_18": resident_id_18,
    "digits": digits_only,
    "cn_mobile": cn_mobile_identifier,
    "e164": e164,
    "lower": lower,
}

#: Recognizers whose match carries a birth date (for minor_under_14), by validator name.
BIRTH_DATES: dict[str, Callable[[pa.Array], np.ndarray]] = {
    "resident_id": resident_id_birth_dates,
    "resident_id_15": resident_id_15_birth_dates,
}

#: A column is taken as named for a recognizer when at least this share of its sample values (and at least
#: BY_VALUE_MIN of them) are, as a whole, its ``by_value`` shape and valid with context.
BY_VALUE_SHARE = 0.8
BY_VALUE_MIN = 5


def context_by_value(sample: pa.Array, recognizers: Iterable[Recognizer]) -> tuple[str, ...]:
    """The recognizers a column's values name it for, when its name does not: a column of bare ICD-10 codes
    (E11.9, J06.900) or e-passport numbers is recognised by what it holds. Only a whole-value shape that other
    identifiers rarely take counts (``by_value`` and ``by_value_check`` in recognizers.yaml), and only for
    nearly every value."""
    if not (pa.types.is_string(sample.type) or pa.types.is_large_string(sample.type)):
        return ()
    values = pc.utf8_trim_whitespace(pc.drop_null(sample).cast(pa.string()))
    values = values.filter(pc.greater(pc.utf8_length(values), 0))
    if len(values) < BY_VALUE_MIN:
        return ()
    named = []
    for rec in recognizers:
        if rec.by_value is None:
            continue
        shaped = values.filter(pc.match_substring_regex(values, f"^(?:{rec.by_value})$"))
        if len(shaped) < BY_VALUE_SHARE * len(values):
            continue
        valid = VALIDATORS[rec.validator](shaped, Context(True, datetime.date.max))
        if rec.by_value_check is not None:
            valid &= EVIDENCE[rec.by_value_check](shaped)
        if valid.sum() >= BY_VALUE_SHARE * len(values):
            named.append(rec.name)
    return tuple(named)


#: Validators that accept a match only with context (a column named for it, or a context word before it).
CONTEXT_ONLY = frozenset({"needs_context", "resident_id_15"})

#: Checks of a column's values beyond its recognizer's validator, named by ``by_value_check`` in
#: recognizers.yaml: what makes a column of code-shaped values a column of these codes.
EVIDENCE: dict[str, Callable[[pa.Array], np.ndarray]] = {"icd10_category_known": icd10_category_known}
