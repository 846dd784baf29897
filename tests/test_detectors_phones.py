"""Identifier notations real exports use, on numbers a third party generated (Faker zh_CN / zh_TW / en_US,
python-stdnum): mobiles with brackets or dots around a group, numbers of Taiwan, Hong Kong and the US written with
their country code (checked by phonenumbers), resident IDs printed in 6-8-4 groups, e-passports in a column whose
name says nothing, and cards of other networks in their grouped notations (Amex 4-6-5, Diners 4-6-4)."""

from __future__ import annotations

import phonenumbers
import pytest
from detector_support import entities, identifiers
from faker import Faker


@pytest.fixture(scope="module")
def fake() -> Faker:
    Faker.seed(5)
    return Faker(["zh_CN", "zh_TW", "en_US"])


def _mobiles(fake: Faker, n: int) -> list[str]:
    return [fake["zh_CN"].phone_number() for _ in range(n)]


@pytest.mark.parametrize(
    "notation",
    ["({a}){b}-{c}", "({a}) {b} {c}", "{a}.{b}.{c}", "{a} {b} {c}", "{a}-{b}-{c}", "+86 {a}{b}{c}", "(+86){a}{b}{c}"],
)
def test_mobile_notations_in_any_column(fake: Faker, notation: str) -> None:
    numbers = _mobiles(fake, 50)
    written = [notation.format(a=m[:3], b=m[3:7], c=m[7:]) for m in numbers]
    assert identifiers("remark", [f"客户电话 {w}" for w in written]) == [{f"CN_MOBILE:+86{m}"} for m in numbers]
    assert identifiers("contact", written) == [{f"CN_MOBILE:+86{m}"} for m in numbers]


@pytest.mark.parametrize(
    ("country", "national"),
    [("886", lambda f: "9" + f["zh_TW"].numerify("########")), ("852", lambda f: "6" + f["zh_CN"].numerify("#######")),
     ("1", lambda f: f["en_US"].numerify("2##5550###"))],
)  # fmt: skip
def test_numbers_with_a_foreign_country_code(fake: Faker, country: str, national) -> None:
    generated = [national(fake) for _ in range(40)]  # phonenumbers, the reference, says which are real numbers
    numbers = [n for n in generated if phonenumbers.is_valid_number(phonenumbers.parse(f"+{country}{n}"))]
    assert len(numbers) >= 20
    for i, n in enumerate(numbers):
        written = (f"+{country} {n}", f"+{country}-{n[:3]}-{n[3:6]}-{n[6:]}", f"+{country}{n}")[i % 3]
        assert identifiers("emergency_contact", [written]) == [{f"INTL_PHONE:+{country}{n}"}], written
        assert identifiers("chat", [f"我的电话是{written}，谢谢"]) == [{f"INTL_PHONE:+{country}{n}"}], written


def test_plus_signs_that_are_no_phone_number() -> None:
    assert entities("remark", ["温度 +12.5 度", "评分 +1 1 1", "版本 +0 123 456", "+999 123 4567"]) == [set()] * 4


def test_resident_ids_printed_in_groups(fake: Faker) -> None:
    ids = [fake["zh_CN"].ssn() for _ in range(50)]
    grouped = [f"{i[:6]} {i[6:14]} {i[14:]}" for i in ids]
    assert identifiers("remark", [f"身份证 {g}" for g in grouped]) == [{f"CN_RESIDENT_ID:{i}"} for i in ids]
    assert identifiers("id_no", grouped) == [{f"CN_RESIDENT_ID:{i}"} for i in ids]


def test_e_passports_in_a_column_whose_name_says_nothing(fake: Faker) -> None:
    passports = [fake["zh_CN"].bothify("E#########")[:9] for _ in range(30)]
    passports += [fake["zh_CN"].bothify("E?#######", letters="ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(30)]
    assert all(e == {"CN_PASSPORT"} for e in entities("doc_no", passports))
    assert entities("sku", ["E12345678", "X-100", "BOX-3", "A1", "SKU9", "E1"]) == [set()] * 6  # one is no column


@pytest.mark.parametrize("card_type", ["amex", "diners", "jcb15", "discover", "visa16", "mastercard"])
def test_cards_of_other_networks_in_grouped_notations(fake: Faker, card_type: str) -> None:
    numbers = [fake["en_US"].credit_card_number(card_type=card_type) for _ in range(30)]
    grouped = [_grouped(n) for n in numbers]
    expected = [{f"BANK_CARD:{n}"} for n in numbers]
    assert identifiers("remark", [f"card {g}" for g in grouped]) == expected, card_type
    assert identifiers("remark", [f"卡号{n}" for n in numbers]) == expected, card_type


def _grouped(number: str) -> str:
    """A card number as printed: 4-6-5 (15 digits), 4-6-4 (14), else groups of four."""
    if len(number) == 15:
        return f"{number[:4]} {number[4:10]} {number[10:]}"
    if len(number) == 14:
        return f"{number[:4]} {number[4:10]} {number[10:]}"
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
