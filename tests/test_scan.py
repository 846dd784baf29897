"""The scan engine end to end on small hand-made tables: real detectors, real digests, real merging."""

from __future__ import annotations

import dataclasses
from datetime import date

import pyarrow as pa
import pytest
from export_gate.engine.local import scan_batches, scan_table
from export_gate.errors import InputError
from export_gate.model import CATEGORIES, ExportSubjects
from export_gate.people.digest import SubjectHasher
from export_gate.people.subjects import STRONG_IDENTIFIERS
from export_gate.people.union import merge
from export_gate.reading import read
from stdnum.cn import ric

AS_OF = date(2026, 6, 30)
HASHER = SubjectHasher(b"test-key-0123456789abcdef")


def resident_id(body17: str) -> str:
    return body17 + ric.calc_check_digit(body17 + "0")  # stdnum ignores the last character it is given


ADULT_ID = resident_id("11010519800101123")
CHILD_ID = resident_id("44030420180505002")  # born 2018: under 14 on AS_OF


def _people() -> pa.Table:
    """Five rows: rows 0 and 1 are one person (the same mobile written two ways, plus a shared ID on row 1
    and row 2), row 3 has a name only, row 4 nothing personal."""
    return pa.table(
        {
            "name": ["张伟", "张伟", "张伟", "李娜", None],
            "mobile": ["138 1234 5678", "+86 13812345678", None, None, None],
            "id_card": [None, ADULT_ID, ADULT_ID, None, None],
            "diagnosis": ["高血压", None, None, None, None],
            "order_no": ["2023100112345678", "2023100112345679", "2023100112345680", None, "2023100112345681"],
        }
    )


def _scan(table: pa.Table, **options: object):
    options.setdefault("as_of", AS_OF)
    options.setdefault("hasher", HASHER)
    options.setdefault("workers", 1)
    return scan_table(table, **options)


def test_inferred_subjects_link_rows_by_normalised_identifiers() -> None:
    result = _scan(_people())
    report = result.report
    assert report["rows"] == 5
    assert report["subjects"]["identified_by"] == STRONG_IDENTIFIERS
    # rows 0-2 are one person (mobile written two ways, ID shared), row 3 another, row 4 nobody
    assert report["subjects"]["personal"] == 2
    assert report["subjects"]["sensitive"] == 1
    assert report["categories"]["medical_health"]["subjects"] == 1
    assert set(report["categories"]) == set(CATEGORIES)
    assert report["columns"]["order_no"]["entities"] == {}
    assert sum(report["columns"]["mobile"]["entities"].values()) == 2
    assert report["columns"]["diagnosis"]["categories"] == {"medical_health": 1}
    assert len(result.subjects) == 2
    assert len(dict(result.subjects.aliases())) == 1  # the person's second identifier points at the first


def test_view_and_dictionary_layouts_give_the_same_report() -> None:
    """polars and DuckDB hand over string_view columns, pandas categoricals dictionaries: same people, same cells."""
    plain = _people()
    views = plain.cast(pa.schema([(name, pa.string_view()) for name in plain.column_names]))
    categorical = pa.table({name: views[name].dictionary_encode() for name in views.column_names})
    expected = _scan(plain).report
    for table in (views, categorical):
        report = _scan(table).report
        assert (report["subjects"], report["columns"]) == (expected["subjects"], expected["columns"])


def test_minor_from_resident_id_is_sensitive() -> None:
    result = _scan(pa.table({"id_card": [CHILD_ID, ADULT_ID]}))
    assert result.report["subjects"]["personal"] == 2
    assert result.report["categories"]["minor_under_14"]["subjects"] == 1


def test_identity_document_setting_follows_the_chosen_standard() -> None:
    from export_gate.detection.detect import DetectorSettings

    table = pa.table({"id_card": [ADULT_ID]})
    current = _scan(table).report
    assert current["subjects"]["sensitive"] == 0
    assert "GB/T 45574-2025" in current["settings"]["standard"]
    old = _scan(table, settings=DetectorSettings(identity_document_sensitive=True)).report
    assert old["subjects"]["sensitive"] == 1
    assert old["settings"]["identity_document_sensitive"] is True
    assert "GB/T 35273-2020" in old["settings"]["standard"]


def test_subject_keys_attribute_columns_to_roles() -> None:
    table = pa.table(
        {
            "patient_id": ["P1", "P1", "P2", None],
            "patient_name": ["张伟", "张伟", "李娜", "王芳"],
            "diagnosis": ["高血压", None, None, None],
            "reporter_id": ["R1", "R1", "R1", "R2"],
            "reporter_phone": ["13812345678", "13812345678", "13812345678", None],
        }
    )
    result = _scan(table, subject_keys=["patient_id", "reporter_id"])
    subjects = result.report["subjects"]
    assert subjects["identified_by"] == "subject_keys:patient_id,reporter_id"
    # patients P1, P2 and the blank-key patient of row 3; reporter R1 (R2 has nothing personal)
    assert subjects["personal"] == 4
    assert subjects["sensitive"] == 1
    assert result.report["categories"]["medical_health"]["subjects"] == 1


def test_inferred_subjects_keep_the_people_of_one_row_apart() -> None:
    """Without keys, a reporter's phone on every row must not fold the patients they reported into one person."""
    table = pa.table(
        {
            "患者姓名": ["张伟", "李娜", "王芳", "张伟"],
            "patient_id_card": [ADULT_ID, None, CHILD_ID, ADULT_ID],
            "reporter_name": ["赵敏", "赵敏", "赵敏", None],
            "报告人电话": ["13812345678", "138 1234 5678", "+86 13812345678", None],
            "diagnosis": ["高血压", None, None, None],
        }
    )
    subjects = _scan(table).report["subjects"]
    assert subjects["identified_by"] == STRONG_IDENTIFIERS
    # patients: 张伟 (rows 0, 3 by ID), 李娜, the child; one reporter. The diagnosis names no role: it is about
    # the row's people (issue 11: it is no longer one more person of its own, which counted one per row)
    assert subjects["personal"] == 4
    assert subjects["sensitive"] == 3  # the child (minor); 张伟 and the reporter of row 0 (the diagnosis)
    assert "has someone it can belong to" in subjects["rule"]


def test_missing_subject_key_names_the_column() -> None:
    with pytest.raises(InputError, match="patient_id"):
        _scan(_people(), subject_keys=["patient_id"])


def test_nested_values_count_for_their_row() -> None:
    contacts = pa.array(
        [[{"mobile": "13812345678"}, {"mobile": "13987654321"}], [], [{"mobile": "+86 138-1234-5678"}]],
        type=pa.list_(pa.struct([("mobile", pa.string())])),
    )
    result = _scan(pa.table({"contacts": contacts}))
    # row 0 has two mobiles (one person, inferred), row 2 shares one of them: one person; row 1 nobody
    assert result.report["subjects"]["personal"] == 1
    (column,) = result.report["columns"]
    assert sum(result.report["columns"][column]["entities"].values()) == 3


def _big_table(rows: int) -> pa.Table:
    """Many rows with repeats, so split boundaries fall between rows of one person."""
    mobiles = [f"139{i % 97:08d}" if i % 5 else None for i in range(rows)]
    ids = [resident_id(f"11010519800101{i % 89:03d}") if i % 3 == 0 else None for i in range(rows)]
    names = ["张伟" if i % 7 == 0 else None for i in range(rows)]
    health = ["糖尿病" if i % 11 == 0 else None for i in range(rows)]
    return pa.table({"mobile": mobiles, "id_card": ids, "name": names, "diagnosis": health})


@pytest.fixture(scope="module")
def big_table() -> pa.Table:
    return _big_table(1200)


def _scan_rows(table: pa.Table, start: int, stop: int, batch_rows: int, workers: int = 1):
    """Scan rows [start, stop) as a partition of ``table`` would be scanned (row numbers kept)."""
    batches = (
        dataclasses.replace(batch, row_offset=batch.row_offset + start)
        for batch in read.table_batches(table.slice(start, stop - start), name="t", batch_rows=batch_rows)
    )
    return scan_batches(batches, as_of=AS_OF, hasher=HASHER, workers=workers)


def _same_people(a: ExportSubjects, b: ExportSubjects) -> bool:
    return dict(a.people()) == dict(b.people()) and dict(a.aliases()) == dict(b.aliases())


def test_splitting_the_data_differently_gives_the_same_subjects(big_table: pa.Table) -> None:
    n = big_table.num_rows
    whole = _scan_rows(big_table, 0, n, 5000)
    assert whole.report["subjects"]["personal"] > 20
    assert dict(whole.subjects.aliases())  # people with several identifiers: the merge has links to get right
    for rows in (97, 400):
        split = _scan_rows(big_table, 0, n, rows)
        assert _same_people(split.subjects, whole.subjects)
        assert split.report["subjects"] == whole.report["subjects"]
        assert split.report["columns"] == whole.report["columns"]
    # partitions scanned separately (as a distributed engine would) merge to exactly the same people
    parts = [_scan_rows(big_table, start, stop, 300) for start, stop in ((0, 555), (555, 901), (901, n))]
    assert _same_people(merge([part.subjects for part in parts], STRONG_IDENTIFIERS), whole.subjects)


def test_worker_processes_give_the_same_result(big_table: pa.Table) -> None:
    one = _scan_rows(big_table, 0, big_table.num_rows, 200, workers=1)
    two = _scan_rows(big_table, 0, big_table.num_rows, 200, workers=2)
    assert _same_people(two.subjects, one.subjects)
    assert two.report == one.report


def test_examples_only_when_asked_and_masked() -> None:
    plain = _scan(_people()).report
    assert all("examples" not in column for column in plain["columns"].values())
    shown = _scan(_people(), show_examples=True).report
    examples = [e for column in shown["columns"].values() for e in column["examples"]]
    assert examples and all("*" in e for e in examples)
    assert ADULT_ID not in str(shown) and "13812345678" not in str(shown)


def test_pandas_input_progress_and_content_fingerprint() -> None:
    frame = _people().to_pandas()
    seen: list[int] = []
    first = _scan(frame, progress=seen.append).report
    assert sum(seen) == 5
    assert first["subjects"]["personal"] == 2
    again = _scan(_people()).report["source_fingerprint"]
    assert again == _scan(_people(), workers=2).report["source_fingerprint"]  # same content, same fingerprint
    changed = _people().set_column(0, "name", pa.array(["张伟", "张伟", "张伟", "李娜", "王芳"]))
    assert _scan(changed).report["source_fingerprint"] != again


def test_distributed_pieces_give_the_report_of_one_pass(big_table: pa.Table) -> None:
    """What a distributed engine does: scan_batch per partition, merge_partials, finish."""
    from export_gate.detection.detect import Detector
    from export_gate.engine.local import Job, finish, merge_partials, scan_batch

    detector = Detector()
    job = Job(hasher=HASHER, as_of=AS_OF)
    batches = list(read.table_batches(big_table, name="t", batch_rows=250))
    plans = {leaf.name: detector.plan(leaf.name, leaf.values.type, leaf.values) for leaf in batches[0].columns}
    parts = [scan_batch(batch, plans, job, detector) for batch in reversed(batches)]
    merged = finish(merge_partials(parts, STRONG_IDENTIFIERS), job, detector.version, source_fingerprint=None)
    whole = _scan_rows(big_table, 0, big_table.num_rows, 5000)
    assert _same_people(merged.subjects, whole.subjects)
    assert {k: v for k, v in merged.report.items() if k not in ("files", "source_fingerprint")} == {
        k: v for k, v in whole.report.items() if k not in ("files", "source_fingerprint")
    }
