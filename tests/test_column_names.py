"""Personal data in column names (issue 12 item 10): a headerless CSV (its first data row becomes the column
names) is refused; personal data in JSON object keys is scanned and counted, and the key never appears in the
clear in the output, the report, the ledger or the audit record. Data made by Faker's zh_CN providers."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from export_gate.commands.cli import main
from export_gate.engine.local import scan_paths, scan_table
from export_gate.errors import InputError
from export_gate.people.digest import SubjectHasher
from export_gate.settings import home_dir
from faker import Faker
from gate_data import faker_people

AS_OF = date(2026, 6, 30)
HASHER = SubjectHasher(b"test-key-0123456789abcdef")
RECORD = ["--list", "cn-national-2024", "--record"]  # a recording is dated by its run


def _everything_written(outputs: list[str]) -> dict[str, bytes]:
    places = {f"output {i}": text.encode() for i, text in enumerate(outputs)}
    places.update({f"state file {p.name}": p.read_bytes() for p in Path(home_dir()).rglob("*") if p.is_file()})
    return places


def test_a_headerless_csv_is_refused_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    people = faker_people(20, seed=1)
    export = tmp_path / "no_header.csv"
    export.write_text("".join(f"{p['name']},{p['mobile']},{p['id_card']},{p['city']}\n" for p in people), "utf-8")
    assert main(["evaluate", str(export), *RECORD]) == 2
    captured = capsys.readouterr()
    assert "no_header.csv: the first line looks like a data row, not a header" in captured.err
    assert "column 2" in captured.err and "column 3" in captured.err
    first = people[0]
    for place, content in _everything_written([captured.out, captured.err]).items():
        for value in (first["mobile"], first["id_card"], first["name"]):
            assert value.encode() not in content, f"{value[:3]}... of the first row found in {place}"


def test_a_csv_with_a_real_header_is_not_mistaken_for_data(tmp_path: Path) -> None:
    """Headers in English and Chinese, over Faker-made rows: scanned as before (no false alarm)."""
    people = faker_people(50, seed=2)
    export = tmp_path / "with_header.csv"
    lines = ["姓名,手机号,身份证号,city"] + [f"{p['name']},{p['mobile']},{p['id_card']},{p['city']}" for p in people]
    export.write_text("\n".join(lines) + "\n", "utf-8")
    report = scan_paths([str(export)], as_of=AS_OF, hasher=HASHER, workers=1).report
    assert set(report["columns"]) == {"姓名", "手机号", "身份证号", "city"}
    assert report["subjects"]["personal"] == len({p["id_card"] for p in people})


def test_personal_data_in_json_keys_is_counted_and_withheld(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Objects keyed by mobile number: every key is a person; before, 0 people were counted and the keys were
    written to the report and the audit record as column names. (Faker makes some numbers the detectors do
    not take for mobiles, e.g. the 149 prefix: the keys must count exactly as the same numbers in cells.)"""
    people = faker_people(30, seed=3)
    export = tmp_path / "by_mobile.jsonl"
    lines = [{p["mobile"]: {"city": p["city"], "visits": i}} for i, p in enumerate(people)]
    export.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), "utf-8")
    assert main(["evaluate", str(export), *RECORD, "--format", "json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    # as many people as the same numbers give as cell values of a column whose name says nothing
    as_values = scan_table(pa.table({"备注": [p["mobile"] for p in people]}), as_of=AS_OF, hasher=HASHER, workers=1)
    assert result["subjects"]["personal"] == as_values.report["subjects"]["personal"] >= len(people) - 2
    places = _everything_written([captured.out, captured.err])
    for person in people:
        for place, content in places.items():
            assert person["mobile"].encode() not in content, f"a mobile key found in {place}"


def test_a_key_inside_a_nested_path_keeps_the_rest_of_the_name(tmp_path: Path) -> None:
    """``contacts.<mobile>.relation``: only the part holding the number is withheld, so the report still says
    what the column is, and the same number in two paths is one person."""
    mobile = faker_people(1, seed=4)[0]["mobile"]
    table = pa.table({"contacts": pa.array([{mobile: {"relation": "母亲", "note": "x"}}] * 3)})
    report = scan_table(table, as_of=AS_OF, hasher=HASHER, workers=1).report
    names = list(report["columns"])
    assert all(mobile not in name for name in names)
    assert any(name.startswith("contacts.<withheld ") and name.endswith(">.relation") for name in names)
    assert report["subjects"]["personal"] == 1


def test_an_e_mail_key_is_withheld_whole() -> None:
    """An e-mail holds dots, the path separator: it is found in the name as a whole and withheld whole."""
    email = Faker("zh_CN").email()
    table = pa.table({email: ["已付款", None, "退款"]})
    report = scan_table(table, as_of=AS_OF, hasher=HASHER, workers=1).report
    assert all(email not in name and email.split("@")[0] not in name for name in report["columns"])
    assert report["subjects"]["personal"] == 1


def test_a_subject_key_error_does_not_list_withheld_names() -> None:
    mobile = faker_people(1, seed=5)[0]["mobile"]
    with pytest.raises(InputError) as caught:
        scan_table(pa.table({mobile: ["a"]}), as_of=AS_OF, hasher=HASHER, workers=1, subject_keys=["patient_id"])
    assert mobile not in str(caught.value) and "<withheld " in str(caught.value)
