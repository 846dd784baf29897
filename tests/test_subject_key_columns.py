"""Subject key columns must be unambiguous: a key that appears twice (a CSV header repeating a name) would be
resolved to one of its copies, and the people of the other copy folded into them (two people counted as one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from export_gate.commands.cli import main


def test_a_duplicated_subject_key_column_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "cases.csv"
    export.write_text(
        "patient_id,mobile,patient_id\nP1,13812345678,P2\nP1,13987654321,P3\n",
        encoding="utf-8",
    )
    assert main(["scan", str(export), "--subject-key", "patient_id"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    line = captured.err.strip().splitlines()[-1]
    assert "'patient_id' appears 2 times" in line and "cases.csv" in line
    assert "13812345678" not in captured.err


def test_a_column_repeated_that_is_not_a_key_still_scans(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Only the key must be unambiguous: a repeated ordinary column is scanned in both copies."""
    export = tmp_path / "cases.csv"
    export.write_text("patient_id,mobile,mobile\nP1,13812345678,13987654321\nP2,,\n", encoding="utf-8")
    assert main(["scan", str(export), "--subject-key", "patient_id", "--format", "json"]) == 0
