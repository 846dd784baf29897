"""Shared pieces of the detector tests: one Detector per settings per process (spaCy loads once), valid
identifiers built with the reference libraries, and a one-call "what does this column find" helper."""

from __future__ import annotations

import datetime
from functools import cache

import pyarrow as pa
from export_gate.detection.detect import Detector, DetectorSettings, Hit
from stdnum import luhn
from stdnum.cn import ric

AS_OF = datetime.date(2026, 6, 15)


@cache
def detector(settings: DetectorSettings = DetectorSettings()) -> Detector:  # noqa: B008 - frozen
    return Detector(settings)


def resident_id(first17: str) -> str:
    """A resident ID with the correct GB 11643 check character (computed by python-stdnum)."""
    return first17 + ric.calc_check_digit(first17 + "0")


#: A valid resident ID of an adult: Beijing Chaoyang, born 1949-12-31.
ADULT_ID = resident_id("11010519491231002")


def wrong_check(number: str) -> str:
    """The same 18 characters with a wrong check character."""
    right = number[-1]
    return number[:-1] + ("0" if right != "0" else "1")


def card(prefix: str, length: int) -> str:
    """A card number of ``length`` digits that passes Luhn (computed by python-stdnum)."""
    body = prefix + "3" * (length - len(prefix) - 1)
    return body + luhn.calc_check_digit(body)


def findings(
    column: str,
    values: list,
    *,
    dtype: pa.DataType | None = None,
    settings: DetectorSettings = DetectorSettings(),  # noqa: B008 - frozen
    as_of: datetime.date = AS_OF,
) -> list[tuple[Hit, ...]]:
    """Plan ``column`` from its own values and detect: the hits of every row (empty tuple: nothing found)."""
    array = pa.array(values, type=dtype)
    found = detector(settings)
    plan = found.plan(column, array.type, array)
    detected = found.detect(plan, array, as_of)
    out: list[tuple[Hit, ...]] = [()] * len(values)
    for row, hit in zip(detected.rows.tolist(), detected.per_row(), strict=True):
        out[row] = hit
    return out


def entities(column: str, values: list, **kwargs: object) -> list[set[str]]:
    """The entity names found in each row."""
    return [{hit.entity for hit in hits} for hits in findings(column, values, **kwargs)]  # type: ignore[arg-type]


def categories(column: str, values: list, **kwargs: object) -> list[set[str]]:
    """The sensitive categories found in each row."""
    return [set().union(*(hit.categories for hit in hits)) for hits in findings(column, values, **kwargs)]  # type: ignore[arg-type]


def identifiers(column: str, values: list, **kwargs: object) -> list[set[str]]:
    """The strong identifiers found in each row."""
    return [{h.identifier for h in hits if h.identifier} for hits in findings(column, values, **kwargs)]  # type: ignore[arg-type]
