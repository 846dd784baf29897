"""Who the people of a row are (export_gate.people.rows), end to end through the scan: anchoring, second
people, keys of one id space, roles without a key, and column-level evidence before a column is taken as
identifiers."""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from export_gate.commands.cli import main
from export_gate.detection.detect import DetectorSettings
from export_gate.engine.local import scan_table
from export_gate.people.digest import SubjectHasher
from faker import Faker
from stdnum import luhn

AS_OF = date(2026, 6, 30)
HASHER = SubjectHasher(b"rows-test-key-0123456789")


def _scan(table: pa.Table, keys: tuple[str, ...] = (), **settings: bool) -> dict:
    return scan_table(
        table, subject_keys=keys, as_of=AS_OF, hasher=HASHER, workers=1, settings=DetectorSettings(**settings)
    ).report


def _fake(seed: int = 5) -> Faker:
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    return fake


def test_sensitive_content_with_nobody_on_the_row_is_reported_not_counted() -> None:
    table = pa.table(
        {
            "sku": [f"SKU-{i}" for i in range(4)],
            "diagnosis": ["2型糖尿病", "原发性高血压", "支气管哮喘", None],  # a code table: about no one
            "warehouse": ["上海市浦东新区张江路88号", None, None, None],
        }
    )
    report = _scan(table)
    assert report["subjects"]["personal"] == report["subjects"]["sensitive"] == 0
    assert report["unanchored"]["columns"]["diagnosis"] == 3
    assert report["unanchored"]["columns"]["warehouse"] == 1
    strict = _scan(table, count_unanchored=True)
    assert strict["subjects"]["personal"] == 3  # strict: each row with such content is a person
    assert strict["categories"]["medical_health"]["subjects"] == 3


def test_a_diagnosis_counts_for_the_person_named_on_its_row() -> None:
    fake = _fake()
    table = pa.table({"姓名": [fake.name(), None], "diagnosis": ["糖尿病", "糖尿病"]})
    report = _scan(table)
    assert report["subjects"]["personal"] == report["subjects"]["sensitive"] == 1
    assert report["unanchored"]["columns"] == {"diagnosis": 1}


def test_second_people_on_a_row_count_and_organisations_do_not() -> None:
    fake = _fake()
    customers = [fake.name() for _ in range(3)]
    contacts = [fake.name() for _ in range(3)]
    table = pa.table(
        {
            "客户编号": ["C1", "C2", "C3"],
            "姓名": customers,
            "emergency_contact_name": contacts,
            "emergency_contact_phone": ["13812345678", "13912345678", "13812345678"],  # rows 0, 2: one contact
            "supplier": [fake.company() for _ in range(3)],
        }
    )
    assert _scan(table, ("客户编号",))["subjects"]["personal"] == 3 + 2
    assert _scan(table)["subjects"]["personal"] == 3 + 2


def test_keys_of_one_id_space_and_a_role_without_a_key() -> None:
    """Self-insured rows (holder_id = insured_id) are one person, also where that id is only the insured; the
    beneficiary has no key and is a person of their own, even when named like the insured."""
    fake = _fake(7)
    holder, other = fake.ssn(min_age=30, max_age=60), fake.ssn(min_age=30, max_age=60)
    child = fake.ssn(min_age=1, max_age=10)
    same_name = fake.name()
    table = pa.table(
        {
            "holder_id": [holder, holder, other],
            "holder_name": [same_name, same_name, fake.name()],
            "insured_id": [holder, child, holder],  # row 0 self-insured; row 2: the first holder insured by another
            "insured_name": [same_name, fake.name(), same_name],
            "beneficiary_name": [same_name, fake.name(), fake.name()],  # row 0: another person of the same name
        }
    )
    report = _scan(table, ("holder_id", "insured_id"))
    # people: holder, other, child (insured ids) + 3 beneficiaries
    assert report["subjects"]["personal"] == 3 + 3
    assert report["categories"]["minor_under_14"]["subjects"] == 1


def test_a_customer_receiving_their_own_parcel_is_one_person_with_or_without_keys() -> None:
    fake = _fake(9)
    buyers = [fake.name() for _ in range(3)]
    gift = fake.name()
    table = pa.table(
        {
            "customer_id": ["U1", "U2", "U3"],
            "customer_name": buyers,
            "shipping": pa.array(
                [
                    {"recipient_name": buyers[0], "recipient_phone": "13812345678"},
                    {"recipient_name": gift, "recipient_phone": "13912345678"},
                    {"recipient_name": buyers[2], "recipient_phone": "13712345678"},
                ]
            ),
        }
    )
    assert _scan(table, ("customer_id",))["subjects"]["personal"] == 3 + 1
    assert _scan(table)["subjects"]["personal"] == 3 + 1


def test_records_of_one_patient_across_admissions_are_linked_by_the_patient_number() -> None:
    fake = _fake(11)
    names = [fake.name() for _ in range(3)]
    table = pa.table(
        {
            "patient_no": ["P1", "P2", "P1", "P3", "P1"],
            "姓名": [names[0], names[1], names[0], names[2], names[0]],
            "diagnosis": ["糖尿病", "高血压", "糖尿病", None, "哮喘"],
        }
    )
    report = _scan(table)
    assert report["subjects"]["personal"] == 3
    assert report["subjects"]["sensitive"] == 2


# --- column-level evidence ------------------------------------------------------------------------------------


def _luhn_passing(rng: random.Random, length: int) -> str:
    body = "62" + "".join(rng.choice("0123456789") for _ in range(length - 3))
    return body + luhn.calc_check_digit(body)


def test_order_numbers_passing_luhn_by_chance_are_no_cards() -> None:
    rng = random.Random(1)
    fake = _fake(13)
    orders = ["2" + "".join(rng.choice("0123456789") for _ in range(17)) for _ in range(400)]
    passing = [number for number in orders if luhn.is_valid(number)]
    assert len(passing) > 10  # the decoys the old scan took for cards
    table = pa.table({"nm_id": [f"U{i % 50}" for i in range(400)], "姓名": [fake.name() for _ in range(400)]})
    table = table.append_column("order_no", pa.array(orders)).append_column(
        "备注", pa.array([f"订单{number}已经发货" for number in orders])
    )
    report = _scan(table)
    assert report["categories"]["financial_account"]["subjects"] == 0
    assert "BANK_CARD" not in report["columns"]["order_no"]["entities"]
    assert "BANK_CARD" not in report["columns"]["备注"]["entities"]
    assert "fail Luhn" in report["columns"]["order_no"]["plan"]["reason"]


@pytest.mark.parametrize("real_share", [1.0, 0.4])
def test_real_cards_are_kept_even_among_other_numbers(real_share: float) -> None:
    rng = random.Random(2)
    fake = _fake(17)
    values = [
        _luhn_passing(rng, 16) if rng.random() < real_share else "3" + str(rng.randrange(10**16, 10**17))
        for _ in range(300)
    ]
    table = pa.table({"姓名": [fake.name() for _ in range(300)], "remark": [f"卡号 {v}" for v in values]})
    report = _scan(table)
    real = sum(luhn.is_valid(v) and v.startswith("62") for v in values)
    assert report["columns"]["remark"]["entities"].get("BANK_CARD", 0) >= real


def test_sequential_numbers_that_look_like_mobiles_are_no_people() -> None:
    table = pa.table({"voucher_no": [str(13900000000 + i) for i in range(500)], "amount": [1.5] * 500})
    report = _scan(table)
    assert report["subjects"]["personal"] == 0
    assert report["columns"]["voucher_no"]["entities"] == {}
    # the same numbers in a column named for phones are still phones: the name's context wins
    named = _scan(pa.table({"mobile": [str(13900000000 + i) for i in range(500)]}))
    assert named["subjects"]["personal"] == 500


def test_a_column_named_account_with_no_account_numbers_is_not_financial() -> None:
    fake = _fake(19)
    rng = random.Random(3)
    table = pa.table(
        {
            "姓名": [fake.name() for _ in range(200)],
            "account_code": [f"1002.{rng.randint(1, 20):02d}.{rng.randint(1, 99):02d}" for _ in range(200)],
            "公积金缴存额": [f"{rng.uniform(100, 5000):.2f}" for _ in range(200)],
            "bank_account": [fake.credit_card_number(card_type="unionpay") for _ in range(200)],
        }
    )
    report = _scan(table)
    assert report["columns"]["account_code"]["categories"] == {}
    assert report["columns"]["公积金缴存额"]["categories"] == {}
    assert report["columns"]["bank_account"]["categories"]["financial_account"] == 200


def test_the_cli_lists_unanchored_columns_and_counts_them_when_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "codes.parquet"
    pq.write_table(
        pa.table({"code": ["E11.9", "I10", "J45.9"], "diagnosis": ["2型糖尿病", "原发性高血压", "哮喘"]}), path
    )
    assert main(["scan", str(path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["subjects"]["personal"] == 0
    assert report["unanchored"]["columns"]["diagnosis"] == 3
    assert main(["scan", str(path), "--format", "json", "--count-unanchored"]) == 0
    strict = json.loads(capsys.readouterr().out)
    assert strict["subjects"]["personal"] == strict["subjects"]["sensitive"] == 3


def test_staff_known_by_name_count_once_and_customers_of_one_name_twice() -> None:
    """An attending doctor named on many rows is one person (roles.yaml known_by_name); two patients of one name
    and no identifier stay two (a name alone never joins the people an export is about)."""
    fake = _fake(23)
    doctors = [fake.name() for _ in range(3)]
    table = pa.table(
        {
            "患者姓名": [fake.name() for _ in range(5)] + ["张伟", "张伟"],
            "attending_doctor": [doctors[i % 3] for i in range(7)],
            "diagnosis": ["糖尿病"] * 7,
        }
    )
    assert _scan(table)["subjects"]["personal"] == 7 + 3
