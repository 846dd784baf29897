"""Small hand-made exports for the gate, evaluate and Airflow tests: every person has a customer_id, so the
expected counts are exact (one subject per row), and the sensitive variant carries a diagnosis per person."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: A resident ID with a valid GB 11643 check digit and a valid mobile number that must never leave the scanner.
CANARY_ID = "11010519491231002X"
CANARY_PHONE = "13912345678"
SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = "伟芳娜敏静丽强磊军洋"


def people(count: int, *, start: int = 0, diagnosis: bool = False) -> pd.DataFrame:
    """``count`` customers (ids start..start+count-1) with a Chinese name, a mobile and an e-mail address;
    with ``diagnosis`` each also has an ICD-10 coded diagnosis (sensitive: medical_health)."""
    ids = range(start, start + count)
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in ids],
            "name": [SURNAMES[i % 10] + GIVEN[(i // 10) % 10] + GIVEN[(i // 100) % 10] for i in ids],
            "mobile": [f"138{i:08d}" for i in ids],
            "email": [f"customer{i}@example.cn" for i in ids],
        }
    )
    if diagnosis:
        frame["diagnosis"] = ["I10 原发性高血压" if i % 2 else "E11.9 2型糖尿病" for i in ids]
    return frame


def about_no_one(count: int) -> pd.DataFrame:
    """Rows with health wording and nobody on them (no key, name or identifier): reported as unanchored, and
    counted (one person a row) only by the strict setting."""
    return pd.DataFrame(
        {
            "sku": [f"SKU-{i:06d}" for i in range(count)],
            "remark": ["I10 原发性高血压" if i % 2 else "E11.9 2型糖尿病" for i in range(count)],
        }
    )


def canary(count: int = 20) -> pd.DataFrame:
    """People without subject keys, one of them carrying the canary ID number and phone."""
    frame = people(count).drop(columns=["customer_id"])
    frame.loc[0, "mobile"] = CANARY_PHONE
    frame["id_number"] = [CANARY_ID] + [None] * (count - 1)
    return frame


def faker_people(count: int, seed: int) -> list[dict[str, str]]:
    """People made by Faker's zh_CN providers (not by export_gate.samples): name, mobile, resident ID, city."""
    from faker import Faker

    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    return [
        {"name": fake.name(), "mobile": fake.phone_number(), "id_card": fake.ssn(), "city": fake.city()}
        for _ in range(count)
    ]


def write(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path
