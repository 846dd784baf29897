"""Identifier detectors: true positives in the forms real exports hold, and the look-alikes that must not match.
Where python-stdnum or phonenumbers disagree with real data the test shows both opinions."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from detector_support import (
    ADULT_ID,
    AS_OF,
    card,
    categories,
    entities,
    findings,
    identifiers,
    resident_id,
    wrong_check,
)
from export_gate.detection.detect import DetectorSettings
from faker import Faker
from stdnum.cn import ric

ADULT = ADULT_ID


def _with_check_x() -> str:
    for seq in range(1000):
        number = resident_id(f"44030419880716{seq:03d}")
        if number.endswith("X"):
            return number
    raise AssertionError("no sequence number gives check character X")


# --- resident identity card ---------------------------------------------------------------------------------


def test_resident_id_in_its_column_is_a_strong_identifier() -> None:
    assert identifiers("id_card", [ADULT]) == [{f"CN_RESIDENT_ID:{ADULT}"}]


def test_resident_id_with_lower_case_x_normalises_to_upper_case() -> None:
    number = _with_check_x()
    assert identifiers("id_card", [number.lower(), number]) == [{f"CN_RESIDENT_ID:{number}"}] * 2


def test_resident_id_inside_free_text_and_full_width() -> None:
    wide = ADULT.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    rows = identifiers("remark", [f"客户身份证号{ADULT}，已核验", f"证件：{wide}"])
    assert rows == [{f"CN_RESIDENT_ID:{ADULT}"}] * 2


@pytest.mark.parametrize(
    "lookalike",
    [
        wrong_check(ADULT),  # an 18-digit batch number with a wrong check character
        resident_id("11010520270101001"),  # born after the export date
        resident_id("11010519900230001"),  # 30 February
        resident_id("99010519900101001"),  # no such region
        "2026061512000012345",  # a 19-digit order number
        f"SN{ADULT}",  # an ID-shaped tail of a serial number
        f"{ADULT}7",  # 19 digits: a valid ID followed by a digit is not an ID
    ],
)
def test_resident_id_lookalikes_do_not_match(lookalike: str) -> None:
    assert "CN_RESIDENT_ID" not in entities("batch_no", [lookalike])[0]


#: The first-generation card of the person holding ADULT_ID (born 1949-12-31): region, YYMMDD, sequence.
LEGACY = ADULT[:6] + ADULT[8:17]


def _ids_found(column: str, values: list[str]) -> list[bool]:
    return ["CN_RESIDENT_ID" in found for found in entities(column, values)]


def test_numbers_shaped_like_ids_that_mostly_fail_the_check_are_no_ids() -> None:
    """Batch numbers built from a region and a date (Faker's zh_CN resident IDs with a random last character)
    pass the check character one time in eleven: in a column where most fail, the few that pass are chance.
    Real IDs keep a column's pass rate high, even a third of them among such numbers; a column named for IDs
    keeps every valid one (counting high is the safe error)."""
    fake, rng = Faker("zh_CN"), random.Random(5)
    fake.seed_instance(5)
    batches = [fake.ssn()[:17] + rng.choice("0123456789X") for _ in range(300)]
    passing = [ric.calc_check_digit(b) == b[-1] for b in batches]  # the GB 11643 check character (stdnum)
    assert 10 < sum(passing) < 60  # some pass by chance
    assert not any(_ids_found("batch_no", batches))
    assert not any(_ids_found("remark", [f"批次 {b} 已入库" for b in batches]))
    assert _ids_found("sfzh", batches) == passing
    real = [fake.ssn() for _ in range(100)]
    mixed = real + batches[:200]
    rng.shuffle(mixed)
    found = dict(zip(mixed, _ids_found("batch_no", mixed), strict=True))
    assert all(found[n] for n in real)


def test_legacy_15_digit_id_is_the_same_identifier_as_the_18_digit_form() -> None:
    # GB 11643: "19" goes before the year and the check character is appended (python-stdnum computes it).
    assert len(LEGACY) == 15 and resident_id(LEGACY[:6] + "19" + LEGACY[6:]) == ADULT
    assert identifiers("身份证号", [LEGACY, ADULT]) == [{f"CN_RESIDENT_ID:{ADULT}"}] * 2
    assert identifiers("remark", [f"身份证：{LEGACY}，已核验"]) == [{f"CN_RESIDENT_ID:{ADULT}"}]
    assert categories("id_card", [LEGACY], settings=DetectorSettings(identity_document_sensitive=True)) == [
        {"specific_identity"}
    ]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("order_no", LEGACY),  # fifteen digits without context: an order number as likely as an ID
        ("remark", f"订单{LEGACY}已发货"),  # in text without a context word
        ("id_card", LEGACY[:8] + "1332" + LEGACY[12:]),  # 32 December
        ("id_card", "990105491231002"),  # no such prefecture
        ("id_card", "008613812345678"),  # a mobile number written with 0086
        ("id_card", LEGACY + "1"),  # 16 digits
    ],
)
def test_legacy_15_digit_lookalikes_do_not_match(column: str, value: str) -> None:
    assert "CN_RESIDENT_ID" not in entities(column, [value])[0]


def test_stdnum_rejects_a_county_created_after_birth_but_real_ids_have_it() -> None:
    # 110112 (Tongzhou district) exists since 1997; people born earlier who registered there hold it.
    number = resident_id("11011219500101001")
    assert not ric.is_valid(number)
    assert identifiers("id_card", [number]) == [{f"CN_RESIDENT_ID:{number}"}]


def test_resident_id_gives_minor_under_14_relative_to_the_export_date() -> None:
    turns_14_today = resident_id(f"110105{AS_OF.year - 14}{AS_OF:%m%d}001")
    turns_14_tomorrow = resident_id(f"110105{AS_OF.year - 14}{AS_OF.month:02d}{AS_OF.day + 1:02d}001")
    cats = categories("id_card", [ADULT, turns_14_today, turns_14_tomorrow])
    assert cats == [set(), set(), {"minor_under_14"}]
    later = AS_OF.replace(day=AS_OF.day + 1)
    assert categories("id_card", [turns_14_tomorrow], as_of=later) == [set()]


def test_identity_documents_are_sensitive_only_under_the_old_standard() -> None:
    passport = "E12345678"
    assert categories("id_card", [ADULT]) == [set()]
    assert categories("passport_no", [passport]) == [set()]
    old = DetectorSettings(identity_document_sensitive=True)
    assert categories("id_card", [ADULT], settings=old) == [{"specific_identity"}]
    assert categories("passport_no", [passport], settings=old) == [{"specific_identity"}]


def test_a_gansu_id_passing_luhn_is_an_id_not_a_bank_card() -> None:
    from stdnum import luhn

    number = next(
        n for n in (resident_id(f"62010219850101{s:03d}") for s in range(1000)) if n.isdigit() and luhn.is_valid(n)
    )
    assert entities("remark", [f"身份证 {number}"]) == [{"CN_RESIDENT_ID"}]


# --- mainland mobile numbers --------------------------------------------------------------------------------

MOBILE = "CN_MOBILE:+8613812345678"


@pytest.mark.parametrize(
    "written",
    [
        "13812345678",
        "+8613812345678",
        "+86 138 1234 5678",
        "86-138-1234-5678",
        "0086 13812345678",
        "(+86)13812345678",
        "（+86）138-1234-5678",
        "１３８１２３４５６７８",
        "138 1234 5678",
        "电话:138-1234-5678",
    ],
)
def test_mobile_in_the_forms_people_write_it_is_one_identifier(written: str) -> None:
    assert identifiers("remark", [written]) == [{MOBILE}]


def test_mobile_held_in_an_integer_or_float_column() -> None:
    assert identifiers("mobile", [13812345678, 8613812345678]) == [{MOBILE}, {MOBILE}]
    assert identifiers("mobile", [13812345678.0, None]) == [{MOBILE}, set()]  # pandas with missing values


@pytest.mark.parametrize(
    "lookalike",
    [
        "1732838400000",  # a millisecond timestamp
        "12345678901",  # 12x is no mobile block
        "2026061513812345678",  # an order number containing a mobile-shaped run
        "ORD13812345678",  # an order code
        "10086",
        "1381234567",  # 10 digits
    ],
)
def test_mobile_lookalikes_do_not_match(lookalike: str) -> None:
    assert "CN_MOBILE" not in entities("order_no", [lookalike])[0]


@pytest.mark.parametrize("number", ["19212345678", "19612345678", "19712345678", "19012345678"])
def test_new_19x_blocks_are_mobiles_everywhere(number: str) -> None:
    assert phonenumbers.is_valid_number(phonenumbers.parse("+86" + number))
    assert identifiers("remark", [f"tel {number}"]) == [{f"CN_MOBILE:+86{number}"}]


@pytest.mark.parametrize("number", ["14912345678", "17491234567", "14012345678"])  # data SIM, satellite, IoT
def test_allocated_blocks_phonenumbers_rejects_are_mobiles_in_any_column(number: str) -> None:
    """Issue 11: a data/IoT SIM (149 ...) in a column whose name does not say phone is still a phone number.
    phonenumbers lags the MIIT plan; detectors/cn_mobile_prefixes.txt lists the allocated prefixes it rejects."""
    assert not phonenumbers.is_valid_number(phonenumbers.parse("+86" + number))
    assert identifiers("contact_phone", [number]) == [{f"CN_MOBILE:+86{number}"}]
    assert identifiers("device_sim", [number]) == [{f"CN_MOBILE:+86{number}"}]
    assert identifiers("remark", [f"编号 {number}"]) == [{f"CN_MOBILE:+86{number}"}]


def test_a_block_nobody_allocated_needs_a_phone_column() -> None:
    assert identifiers("contact_phone", ["17421234567"]) == [{"CN_MOBILE:+8617421234567"}]
    assert identifiers("remark", ["编号 17421234567"]) == [set()]


# --- bank cards ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [card("621700", 19), card("622848", 19), card("625908", 16), card("438088", 16),
                                    card("52", 16), card("356", 16)])  # fmt: skip
def test_bank_cards_pass_luhn_and_are_financial_accounts(number: str) -> None:
    assert identifiers("remark", [f"卡号 {number}"]) == [{f"BANK_CARD:{number}"}]
    assert categories("remark", [number]) == [{"financial_account"}]


def test_bank_card_written_in_groups() -> None:
    number = card("621700", 16)
    grouped = " ".join(number[i : i + 4] for i in range(0, 16, 4))
    assert identifiers("remark", [f"还款卡 {grouped} 尾号"]) == [{f"BANK_CARD:{number}"}]


def _luhn_fail(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


@pytest.mark.parametrize(
    "lookalike",
    [
        _luhn_fail(card("438088", 16)),  # 16 digits failing Luhn
        _luhn_fail(card("622848", 19)),  # UnionPay-shaped, failing Luhn, outside a card column
        "1732838400000000",  # a microsecond timestamp
        card("1", 16),  # passes Luhn, no card BIN
    ],
)
def test_bank_card_lookalikes_do_not_match(lookalike: str) -> None:
    assert "BANK_CARD" not in entities("trade_no", [lookalike])[0]


@pytest.mark.parametrize(
    "template",
    ["订单{o}已经发货了吗？", "运单号：{o}", "物流单号 {o} 查不到", "please check order no. {o}", "保单号为{o}"],
)
def test_a_number_labelled_as_another_kind_is_no_card_even_when_it_passes_luhn(template: str) -> None:
    """An order, waybill or policy number passes Luhn one time in ten: named as such right before it, it is
    that number; a card named as a card in the same text still counts."""
    numbers = [card(prefix, 16) for prefix in ("2613", "4512", "6228", "5399")]  # card BINs, passing Luhn
    texts = [template.format(o=n) for n in numbers]
    assert [entities("chat_message", [t])[0] & {"BANK_CARD"} for t in texts] == [set()] * len(texts)
    both = [f"{t}，退款打到卡号{card('621700', 19)}" for t in texts]
    assert all("BANK_CARD" in found for found in entities("chat_message", both))


def test_unionpay_failing_luhn_counts_in_a_card_column_only() -> None:
    unionpay, visa = _luhn_fail(card("622848", 19)), _luhn_fail(card("438088", 16))
    assert entities("card_no", [unionpay, visa]) == [{"BANK_CARD", "ACCOUNT_NUMBER"}, {"ACCOUNT_NUMBER"}]


# --- passports, permits, HK and foreigner IDs ----------------------------------------------------------------


def test_passport_needs_context() -> None:
    values = ["E12345678", "EA1234567", "G12345678"]
    assert identifiers("passport_no", values) == [{f"CN_PASSPORT:{v}"} for v in values]
    assert entities("sku", values) == [set()] * 3
    assert identifiers("remark", ["护照号码：E12345678", "型号 E12345678 现货"]) == [{"CN_PASSPORT:E12345678"}, set()]


def test_travel_permits_need_context() -> None:
    assert identifiers("港澳通行证号", ["C12345678", "H1234567801"]) == [
        {"CN_TRAVEL_PERMIT:C12345678"},
        {"CN_TRAVEL_PERMIT:H1234567801"},
    ]
    assert identifiers("remark", ["台胞证 12345678", "订单 12345678"]) == [{"CN_TRAVEL_PERMIT:12345678"}, set()]


def test_hong_kong_identity_card_check_character() -> None:
    assert identifiers("remark", ["HKID A123456(3)", "香港身份证 AB9876543"]) == [
        {"HK_ID_CARD:A1234563"},
        {"HK_ID_CARD:AB9876543"},
    ]
    assert entities("remark", ["HKID A123456(4)", "part A1234563"]) == [set(), set()]


def _hkid(letter: str, digits: str) -> str:
    """A Hong Kong ID with its check character (the published mod-11 rule, a space before one letter)."""
    values = [36, ord(letter) - 55] + [int(d) for d in digits]
    total = sum(v * w for v, w in zip(values, range(9, 1, -1), strict=True))
    return f"{letter}{digits}({'0123456789A'[(11 - total % 11) % 11]})"


def test_product_codes_shaped_like_hong_kong_ids_are_none() -> None:
    """Codes like A123456(7) pass the mod-11 check one time in eleven: in a column where most fail, the passes
    are chance; a column of real IDs, or a third of them among such codes, keeps them."""
    fake = Faker("en_US")
    fake.seed_instance(6)
    codes = [fake.bothify("?######(#)").upper() for _ in range(300)]
    assert not any("HK_ID_CARD" in found for found in entities("code", codes))
    real = [_hkid(fake.random_uppercase_letter(), fake.numerify("######")) for _ in range(100)]
    assert all("HK_ID_CARD" in found for found in entities("code", real))
    mixed = real + codes[:200]
    found = dict(zip(mixed, entities("code", mixed), strict=True))
    assert all("HK_ID_CARD" in found[n] for n in real)


def test_foreigner_permanent_residence_id_2023() -> None:
    number = resident_id("91115619900101001")
    assert identifiers("remark", [f"永久居留身份证 {number}"]) == [{f"CN_FOREIGNER_PR_ID:{number}"}]
    assert entities("remark", [wrong_check(number)]) == [set()]


# --- e-mail and IP ------------------------------------------------------------------------------------------


def test_email_is_normalised_to_lower_case() -> None:
    rows = identifiers("remark", ["联系 Zhang.San@Example.COM 谢谢", "zhang.san@example.com"])
    assert rows == [{"EMAIL_ADDRESS:zhang.san@example.com"}] * 2
    assert entities("remark", ["user@localhost", "version 2.0@3.1"]) == [set(), set()]


def test_ip_addresses_and_their_lookalikes() -> None:
    values = ["login from 192.168.1.10", "ipv6 2001:db8::1", "2001:db8:85a3:0:0:8a2e:370:7334", "fe80::1"]
    lookalikes = ["v1.2.3.4.5", "2026-03-01 12:30:45", "999.1.1.1", "MAC 00:1A:2B:3C:4D:5E", "1:2::3::4"]
    found = entities("remark", values + lookalikes)
    assert found == [{"IP_ADDRESS"}] * len(values) + [set()] * len(lookalikes)


# --- vehicle licence plates -------------------------------------------------------------------------------------


def test_vehicle_plates_are_personal_but_neither_sensitive_nor_strong_identifiers() -> None:
    plates = ["沪A12345", "粤B·D12345", "京A·12345", "粤B12345D", "京A1234警", "浙A 12345"]
    hits = findings("车牌号", plates)
    assert [{h.entity for h in row} for row in hits] == [{"VEHICLE_PLATE"}] * len(plates)
    assert all(h.identifier is None and not h.categories for row in hits for h in row)  # a car is shared or sold
    assert entities("remark", ["车主粤B·D12345于昨日违停"]) == [{"VEHICLE_PLATE"}]


@pytest.mark.parametrize(
    "lookalike",
    [
        "上新SKUAB款",  # a province-like character before a product code: four letters in the serial
        "订单沪A1234567号",  # an order number after a province-like character: the serial runs on
        "沪I12345",  # I and O are never authority letters
        "沪a12345",  # lower case
    ],
)
def test_vehicle_plate_lookalikes_do_not_match(lookalike: str) -> None:
    assert "VEHICLE_PLATE" not in entities("车牌号", [lookalike])[0]
