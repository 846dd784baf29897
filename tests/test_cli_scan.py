"""``export-gate scan`` as a person or a pipeline step runs it: output formats, exit codes, and no raw values."""

from __future__ import annotations

import io
import json
import logging
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from export_gate.commands.cli import main
from export_gate.model import CATEGORIES
from export_gate.reading.read import fingerprint
from stdnum.cn import ric

CANARY_ID = "11010519491231002" + ric.calc_check_digit("110105194912310020")  # stdnum ignores the last char
CANARY_MOBILE = "13912345678"
#: Every form in which the canary values could leak: as written, normalised, digits only.
CANARY_FORMS = (CANARY_ID, CANARY_ID[:-1], CANARY_MOBILE, "+86" + CANARY_MOBILE, "86" + CANARY_MOBILE, "139 1234 5678")


@pytest.fixture
def export(tmp_path: Path) -> Path:
    table = pa.table(
        {
            "customer_id": ["C1", "C2", "C3"],
            "name": ["张伟", "李娜", "王芳"],
            "mobile": ["139 1234 5678", "13812345678", None],
            "id_card": [CANARY_ID, None, None],
            "note": [f"客户身份证 {CANARY_ID}，电话 {CANARY_MOBILE}，患有糖尿病", None, "无"],
        }
    )
    path = tmp_path / "export.parquet"
    pq.write_table(table, path)
    return path


def test_json_report_has_the_documented_fields(export: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(export), "--as-of", "2026-06-30"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 3
    assert report["as_of"] == "2026-06-30"
    assert report["files"] == [str(export)]
    assert report["source_fingerprint"] == fingerprint([str(export)])  # hashed by a thread while the scan runs
    assert report["detector_version"]
    assert set(report["categories"]) == set(CATEGORIES)
    assert report["subjects"]["identified_by"] == "strong_identifiers"
    assert "strong identifier" in report["subjects"]["rule"]
    assert report["subjects"]["personal"] == 3
    assert report["categories"]["medical_health"]["subjects"] == 1
    assert set(report["columns"]) == {"customer_id", "name", "mobile", "id_card", "note"}
    for column in report["columns"].values():
        assert {"plan", "entities", "categories"} <= set(column)
        assert {"kind", "reason"} <= set(column["plan"])


def test_input_format_reads_a_file_its_name_does_not_describe(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--input-format reads a Parquet file named .bin; the source fingerprint hashed it without judging its name
    again (it resolved the paths a second time and refused the file the scan was told how to read)."""
    renamed = tmp_path / "export.bin"
    renamed.write_bytes(export.read_bytes())
    assert main(["scan", str(renamed)]) == 2
    assert "export.bin: cannot tell the format from the file name" in capsys.readouterr().err
    assert main(["scan", str(renamed), "--input-format", "parquet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["rows"], report["subjects"]["personal"]) == (3, 3)
    assert report["source_fingerprint"] == fingerprint([str(renamed)])


def test_subject_key_and_table_format(export: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(export), "--subject-key", "customer_id", "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert "identified by subject_keys:customer_id" in out
    assert "medical_health" in out and "mobile" in out


def test_canary_values_never_appear_in_output_or_logs(
    export: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    outputs = []
    for extra in ([], ["--show-examples"], ["--format", "table", "--show-examples"]):
        assert main(["scan", str(export), *extra]) == 0
        captured = capsys.readouterr()
        outputs += [captured.out, captured.err]
    outputs.append(caplog.text)
    assert "139****5678" in outputs[2]  # the masked example is shown
    for text in outputs:
        for form in CANARY_FORMS:
            assert form not in text


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["scan", "{dir}/missing.parquet"], "missing.parquet"),
        (["scan", "{dir}/empty.csv"], "empty.csv"),
        (["scan", "{dir}/export.parquet", "--subject-key", "patient_id"], "patient_id"),
    ],
)
def test_errors_exit_2_with_one_line_naming_the_problem(
    export: Path, args: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (export.parent / "empty.csv").write_bytes(b"")
    assert main([arg.format(dir=export.parent) for arg in args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("export-gate: error:") and named in line


class _Terminal(io.StringIO):
    """stderr as a person's terminal sees it."""

    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_shows_the_total_from_parquet_footers(
    tmp_path: Path, export: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    second = tmp_path / "more" / "part.parquet"
    second.parent.mkdir()
    pq.write_table(pa.table({"mobile": ["13812345678"] * 4}), second)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["scan", str(export), str(second), "--format", "table", "--workers", "1"]) == 0
    shown = terminal.getvalue()
    assert "100% 7/7 rows" in shown and "s left" in shown
    assert CANARY_MOBILE not in shown and "13812345678" not in shown
    # CSV has no footer: rows and speed without a total; and no bar at all when stderr is not a terminal
    csv = tmp_path / "export.csv"
    csv.write_text("mobile\n13812345678\n", encoding="utf-8")
    terminal.seek(0)
    terminal.truncate()
    assert main(["scan", str(csv), "--format", "table", "--workers", "1"]) == 0
    assert "1 rows" in terminal.getvalue() and "%" not in terminal.getvalue()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert main(["scan", str(csv), "--format", "table", "--workers", "1"]) == 0
    assert sys.stderr.getvalue() == ""
    capsys.readouterr()
