"""Names and column names as Chinese enterprise exports write them, on Faker zh_CN / zh_TW people (data the
project did not write): surnames beyond the common hundred (傅, 赖, 洪, 萧, 阎, compound and Taiwanese ones),
names with a middle dot, names in sentences, a name split over two columns, and columns named in pinyin
initials or abbreviations (xm, sjhm, sfzh, zdmc, csrq, dz, yhkh; nm, cust_name, receiver_name, diag, dx)."""

from __future__ import annotations

import datetime

import pyarrow as pa
import pytest
from detector_support import ADULT_ID, card, categories, entities
from export_gate.detection.recognizers import terms
from faker import Faker


@pytest.fixture(scope="module")
def fake() -> Faker:
    Faker.seed(11)
    return Faker(["zh_CN", "zh_TW"])


def _names(fake: Faker, n: int) -> list[str]:
    return [fake.name() for _ in range(n)]


@pytest.mark.parametrize("surname", ["傅", "赖", "洪", "萧", "阎", "欧阳", "司马", "張簡", "范姜", "陳"])
def test_surnames_beyond_the_common_hundred(surname: str) -> None:
    assert entities("patient_name", [f"{surname}明华"]) == [{"PERSON"}]
    assert entities("remark", [f"患者{surname}明华，男"]) == [{"PERSON"}]


@pytest.mark.parametrize(
    "column", ["xm", "nm", "cust_name", "receiver_name", "consignee_name", "khxm", "lxr", "customs.buyer_name"]
)
def test_name_columns_named_in_pinyin_or_abbreviated(fake: Faker, column: str) -> None:
    names = _names(fake, 200)
    assert all("PERSON" in found for found in entities(column, names)), column


def test_names_with_a_middle_dot(fake: Faker) -> None:
    names = ["阿依古丽·买买提", "艾力•吐尔逊", "玛丽・居里", "努尔·阿不都拉"]
    assert entities("name", names) == [{"PERSON"}] * 4
    assert entities("remark", [f"联系人：{n}，已回电" for n in names]) == [{"PERSON"}] * 4


@pytest.mark.parametrize(
    "template",
    [
        "我叫{n}，订单一直没到",
        "收货人写{n}就行",
        "本人{n}，申请退款",
        "客户名叫{n}",
        "我的名字是{n}",
        "收件人改成{n}，电话不变",
        "持卡人：{n}",
        "寄件人{n}",
        "家属{n}陪同就诊",
        "My name is {n}",
        "this is {n} speaking",
    ],
)
def test_names_in_sentences(fake: Faker, template: str) -> None:
    texts = [template.format(n=fake.name()) for _ in range(50)]
    assert all("PERSON" in found for found in entities("chat_message", texts))


def test_english_names_said_in_a_sentence() -> None:
    """spaCy's small model misses some English names in a sentence (about one in fifteen after "my name is");
    saying one's name says it is one."""
    english = Faker("en_US")
    english.seed_instance(11)
    texts = [f"my name is {english.name()} and my order is late" for _ in range(100)]
    assert all("PERSON" in found for found in entities("chat_message", texts))


def test_a_name_split_over_two_columns(fake: Faker) -> None:
    family = [fake.last_name() for _ in range(100)]
    given = [fake.first_name() for _ in range(100)]
    for column in ("family_name", "last_name", "姓", "xing"):
        assert all("PERSON" in found for found in entities(column, family)), column
    for column in ("given_name", "first_name", "名", "ming"):
        assert all("PERSON" in found for found in entities(column, given)), column
    assert entities("family_name", ["Smith"]) == [{"PERSON"}]
    assert entities("first_name", ["无", "-"]) == [set(), set()]


def test_chat_text_without_a_name_stays_without_one() -> None:
    texts = ["我是客服小助手", "客户反馈物流太慢", "本人已收到货", "我叫了快递上门"]
    # a cue word, then a word whose first character is also a surname (公, 门, 信, 江, 全, 管): no name
    texts += ["我是公司采购", "签收人是门卫", "收件人改成公司前台", "订货人信息有误", "我是江苏的", "患者全身乏力"]
    texts += ["使用客户管理系统", "My name is on the order"]
    assert [t for t, found in zip(texts, entities("chat_message", texts), strict=True) if "PERSON" in found] == []


def test_a_name_beside_a_word_that_is_none_still_counts(fake: Faker) -> None:
    texts = [f"我是公司采购，收货人写{fake.name()}就行" for _ in range(50)]
    texts += [f"联系人我是公司{fake.name()}" for _ in range(50)]  # a cut word leaves no new cue behind it
    found = ["PERSON" in hits for hits in entities("chat_message", texts)]
    assert found == [True] * 50 + [False] * 50


def test_general_chinese_text_holds_no_name(fake: Faker) -> None:
    """Faker's zh_CN sentences are common words: 客户管理, 客户关系, 相关 ... after a cue word read as names
    before words of other text were told apart (not_names.txt)."""
    texts = [fake.sentence() for _ in range(1500)] + [fake.text(120) for _ in range(300)]
    assert not any("PERSON" in found for found in entities("chat_message", texts))


def test_words_that_are_no_names_begin_with_a_surname() -> None:
    """not_names.txt lists words the name pattern would read as a name after a cue: a word that starts with no
    surname never is one, and would only cost the scan time."""
    surnames = terms("surnames_zh")
    assert [word for word in terms("not_names") if not word.startswith(surnames)] == []


@pytest.mark.parametrize(
    ("column", "values", "entity"),
    [
        ("sjhm", ["13812345678"], "CN_MOBILE"),
        ("lxdh", ["13812345678"], "CN_MOBILE"),
        ("sfzh", [ADULT_ID], "CN_RESIDENT_ID"),
        ("zjhm", [ADULT_ID], "CN_RESIDENT_ID"),
        ("dz", ["上海市黄浦区南京东路"], "CN_ADDRESS"),
        ("jtdz", ["上海市黄浦区南京东路"], "CN_ADDRESS"),
        ("yhkh", [card("622202", 19)], "BANK_CARD"),
        ("hzhm", ["E12345678"], "CN_PASSPORT"),
        ("csrq", ["1990-01-02"], "BIRTH_DATE"),
        ("zdmc", ["慢性胃炎"], "HEALTH_RECORD"),
        ("dx", ["E11.9"], "ICD10_CODE"),
        ("diag", ["rash after dose 2"], "HEALTH_RECORD"),
    ],
)
def test_columns_named_in_pinyin_initials_or_abbreviations(column: str, values: list[str], entity: str) -> None:
    assert entity in entities(column, values)[0]


def test_pinyin_health_and_account_columns_carry_their_categories() -> None:
    assert categories("zdmc", ["急性胃炎", "无"]) == [{"medical_health"}, set()]
    assert categories("yhkh", [card("622202", 19)]) == [{"financial_account"}]
    assert categories("csrq", [datetime.date(2020, 1, 2)], dtype=pa.date32()) == [{"minor_under_14"}]


@pytest.mark.parametrize("column", ["csrq", "dob", "born", "bdate", "出生日期", "birth_dt"])
@pytest.mark.parametrize("dtype", [pa.date32(), pa.timestamp("us")])
def test_birth_dates_in_a_typed_date_column(fake: Faker, column: str, dtype: pa.DataType) -> None:
    """Children identified only by a birth date: a typed date column named for births is read, not skipped."""
    children = [fake["zh_CN"].date_of_birth(minimum_age=1, maximum_age=12) for _ in range(20)]
    adults = [fake["zh_CN"].date_of_birth(minimum_age=20, maximum_age=80) for _ in range(20)]
    values = [d if dtype == pa.date32() else datetime.datetime.combine(d, datetime.time()) for d in children + adults]
    found = categories(column, values, dtype=dtype, as_of=datetime.date.today())
    assert found == [{"minor_under_14"}] * 20 + [set()] * 20


@pytest.mark.parametrize("column", ["gl_account", "account_code", "公积金缴存额", "housing_fund_amount", "会计科目"])
def test_amount_code_and_ledger_columns_are_not_financial_accounts(fake: Faker, column: str) -> None:
    """A column whose name says account but holds ledger codes or amounts is no one's financial account."""
    values = [f"{fake['zh_CN'].random_int(1001, 6999)}.{fake['zh_CN'].random_int(1, 99):02d}" for _ in range(30)]
    values += [str(fake["zh_CN"].pydecimal(left_digits=6, right_digits=2, positive=True)) for _ in range(30)]
    assert categories(column, values) == [set()] * 60


@pytest.mark.parametrize("column", ["bank_account", "公积金账号", "acct_no", "yhkh", "银行卡号"])
def test_account_columns_are_financial_accounts(fake: Faker, column: str) -> None:
    values = [fake["zh_CN"].numerify("62############") for _ in range(10)]
    assert categories(column, values) == [{"financial_account"}] * 10
