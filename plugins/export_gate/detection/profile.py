"""Per-column planning: from a column's name, Arrow type and a sample, decide how every cell will be checked.

The plan only chooses *how* (which rule, whether NER runs); the scan still checks every cell. Column names
carry the context that values alone lack: "13812345678" in a column named 手机 is a phone even in a block
phonenumbers does not know yet, "张伟" is a name only in a name column, anything in a diagnosis column is
health information.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from export_gate.detection import validators
from export_gate.detection.recognizers import ColumnKind, Recognizer, load_columns

#: Free text: mean length at least this many characters ...
FREE_TEXT_MEAN_CHARS = 25
#: ... or at least this share of sample values look like sentences.
FREE_TEXT_SHARE = 0.3
_SENTENCE = r"[，。；！？!?;]|\S+\s+\S+\s+\S+"
#: A date written day and month before the year (03/15/2010 month first, 15.03.2010 day first).
WRITTEN_DATE = r"^(?P<a>[0-9]{1,2})[-/.](?P<b>[0-9]{1,2})[-/.](?P<y>[0-9]{4})$"
#: Values worth running English NER on: two capitalised words in a row.
NER_CANDIDATE = r"[A-Z][a-z]+\s+(?:[A-Z]\.?\s+)?[A-Z][a-z]+"
#: Column-level evidence (issue 11): a column's sample says whether its candidates are what they look like.
#: A card-length number (13-19 digits, grouped or not) is a card candidate; random numbers pass Luhn one time
#: in ten, real card numbers always: below this pass rate, over at least ``EVIDENCE_MIN`` candidates, the
#: passes are chance (order, tracking, claim numbers) and the column holds no cards. Real cards mixed with
#: other numbers keep the rate above it (a third real cards: 0.4), so they are not lost.
CARD_CANDIDATE = r"(?:^|[^0-9])(?P<n>[0-9](?:[ -]?[0-9]){12,18})(?:$|[^0-9])"
CHANCE_PASS_RATE = 0.35
EVIDENCE_MIN = 20
#: The same evidence for the other identifiers with a check character that chance can pass: an 18-character
#: resident ID (its check passes one batch number in eleven that is built from a region and a date) and a Hong
#: Kong ID (one product code in eleven: A123456(7)).
ID_CANDIDATE = r"(?:^|[^0-9A-Za-z])(?P<n>[0-9]{17}[0-9Xx])(?:$|[^0-9A-Za-z])"
HKID_CANDIDATE = r"(?:^|[^0-9A-Za-z])(?P<n>[A-Za-z]{1,2}[0-9]{6}\(?[0-9Aa]\)?)(?:$|[^0-9A-Za-z])"
#: Numbers that are a sequence (voucher, admission, row numbers) are no identifiers, however much they look
#: like mobiles or cards: at least this share of the gaps between the sorted distinct values is at most
#: ``SEQUENCE_GAP`` (real mobiles of a sample lie millions apart).
SEQUENCE_SHARE = 0.9
SEQUENCE_GAP = 10
#: Recognizers of numbers a sequence rules out.
NUMBER_RECOGNIZERS = ("cn_mobile", "bank_card", "cn_travel_permit", "cn_resident_id_15")
#: A column of plain numbers in which fewer than ``RARE_SHARE`` of the values have a mobile's shape (bare, or
#: with 86 in front) holds none: the few that do are chance (an EAN-13 barcode starting 86 1...).
MOBILE_SHAPE = r"^(?:86)?1[3-9][0-9]{9}$"
RARE_SHARE = 0.05
#: What an account number looks like: at least 8 digits (spaces and dashes allowed) or an e-mail-like login.
#: A column named "account" whose values mostly do not (account codes 1002.01.03, amounts 1234.56, 6001) is
#: no financial account.
ACCOUNT_VALUE = r"^(?:[0-9][ -]?){8,30}$|^[^@\s]+@[^@\s]+$"
ACCOUNT_SHARE = 0.5


@dataclass(frozen=True)
class ColumnPlan:
    """How one column is scanned. Plain values only, so plans travel to worker processes."""

    column: str  # leaf column name as given (nested: "a.b", "items[].phone")
    kind: str  # skip | structured | free_text | person_name | birth_date | age | coordinate | sensitive_column
    reason: str  # why this plan, for the report (never a value)
    context: tuple[str, ...] = ()  # recognizers whose context words the column name carries
    ner: bool = False  # run spaCy NER (English names) on candidate values
    entity: str | None = None  # entity of a column-rule hit (kinds other than skip/structured/free_text)
    categories: tuple[str, ...] = ()  # sensitive categories of a column-rule hit
    value_regex: str | None = None  # RE2 regex a value must contain to be a column-rule hit
    date_order: str | None = None  # "dmy" | "mdy": how the sample writes dates with the year last, if it says
    distinct: bool = False  # nearly every sample value differs (order numbers, IDs): rows are analysed as they are
    ruled_out: tuple[str, ...] = ()  # recognizers the column's sample rules out (column-level evidence)

    @property
    def patterns(self) -> bool:
        """Whether the pattern recognizers run over this column's values."""
        return self.kind not in ("skip", "birth_date", "age", "coordinate")


def column_key(column: str) -> str:
    """The column's last two path segments, lower-cased, joined by '_' ("patient.name" -> "patient_name")."""
    segments = [s for s in re.split(r"[.\[\]]+", column) if s]
    key = "_".join(segments[-2:]) if segments else column
    key = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower()  # camelCase -> camel_case
    return re.sub(r"[^0-9a-z\u3400-\u9fff]+", "_", key).strip("_")


def type_family(dtype: pa.DataType) -> str:
    """string | integer | floating | decimal | temporal | binary | boolean | other."""
    if pa.types.is_dictionary(dtype):
        return type_family(dtype.value_type)
    checks = (
        ("string", pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype)),
        ("integer", pa.types.is_integer(dtype)),
        ("floating", pa.types.is_floating(dtype)),
        ("decimal", pa.types.is_decimal(dtype)),
        ("temporal", pa.types.is_date(dtype) or pa.types.is_timestamp(dtype)),  # not time of day or duration
        (
            "binary",
            pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype) or pa.types.is_fixed_size_binary(dtype),
        ),
        ("boolean", pa.types.is_boolean(dtype)),
    )
    return next((name for name, hit in checks if hit), "other")


def context_of(key: str, recognizers: tuple[Recognizer, ...]) -> tuple[str, ...]:
    """Recognizers whose context words the column key carries: an ASCII word must start a key token ("tel"
    is in "contact_tel", not in "hotel"), a CJK word may sit anywhere."""

    def carries(word: str) -> bool:
        return re.search(rf"(?:^|_){re.escape(word)}", key) is not None if word.isascii() else word in key

    return tuple(rec.name for rec in recognizers if any(carries(w) for w in rec.context_words))


def _column_rule(key: str, family: str) -> ColumnKind | None:
    kinds, _, _ = load_columns()
    return next((k for k in kinds if family in k.types and k.column.search(key)), None)


def _whole_numbers(sample: pa.Array) -> bool:
    """Whether a float sample holds only whole numbers of 7 digits or more (a phone column read through pandas
    with missing values becomes float64: 13812345678.0)."""
    values = pc.drop_null(sample).to_numpy(zero_copy_only=False)
    return len(values) > 0 and bool(np.all((values == np.floor(values)) & (np.abs(values) >= 1e6)))


def _date_order(sample: pa.Array) -> str | None:
    """How a sample writes dates with the year last: "dmy" when some have a first part above 12 (a day) and
    none a second part above 12, "mdy" the other way round; None when the sample does not say or says both."""
    strings = sample.dictionary_decode() if pa.types.is_dictionary(sample.type) else sample
    parts = pc.extract_regex(pc.utf8_trim_whitespace(strings.cast(pa.string())), WRITTEN_DATE)
    first, second = (
        pc.fill_null(pc.cast(pc.struct_field(parts, [i]), pa.int64()), 0).to_numpy(zero_copy_only=False) for i in (0, 1)
    )
    day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
    return "dmy" if day_first and not month_first else "mdy" if month_first and not day_first else None


def _looks_free_text(sample: pa.Array) -> tuple[bool, str]:
    values = pc.drop_null(sample)
    if len(values) == 0:
        return False, "no sample values"
    mean = pc.mean(pc.utf8_length(values)).as_py() or 0.0
    share = pc.mean(pc.cast(pc.match_substring_regex(values, _SENTENCE), pa.int8())).as_py() or 0.0
    text = mean >= FREE_TEXT_MEAN_CHARS or share >= FREE_TEXT_SHARE
    return text, f"mean {mean:.0f} chars, {share:.0%} sentence-like"


def _as_strings(sample: pa.Array) -> pa.Array:
    strings = sample.dictionary_decode() if pa.types.is_dictionary(sample.type) else sample
    return pc.drop_null(strings.cast(pa.string()))


def _share(strings: pa.Array, regex: str) -> float:
    if len(strings) == 0:
        return 0.0
    return pc.mean(pc.cast(pc.match_substring_regex(strings, regex), pa.int8())).as_py() or 0.0


def _candidates(strings: pa.Array, regex: str) -> pa.Array:
    """The first candidate (group ``n`` of ``regex``) of each sample value that has one."""
    return pc.drop_null(pc.struct_field(pc.extract_regex(strings, regex), [0]))


def _chance(passes: np.ndarray, what: str) -> str | None:
    """Why the check passes among a column's candidates (``passes``: one per candidate) are chance: at most
    CHANCE_PASS_RATE of at least EVIDENCE_MIN candidates pass; None when the sample does not say so."""
    if len(passes) < EVIDENCE_MIN or passes.mean() > CHANCE_PASS_RATE:
        return None
    return f"{what} (at most {CHANCE_PASS_RATE:.0%} pass): chance"


def _chance_cards(strings: pa.Array) -> str | None:
    """Why the card-length numbers of the sample are not cards (their Luhn passes are chance), or None."""
    digits = validators.digits_only(_candidates(strings, CARD_CANDIDATE))
    return _chance(validators.luhn(digits), "card-length numbers mostly fail Luhn")


def _chance_ids(strings: pa.Array) -> str | None:
    """Why the 18-digit numbers of the sample with a region and a date are no resident IDs, or None."""
    checks = validators.resident_id_checks(_candidates(strings, ID_CANDIDATE))
    return _chance(checks, "numbers shaped like resident IDs mostly fail the check character")


def _chance_hkids(strings: pa.Array) -> str | None:
    """Why the codes of the sample shaped like Hong Kong IDs are none, or None."""
    checks = validators.hk_identity_checks(_candidates(strings, HKID_CANDIDATE))
    return _chance(checks, "codes shaped like Hong Kong IDs mostly fail the check character")


def _sequence(strings: pa.Array) -> str | None:
    """Why the sample's values are a sequence of numbers (vouchers, admissions), or None."""
    digits = pc.drop_null(strings)
    if len(digits) < EVIDENCE_MIN or not pc.all(pc.ascii_is_decimal(digits)).as_py():
        return None
    if pc.max(pc.utf8_length(digits)).as_py() > 18:
        return None
    numbers = np.unique(pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False))
    if len(numbers) < EVIDENCE_MIN:
        return None
    close = float(np.mean(np.diff(numbers) <= SEQUENCE_GAP))
    if close < SEQUENCE_SHARE:
        return None
    return "a sequence of numbers: no phone or card numbers"


def _rare_mobiles(strings: pa.Array) -> str | None:
    """Why the few mobile-shaped values of a column of plain numbers are chance, or None."""
    numbers = pc.utf8_trim_whitespace(strings)
    if len(numbers) < EVIDENCE_MIN or _share(numbers, r"^[0-9]+$") < SEQUENCE_SHARE:
        return None
    share = _share(numbers, MOBILE_SHAPE)
    if share >= RARE_SHARE:
        return None
    return f"under {RARE_SHARE:.0%} of the numbers have a mobile's shape: chance"


def evidence(sample: pa.Array, family: str, context: tuple[str, ...] = ()) -> tuple[tuple[str, ...], list[str]]:
    """Column-level evidence from the sample: the recognizers it rules out and why (for the plan's reason).
    A recognizer the column's name gives context for is never ruled out (counting high is the safe error)."""
    if family not in ("string", "integer", "decimal", "floating"):
        return (), []
    strings = _as_strings(sample)
    ruled_out: dict[str, None] = {}
    why = []
    for reason, names in (
        (_sequence(strings), NUMBER_RECOGNIZERS),
        (_chance_cards(strings), ("bank_card",)),
        (_chance_ids(strings), ("cn_resident_id",)),
        (_chance_hkids(strings), ("hk_identity_card",)),
        (_rare_mobiles(strings), ("cn_mobile",)),
    ):
        names = tuple(name for name in names if name not in context and name not in ruled_out)
        if reason and names:
            ruled_out.update(dict.fromkeys(names))
            why.append(reason)
    return tuple(ruled_out), why


def plan_column(
    column: str, dtype: pa.DataType, sample: pa.Array, recognizers: tuple[Recognizer, ...], ner: bool
) -> ColumnPlan:
    """The plan for one column (see ColumnPlan). Pure: name, type and sample in, plan out."""
    plan = _plan_column(column, dtype, sample, recognizers, ner)
    if not plan.patterns:
        return plan
    ruled_out, why = evidence(sample, type_family(dtype), plan.context)
    if not ruled_out:
        return plan
    return replace(plan, ruled_out=ruled_out, reason="; ".join([plan.reason, *why]))


def _plan_column(
    column: str, dtype: pa.DataType, sample: pa.Array, recognizers: tuple[Recognizer, ...], ner: bool
) -> ColumnPlan:
    key = column_key(column)
    family = type_family(dtype)
    context = context_of(key, recognizers)
    rule = _column_rule(key, family)
    not_accounts = (
        rule is not None
        and rule.entity == "ACCOUNT_NUMBER"
        and _share(_as_strings(sample), ACCOUNT_VALUE) < ACCOUNT_SHARE
    )
    if not_accounts:
        rule = None
    if rule is not None:
        order = _date_order(sample) if rule.kind == "birth_date" and family == "string" else None
        return ColumnPlan(
            column=column,
            kind=rule.kind,
            reason=f"column name says {rule.entity.lower()} ({family})" + (f", dates {order}" if order else ""),
            context=context,
            entity=rule.entity,
            categories=tuple(sorted(rule.categories)),
            value_regex=rule.value,
            date_order=order,
        )
    if not_accounts:
        return ColumnPlan(column, "structured", "column name says account, but its values are no account numbers")
    if family in ("integer", "decimal"):
        return ColumnPlan(column, "structured", f"{family} values may hold phone, card or ID numbers", context)
    if family == "floating" and _whole_numbers(sample):
        return ColumnPlan(column, "structured", "whole numbers stored as floats may hold phone numbers", context)
    if family != "string":
        return ColumnPlan(column, "skip", f"{family} values hold no identifiers or sensitive terms", context)
    _, free_hint, _ = load_columns()
    strings = sample.dictionary_decode() if pa.types.is_dictionary(sample.type) else sample
    strings = strings.cast(pa.string())
    text, stats = _looks_free_text(strings)
    if not (text or free_hint.search(key)):
        return ColumnPlan(column, "structured", f"short values ({stats})", context)
    wants_ner = ner and bool(pc.any(pc.match_substring_regex(strings, NER_CANDIDATE)).as_py())
    why = "; English names by spaCy NER" if wants_ner else ""
    return ColumnPlan(column, "free_text", f"free text ({stats}){why}", context, ner=wants_ner)
