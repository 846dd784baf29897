"""Realistic values for the labelled samples, vectorised (numpy, pyarrow): people, valid identifiers, invalid
look-alikes, and the ways people write mobile numbers.

A person is a number; every attribute (name, birth date, resident ID, mobile, e-mail, bank card) is a hash of
that number, so the same person looks the same on every row and in every file while no table of people is held
in memory. Identifiers are really valid (GB 11643 check character over a region code python-stdnum accepts
for the birth year, Luhn, allocated mobile prefixes); decoys are really invalid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property, lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from stdnum.cn import ric

SURNAMES = [
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"), ("黄", "huang"),
    ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"),
    ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("高", "gao"), ("林", "lin"), ("罗", "luo"), ("郑", "zheng"),
    ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"),
    ("曹", "cao"), ("彭", "peng"), ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"), ("袁", "yuan"),
    ("潘", "pan"), ("蒋", "jiang"), ("蔡", "cai"), ("欧阳", "ouyang"), ("司马", "sima"),
]  # fmt: skip
GIVEN = [
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


# --- people: every attribute is a hash of the person's number ------------------------------------------------


@dataclass(frozen=True)
class Context:
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


def uniform(values: np.ndarray, salt: int, seed: int) -> np.ndarray:
    return (_hash(values, salt, seed) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def choice(values: np.ndarray, salt: int, seed: int, size: int) -> np.ndarray:
    return (_hash(values, salt, seed) % np.uint64(size)).astype(np.int64)


_NAMES = [s + g for s, _ in SURNAMES for g, _ in GIVEN]
_PINYIN = [sp + gp for _, sp in SURNAMES for _, gp in GIVEN]
_INITIALS = [f"{sp[0]}.{gp[0]}.".upper() for _, sp in SURNAMES for _, gp in GIVEN]


class People:
    """Attributes of the people on a chunk's rows (one entry per row), each computed only when a column uses it."""

    def __init__(self, context: Context, gid: np.ndarray, *, kids: float, teens: float = 0.05, max_age: int = 85):
        self.context, self.gid, self.seed = context, gid, context.seed
        self.kids, self.teens, self.max_age = kids, teens, max_age

    def _choice(self, salt: int, size: int) -> np.ndarray:
        return choice(self.gid, salt, self.seed, size)

    @cached_property
    def name_index(self) -> np.ndarray:
        return self._choice(1, len(_NAMES))

    @cached_property
    def name(self) -> pa.Array:
        return pick(_NAMES, self.name_index)

    @cached_property
    def initials(self) -> pa.Array:
        return pick(_INITIALS, self.name_index)

    @cached_property
    def birth(self) -> np.ndarray:
        """Birth dates (datetime64[D]), a few days away from the 14-year boundary (see export_gate.samples.exports)."""
        band, spread = uniform(self.gid, 2, self.seed), uniform(self.gid, 3, self.seed)
        kid_days = 30 + spread * (14 * 365 - 4 - 30)
        teen_days = 14 * 366 + 4 + spread * (18 * 365 - 14 * 366 - 4)
        adult_days = 18 * 366 + spread * ((self.max_age - 18) * 365)
        days = np.where(band < self.kids, kid_days, np.where(band < self.kids + self.teens, teen_days, adult_days))
        return np.datetime64(self.context.as_of, "D") - days.astype(np.int64).astype("timedelta64[D]")

    @cached_property
    def ymd(self) -> np.ndarray:
        return ymd(self.birth)

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
        domain = pick(_EMAIL_DOMAINS, self._choice(7, len(_EMAIL_DOMAINS)))
        return join(pick(_PINYIN, self.name_index), text(self.gid), "@", domain)

    @cached_property
    def address(self) -> pa.Array:
        region = pick([_REGIONS[code] for code in _REGION_CODES], self._choice(13, len(_REGION_CODES)))
        return join(
            region,
            pick(_ROADS, self._choice(8, len(_ROADS))),
            text(1 + self._choice(9, 300)),
            "号",
            text(1 + self._choice(10, 20)),
            "栋",
            text(101 + self._choice(11, 2000)),
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


def ymd(days: np.ndarray) -> np.ndarray:
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    return years * 10000 + months * 100 + dom


# --- identifiers and decoys ----------------------------------------------------------------------------------

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.array(list("10X98765432"))


def _digits(numbers: np.ndarray, width: int) -> np.ndarray:
    """Decimal digits of non-negative numbers below 10**width, as an (n, width) int64 matrix (via Arrow text)."""
    padded = pc.utf8_lpad(text(numbers), width, "0")
    data = np.frombuffer(padded.buffers()[2], dtype=np.uint8, count=len(numbers) * width)
    return data.reshape(len(numbers), width).astype(np.int64) - 48


def _id_check_index(id17: np.ndarray) -> np.ndarray:
    return (_digits(id17, 17) @ _ID_WEIGHTS) % 11


def resident_id(id17: np.ndarray, *, lower_x: np.ndarray, wrong: bool = False) -> pa.Array:
    """GB 11643 numbers; ``wrong`` gives each one a check character that does not match (a decoy)."""
    index = _id_check_index(id17)
    if wrong:
        index = (index + 1 + id17 % 10) % 11
    check = _ID_CHECK[index]
    check = np.where(lower_x & (check == "X"), "x", check)
    return join(text(id17), pa.array(check))


_LUHN_DOUBLED = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.int64)


def _luhn_digit(payload: np.ndarray, width: int) -> np.ndarray:
    """The Luhn check digit for ``width``-digit payloads (the digit appended after them)."""
    digits = _digits(payload, width)
    doubled = digits[:, width - 1 :: -2]  # the payload's last digit is doubled once the check digit follows it
    total = _LUHN_DOUBLED[doubled].sum(axis=1) + digits[:, width - 2 :: -2].sum(axis=1)
    return (10 - total % 10) % 10


def bank_cards(gid: np.ndarray, seed: int) -> pa.Array:
    """Luhn-valid cards on real BINs (UnionPay 62, Visa, Mastercard), 16 or 19 digits, one per person."""
    which = choice(gid, 12, seed, len(_CARD_BINS))
    bins = np.array([b for b, _ in _CARD_BINS], dtype=np.int64)[which]
    lengths = np.array([n for _, n in _CARD_BINS], dtype=np.int64)[which]
    out = np.empty(len(gid), dtype=object)
    for length in (16, 19):
        rows = lengths == length
        payload = bins[rows] * 10 ** (length - 7) + gid[rows] % 10 ** (length - 7)
        out[rows] = (pc.binary_join_element_wise(text(payload), text(_luhn_digit(payload, length - 1)), "")).to_numpy(
            zero_copy_only=False
        )
    return pa.array(out, pa.string())


def luhn_failing(payload: np.ndarray, width: int, rng: np.random.Generator) -> pa.Array:
    """Numbers of ``width`` + 1 digits whose last digit is anything but the Luhn check digit."""
    wrong = (_luhn_digit(payload, width) + rng.integers(1, 10, len(payload))) % 10
    return join(text(payload), text(wrong))


def ean13(rng: np.random.Generator, n: int) -> pa.Array:
    """EAN-13 product codes with a correct check digit (prefix 69: China)."""
    payload = 690 * 10**9 + rng.integers(0, 10**9, n)  # 12 digits
    digits = _digits(payload, 12)
    total = (digits * np.tile([1, 3], 6)).sum(axis=1)
    return join(text(payload), text((10 - total % 10) % 10))


def batch_numbers(context: Context, rng: np.random.Generator, n: int) -> pa.Array:
    """18 digits laid out like a resident ID (real region, real date) whose check character is wrong and
    whose Luhn check fails too: neither an ID nor a card."""
    region = _REGION_CODES[rng.integers(0, len(_REGION_CODES), n)]
    day = np.datetime64(context.as_of, "D") - rng.integers(1, 3000, n).astype("timedelta64[D]")
    id17 = region * 10**11 + ymd(day) * 1000 + rng.integers(0, 1000, n)
    real = _ID_CHECK[_id_check_index(id17)]
    real_digit = np.where(real == "X", -1, np.char.replace(real, "X", "0").astype(np.int64))
    luhn = _luhn_digit(id17, 17)
    last = (luhn + 1 + rng.integers(0, 9, n)) % 10
    last = np.where(last == real_digit, (last + 1) % 10, last)
    last = np.where(last == luhn, (last + 1) % 10, last)  # only when real was luhn - 1: now luhn + 1, not real
    return join(text(id17), text(last))


def order_numbers(context: Context, rng: np.random.Generator, n: int) -> pa.Array:
    """18-digit order numbers: order date + 9 random digits + a digit that fails Luhn (not a card)."""
    day = np.datetime64(context.as_of, "D") - rng.integers(0, 700, n).astype("timedelta64[D]")
    payload = ymd(day) * 10**9 + rng.integers(0, 10**9, n)
    return luhn_failing(payload, 17, rng)


def timestamps(context: Context, rng: np.random.Generator, n: int) -> tuple[pa.Array, np.ndarray]:
    """Order times as text and as epoch milliseconds (13 digits starting 17..: mobile-like prefixes)."""
    end = np.datetime64(context.as_of, "s")
    moments = end - rng.integers(1, 700 * 86400, n).astype("timedelta64[s]")
    text = pa.array(moments).cast(pa.string())
    return text, moments.astype(np.int64) * 1000 + rng.integers(0, 1000, n)


# --- mobile notations ----------------------------------------------------------------------------------------


def mobile_notations(mobile: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """The same numbers the ways people write them: plain, +86 with spaces or dashes, 0086, 86-, brackets,
    3-4-4 groups, full-width digits."""
    plain = text(mobile)
    a, b, c = (pc.utf8_slice_codeunits(plain, s, e) for s, e in ((0, 3), (3, 7), (7, 11)))
    full_width = _full_width(mobile)
    variants = [
        plain,
        join("+86 ", a, " ", b, " ", c),
        join("+86-", a, "-", b, "-", c),
        join("0086", plain),
        join("86-", plain),
        join("(+86)", plain),
        join(a, "-", b, "-", c),
        join(a, " ", b, " ", c),
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


def text(numbers: np.ndarray) -> pa.Array:
    return pa.array(numbers).cast(pa.string())


def pick(vocabulary: list[str], index: np.ndarray) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(index, pa.int32()), pa.array(vocabulary)).dictionary_decode()


def join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def where(present: np.ndarray, values: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(present), values, pa.nulls(len(values), values.type))


def pad(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    return join(prefix, pc.utf8_lpad(text(numbers), width, "0"))
