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

The ground truth follows the same rules the scan documents (export_gate.subjects): with subject keys, each
column belongs to the key whose prefix it carries (``reporter_phone`` -> ``reporter_id``), others to the first
key, and a key value with any finding is one person; without keys, rows sharing a strong identifier (resident
ID, mobile, e-mail, bank card) are one person and a row with personal information but no strong identifier is
a person of its own. ``persons`` counts the real people the generator drew, to show how far each mode is off.
Minors are judged by the export date ``as_of``: born after the same calendar day 14 years earlier. Birth dates
stay a few days away from that boundary, so the truth does not depend on how 29 February is treated.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from stdnum.cn import ric

from export_gate.model import CATEGORIES, CATEGORY_BITS, PERSONAL_BIT, SENSITIVE_MASK, Counts

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

#: Identification modes of the ground truth.
MODES = ("subject_keys", "strong_identifiers", "persons")

_CHUNK_ROWS = 100_000
#: Per-row labels are kept up to this many rows (counts are always kept).
LABEL_ROWS_LIMIT = 2_000_000
#: Private mask bit: the subject's information includes an identity document number (sensitive only under
#: GB/T 35273-2020, i.e. DetectorSettings(identity_document_sensitive=True)).
_ID_DOCUMENT = 1 << 40
#: Second-role people (reporters) are numbered from here, so their identifiers never collide with the first role.
_ROLE_OFFSET = 50_000_000
_MEDICAL = PERSONAL_BIT | CATEGORY_BITS["medical_health"]
_MINOR = PERSONAL_BIT | CATEGORY_BITS["minor_under_14"]
_FINANCIAL = PERSONAL_BIT | CATEGORY_BITS["financial_account"]

_SURNAMES = [
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"), ("黄", "huang"),
    ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"),
    ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("高", "gao"), ("林", "lin"), ("罗", "luo"), ("郑", "zheng"),
    ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"),
    ("曹", "cao"), ("彭", "peng"), ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"), ("袁", "yuan"),
    ("潘", "pan"), ("蒋", "jiang"), ("蔡", "cai"), ("欧阳", "ouyang"), ("司马", "sima"),
]  # fmt: skip
_GIVEN = [
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("强", "qiang"),
    ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("娟", "juan"),
    ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀英", "xiuying"), ("霞", "xia"), ("平", "ping"),
    ("刚", "gang"), ("桂英", "guiying"), ("华", "hua"), ("建国", "jianguo"), ("文", "wen"), ("辉", "hui"),
    ("玲", "ling"), ("鹏", "peng"), ("宇", "yu"), ("浩然", "haoran"), ("欣怡", "xinyi"), ("梓涵", "zihan"),
    ("子轩", "zixuan"), ("雨萱", "yuxuan"), ("一诺", "yinuo"), ("思远", "siyuan"),
]  # fmt: skip
_REGIONS = {
    110101: "北京市东城区", 110102: "北京市西城区", 110105: "北京市朝阳区", 110108: "北京市海淀区",
    310101: "上海市黄浦区", 310104: "上海市徐汇区", 310105: "上海市长宁区", 310115: "上海市浦东新区",
    120101: "天津市和平区", 120103: "天津市河西区", 440106: "广东省广州市天河区", 440305: "广东省深圳市南山区",
    440304: "广东省深圳市福田区", 330106: "浙江省杭州市西湖区", 330108: "浙江省杭州市滨江区",
    510107: "四川省成都市武侯区", 420111: "湖北省武汉市洪山区", 320102: "江苏省南京市玄武区",
    610113: "陕西省西安市雁塔区", 370202: "山东省青岛市市南区", 500103: "重庆市渝中区",
    430102: "湖南省长沙市芙蓉区", 350203: "福建省厦门市思明区", 410105: "河南省郑州市金水区",
}  # fmt: skip
_ROADS = ["建国路", "人民路", "解放路", "中山路", "科技园南路", "长安街", "南京西路", "天府大道", "文三路", "珞喻路"]
_MOBILE_PREFIXES = [
    130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 155, 156, 157, 158, 159, 166,
    173, 175, 176, 177, 180, 181, 182, 183, 185, 186, 187, 188, 189, 191, 193, 195, 198, 199,
]  # fmt: skip
_EMAIL_DOMAINS = ["qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "gmail.com", "outlook.com"]
_CARD_BINS = [(621700, 19), (622202, 19), (622848, 19), (621483, 16), (622588, 16), (625908, 16), (438088, 16),
              (524047, 16)]  # fmt: skip
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


@dataclass
class GroundTruth:
    """What a perfect scan of the generated files finds.

    ``subjects[setting][mode]``: distinct subjects (personal, sensitive, per category) for the settings
    ``default`` (GB/T 45574-2025: an ID number alone is not sensitive) and ``identity_document_sensitive``
    (GB/T 35273-2020), and the modes in MODES. ``cells[column][entity]``: cells holding that entity.
    ``labels[column][entity]``: which rows (all files, in file order) hold it, when rows <= LABEL_ROWS_LIMIT.
    """

    kind: str
    rows: int
    files: list[str]
    file_rows: list[int]
    as_of: date
    seed: int
    subject_keys: tuple[str, ...]
    subjects: dict[str, dict[str, Counts]]
    cells: dict[str, dict[str, int]]
    column_categories: dict[str, list[str]]
    labels: dict[str, dict[str, np.ndarray]] | None = None

    def counts(self, mode: str = "subject_keys", *, identity_document_sensitive: bool = False) -> Counts:
        if not self.subjects:
            raise ValueError("this sample was generated with subjects=False: no subject counts")
        setting = "identity_document_sensitive" if identity_document_sensitive else "default"
        return self.subjects[setting][mode]

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "files": list(self.files),
            "file_rows": list(self.file_rows),
            "as_of": self.as_of.isoformat(),
            "seed": self.seed,
            "subject_keys": list(self.subject_keys),
            "subjects": {s: {m: c.to_dict() for m, c in modes.items()} for s, modes in self.subjects.items()},
            "columns": {
                name: {"entities": dict(self.cells.get(name, {})), "categories": cats}
                for name, cats in self.column_categories.items()
            },
        }

    def write(self, path: str | Path) -> None:
        """Write the truth as JSON (keep it outside the export folder: it is not part of the export)."""
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")


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
    context = _Context(seed, as_of, spec.pools(rows), nested)
    builder = _TruthBuilder(keep_labels=rows <= LABEL_ROWS_LIMIT, count_subjects=subjects)
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


# --- people: every attribute is a hash of the person's number ------------------------------------------------


@dataclass(frozen=True)
class _Context:
    """What every chunk of one sample shares: the seed, the export date and the sizes of the people pools."""

    seed: int
    as_of: date
    pools: tuple[int, ...]
    nested: bool = False


def _hash(values: np.ndarray, salt: int, seed: int) -> np.ndarray:
    """splitmix64 of (value, salt, seed): a stable pseudo-random uint64 per person and attribute."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z ^= np.uint64((salt * 0x632BE59BD9B4E019 + seed * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _uniform(values: np.ndarray, salt: int, seed: int) -> np.ndarray:
    return (_hash(values, salt, seed) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _choice(values: np.ndarray, salt: int, seed: int, size: int) -> np.ndarray:
    return (_hash(values, salt, seed) % np.uint64(size)).astype(np.int64)


_NAMES = [s + g for s, _ in _SURNAMES for g, _ in _GIVEN]
_PINYIN = [sp + gp for _, sp in _SURNAMES for _, gp in _GIVEN]
_INITIALS = [f"{sp[0]}.{gp[0]}.".upper() for _, sp in _SURNAMES for _, gp in _GIVEN]


class _People:
    """Attributes of the people on a chunk's rows (one entry per row), each computed only when a column uses it."""

    def __init__(self, context: _Context, gid: np.ndarray, *, kids: float, teens: float = 0.05, max_age: int = 85):
        self.context, self.gid, self.seed = context, gid, context.seed
        self.kids, self.teens, self.max_age = kids, teens, max_age

    def _choice(self, salt: int, size: int) -> np.ndarray:
        return _choice(self.gid, salt, self.seed, size)

    @cached_property
    def name_index(self) -> np.ndarray:
        return self._choice(1, len(_NAMES))

    @cached_property
    def name(self) -> pa.Array:
        return _pick(_NAMES, self.name_index)

    @cached_property
    def initials(self) -> pa.Array:
        return _pick(_INITIALS, self.name_index)

    @cached_property
    def birth(self) -> np.ndarray:
        """Birth dates (datetime64[D]), a few days away from the 14-year boundary (see the module docstring)."""
        band, spread = _uniform(self.gid, 2, self.seed), _uniform(self.gid, 3, self.seed)
        kid_days = 30 + spread * (14 * 365 - 4 - 30)
        teen_days = 14 * 366 + 4 + spread * (18 * 365 - 14 * 366 - 4)
        adult_days = 18 * 366 + spread * ((self.max_age - 18) * 365)
        days = np.where(band < self.kids, kid_days, np.where(band < self.kids + self.teens, teen_days, adult_days))
        return np.datetime64(self.context.as_of, "D") - days.astype(np.int64).astype("timedelta64[D]")

    @cached_property
    def ymd(self) -> np.ndarray:
        return _ymd(self.birth)

    @cached_property
    def minor(self) -> np.ndarray:
        """Under 14 on as_of: born after the same calendar day 14 years earlier."""
        return self.ymd > _minor_cutoff(self.context.as_of)

    @cached_property
    def id17(self) -> np.ndarray:
        """Resident ID without its check character: a region code valid for the birth year, birth date, sequence."""
        region = _regions_for_years(self.ymd // 10000, self._choice(4, 1 << 30))
        return region * 10**11 + self.ymd * 1000 + self._choice(5, 1000)

    @cached_property
    def mobile(self) -> np.ndarray:
        """11-digit mobile numbers; the last 8 digits are a bijection of the person number, so none is shared."""
        prefix = np.asarray(_MOBILE_PREFIXES)[self._choice(6, len(_MOBILE_PREFIXES))]
        return prefix * 10**8 + (self.gid * 48271 + 12345) % 10**8

    @cached_property
    def email(self) -> pa.Array:
        domain = _pick(_EMAIL_DOMAINS, self._choice(7, len(_EMAIL_DOMAINS)))
        return _join(_pick(_PINYIN, self.name_index), _text(self.gid), "@", domain)

    @cached_property
    def address(self) -> pa.Array:
        region = _pick([_REGIONS[code] for code in _REGION_CODES], self._choice(13, len(_REGION_CODES)))
        return _join(
            region,
            _pick(_ROADS, self._choice(8, len(_ROADS))),
            _text(1 + self._choice(9, 300)),
            "号",
            _text(1 + self._choice(10, 20)),
            "栋",
            _text(101 + self._choice(11, 2000)),
            "室",
        )


_REGION_CODES = np.array(sorted(_REGIONS), dtype=np.int64)


@lru_cache(maxsize=1)
def _region_table() -> tuple[int, np.ndarray]:
    """For each birth year, the region codes python-stdnum accepts for people born then (codes change)."""
    first, last = 1920, 2040
    valid = np.zeros((last - first + 1, len(_REGION_CODES)), dtype=bool)
    for column, code in enumerate(_REGION_CODES.tolist()):
        for year in range(first, last + 1):
            number = f"{code}{year}0615123"
            valid[year - first, column] = ric.is_valid(number + ric.calc_check_digit(number + "0"))
    return first, np.cumsum(valid, axis=1)


def _regions_for_years(years: np.ndarray, draw: np.ndarray) -> np.ndarray:
    first, cumulative = _region_table()
    rows = years - first
    counts = cumulative[rows, -1]
    wanted = draw % counts
    column = (cumulative[rows] > wanted[:, None]).argmax(axis=1)
    return _REGION_CODES[column]


def _minor_cutoff(as_of: date) -> int:
    day = min(as_of.day, 28) if (as_of.month, as_of.day) == (2, 29) else as_of.day
    return (as_of.year - 14) * 10000 + as_of.month * 100 + day


def _ymd(days: np.ndarray) -> np.ndarray:
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    return years * 10000 + months * 100 + dom


# --- identifiers and decoys ----------------------------------------------------------------------------------

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.array(list("10X98765432"))


def _digits(numbers: np.ndarray, width: int) -> np.ndarray:
    """Decimal digits of non-negative numbers below 10**width, as an (n, width) int64 matrix (via Arrow text)."""
    text = pc.utf8_lpad(_text(numbers), width, "0")
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8, count=len(numbers) * width)
    return data.reshape(len(numbers), width).astype(np.int64) - 48


def _id_check_index(id17: np.ndarray) -> np.ndarray:
    return (_digits(id17, 17) @ _ID_WEIGHTS) % 11


def _resident_id(id17: np.ndarray, *, lower_x: np.ndarray, wrong: bool = False) -> pa.Array:
    """GB 11643 numbers; ``wrong`` gives each one a check character that does not match (a decoy)."""
    index = _id_check_index(id17)
    if wrong:
        index = (index + 1 + id17 % 10) % 11
    check = _ID_CHECK[index]
    check = np.where(lower_x & (check == "X"), "x", check)
    return _join(_text(id17), pa.array(check))


_LUHN_DOUBLED = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.int64)


def _luhn_digit(payload: np.ndarray, width: int) -> np.ndarray:
    """The Luhn check digit for ``width``-digit payloads (the digit appended after them)."""
    digits = _digits(payload, width)
    doubled = digits[:, width - 1 :: -2]  # the payload's last digit is doubled once the check digit follows it
    total = _LUHN_DOUBLED[doubled].sum(axis=1) + digits[:, width - 2 :: -2].sum(axis=1)
    return (10 - total % 10) % 10


def _bank_cards(gid: np.ndarray, seed: int) -> pa.Array:
    """Luhn-valid cards on real BINs (UnionPay 62, Visa, Mastercard), 16 or 19 digits, one per person."""
    choice = _choice(gid, 12, seed, len(_CARD_BINS))
    bins = np.array([b for b, _ in _CARD_BINS], dtype=np.int64)[choice]
    lengths = np.array([n for _, n in _CARD_BINS], dtype=np.int64)[choice]
    out = np.empty(len(gid), dtype=object)
    for length in (16, 19):
        rows = lengths == length
        payload = bins[rows] * 10 ** (length - 7) + gid[rows] % 10 ** (length - 7)
        out[rows] = (pc.binary_join_element_wise(_text(payload), _text(_luhn_digit(payload, length - 1)), "")).to_numpy(
            zero_copy_only=False
        )
    return pa.array(out, pa.string())


def _luhn_failing(payload: np.ndarray, width: int, rng: np.random.Generator) -> pa.Array:
    """Numbers of ``width`` + 1 digits whose last digit is anything but the Luhn check digit."""
    wrong = (_luhn_digit(payload, width) + rng.integers(1, 10, len(payload))) % 10
    return _join(_text(payload), _text(wrong))


def _ean13(rng: np.random.Generator, n: int) -> pa.Array:
    """EAN-13 product codes with a correct check digit (prefix 69: China)."""
    payload = 690 * 10**9 + rng.integers(0, 10**9, n)  # 12 digits
    digits = _digits(payload, 12)
    total = (digits * np.tile([1, 3], 6)).sum(axis=1)
    return _join(_text(payload), _text((10 - total % 10) % 10))


def _batch_numbers(context: _Context, rng: np.random.Generator, n: int) -> pa.Array:
    """18 digits laid out like a resident ID (real region, real date) whose check character is wrong and
    whose Luhn check fails too: neither an ID nor a card."""
    region = _REGION_CODES[rng.integers(0, len(_REGION_CODES), n)]
    day = np.datetime64(context.as_of, "D") - rng.integers(1, 3000, n).astype("timedelta64[D]")
    id17 = region * 10**11 + _ymd(day) * 1000 + rng.integers(0, 1000, n)
    real = _ID_CHECK[_id_check_index(id17)]
    real_digit = np.where(real == "X", -1, np.char.replace(real, "X", "0").astype(np.int64))
    luhn = _luhn_digit(id17, 17)
    last = (luhn + 1 + rng.integers(0, 9, n)) % 10
    last = np.where(last == real_digit, (last + 1) % 10, last)
    last = np.where(last == luhn, (last + 1) % 10, last)  # only when real was luhn - 1: now luhn + 1, not real
    return _join(_text(id17), _text(last))


def _order_numbers(context: _Context, rng: np.random.Generator, n: int) -> pa.Array:
    """18-digit order numbers: order date + 9 random digits + a digit that fails Luhn (not a card)."""
    day = np.datetime64(context.as_of, "D") - rng.integers(0, 700, n).astype("timedelta64[D]")
    payload = _ymd(day) * 10**9 + rng.integers(0, 10**9, n)
    return _luhn_failing(payload, 17, rng)


def _timestamps(context: _Context, rng: np.random.Generator, n: int) -> tuple[pa.Array, np.ndarray]:
    """Order times as text and as epoch milliseconds (13 digits starting 17..: mobile-like prefixes)."""
    end = np.datetime64(context.as_of, "s")
    moments = end - rng.integers(1, 700 * 86400, n).astype("timedelta64[s]")
    text = pa.array(moments).cast(pa.string())
    return text, moments.astype(np.int64) * 1000 + rng.integers(0, 1000, n)


# --- mobile notations ----------------------------------------------------------------------------------------


def _mobile_notations(mobile: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """The same numbers the ways people write them: plain, +86 with spaces or dashes, 0086, 86-, brackets,
    3-4-4 groups, full-width digits."""
    plain = _text(mobile)
    a, b, c = (pc.utf8_slice_codeunits(plain, s, e) for s, e in ((0, 3), (3, 7), (7, 11)))
    full_width = _full_width(mobile)
    variants = [
        plain,
        _join("+86 ", a, " ", b, " ", c),
        _join("+86-", a, "-", b, "-", c),
        _join("0086", plain),
        _join("86-", plain),
        _join("(+86)", plain),
        _join(a, "-", b, "-", c),
        _join(a, " ", b, " ", c),
        full_width,
    ]
    weights = np.array([8, 2, 1, 1, 1, 1, 2, 2, 1], dtype=np.float64)
    which = rng.choice(len(variants), size=len(mobile), p=weights / weights.sum())
    return pc.choose(pa.array(which, pa.int8()), *variants)


def _full_width(mobile: np.ndarray) -> pa.Array:
    """11-digit numbers in full-width digits (U+FF10..U+FF19, three UTF-8 bytes each), built as Arrow buffers."""
    digits = _digits(mobile, 11).astype(np.uint8)
    data = np.empty((len(mobile), 11, 3), dtype=np.uint8)
    data[:, :, 0], data[:, :, 1], data[:, :, 2] = 0xEF, 0xBC, 0x90 + digits
    offsets = np.arange(len(mobile) + 1, dtype=np.int32) * 33
    return pa.StringArray.from_buffers(len(mobile), pa.py_buffer(offsets), pa.py_buffer(data.tobytes()))


# --- small pyarrow helpers -----------------------------------------------------------------------------------


def _text(numbers: np.ndarray) -> pa.Array:
    return pa.array(numbers).cast(pa.string())


def _pick(vocabulary: list[str], index: np.ndarray) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(index, pa.int32()), pa.array(vocabulary)).dictionary_decode()


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _where(present: np.ndarray, values: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(present), values, pa.nulls(len(values), values.type))


def _pad(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    return _join(prefix, pc.utf8_lpad(_text(numbers), width, "0"))


# --- what one chunk of rows holds about whom -----------------------------------------------------------------


@dataclass
class _Chunk:
    """The truth of one chunk: labels, and per role the subject key, person and mask of each row."""

    labels: dict[str, dict[str, np.ndarray]]
    keys: list[np.ndarray]  # per role: key number per row (-1: empty)
    persons: list[np.ndarray]  # per role: person number per row
    masks: list[np.ndarray]  # per role: mask per row (0: nothing about this person on the row)
    identifiers: list[np.ndarray]  # per identifier column: node number per row (-1: absent)


def _node(kind: int, values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Identifier node numbers: the identifier type in the top bits, its value below (-1 when absent)."""
    return np.where(present, (np.int64(kind) << np.int64(58)) | values.astype(np.int64), -1)


def _crm(context: _Context, rng: np.random.Generator, n: int) -> tuple[pa.Table, _Chunk]:
    pid = rng.integers(0, context.pools[0], n)
    people = _People(context, pid, kids=0.08)
    seed = context.seed
    anonymous = rng.random(n) < 0.03
    no_identifier = _uniform(pid, 20, seed) < 0.10
    second_account = (_uniform(pid, 21, seed) < 0.03) & (rng.random(n) < 0.5)
    identified = ~anonymous & ~no_identifier
    has_email = identified & (rng.random(n) < 0.6)
    has_id = identified & (rng.random(n) < 0.5)
    has_address = ~anonymous & (rng.random(n) < 0.8)
    has_birth = ~anonymous & (rng.random(n) < 0.7)
    customer = pid * 2 + second_account
    lower_x = rng.random(n) < 0.3
    order_time, order_ms = _timestamps(context, rng, n)
    table = pa.table(
        {
            "客户编号": _where(~anonymous, _pad("C", customer, 10)),
            "姓名": _where(~anonymous, people.name),
            "手机号": _where(identified, _mobile_notations(people.mobile, rng)),
            "邮箱": _where(has_email, people.email),
            "身份证号": _where(has_id, _resident_id(people.id17, lower_x=lower_x)),
            "地址": _where(has_address, people.address),
            "出生日期": _where(has_birth, pa.array(people.birth).cast(pa.string())),
            "会员等级": _pick(_LEVELS, rng.integers(0, len(_LEVELS), n)),
            "订单号": _order_numbers(context, rng, n),
            "下单时间": order_time,
            "创建时间戳": pa.array(order_ms),
            "批次号": _batch_numbers(context, rng, n),
            "券码": _luhn_failing(rng.integers(10**14, 10**15, n), 15, rng),
            "商品编码": _ean13(rng, n),
        }
    )
    mask = np.where(anonymous, 0, PERSONAL_BIT)
    mask |= np.where((has_birth | has_id) & people.minor, _MINOR, 0)
    mask |= np.where(has_id, _ID_DOCUMENT, 0)
    labels = {
        "姓名": {PERSON: ~anonymous},
        "手机号": {MOBILE: identified},
        "邮箱": {EMAIL: has_email},
        "身份证号": {RESIDENT_ID: has_id},
        "地址": {ADDRESS: has_address},
        "出生日期": {BIRTH_DATE: has_birth},
    }
    identifiers = [
        _node(1, people.mobile, identified),
        _node(2, pid, has_email),
        _node(3, people.id17, has_id),
    ]
    if context.nested:
        table, labels = _nest_crm(table, labels)
    return table, _Chunk(labels, [np.where(anonymous, -1, customer)], [pid], [mask], identifiers)


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


def _ae_cases(context: _Context, rng: np.random.Generator, n: int) -> tuple[pa.Table, _Chunk]:
    pid = rng.integers(0, context.pools[0], n)
    rid = _ROLE_OFFSET + rng.integers(0, context.pools[1], n)
    patient = _People(context, pid, kids=0.20, max_age=90)
    reporter = _People(context, rid, kids=0.0, teens=0.0, max_age=65)
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
    zh = _join(
        "患者服用",
        _pick([d for d, _ in _DRUGS], drug),
        "后出现",
        _pick([s for s, _ in _SYMPTOMS], symptom),
        "，诊断为",
        _pick([z for _, z, _ in _ICD10], icd),
        "，已停药，症状缓解。",
    )
    en = _join(
        "Patient developed ",
        _pick([s for _, s in _SYMPTOMS], symptom),
        " after taking ",
        _pick([d for _, d in _DRUGS], drug),
        "; diagnosed with ",
        _pick([e for _, _, e in _ICD10], icd),
        ". Drug withdrawn, patient recovered.",
    )
    phone_text = _mobile_notations(reporter.mobile, rng)
    note = pc.if_else(
        pa.array(english), _join(" Reporter phone: ", phone_text, "."), _join("报告人电话：", phone_text, "。")
    )
    narrative = pc.if_else(pa.array(english), en, zh)
    narrative = pc.if_else(pa.array(mention), _join(narrative, note), narrative)
    case_day = np.datetime64(context.as_of, "D") - rng.integers(0, 365, n).astype("timedelta64[D]")
    table = pa.table(
        {
            "case_id": _join(
                "CN-", _text(_ymd(case_day) // 10000), "-", pc.utf8_lpad(_text(rng.integers(0, 10**7, n)), 7, "0")
            ),
            "report_date": pa.array(case_day).cast(pa.string()),
            "patient_id": _pad("PT", pid, 8),
            "patient_initials": patient.initials,
            "patient_id_card": _where(has_id, _resident_id(patient.id17, lower_x=rng.random(n) < 0.3)),
            "patient_birth_date": _where(has_birth, pa.array(patient.birth).cast(pa.string())),
            "patient_age": _where(has_age, pa.array(age_years)),
            "reporter_id": _pad("RP", rid - _ROLE_OFFSET, 6),
            "reporter_name": reporter.name,
            "reporter_phone": _where(has_phone, _mobile_notations(reporter.mobile, rng)),
            "reporter_email": _where(has_email, reporter.email),
            "icd10": _pick([code for code, _, _ in _ICD10], icd),
            "drug": pc.if_else(
                pa.array(english), _pick([d for _, d in _DRUGS], drug), _pick([d for d, _ in _DRUGS], drug)
            ),
            "batch_no": _batch_numbers(context, rng, n),
            "narrative": narrative,
        }
    )
    patient_mask = np.full(n, _MEDICAL)
    patient_mask |= np.where((has_id | has_birth | has_age) & patient.minor, _MINOR, 0)
    patient_mask |= np.where(has_id, _ID_DOCUMENT, 0)
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
    identifiers = [
        _node(3, patient.id17, has_id),
        _node(1, reporter.mobile, has_phone | mention),
        _node(2, rid, has_email),
    ]
    chunk = _Chunk(labels, [pid, rid - _ROLE_OFFSET], [pid, rid], [patient_mask, reporter_mask], identifiers)
    return table, chunk


def _insurance(context: _Context, rng: np.random.Generator, n: int) -> tuple[pa.Table, _Chunk]:
    pid = rng.integers(0, context.pools[0], n)
    insured = _People(context, pid, kids=0.10)
    has_id = rng.random(n) < 0.95
    has_card = _uniform(pid, 30, context.seed) < 0.8
    has_diagnosis = rng.random(n) < 0.4
    icd = rng.integers(0, len(_ICD10), n)
    cession = np.datetime64(context.as_of, "D") - rng.integers(0, 365, n).astype("timedelta64[D]")
    table = pa.table(
        {
            "policy_no": _join(
                "P", _text(_ymd(cession) // 10000), pc.utf8_lpad(_text(rng.integers(0, 10**10, n)), 10, "0")
            ),
            "insured_no": _pad("IN", pid, 9),
            "insured_name": insured.name,
            "insured_id_card": _where(has_id, _resident_id(insured.id17, lower_x=rng.random(n) < 0.3)),
            "payout_card": _where(has_card, _bank_cards(pid, context.seed)),
            "sum_insured": pa.array(rng.integers(1, 500, n) * 10_000.0),
            "diagnosis": _where(
                has_diagnosis,
                _join(_pick([c for c, _, _ in _ICD10], icd), " ", _pick([z for _, z, _ in _ICD10], icd)),
            ),
            "cession_date": pa.array(cession).cast(pa.string()),
            "claim_ref": _luhn_failing(rng.integers(10**14, 10**15, n), 15, rng),
        }
    )
    mask = np.full(n, PERSONAL_BIT)
    mask |= np.where(has_id & insured.minor, _MINOR, 0)
    mask |= np.where(has_id, _ID_DOCUMENT, 0)
    mask |= np.where(has_card, _FINANCIAL, 0)
    mask |= np.where(has_diagnosis, _MEDICAL, 0)
    labels = {
        "insured_name": {PERSON: np.ones(n, bool)},
        "insured_id_card": {RESIDENT_ID: has_id},
        "payout_card": {BANK_CARD: has_card},
        "diagnosis": {ICD10: has_diagnosis, MEDICAL: has_diagnosis},
    }
    identifiers = [_node(3, insured.id17, has_id), _node(4, pid, has_card)]
    return table, _Chunk(labels, [pid], [pid], [mask], identifiers)


@dataclass(frozen=True)
class _Spec:
    keys: tuple[str, ...]
    pools: Callable[[int], tuple[int, ...]]
    chunk: Callable[[_Context, np.random.Generator, int], tuple[pa.Table, _Chunk]]
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


# --- the truth: subjects per mode ----------------------------------------------------------------------------


def _or_by_key(keys: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys and the OR of their masks."""
    if not len(keys):
        return keys, masks
    order = np.argsort(keys, kind="stable")
    keys, masks = keys[order], masks[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[starts], np.bitwise_or.reduceat(masks, starts)


class _OrMap:
    """key -> OR of masks, accumulated chunk by chunk and compacted as it grows."""

    def __init__(self) -> None:
        self.keys, self.masks = np.empty(0, np.int64), np.empty(0, np.int64)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._size = 0

    def add(self, keys: np.ndarray, masks: np.ndarray) -> None:
        self._pending.append((keys, masks))
        self._size += len(keys)
        if self._size > max(1_000_000, len(self.keys)):
            self.compact()

    def compact(self) -> tuple[np.ndarray, np.ndarray]:
        if self._pending:
            keys = np.concatenate([self.keys, *(k for k, _ in self._pending)])
            masks = np.concatenate([self.masks, *(m for _, m in self._pending)])
            self.keys, self.masks = _or_by_key(keys, masks)
            self._pending, self._size = [], 0
        return self.keys, self.masks


def _components(count: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of ``count`` nodes joined by edges (a[i], b[i]): the smallest node of each."""
    parent = np.arange(count, dtype=np.int64)
    while True:
        while True:  # pointer jumping until every node points at its root
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
        root_a, root_b = parent[a], parent[b]
        apart = root_a != root_b
        if not apart.any():
            return parent
        low = np.minimum(root_a[apart], root_b[apart])
        np.minimum.at(parent, root_a[apart], low)
        np.minimum.at(parent, root_b[apart], low)


@dataclass
class _TruthBuilder:
    keep_labels: bool
    count_subjects: bool
    keyed: _OrMap = field(default_factory=_OrMap)
    persons: _OrMap = field(default_factory=_OrMap)
    nodes: _OrMap = field(default_factory=_OrMap)
    edges: list[np.ndarray] = field(default_factory=list)
    loose: list[np.ndarray] = field(default_factory=list)
    loose_keyed: list[np.ndarray] = field(default_factory=list)
    cells: dict[str, dict[str, int]] = field(default_factory=dict)
    labels: dict[str, dict[str, list[np.ndarray]]] = field(default_factory=dict)

    def add(self, chunk: _Chunk) -> None:
        for column, entities in chunk.labels.items():
            for entity, present in entities.items():
                counted = self.cells.setdefault(column, {})
                counted[entity] = counted.get(entity, 0) + int(present.sum())
                if self.keep_labels:
                    self.labels.setdefault(column, {}).setdefault(entity, []).append(present)
        if self.count_subjects:
            self._add_subjects(chunk)

    def _add_subjects(self, chunk: _Chunk) -> None:
        row_mask = np.zeros(len(chunk.masks[0]), np.int64)
        for role, (keys, persons, masks) in enumerate(zip(chunk.keys, chunk.persons, chunk.masks, strict=True)):
            found = masks != 0
            # A role's key with findings is a person; an empty key with findings is a person of its own row.
            named = found & (keys >= 0)
            self.keyed.add((np.int64(role) << np.int64(56)) | keys[named], masks[named])
            self.loose_keyed.append(masks[found & (keys < 0)])
            self.persons.add(persons[found], masks[found])
            row_mask |= masks
        ids = np.stack(chunk.identifiers, axis=1)
        present = ids >= 0
        has_any = present.any(axis=1)
        first = ids[np.arange(len(ids)), present.argmax(axis=1)]
        linked = has_any & (row_mask != 0)
        self.nodes.add(first[linked], row_mask[linked])
        for column in range(ids.shape[1]):
            other = linked & present[:, column] & (ids[:, column] != first)
            self.edges.append(np.stack([first[other], ids[other, column]], axis=1))
        self.loose.append(row_mask[~has_any & (row_mask != 0)])

    def finish(self, **meta: object) -> GroundTruth:
        subjects: dict[str, dict[str, Counts]] = {}
        if self.count_subjects:
            masks = {
                "subject_keys": np.concatenate([self.keyed.compact()[1], *self.loose_keyed]),
                "strong_identifiers": self._inferred(),
                "persons": self.persons.compact()[1],
            }
            subjects = {
                "default": {mode: _counts(m & ~_ID_DOCUMENT) for mode, m in masks.items()},
                "identity_document_sensitive": {mode: _counts(_documents_sensitive(m)) for mode, m in masks.items()},
            }
        labels = None
        if self.keep_labels:
            labels = {c: {e: np.concatenate(parts) for e, parts in ents.items()} for c, ents in self.labels.items()}
        files, file_rows = meta["files"], meta["file_rows"]
        return GroundTruth(
            kind=str(meta["kind"]),
            rows=int(sum(file_rows)),  # type: ignore[arg-type]
            files=list(files),  # type: ignore[call-overload]
            file_rows=list(file_rows),  # type: ignore[call-overload]
            as_of=meta["as_of"],  # type: ignore[arg-type]
            seed=int(meta["seed"]),  # type: ignore[call-overload]
            subject_keys=tuple(meta["keys"]),  # type: ignore[call-overload]
            subjects=subjects,
            cells=self.cells,
            column_categories=dict(meta["categories"]),  # type: ignore[call-overload]
            labels=labels,
        )

    def _inferred(self) -> np.ndarray:
        """Masks of the people found by linking rows through shared identifiers (union-find over identifiers)."""
        node_keys, node_masks = self.nodes.compact()
        edges = np.concatenate([np.empty((0, 2), np.int64), *self.edges])
        universe, inverse = np.unique(np.concatenate([node_keys, edges.ravel()]), return_inverse=True)
        ends = inverse[len(node_keys) :].reshape(-1, 2)
        roots = _components(len(universe), ends[:, 0], ends[:, 1])
        masks = np.zeros(len(universe), np.int64)
        masks[inverse[: len(node_keys)]] = node_masks  # node keys are distinct
        _, component_masks = _or_by_key(roots, masks)
        return np.concatenate([component_masks[component_masks != 0], *self.loose])


def _documents_sensitive(masks: np.ndarray) -> np.ndarray:
    holds = (masks & _ID_DOCUMENT) != 0
    return np.where(holds, masks | CATEGORY_BITS["specific_identity"], masks) & ~_ID_DOCUMENT


def _counts(masks: np.ndarray) -> Counts:
    return Counts(
        personal=int(((masks & PERSONAL_BIT) != 0).sum()),
        sensitive=int(((masks & SENSITIVE_MASK) != 0).sum()),
        categories={name: int(((masks & CATEGORY_BITS[name]) != 0).sum()) for name in CATEGORIES},
    )


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
