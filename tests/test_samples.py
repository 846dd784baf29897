"""The labelled generator: identifiers are really valid, decoys really invalid, and the ground truth is what an
independent recount from the written files gives (stdnum and phonenumbers, not the generator's own arithmetic)."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import phonenumbers
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from export_gate.model import CATEGORY_BITS, PERSONAL_BIT, Counts
from export_gate.reading.read import read_batches
from export_gate.samples.exports import KINDS, GroundTruth, generate
from stdnum import ean, luhn
from stdnum.cn import ric

AS_OF = date(2026, 6, 30)
ROWS = 3000
MEDICAL = PERSONAL_BIT | CATEGORY_BITS["medical_health"]
MINOR = PERSONAL_BIT | CATEGORY_BITS["minor_under_14"]
FINANCIAL = PERSONAL_BIT | CATEGORY_BITS["financial_account"]
DOCUMENT = 1 << 40  # "holds an identity document number": sensitive only under GB/T 35273-2020
CUTOFF = date(AS_OF.year - 14, AS_OF.month, AS_OF.day)
PHONE_IN_TEXT = re.compile(r"(?:报告人电话：|Reporter phone: )([^。]+?)[。.]?$")


@dataclass
class Sample:
    truth: GroundTruth
    rows: list[dict]  # every row of every file, in file order


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Sample]:
    out = {}
    for kind in KINDS:
        folder = tmp_path_factory.mktemp(kind)
        truth = generate(kind, ROWS, folder, seed=3, files=3, as_of=AS_OF)
        rows = [row for name in truth.files for row in pq.read_table(folder / name).to_pylist()]
        out[kind] = Sample(truth, rows)
    return out


# --- independent validators --------------------------------------------------------------------------------


def mobile(text: str | None) -> str | None:
    """The 11-digit national number of a mainland mobile written any common way, if it is valid."""
    if text is None:
        return None
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", text))
    digits = digits[4:] if digits.startswith("0086") else digits[2:] if len(digits) == 13 else digits
    if len(digits) != 11 or not digits.startswith("1"):
        return None
    number = phonenumbers.parse("+86" + digits)
    return digits if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE else None


def minor_by_id(number: str) -> bool:
    return ric.get_birth_date(number) > CUTOFF


def minor_by_birth(text: str) -> bool:
    return date.fromisoformat(text) > CUTOFF


# --- what each row holds about whom, read from the file ----------------------------------------------------


def crm_row(row: dict) -> dict[str, tuple[object, int]]:
    mask = 0
    if row["姓名"] or row["手机号"] or row["邮箱"] or row["地址"]:
        mask |= PERSONAL_BIT
    if row["出生日期"]:
        mask |= MINOR if minor_by_birth(row["出生日期"]) else PERSONAL_BIT
    if row["身份证号"]:
        mask |= DOCUMENT | (MINOR if minor_by_id(row["身份证号"]) else PERSONAL_BIT)
    return {"客户编号": (row["客户编号"], mask)}


def ae_row(row: dict) -> dict[str, tuple[object, int]]:
    patient = MEDICAL  # icd10, drug and narrative are on every row
    if row["patient_id_card"]:
        patient |= DOCUMENT | (MINOR if minor_by_id(row["patient_id_card"]) else 0)
    if row["patient_birth_date"] and minor_by_birth(row["patient_birth_date"]):
        patient |= MINOR
    if row["patient_age"] is not None and row["patient_age"] < 14:
        patient |= MINOR
    reporter = PERSONAL_BIT  # reporter_name is on every row
    return {"patient_id": (row["patient_id"], patient), "reporter_id": (row["reporter_id"], reporter)}


def insurance_row(row: dict) -> dict[str, tuple[object, int]]:
    mask = PERSONAL_BIT
    if row["insured_id_card"]:
        mask |= DOCUMENT | (MINOR if minor_by_id(row["insured_id_card"]) else 0)
    if row["payout_card"]:
        assert luhn.is_valid(row["payout_card"])
        mask |= FINANCIAL
    if row["diagnosis"]:
        mask |= MEDICAL
    return {"insured_no": (row["insured_no"], mask)}


ROW_RULES = {"crm": crm_row, "ae_cases": ae_row, "insurance": insurance_row}


def counts(masks: list[int], documents_sensitive: bool) -> Counts:
    bit = CATEGORY_BITS["specific_identity"]
    final = [(m | bit if documents_sensitive and m & DOCUMENT else m) & ~DOCUMENT for m in masks]
    return Counts.from_masks(final)


def recount(sample: Sample, documents_sensitive: bool) -> Counts:
    """The people the subject keys name (an empty key with findings: a person of its own row), from the files."""
    rule = ROW_RULES[sample.truth.kind]
    keyed: dict[object, int] = {}
    for number, row in enumerate(sample.rows):
        for role, (key, mask) in rule(row).items():
            if mask:
                subject = (role, key) if key is not None else ("row", number, role)
                keyed[subject] = keyed.get(subject, 0) | mask
    return counts(list(keyed.values()), documents_sensitive)


# --- tests ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("documents_sensitive", [False, True])
def test_truth_matches_an_independent_recount(samples: dict[str, Sample], kind: str, documents_sensitive: bool) -> None:
    sample = samples[kind]
    recounted = recount(sample, documents_sensitive)
    assert sample.truth.counts("subject_keys", identity_document_sensitive=documents_sensitive) == recounted
    assert sample.truth.rows == len(sample.rows) == ROWS


@pytest.mark.parametrize("kind", KINDS)
def test_truth_has_every_category_it_claims(samples: dict[str, Sample], kind: str) -> None:
    """Each kind exercises its sensitive categories; none of the counts are trivially zero or all rows."""
    expected = {
        "crm": {"minor_under_14"},
        "ae_cases": {"medical_health", "minor_under_14"},
        "insurance": {"medical_health", "financial_account", "minor_under_14"},
    }[kind]
    by_key = samples[kind].truth.counts("subject_keys")
    assert {name for name, n in by_key.categories.items() if n} == expected
    assert 0 < by_key.sensitive <= by_key.personal < ROWS * len(samples[kind].truth.subject_keys)


def test_people_repeat_across_rows_and_files_with_the_mobile_written_differently(samples: dict[str, Sample]) -> None:
    sample = samples["crm"]
    files_of: dict[str, set[int]] = {}
    notations: dict[str, set[str]] = {}
    boundaries = [sum(sample.truth.file_rows[:i]) for i in range(len(sample.truth.file_rows) + 1)]
    for number, row in enumerate(sample.rows):
        file_index = next(i for i in range(len(boundaries) - 1) if number < boundaries[i + 1])
        if row["客户编号"]:
            files_of.setdefault(row["客户编号"], set()).add(file_index)
        if row["手机号"]:
            notations.setdefault(mobile(row["手机号"]), set()).add(row["手机号"])
    assert any(len(files) > 1 for files in files_of.values())
    assert any(len(ways) > 1 for ways in notations.values())
    assert any(re.search(r"[０-９]", way) for ways in notations.values() for way in ways)
    assert any(way.startswith(("+86", "0086", "86-", "(+86)")) for ways in notations.values() for way in ways)
    truth = sample.truth
    assert truth.counts("persons").personal < truth.counts("subject_keys").personal  # some registered twice


def test_identifiers_are_valid_and_decoys_are_not(samples: dict[str, Sample]) -> None:
    crm, ae, insurance = (samples[k].rows for k in KINDS)
    ids = [r["身份证号"] for r in crm] + [r["patient_id_card"] for r in ae] + [r["insured_id_card"] for r in insurance]
    ids = [i for i in ids if i]
    assert ids and all(ric.is_valid(i) for i in ids)
    assert any(i.endswith("x") for i in ids) and any(i.endswith("X") for i in ids)
    phones = [r["手机号"] for r in crm if r["手机号"]] + [r["reporter_phone"] for r in ae if r["reporter_phone"]]
    assert all(mobile(p) for p in phones)
    cards = [r["payout_card"] for r in insurance if r["payout_card"]]
    assert {len(c) for c in cards} == {16, 19} and all(luhn.is_valid(c) for c in cards)
    assert any(c.startswith("62") for c in cards) and any(c.startswith(("4", "5")) for c in cards)
    assert all(re.fullmatch(r"[a-z]+\d+@[a-z0-9.]+", r["邮箱"]) for r in crm if r["邮箱"])
    batches = [r["批次号"] for r in crm] + [r["batch_no"] for r in ae]
    assert all(len(b) == 18 and b.isdigit() and not ric.is_valid(b) and not luhn.is_valid(b) for b in batches)
    # the batch numbers fail only on the check digit: region and date are real
    assert all(ric.is_valid(b[:17] + ric.calc_check_digit(b)) for b in batches[:200])
    orders = [r["订单号"] for r in crm]
    assert all(len(o) == 18 and not ric.is_valid(o) and not luhn.is_valid(o) for o in orders)
    sixteen = [r["券码"] for r in crm] + [r["claim_ref"] for r in insurance]
    assert all(len(c) == 16 and not luhn.is_valid(c) for c in sixteen)
    assert all(ean.is_valid(r["商品编码"]) and mobile(r["商品编码"]) is None for r in crm)
    assert all(mobile(str(r["创建时间戳"])) is None for r in crm)


def test_labels_match_the_cells_in_the_files(samples: dict[str, Sample]) -> None:
    for sample in samples.values():
        assert sample.truth.labels is not None
        for column, entities in sample.truth.labels.items():
            for entity, present in entities.items():
                if (column, entity) == ("narrative", "CN_MOBILE"):
                    actual = [bool(PHONE_IN_TEXT.search(r[column])) for r in sample.rows]
                else:
                    actual = [r[column] is not None for r in sample.rows]
                assert present.tolist() == actual, (column, entity)
                assert sample.truth.cells[column][entity] == sum(actual)


def test_minors_follow_as_of(tmp_path: Path) -> None:
    """The same people a year later: some children have turned 14, none has become younger."""
    now = generate("insurance", 2000, tmp_path / "now", seed=5, as_of=AS_OF)
    later = generate("insurance", 2000, tmp_path / "later", seed=5, as_of=date(AS_OF.year + 1, 6, 30))
    assert now.counts().categories["minor_under_14"] > 0
    assert later.counts().personal == now.counts().personal


def test_formats_hold_the_same_data_and_gbk_csv_reads_back(tmp_path: Path) -> None:
    tables = {}
    for fmt, encoding in (("parquet", "utf-8"), ("csv", "gbk"), ("jsonl", "utf-8")):
        folder = tmp_path / f"{fmt}-{encoding}"
        truth = generate("crm", 500, folder, seed=9, fmt=fmt, files=2, encoding=encoding, as_of=AS_OF)
        assert truth.files == [f"crm-000.{fmt}", f"crm-001.{fmt}"]
        columns: dict[str, list] = {}
        for batch in read_batches([str(folder)]):
            for leaf in batch.columns:
                columns.setdefault(leaf.name, []).extend(leaf.values.cast(pa.string()).to_pylist())
        tables[fmt] = columns
    if (tmp_path / "csv-gbk" / "crm-000.csv").read_bytes().decode("utf-8", errors="ignore").count("手机号"):
        pytest.fail("the CSV was written as UTF-8, not GBK")
    assert tables["parquet"] == tables["csv"] == tables["jsonl"]


def test_truth_json_is_written_outside_the_export_and_is_deterministic(tmp_path: Path) -> None:
    first = generate("ae_cases", 300, tmp_path / "a", seed=1, as_of=AS_OF, truth_path=tmp_path / "a.truth.json")
    second = generate("ae_cases", 300, tmp_path / "b", seed=1, as_of=AS_OF)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["ae_cases-000.parquet"]
    written = json.loads((tmp_path / "a.truth.json").read_text(encoding="utf-8"))
    assert written == first.to_dict() == second.to_dict()
    assert written["subject_keys"] == ["patient_id", "reporter_id"]
    assert set(written["subjects"]["default"]) == {"subject_keys", "persons"}
    assert written["columns"]["narrative"]["categories"] == ["medical_health"]
    assert (tmp_path / "a" / "ae_cases-000.parquet").read_bytes() == (
        tmp_path / "b" / "ae_cases-000.parquet"
    ).read_bytes()
    other = generate("ae_cases", 300, tmp_path / "c", seed=2, as_of=AS_OF)
    assert other.to_dict()["subjects"] != first.to_dict()["subjects"]


def test_unknown_kind_or_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown sample kind"):
        generate("hr", 10, tmp_path)
    with pytest.raises(ValueError, match="unknown sample format"):
        generate("crm", 10, tmp_path, fmt="xlsx")


def test_nested_sample_holds_the_same_people_under_leaf_names(tmp_path: Path) -> None:
    nested = generate("crm", 1500, tmp_path / "nested", seed=4, files=2, as_of=AS_OF, nested=True)
    flat = generate("crm", 1500, tmp_path / "flat", seed=4, files=2, as_of=AS_OF)
    assert nested.subjects == flat.subjects
    assert nested.labels is not None and flat.labels is not None
    assert nested.labels["客户.姓名"]["PERSON"].tolist() == flat.labels["姓名"]["PERSON"].tolist()
    assert nested.column_categories == {"客户.身份证号": ["minor_under_14"], "出生日期": ["minor_under_14"]}
    rows_with: dict[str, set[int]] = {}
    for batch in read_batches([str(tmp_path / "nested")]):
        for leaf in batch.columns:
            present = leaf.values.is_valid().to_numpy(zero_copy_only=False)
            rows = leaf.rows if leaf.rows is not None else range(batch.num_rows)
            rows_with.setdefault(leaf.name, set()).update(
                batch.row_offset + int(r) + sum(nested.file_rows[: nested.files.index(Path(batch.source).name)])
                for r, ok in zip(rows, present, strict=True)
                if ok
            )
    contact_rows = nested.labels["联系方式[].值"]["CN_MOBILE"] | nested.labels["联系方式[].值"]["EMAIL_ADDRESS"]
    assert rows_with["联系方式[].值"] == set(contact_rows.nonzero()[0].tolist())
    assert rows_with["地址{}"] == set(nested.labels["地址{}"]["CN_ADDRESS"].nonzero()[0].tolist())
    assert rows_with["客户.身份证号"] == set(nested.labels["客户.身份证号"]["CN_RESIDENT_ID"].nonzero()[0].tolist())
    with pytest.raises(ValueError, match="nested samples are crm exports in Parquet"):
        generate("crm", 10, tmp_path / "x", fmt="csv", nested=True)
