"""The detection engine: full coverage, the shape of its answer, input types, planning, Presidio agreement,
worker re-creation and linear-time matching on hostile input."""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pytest
from detector_support import ADULT_ID, AS_OF, detector, resident_id
from detector_support import entities as detector_entities
from export_gate.detection.detect import PRESIDIO_MIN_SCORE, Detector, DetectorSettings, Findings, Hit
from export_gate.detection.profile import column_key

MOBILE = "13812345678"


def _rows_and_hits(found: Findings) -> tuple[np.ndarray, list[tuple[Hit, ...]]]:
    return found.rows, found.per_row()


def test_every_cell_is_checked_not_only_the_sample() -> None:
    values = pa.array(["N/A"] * 50_000 + [f"call {MOBILE}"])
    found = detector()
    plan = found.plan("remark", values.type, values.slice(0, 1000))
    rows, hits = _rows_and_hits(found.detect(plan, values, AS_OF))
    assert rows.tolist() == [50_000]
    assert hits[0][0].identifier == f"CN_MOBILE:+86{MOBILE}"


def test_rows_are_ascending_int64_and_equal_values_share_one_group() -> None:
    values = pa.array([MOBILE, None, "nothing", f"+86 {MOBILE[:3]} {MOBILE[3:7]} {MOBILE[7:]}", MOBILE, ADULT_ID])
    found = detector()
    detected = found.detect(found.plan("phone", values.type, values), values, AS_OF)
    rows, hits = _rows_and_hits(detected)
    assert rows.dtype == np.int64
    assert rows.tolist() == [0, 3, 4, 5]
    assert detected.groups.tolist() == [0, 1, 0, 2]  # the same value: analysed once, one group
    assert detected.hit_group.tolist() == [0, 1, 2]
    assert hits[0] is hits[2]
    assert hits[0] == hits[1]  # the same number written another way: equal hits, one identifier
    assert hits[3][0].entity == "CN_RESIDENT_ID"
    assert detected.entities() == {"CN_MOBILE", "CN_RESIDENT_ID"}


def test_a_column_of_mostly_distinct_values_is_analysed_row_by_row() -> None:
    # Nearly all distinct (order numbers): rows are analysed without dictionary encoding, a group per row; a
    # repeated value gives the same identifier, so the people stay the same.
    mobiles = [f"1381234{i:04d}" for i in range(10_000)]
    values = pa.array([*mobiles, None, mobiles[7], f"SO{10**15}", mobiles[7]])
    found = detector()
    plan = found.plan("phone", values.type, values.slice(0, 1000))
    assert plan.distinct  # decided once from the sample
    assert not found.plan("phone", values.type, pa.array(mobiles[:500] * 2)).distinct
    detected = found.detect(plan, values, AS_OF)
    rows, hits = _rows_and_hits(detected)
    assert rows.tolist() == [*range(10_000), 10_001, 10_003]
    assert detected.groups.tolist() == list(range(10_002))
    assert hits[7] == hits[-2] == hits[-1] != hits[8]
    assert hits[-1][0].identifier == f"CN_MOBILE:+86{mobiles[7]}"
    grouped = found.detect(dataclasses.replace(plan, distinct=False), values, AS_OF)  # the same findings by value
    assert grouped.rows.tolist() == detected.rows.tolist() and grouped.per_row() == detected.per_row()
    assert grouped.groups[-2] == grouped.groups[-1] == grouped.groups[7]


def test_a_column_named_for_an_identifier_finds_it_whole_and_inside_text() -> None:
    # The recognizer a column's name expects runs first as a whole-value pass; values holding it inside text
    # must keep their own finding at their own row (values in and out of order, enough for the Arrow path).
    values = ["电话13812345678", "13812345679", "+86 139 1234 5678", "手机：13812345677", "tel 13912345670 x"] * 40
    found = detector()
    detected = found.detect(found.plan("mobile", pa.string(), pa.array(values)), pa.array(values), AS_OF)
    by_row = dict(zip(detected.rows.tolist(), detected.per_row(), strict=True))
    expected = ["13812345678", "13812345679", "13912345678", "13812345677", "13912345670"]
    assert [by_row[row][0].identifier for row in range(len(values))] == [f"CN_MOBILE:+86{e}" for e in expected] * 40


@pytest.mark.parametrize(
    "make",
    [
        lambda v: pa.array(v),
        lambda v: pa.array(v, pa.large_string()),
        lambda v: pa.array(v).dictionary_encode(),
        lambda v: pa.chunked_array([pa.array(v[:2]), pa.array(v[2:])]),
    ],
    ids=["string", "large_string", "dictionary", "chunked"],
)
def test_arrow_layouts_give_the_same_answer(make: Callable[[list], pa.Array]) -> None:
    values = [MOBILE, "x", None, ADULT_ID, MOBILE]
    found = detector()
    array = make(values)
    rows, hits = _rows_and_hits(found.detect(found.plan("remark", array.type, array), array, AS_OF))
    assert rows.tolist() == [0, 3, 4]
    assert [h[0].entity for h in hits] == ["CN_MOBILE", "CN_RESIDENT_ID", "CN_MOBILE"]


def test_all_null_and_empty_columns() -> None:
    found = detector()
    for values in (pa.array([None, None], pa.string()), pa.array([], pa.string())):
        rows, hits = _rows_and_hits(found.detect(found.plan("remark", values.type, values), values, AS_OF))
        assert (rows.tolist(), hits) == ([], [])


@pytest.mark.parametrize(
    ("column", "dtype", "kind"),
    [
        ("amount", pa.float64(), "skip"),
        ("is_vip", pa.bool_(), "skip"),
        ("created_at", pa.timestamp("s"), "skip"),
        ("customer_no", pa.int64(), "structured"),
        ("lng", pa.float64(), "coordinate"),
        ("birth_date", pa.date32(), "birth_date"),
        ("patientName", pa.string(), "person_name"),
    ],
)
def test_plan_kind_from_name_and_type(column: str, dtype: pa.DataType, kind: str) -> None:
    assert detector().plan(column, dtype, pa.array([], dtype)).kind == kind


def test_free_text_plan_uses_ner_only_for_english_text_and_reason_has_no_values() -> None:
    found = detector()
    english = pa.array([f"Reporter Mary Johnson phoned from {MOBILE} about the case."] * 3)
    chinese = pa.array([f"患者自述近三天头痛，联系电话{MOBILE}，已就诊。"] * 3)
    short = pa.array(["A1", "B2"])
    plans = [found.plan(c, a.type, a) for c, a in (("narrative", english), ("narrative", chinese), ("code", short))]
    assert [(p.kind, p.ner) for p in plans] == [("free_text", True), ("free_text", False), ("structured", False)]
    assert all(MOBILE not in p.reason and "Mary" not in p.reason for p in plans)
    assert "CN_MOBILE" in plans[0].reason and "PERSON" in plans[0].reason


def test_presidio_is_loaded_only_when_a_plan_needs_ner() -> None:
    fresh = Detector()
    values = pa.array([MOBILE, ADULT_ID])
    fresh.detect(fresh.plan("phone", values.type, values), values, AS_OF)
    assert "analyzer" not in fresh.__dict__


def test_presidio_with_our_yaml_registry_agrees_with_the_vectorised_scan() -> None:
    found = detector()
    texts = [f"身份证 {ADULT_ID}", f"手机 {MOBILE}", "邮箱 zhang.san@example.com", "确诊糖尿病", "no personal data"]
    presidio = [
        {r.entity_type for r in found.analyzer.analyze(t, language="en", score_threshold=PRESIDIO_MIN_SCORE)}
        - {"PERSON"}
        for t in texts
    ]
    array = pa.array(texts)
    plan = found.plan("remark", array.type, array)
    rows, hits = _rows_and_hits(found.detect(plan, array, AS_OF))
    ours: list[set[str]] = [set() for _ in texts]
    for row, found_hits in zip(rows.tolist(), hits, strict=True):
        ours[row] = {h.entity for h in found_hits}
    assert presidio == ours
    assert ours[:4] == [{"CN_RESIDENT_ID"}, {"CN_MOBILE"}, {"EMAIL_ADDRESS"}, {"MEDICAL_TERM", "HEALTH_STATEMENT"}]


def test_detector_pickles_as_its_settings_and_version_is_stable() -> None:
    settings = DetectorSettings(identity_document_sensitive=True)
    original = Detector(settings)
    copy = pickle.loads(pickle.dumps(original))
    assert copy.settings == settings and copy.version == original.version
    assert Detector(settings).version == original.version
    assert Detector().version != original.version


def test_column_keys() -> None:
    assert column_key("items[].phone") == "items_phone"
    assert column_key("patient.name") == "patient_name"
    assert column_key("a.b.reporterName") == "b_reporter_name"
    assert column_key("患者 姓名") == "患者_姓名"


def test_context_words_match_whole_name_tokens() -> None:
    found = detector()
    unknown = "17421234567"  # a block neither phonenumbers nor cn_mobile_prefixes.txt knows: only a phone column's
    values = pa.array([unknown])  # context accepts it
    for column, expected in (("contact_tel", [0]), ("hotel_code", [])):
        rows = found.detect(found.plan(column, values.type, values), values, AS_OF).rows
        assert rows.tolist() == expected


@pytest.mark.parametrize(
    "cell",
    [
        "1" * 1_000_000,
        "1-" * 500_000,
        ("13812345678 " * 10 + "x") * 8_000,
        "(" * 300_000 + "+86" + ")" * 300_000,
        "a@" * 500_000,
    ],
    ids=["digits", "digit-dash", "many-mobiles", "brackets", "at-signs"],
)
def test_hostile_megabyte_cells_do_not_hide_the_next_rows_findings(cell: str) -> None:
    """A megabyte of hostile text in one cell is scanned (RE2: linear time; ``bench_detect.py --hostile`` prints
    the seconds and the 1 -> 2 MB ratio) and the identifier in the next row is still found."""
    found = detector()
    values = pa.array([cell, ADULT_ID])
    plan = found.plan("remark", values.type, values)
    rows = found.detect(plan, values, AS_OF).rows
    assert 1 in rows.tolist()


def test_resident_ids_in_bulk_match_the_reference_library() -> None:
    from stdnum.cn import ric

    rng = np.random.default_rng(7)
    candidates = [
        resident_id(f"{region}{year}{month:02d}{day:02d}{seq:03d}")
        for region, year, month, day, seq in zip(
            rng.choice(["110105", "110101", "310104"], 2000),  # no year limits in stdnum
            rng.integers(1930, 2024, 2000),
            rng.integers(1, 13, 2000),
            rng.integers(1, 29, 2000),
            rng.integers(0, 1000, 2000),
            strict=True,
        )
    ]
    candidates += [c[:-1] + "0" for c in candidates[:500]]  # many now carry a wrong check character
    values = pa.array(candidates)
    found = detector()
    rows = found.detect(found.plan("id_card", values.type, values), values, AS_OF).rows
    assert rows.tolist() == [i for i, c in enumerate(candidates) if ric.is_valid(c)]


# --- vectorised shortcuts agree with the slow way ----------------------------------------------------------------


def test_digits_only_on_bytes_equals_the_regex_replace() -> None:
    import pyarrow.compute as pc
    from export_gate.detection.validators import digits_only

    values = ["+86 138-0013-8000", None, "", "１３８", "电话13800138000号", "(010) 8888-6666", "abc", "6222 0012"]
    for array in (pa.array(values), pa.array(values).slice(2), pa.array(["0123", None])):
        expected = pc.replace_substring_regex(array, pattern=r"[^0-9]", replacement="")
        assert digits_only(array).to_pylist() == expected.to_pylist()


def test_luhn_on_byte_matrices_matches_the_reference_library() -> None:
    from export_gate.detection.validators import luhn
    from stdnum import luhn as reference

    rng = np.random.default_rng(11)
    numbers = ["".join(map(str, rng.integers(0, 10, n))) for n in rng.integers(12, 20, 3000)]
    assert luhn(pa.array(numbers)).tolist() == [reference.is_valid(n) for n in numbers]
    assert luhn(pa.array(["4111x11111111111", "4111111111111111"])).tolist() == [False, True]


def test_each_recognizer_still_finds_its_match_after_another_matched_in_the_same_cell() -> None:
    # The union cascade re-checks which values can still match after a recognizer matched: a cell with an ID
    # and a phone number, and a cell with an address and a disease, must keep both findings.
    cell = f"身份证{ADULT_ID}，电话{MOBILE}"
    assert detector_entities("remark", [cell, "北京市朝阳区建国路88号，患糖尿病"]) == [
        {"CN_RESIDENT_ID", "CN_MOBILE"},
        {"CN_ADDRESS", "MEDICAL_TERM"},
    ]


def test_plain_values_of_a_length_no_pattern_has_are_skipped_but_fitting_ones_found() -> None:
    from detector_support import card

    values = [ADULT_ID, card("622848", 16), card("622848", 19), MOBILE, "C0000012345", "SO2026000123"]
    assert detector_entities("ref_no", values) == [
        {"CN_RESIDENT_ID"},
        {"BANK_CARD"},
        {"BANK_CARD"},
        {"CN_MOBILE"},
        set(),
        set(),
    ]


def test_nfkc_is_skipped_only_where_it_changes_nothing() -> None:
    wide = MOBILE.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert detector_entities("remark", [f"联系电话：{wide}", f"联系电话{wide}", "联系电话：无"]) == [
        {"CN_MOBILE"},
        {"CN_MOBILE"},
        set(),
    ]


def test_shapes_of_plain_values_agree_with_re2_for_every_recognizer() -> None:
    # Plain values (ASCII letters and digits) skip the regex: the shapes read from each recognizer's regex must
    # accept exactly the values RE2 matches as a whole, and "matches no plain text" must never be wrong.
    import pyarrow.compute as pc
    import re2
    from export_gate.detection.shapes import PlainValues, alnum_shapes, matches_no_plain_text

    rng = np.random.default_rng(5)
    alphabet = np.frombuffer(b"0123456789" * 6 + b"ABCDEGHKMPSXZabx", dtype=np.uint8)
    found = detector()
    for rec in found.recognizers:
        regex = found._regex(rec, in_context=True)
        shapes = alnum_shapes(regex)
        values = ["".join(map(chr, rng.choice(alphabet, rng.integers(1, 21)))) for _ in range(3000)]
        for shape in shapes or ():  # values of each shape, and the same with one byte changed
            for _ in range(40):
                spelt = [chr(rng.choice(sorted(allowed))) for allowed in shape]
                values.append("".join(spelt))
                spelt[rng.integers(len(spelt))] = chr(rng.choice(alphabet))
                values.append("".join(spelt))
        array = pa.array(values)
        expected = np.array([re2.fullmatch(regex, v) is not None for v in values])
        searched = np.array([re2.search(regex, v) is not None for v in values])
        if matches_no_plain_text(regex):
            assert not searched.any(), rec.name
        if shapes is not None:
            digits = pc.ascii_is_decimal(array).to_numpy(zero_copy_only=False)
            plain = PlainValues(array, np.arange(len(values)), digits)
            assert plain.match(shapes, np.ones(len(values), dtype=bool)).tolist() == expected.tolist(), rec.name


def test_shapes_model_anchors_case_and_unbounded_repeats() -> None:
    from export_gate.detection.shapes import alnum_shapes, matches_no_plain_text

    assert alnum_shapes(r"(?i:\bkb\b)") == ((frozenset(b"kK"), frozenset(b"bB")),)
    assert alnum_shapes(r"\Ba|a\Bb|^c$") == ((frozenset(b"c"),), (frozenset(b"a"), frozenset(b"b")))  # \B: inside only
    assert alnum_shapes(r"[0-9]+") is None  # infinitely many: the regex decides
    assert alnum_shapes(r"\p{Han}+|x@y") == ()  # needs a CJK character or '@': no plain value
    assert matches_no_plain_text(r"[a-z0-9.]+@[a-z]+\.[a-z]{2,}") and not matches_no_plain_text(r"[a-z]+[0-9]*")


def test_term_words_of_plain_values_agree_with_re2() -> None:
    # Plain values with a letter look their lower-case form up among the words a term list spells there; the
    # lookup must find exactly what RE2 finds, and a regex that can match elsewhere in a value is not read so.
    import re2
    from export_gate.detection.shapes import alnum_words

    found = detector()
    values = ["Diabetes", "DIABETES", "diabetes2", "xdiabetes", "Buddhist", "Prescribed", "aids", "AIDS", "C0001"]
    for rec in (r for r in found.recognizers if r.span_free):
        regex = found._regex(rec, in_context=False)
        words = alnum_words(regex)
        if words is not None:
            assert [v.lower() in words for v in values] == [re2.search(regex, v) is not None for v in values]
    assert alnum_words(r"(?i:\bflu\b)") == {"flu"}
    assert alnum_words(r"\bflu") is None and alnum_words(r"\bFlu\b") is None and alnum_words(r"\b\b") is None


def test_what_every_match_needs_is_never_more_than_a_match_holds() -> None:
    # Values short of a recognizer's needs (digits, capitals, '@') skip its regex: any value RE2 finds a
    # match in must hold them.
    import re2
    from detector_support import card
    from export_gate.detection.shapes import ValueBytes, needs

    rng = np.random.default_rng(3)
    pieces = [ADULT_ID, MOBILE, card("622848", 16), "E12345678", "H12345678", "A12(3)", "ab@x.cn", "1.2.3.4",
              "fe80::1", "39.9042,116.4074", "E11.9", "沪A12345", "粤B·D12345", "110105491231002", "+86 ", "-",
              " ", "，", "护照", "通行证", "ICD", "x", "Z", "0"]  # fmt: skip
    values = ["".join(rng.choice(pieces, rng.integers(1, 5))) for _ in range(3000)]
    counts = ValueBytes(pa.array(values))
    found = detector()
    for rec in found.recognizers:
        for in_context in (False, True):
            regex = found._regex(rec, in_context)
            holds = counts.can_hold(needs(regex))
            matched = np.array([re2.search(regex, v) is not None for v in values])
            missed = [v for v, m, h in zip(values, matched, holds, strict=True) if m and not h]
            assert not missed, (rec.name, missed[:3])


def test_spans_inside_chinese_text_keep_every_finding_that_does_not_overlap() -> None:
    # Spans are byte offsets for every recognizer alike: an IPv6 address and an e-mail after CJK characters
    # do not overlap and both count; a passport number counts after its context word 20 characters back.
    cells = [
        "广东省深圳市南山区科技园2001:db8:0:0:0:0:2:1，cmrxr628@qq.com/",
        "客户护照号码为：E12345678，已核验",
        "客户编号E12345678，已核验" + "。" * 20 + "护照",
    ]
    assert detector_entities("remark", cells) == [{"IP_ADDRESS", "EMAIL_ADDRESS"}, {"CN_PASSPORT"}, set()]
