"""Sensitive categories (PIPL Art. 28 / GB/T 45574-2025), names, addresses and coordinates: true positives and
look-alikes, with the column context that decides many of them."""

from __future__ import annotations

import datetime
import random

import numpy as np
import pyarrow as pa
import pytest
import re2
from detector_support import AS_OF, categories, entities
from export_gate.detection import validators
from export_gate.detection.detect import YEAR_FIRST_DATE, DetectorSettings, _extracted_ints
from export_gate.detection.recognizers import load_recognizers, terms

MEDICAL = {"medical_health"}

# --- medical_health -----------------------------------------------------------------------------------------


def test_disease_symptom_and_drug_terms_in_chinese_and_english() -> None:
    values = [
        "患者2型糖尿病史十年",
        "近三天咳嗽，伴胸闷",
        "每日服用二甲双胍",
        "Known case of hypertension, on metformin.",
        "Complains of headache and nausea.",
    ]
    assert categories("remark", values) == [MEDICAL] * len(values)


def test_health_statements_in_free_text() -> None:
    values = ["去年确诊某罕见病，已住院治疗", "She was diagnosed with a rare condition.", "He is allergic to nuts."]
    assert categories("narrative", values) == [MEDICAL] * 3


@pytest.mark.parametrize(
    "lookalike",
    ["手机发热严重，屏幕闪烁", "Brush stroke painting class", "Metal fatigue test report", "季度销售报告"],
)
def test_medical_lookalikes(lookalike: str) -> None:
    assert categories("remark", [lookalike]) == [set()]


def test_icd10_codes_need_a_diagnosis_column_or_keyword() -> None:
    assert entities("icd10", ["E11.9", "I10", "无"]) == [
        {"ICD10_CODE", "HEALTH_RECORD"},
        {"ICD10_CODE", "HEALTH_RECORD"},
        set(),
    ]
    assert entities("product_code", ["E11.9", "A12"]) == [set(), set()]
    assert entities("remark", ["出院诊断编码 J18.9", "货架 J18.9"]) == [{"ICD10_CODE", "HEALTH_STATEMENT"}, set()]


def test_any_value_of_a_diagnosis_column_is_health_information_except_none() -> None:
    assert categories("诊断", ["某罕见病", "无", "-", None]) == [MEDICAL, set(), set(), set()]
    assert categories("adverse_event", ["rash after dose 2"]) == [MEDICAL]


# --- religion, biometrics, specific identity, financial accounts ---------------------------------------------


def test_religious_belief_from_terms_and_columns() -> None:
    assert categories("remark", ["本人信仰基督教", "He is a practising Buddhist"]) == [{"religious_belief"}] * 2
    assert categories("religion", ["天主教", "无"]) == [{"religious_belief"}, set()]


@pytest.mark.parametrize("lookalike", ["Christian Dior handbag", "Islamabad office", "清真餐厅订座"])
def test_religion_lookalikes(lookalike: str) -> None:
    assert categories("remark", [lookalike]) == [set()]


def test_biometric_columns_any_type() -> None:
    assert categories("face_image", [b"\x89PNG...", None], dtype=pa.binary()) == [{"biometric"}, set()]
    assert categories("fingerprint_template", ["AAECAwQF"]) == [{"biometric"}]
    assert categories("surface_area", ["AAECAwQF"]) == [set()]


def test_specific_identity_from_terms_and_columns() -> None:
    assert categories("remark", ["持有残疾证，二级"]) == [{"specific_identity"}]
    assert categories("disability_level", ["二级", "无"]) == [{"specific_identity"}, set()]
    assert categories("remark", ["请走残疾人专用通道"]) == [set()]


def test_account_numbers_by_column_context() -> None:
    assert categories("bank_account", ["6222021234567", "abc"]) == [{"financial_account"}, set()]
    assert categories("account_manager", ["李经理"]) == [set()]


# --- minor_under_14 -----------------------------------------------------------------------------------------


def _years_before(years: int, days: int = 0) -> datetime.date:
    return AS_OF.replace(year=AS_OF.year - years) + datetime.timedelta(days=days)


def test_birth_date_column_any_type_relative_to_as_of() -> None:
    dates = [_years_before(14), _years_before(14, days=1), _years_before(40)]
    minor = {"minor_under_14"}
    assert categories("birth_date", dates, dtype=pa.date32()) == [set(), minor, set()]
    assert categories("出生日期", [f"{d:%Y年%m月%d日}" for d in dates]) == [set(), minor, set()]
    assert categories("dob", [int(f"{d:%Y%m%d}") for d in dates]) == [set(), minor, set()]
    stamps = [datetime.datetime.combine(d, datetime.time(8)) for d in dates]
    assert categories("birthday", stamps, dtype=pa.timestamp("s")) == [set(), minor, set()]
    assert entities("birth_date", ["2099-01-01", "not a date"]) == [set(), set()]


def test_year_first_dates_read_off_bytes_as_the_regex_reads_them() -> None:
    """The byte reader of fixed shapes must give what the year-first regex extracts, or leave the text to it."""
    rng = random.Random(7)
    texts = ["1985-03-12", "1985/3/12", "1985年3月12日", "19850312", "1985-03-12 08:00", "1985.03/12", "1985-0312"]
    texts += ["198503121", "1985312", "", "12/03/1985", "2010-13-45", "1985-03-1x", "1985--3-12", "19850312abc"]
    texts += ["".join(rng.choice("0123456789-/.年月 x") for _ in range(rng.randint(6, 13))) for _ in range(5000)]
    texts += [
        f"{rng.randint(0, 9999):04d}{rng.choice('-/.')}{rng.randint(0, 99):02d}-{rng.randint(0, 99):02d}"
        for _ in range(500)
    ]
    array = pa.array(texts)
    year, month, day = validators.year_first_dates(array)
    regex = _extracted_ints(array, YEAR_FIRST_DATE)
    read = year >= 0
    assert read.sum() > 500  # the generated fixed shapes at least
    for mine, key in ((year, "y"), (month, "m"), (day, "d")):
        assert (mine[read] == regex[key][read]).all()
    assert set(np.flatnonzero(~read)) >= {texts.index("1985/3/12"), texts.index("1985-0312"), texts.index("1985312")}


def test_birth_dates_written_month_or_day_first() -> None:
    # A part above 12 says which is the day: both spellings of one adult and of one child are birth dates.
    assert entities("birth_date", ["03/15/1980", "15.03.1980", "15-03-1980"]) == [{"BIRTH_DATE"}] * 3
    assert categories("birth_date", ["11/20/2015", "20.11.2015", "03/15/1980"]) == [{"minor_under_14"}] * 2 + [set()]
    assert entities("birth_date", ["13/13/1980", "31/02/1980", "03/15/2099", "1980"]) == [set()] * 4


def test_ambiguous_written_dates_follow_the_column_or_count_high() -> None:
    # 07/06/2012 is 6 July 2012 month first (under 14 on AS_OF, 2026-06-15) but 7 June 2012 day first (14).
    boundary = "07/06/2012"
    assert categories("birth_date", [boundary]) == [{"minor_under_14"}]  # no evidence: either reading counts
    assert categories("birth_date", [boundary, "25/12/1990"]) == [set(), set()]  # the column writes day first
    assert categories("birth_date", [boundary, "12/25/1990"]) == [{"minor_under_14"}, set()]  # month first
    assert entities("birth_date", ["06/20/2026"]) == [set()]  # both readings after the export date


def test_age_column() -> None:
    assert categories("age", [13, 14, 40, None]) == [{"minor_under_14"}, set(), set(), set()]
    assert categories("年龄", ["8个月", "13岁", "35"]) == [{"minor_under_14"}, {"minor_under_14"}, set()]
    assert categories("age", [13.5, 14.0]) == [{"minor_under_14"}, set()]


def test_a_time_of_day_column_named_for_birth_is_not_a_birth_date() -> None:
    assert entities("出生时间", [datetime.time(8, 30)], dtype=pa.time32("s")) == [set()]


def test_as_of_moves_a_child_out_of_minor() -> None:
    birthday = _years_before(13)
    assert categories("birth_date", [birthday], dtype=pa.date32()) == [{"minor_under_14"}]
    next_year = AS_OF.replace(year=AS_OF.year + 1)
    assert categories("birth_date", [birthday], dtype=pa.date32(), as_of=next_year) == [set()]


# --- location -----------------------------------------------------------------------------------------------


def test_precise_coordinates_are_location_tracking() -> None:
    assert categories("lat", [31.230416, 31.23, None]) == [{"location_tracking"}, set(), set()]
    assert categories("remark", ["定位 31.230416,121.473701", "价格 12.50, 13.25"]) == [{"location_tracking"}, set()]
    assert categories("gps", ["31.230,121.473"]) == [{"location_tracking"}]


def test_chinese_street_addresses_are_personal_not_sensitive() -> None:
    rows = entities("remark", ["寄到广东省深圳市南山区科技园路1号", "总部在北京市朝阳区"])
    assert rows == [{"CN_ADDRESS"}, set()]
    assert entities("home_address", ["朝阳区建国路88号"]) == [{"CN_ADDRESS"}]
    assert categories("home_address", ["朝阳区建国路88号"]) == [set()]


# --- names --------------------------------------------------------------------------------------------------


def test_names_in_a_name_column() -> None:
    values = ["张伟", "欧阳娜娜", "阿卜杜·热合曼", "John Smith", "无", "12345"]
    assert entities("patient_name", values) == [{"PERSON"}] * 4 + [set(), set()]
    assert entities("reporter.name", ["李娜"]) == [{"PERSON"}]


@pytest.mark.parametrize("column", ["drug.name", "product_name", "file_name", "company_name"])
def test_other_names_are_not_people(column: str) -> None:
    assert "PERSON" not in entities(column, ["阿司匹林肠溶片"])[0]


def test_chinese_names_in_free_text_by_cue() -> None:
    rows = entities("remark", ["患者张伟，男，45岁", "联系人：欧阳娜娜", "王小明先生来电", "张江路店"])
    assert rows == [{"PERSON"}, {"PERSON"}, {"PERSON"}, set()]


def test_a_prefilter_matches_wherever_its_recognizer_does() -> None:
    """The one-pass union over term recognizers runs a recognizer's prefilter instead of its patterns: a text
    the patterns match and the prefilter missed would lose its finding. And a prefilter must be much cheaper."""
    rng = random.Random(3)
    surnames = terms("surnames_zh")
    roles = terms("name_cues")
    texts = [f"{rng.choice(roles)}{rng.choice(['', ':', '：', '： '])}{rng.choice(surnames)}明华" for _ in range(400)]
    texts += [f"请{rng.choice(surnames)}小{rng.choice(['先生', '女士', '同志'])}来电" for _ in range(400)]
    noise = ["".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(rng.randint(2, 30))) for _ in range(2000)]
    diseases = [*terms("icd10_zh"), *terms("medical_zh"), *terms("medical_en")]  # an automatic prefilter's terms
    texts += [f"{rng.choice(noise)}{rng.choice(diseases)}{rng.choice(noise)}" for _ in range(800)] + noise
    checked = 0
    for rec in load_recognizers():
        if rec.prefilter is None:
            continue
        patterns = re2.compile("|".join(f"(?:{p})" for p in rec.patterns + rec.context_patterns))
        prefilter = re2.compile(rec.prefilter)
        matched = [text for text in texts if patterns.search(text)]
        assert len(matched) >= 800, rec.name  # the generated texts do exercise the recognizer
        assert [text for text in matched if not prefilter.search(text)] == [], rec.name
        assert prefilter.programsize * 4 < patterns.programsize, rec.name
        checked += 1
    assert checked == 2  # cn_person_name_in_text's own, medical_term's derived from its term lists


#: The term lists of each recognizer made only of term lists (detectors/recognizers.yaml).
LISTS = {
    "medical_term": ("medical_zh", "medical_en", "icd10_zh", "icd10_en"),
    "health_statement": ("health_statements",),
    "religious_belief": ("religion_terms",),
    "specific_identity": ("specific_identity_terms",),
}


def test_script_tails_match_wherever_their_terms_do_in_values_of_their_script() -> None:
    """The term union looks for a term list's non-ASCII endings only in values with a non-ASCII character and
    for its ASCII endings only in values with an ASCII letter (recognizers.ScriptTails): a value a recognizer
    matches must be caught by the half its characters call for, whatever the mix of scripts."""
    rng = random.Random(5)
    noise = ["".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(rng.randint(0, 12))) for _ in range(500)]
    english = ["", "the patient said ", "follow-up: ", "no change; ", "Hx "]
    checked = 0
    for rec in load_recognizers():
        if rec.tails is None:
            continue
        patterns = re2.compile("|".join(f"(?:{p})" for p in rec.patterns))
        vocabulary = [w for name in LISTS[rec.name] for w in terms(name)]
        texts = [
            f"{rng.choice(noise)}{rng.choice(english)}{rng.choice(vocabulary)}{rng.choice(['', ' ', '。', ' ok'])}"
            f"{rng.choice(noise)}"
            for _ in range(3000)
        ]
        wide = re2.compile(rec.tails.wide) if rec.tails.wide else None
        ascii_ = re2.compile(rec.tails.ascii) if rec.tails.ascii else None
        missed = [
            text
            for text in texts
            if patterns.search(text)
            and not (not text.isascii() and wide is not None and wide.search(text))
            and not (any(c.isascii() and c.isalpha() for c in text) and ascii_ is not None and ascii_.search(text))
        ]
        assert sum(bool(patterns.search(text)) for text in texts) >= 2000, rec.name
        assert missed == [], rec.name
        checked += 1
    assert checked == len(LISTS)


def test_terms_of_either_script_are_found_in_mixed_text() -> None:
    values = ["患者自述 asthma 多年", "diagnosed with 糖尿病 last year", "Patient has asthma.", "已确诊糖尿病"]
    values.append("收货地址 Room 3")
    rows = entities("remark", values)
    assert ["MEDICAL_TERM" in found for found in rows] == [True, True, True, True, False]


def test_english_names_by_spacy_ner_only_in_free_text() -> None:
    values = [
        "Reporter Mary Johnson called about the case yesterday.",
        "Shipped via New York warehouse on Monday morning, all good.",
    ]
    assert ["PERSON" in found for found in entities("narrative", values)] == [True, False]
    no_ner = entities("narrative", values, settings=DetectorSettings(ner=False))
    assert ["PERSON" in found for found in no_ner] == [False, False]
