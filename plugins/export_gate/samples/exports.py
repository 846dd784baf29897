"""Labelled sample exports: realistic Chinese data with the ground truth the accuracy tests and the benchmark need.

Three kinds of export, each with duplicates (the same person on several rows and in several files, the mobile
written a different way each time), people without any strong identifier, and decoys that look like
identifiers but are not (order numbers, timestamps, 18-digit batch numbers with a wrong check digit, 16-digit
numbers failing Luhn, EAN-13 product codes, epoch milliseconds):

* ``crm``: customers (Chinese headers). Subject key ``客户编号``; some customers registered twice.
* ``ae_cases``: pharmacovigilance adverse-event cases, two people per row: the patient (``patient_id``; children
  under 14 among them) and the reporter (``reporter_id``), ICD-10 codes, drugs and a zh/en narrative.
* ``insurance``: reinsurance cessions: insured person (``insured_no``), resident ID, payout bank card,
  sum insured, diagnosis.

Everything is vectorised numpy/pyarrow: a person is a number, and every attribute of a person (name, birth
date, mobile, ...) is a hash of that number, so no table of people is held in memory and files are written
chunk by chunk (10M rows in flat memory). Identifiers are really valid (GB 11643 check digit for a region
code python-stdnum accepts for the birth year, Luhn, allocated mobile prefixes) and decoys are really invalid.

The ground truth follows the same rules the scan documents (export_gate.people.subjects): with subject keys, each
column belongs to the key whose prefix it carries (``reporter_phone`` -> ``reporter_id``), others to the first
key, and a key value with any finding is one person. ``persons`` counts the real people the generator drew: what
a scan without keys is measured against (docs/counting.md: within +5% of them and never below). Minors are
judged by the export date ``as_of``: born after the same calendar day 14 years earlier. Birth dates stay a few
days away from that boundary, so the truth does not depend on how 29 February is treated.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from export_gate.model import CATEGORY_BITS, PERSONAL_BIT
from export_gate.samples.truth import ID_DOCUMENT, LABEL_ROWS_LIMIT, Chunk, GroundTruth, TruthBuilder
from export_gate.samples.values import (
    Context,
    People,
    bank_cards,
    batch_numbers,
    ean13,
    join,
    luhn_failing,
    mobile_notations,
    order_numbers,
    pad,
    pick,
    resident_id,
    text,
    timestamps,
    uniform,
    where,
    ymd,
)

KINDS = ("crm", "ae_cases", "insurance")
FORMATS = ("parquet", "csv", "jsonl")

# Entity labels of the ground truth (per column: which cells hold which entity).
RESIDENT_ID = "CN_RESIDENT_ID"
MOBILE = "CN_MOBILE"
EMAIL = "EMAIL_ADDRESS"
PERSON = "PERSON"
ADDRESS = "CN_ADDRESS"
BANK_CARD = "BANK_CARD"
BIRTH_DATE = "BIRTH_DATE"
AGE = "AGE"
ICD10 = "ICD10_CODE"
MEDICAL = "MEDICAL_TERM"

_CHUNK_ROWS = 100_000
#: Second-role people (reporters) are numbered from here, so their identifiers never collide with the first role.
_ROLE_OFFSET = 50_000_000
_MEDICAL = PERSONAL_BIT | CATEGORY_BITS["medical_health"]
_MINOR = PERSONAL_BIT | CATEGORY_BITS["minor_under_14"]
_FINANCIAL = PERSONAL_BIT | CATEGORY_BITS["financial_account"]
_ICD10 = [
    ("J18.9", "肺炎", "pneumonia"), ("E11.9", "2型糖尿病", "type 2 diabetes"), ("I10", "原发性高血压", "hypertension"),
    ("C34.9", "肺恶性肿瘤", "lung cancer"), ("K29.7", "胃炎", "gastritis"), ("J45.9", "哮喘", "asthma"),
    ("L27.0", "药物性皮疹", "drug eruption"), ("B18.1", "慢性乙型肝炎", "chronic hepatitis B"),
    ("I21.9", "急性心肌梗死", "acute myocardial infarction"), ("F32.9", "抑郁发作", "depressive episode"),
]  # fmt: skip
_DRUGS = [("阿莫西林", "Amoxicillin"), ("布洛芬", "Ibuprofen"), ("二甲双胍", "Metformin"), ("阿司匹林", "Aspirin"),
          ("奥美拉唑", "Omeprazole"), ("头孢曲松", "Ceftriaxone"), ("阿托伐他汀", "Atorvastatin")]  # fmt: skip
_SYMPTOMS = [("皮疹", "rash"), ("恶心呕吐", "nausea and vomiting"), ("头晕", "dizziness"),
             ("呼吸困难", "dyspnoea"), ("肝功能异常", "abnormal liver function")]  # fmt: skip
_LEVELS = ["普通会员", "银卡会员", "金卡会员", "钻石会员"]


def generate(
    kind: str,
    rows: int,
    out_dir: str | Path,
    *,
    seed: int = 0,
    fmt: str = "parquet",
    files: int = 1,
    encoding: str = "utf-8",
    as_of: date | None = None,
    truth_path: str | Path | None = None,
    subjects: bool = True,
    nested: bool = False,
) -> GroundTruth:
    """Write ``rows`` rows of a ``kind`` export into ``files`` files in ``out_dir``; return the ground truth.

    ``encoding`` applies to CSV (e.g. ``gbk``). ``truth_path`` also writes the truth as JSON there.
    Counting subjects needs memory in proportion to the distinct people (about 100 bytes each); a scale run
    that only needs the data passes ``subjects=False`` and generates in flat memory (cell counts are kept).
    ``nested=True`` (crm, Parquet) writes the same customers with nested columns: a struct ``客户`` (姓名,
    身份证号), a list of structs ``联系方式`` (类型, 值: mobile and e-mail) and a map ``地址`` (家庭 -> address);
    the truth is labelled by leaf name (``客户.姓名``, ``联系方式[].值``, ``地址{}``) and counts the same people.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown sample kind {kind!r}; use one of {', '.join(KINDS)}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown sample format {fmt!r}; use parquet, csv or jsonl")
    if not 0 < rows < _ROLE_OFFSET or not 0 < files <= rows:
        raise ValueError(f"rows must be 1..{_ROLE_OFFSET - 1} and files 1..rows")
    if nested and (kind, fmt) != ("crm", "parquet"):
        raise ValueError("nested samples are crm exports in Parquet")
    as_of = as_of or date.today()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = _SPECS[kind]
    context = Context(seed, as_of, spec.pools(rows), nested)
    builder = TruthBuilder(keep_labels=rows <= LABEL_ROWS_LIMIT, count_subjects=subjects)
    names, sizes = [], []
    for index in range(files):
        size = rows // files + (index < rows % files)
        path = out / f"{kind}-{index:03d}.{fmt}"
        with _Writer(path, fmt, encoding) as writer:
            for chunk_index, start in enumerate(range(0, size, _CHUNK_ROWS)):
                rng = np.random.default_rng([seed, KINDS.index(kind), index, chunk_index])
                table, chunk = spec.chunk(context, rng, min(_CHUNK_ROWS, size - start))
                writer.write(table)
                builder.add(chunk)
        names.append(path.name)
        sizes.append(size)
    truth = builder.finish(
        kind=kind,
        files=names,
        file_rows=sizes,
        as_of=as_of,
        seed=seed,
        keys=spec.keys,
        categories={(_NESTED_NAMES.get(c, c) if nested else c): cats for c, cats in spec.categories.items()},
    )
    if truth_path is not None:
        truth.write(truth_path)
    return truth


def _crm(context: Context, rng: np.random.Generator, n: int) -> tuple[pa.Table, Chunk]:
    pid = rng.integers(0, context.pools[0], n)
    people = People(context, pid, kids=0.08)
    seed = context.seed
    anonymous = rng.random(n) < 0.03
    no_identifier = uniform(pid, 20, seed) < 0.10
    second_account = (uniform(pid, 21, seed) < 0.03) & (rng.random(n) < 0.5)
    identified = ~anonymous & ~no_identifier
    has_email = identified & (rng.random(n) < 0.6)
    has_id = identified & (rng.random(n) < 0.5)
    has_address = ~anonymous & (rng.random(n) < 0.8)
    has_birth = ~anonymous & (rng.random(n) < 0.7)
    customer = pid * 2 + second_account
    lower_x = rng.random(n) < 0.3
    order_time, order_ms = timestamps(context, rng, n)
    table = pa.table(
        {
            "客户编号": where(~anonymous, pad("C", customer, 10)),
            "姓名": where(~anonymous, people.name),
            "手机号": where(identified, mobile_notations(people.mobile, rng)),
            "邮箱": where(has_email, people.email),
            "身份证号": where(has_id, resident_id(people.id17, lower_x=lower_x)),
            "地址": where(has_address, people.address),
            "出生日期": where(has_birth, pa.array(people.birth).cast(pa.string())),
            "会员等级": pick(_LEVELS, rng.integers(0, len(_LEVELS), n)),
            "订单号": order_numbers(context, rng, n),
            "下单时间": order_time,
            "创建时间戳": pa.array(order_ms),
            "批次号": batch_numbers(context, rng, n),
            "券码": luhn_failing(rng.integers(10**14, 10**15, n), 15, rng),
            "商品编码": ean13(rng, n),
        }
    )
    mask = np.where(anonymous, 0, PERSONAL_BIT)
    mask |= np.where((has_birth | has_id) & people.minor, _MINOR, 0)
    mask |= np.where(has_id, ID_DOCUMENT, 0)
    labels = {
        "姓名": {PERSON: ~anonymous},
        "手机号": {MOBILE: identified},
        "邮箱": {EMAIL: has_email},
        "身份证号": {RESIDENT_ID: has_id},
        "地址": {ADDRESS: has_address},
        "出生日期": {BIRTH_DATE: has_birth},
    }
    if context.nested:
        table, labels = _nest_crm(table, labels)
    return table, Chunk(labels, [np.where(anonymous, -1, customer)], [pid], [mask])


#: Where the flat crm columns go in the nested crm sample.
_NESTED_NAMES = {
    "姓名": "客户.姓名",
    "身份证号": "客户.身份证号",
    "手机号": "联系方式[].值",
    "邮箱": "联系方式[].值",
    "地址": "地址{}",
}


def _nest_crm(
    table: pa.Table, labels: dict[str, dict[str, np.ndarray]]
) -> tuple[pa.Table, dict[str, dict[str, np.ndarray]]]:
    """The same rows with a struct, a list of structs and a map in place of the flat contact columns."""
    column = {name: table.column(name).combine_chunks() for name in ("姓名", "身份证号", "手机号", "邮箱", "地址")}
    customer = pa.StructArray.from_arrays(
        [column["姓名"], column["身份证号"]], names=["姓名", "身份证号"], mask=pc.is_null(column["姓名"])
    )
    phone, mail = labels["手机号"][MOBILE], labels["邮箱"][EMAIL]
    starts = np.concatenate([[0], np.cumsum(phone.astype(np.int32) + mail)]).astype(np.int32)
    order = np.argsort(np.concatenate([starts[:-1][phone], starts[:-1][mail] + phone[mail]]), kind="stable")
    kinds = pa.array(["手机"] * int(phone.sum()) + ["邮箱"] * int(mail.sum()))
    values = pa.concat_arrays([column["手机号"].filter(pa.array(phone)), column["邮箱"].filter(pa.array(mail))])
    entries = pa.StructArray.from_arrays([kinds.take(order), values.take(order)], names=["类型", "值"])
    home = labels["地址"][ADDRESS]
    address_starts = pa.array(np.concatenate([[0], np.cumsum(home)]).astype(np.int32))
    addresses = column["地址"].filter(pa.array(home))
    flat = [name for name in table.column_names if name not in column and name != "客户编号"]
    nested = pa.table(
        {
            "客户编号": table.column("客户编号"),
            "客户": customer,
            "联系方式": pa.ListArray.from_arrays(pa.array(starts), entries),
            "地址": pa.MapArray.from_arrays(address_starts, pa.array(["家庭"] * len(addresses)), addresses),
            **{name: table.column(name) for name in flat},
        }
    )
    relabelled: dict[str, dict[str, np.ndarray]] = {}
    for name, entities in labels.items():
        relabelled.setdefault(_NESTED_NAMES.get(name, name), {}).update(entities)
    return nested, relabelled


def _ae_cases(context: Context, rng: np.random.Generator, n: int) -> tuple[pa.Table, Chunk]:
    pid = rng.integers(0, context.pools[0], n)
    rid = _ROLE_OFFSET + rng.integers(0, context.pools[1], n)
    patient = People(context, pid, kids=0.20, max_age=90)
    reporter = People(context, rid, kids=0.0, teens=0.0, max_age=65)
    has_id = rng.random(n) < 0.3
    shown = rng.random(n)
    has_birth, has_age = shown < 0.5, (shown >= 0.5) & (shown < 0.9)
    has_phone = rng.random(n) < 0.9
    has_email = rng.random(n) < 0.5
    mention = rng.random(n) < 0.2
    english = rng.random(n) < 0.4
    icd = rng.integers(0, len(_ICD10), n)
    drug = rng.integers(0, len(_DRUGS), n)
    symptom = rng.integers(0, len(_SYMPTOMS), n)
    age_years = ((np.datetime64(context.as_of, "D") - patient.birth).astype(np.int64) * 4 // 1461).astype(np.int64)
    age_years = np.where(patient.minor, np.minimum(age_years, 13), np.maximum(age_years, 14))
    zh = join(
        "患者服用",
        pick([d for d, _ in _DRUGS], drug),
        "后出现",
        pick([s for s, _ in _SYMPTOMS], symptom),
        "，诊断为",
        pick([z for _, z, _ in _ICD10], icd),
        "，已停药，症状缓解。",
    )
    en = join(
        "Patient developed ",
        pick([s for _, s in _SYMPTOMS], symptom),
        " after taking ",
        pick([d for _, d in _DRUGS], drug),
        "; diagnosed with ",
        pick([e for _, _, e in _ICD10], icd),
        ". Drug withdrawn, patient recovered.",
    )
    phone_text = mobile_notations(reporter.mobile, rng)
    note = pc.if_else(
        pa.array(english), join(" Reporter phone: ", phone_text, "."), join("报告人电话：", phone_text, "。")
    )
    narrative = pc.if_else(pa.array(english), en, zh)
    narrative = pc.if_else(pa.array(mention), join(narrative, note), narrative)
    case_day = np.datetime64(context.as_of, "D") - rng.integers(0, 365, n).astype("timedelta64[D]")
    table = pa.table(
        {
            "case_id": join(
                "CN-", text(ymd(case_day) // 10000), "-", pc.utf8_lpad(text(rng.integers(0, 10**7, n)), 7, "0")
            ),
            "report_date": pa.array(case_day).cast(pa.string()),
            "patient_id": pad("PT", pid, 8),
            "patient_initials": patient.initials,
            "patient_id_card": where(has_id, resident_id(patient.id17, lower_x=rng.random(n) < 0.3)),
            "patient_birth_date": where(has_birth, pa.array(patient.birth).cast(pa.string())),
            "patient_age": where(has_age, pa.array(age_years)),
            "reporter_id": pad("RP", rid - _ROLE_OFFSET, 6),
            "reporter_name": reporter.name,
            "reporter_phone": where(has_phone, mobile_notations(reporter.mobile, rng)),
            "reporter_email": where(has_email, reporter.email),
            "icd10": pick([code for code, _, _ in _ICD10], icd),
            "drug": pc.if_else(
                pa.array(english), pick([d for _, d in _DRUGS], drug), pick([d for d, _ in _DRUGS], drug)
            ),
            "batch_no": batch_numbers(context, rng, n),
            "narrative": narrative,
        }
    )
    patient_mask = np.full(n, _MEDICAL)
    patient_mask |= np.where((has_id | has_birth | has_age) & patient.minor, _MINOR, 0)
    patient_mask |= np.where(has_id, ID_DOCUMENT, 0)
    reporter_mask = np.full(n, PERSONAL_BIT)
    labels = {
        "patient_id_card": {RESIDENT_ID: has_id},
        "patient_birth_date": {BIRTH_DATE: has_birth},
        "patient_age": {AGE: has_age},
        "reporter_name": {PERSON: np.ones(n, bool)},
        "reporter_phone": {MOBILE: has_phone},
        "reporter_email": {EMAIL: has_email},
        "icd10": {ICD10: np.ones(n, bool)},
        "drug": {MEDICAL: np.ones(n, bool)},
        "narrative": {MEDICAL: np.ones(n, bool), MOBILE: mention},
    }
    return table, Chunk(labels, [pid, rid - _ROLE_OFFSET], [pid, rid], [patient_mask, reporter_mask])


def _insurance(context: Context, rng: np.random.Generator, n: int) -> tuple[pa.Table, Chunk]:
    pid = rng.integers(0, context.pools[0], n)
    insured = People(context, pid, kids=0.10)
    has_id = rng.random(n) < 0.95
    has_card = uniform(pid, 30, context.seed) < 0.8
    has_diagnosis = rng.random(n) < 0.4
    icd = rng.integers(0, len(_ICD10), n)
    cession = np.datetime64(context.as_of, "D") - rng.integers(0, 365, n).astype("timedelta64[D]")
    table = pa.table(
        {
            "policy_no": join(
                "P", text(ymd(cession) // 10000), pc.utf8_lpad(text(rng.integers(0, 10**10, n)), 10, "0")
            ),
            "insured_no": pad("IN", pid, 9),
            "insured_name": insured.name,
            "insured_id_card": where(has_id, resident_id(insured.id17, lower_x=rng.random(n) < 0.3)),
            "payout_card": where(has_card, bank_cards(pid, context.seed)),
            "sum_insured": pa.array(rng.integers(1, 500, n) * 10_000.0),
            "diagnosis": where(
                has_diagnosis,
                join(pick([c for c, _, _ in _ICD10], icd), " ", pick([z for _, z, _ in _ICD10], icd)),
            ),
            "cession_date": pa.array(cession).cast(pa.string()),
            "claim_ref": luhn_failing(rng.integers(10**14, 10**15, n), 15, rng),
        }
    )
    mask = np.full(n, PERSONAL_BIT)
    mask |= np.where(has_id & insured.minor, _MINOR, 0)
    mask |= np.where(has_id, ID_DOCUMENT, 0)
    mask |= np.where(has_card, _FINANCIAL, 0)
    mask |= np.where(has_diagnosis, _MEDICAL, 0)
    labels = {
        "insured_name": {PERSON: np.ones(n, bool)},
        "insured_id_card": {RESIDENT_ID: has_id},
        "payout_card": {BANK_CARD: has_card},
        "diagnosis": {ICD10: has_diagnosis, MEDICAL: has_diagnosis},
    }
    return table, Chunk(labels, [pid], [pid], [mask])


@dataclass(frozen=True)
class _Spec:
    keys: tuple[str, ...]
    pools: Callable[[int], tuple[int, ...]]
    chunk: Callable[[Context, np.random.Generator, int], tuple[pa.Table, Chunk]]
    categories: dict[str, list[str]]  # column -> categories its cells can put a subject in (default setting)


_SPECS = {
    "crm": _Spec(
        ("客户编号",),
        lambda rows: (max(1, rows * 3 // 4),),
        _crm,
        {"身份证号": ["minor_under_14"], "出生日期": ["minor_under_14"]},
    ),
    "ae_cases": _Spec(
        ("patient_id", "reporter_id"),
        lambda rows: (max(1, rows * 4 // 5), max(1, rows // 20)),
        _ae_cases,
        {
            "patient_id_card": ["minor_under_14"],
            "patient_birth_date": ["minor_under_14"],
            "patient_age": ["minor_under_14"],
            "icd10": ["medical_health"],
            "drug": ["medical_health"],
            "narrative": ["medical_health"],
        },
    ),
    "insurance": _Spec(
        ("insured_no",),
        lambda rows: (max(1, rows * 7 // 10),),
        _insurance,
        {
            "insured_id_card": ["minor_under_14"],
            "payout_card": ["financial_account"],
            "diagnosis": ["medical_health"],
        },
    ),
}


# --- writing files -------------------------------------------------------------------------------------------


#: Columns worth dictionary-encoding in Parquet (few distinct values); the rest are written plain, which is faster.
_LOW_CARDINALITY = ["会员等级", "icd10", "drug", "reporter_name", "diagnosis", "cession_date", "report_date"]


class _Writer:
    """Appends chunks to one Parquet, CSV (any encoding) or JSON Lines file."""

    def __init__(self, path: Path, fmt: str, encoding: str) -> None:
        self.path, self.fmt, self.encoding = path, fmt, encoding
        self._parquet: pq.ParquetWriter | None = None
        self._handle: io.BufferedWriter | None = None

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._handle is not None:
            self._handle.close()

    def write(self, table: pa.Table) -> None:
        if self.fmt == "parquet":
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema, use_dictionary=_LOW_CARDINALITY)
            self._parquet.write_table(table)
            return
        first = self._handle is None
        if self._handle is None:
            self._handle = self.path.open("wb")
        if self.fmt == "csv":
            buffer = io.BytesIO()
            pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=first))
            data = buffer.getvalue()
            utf8 = self.encoding.lower().replace("-", "") == "utf8"
            self._handle.write(data if utf8 else data.decode().encode(self.encoding))
        else:
            import pandas as pd  # only JSON Lines needs pandas (pyarrow writes no JSON); it is slow to import

            frame = table.to_pandas(types_mapper=pd.ArrowDtype)
            self._handle.write(frame.to_json(orient="records", lines=True, force_ascii=False).encode())
