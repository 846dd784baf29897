"""The detector files are checked as strictly as the lists: a misspelt key, an unknown validator, a regex RE2
cannot compile or a missing term list is an error with its file and line, never a silent default."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from export_gate.commands.cli import main
from export_gate.detection.recognizers import check_detectors
from export_gate.resources import detectors_dir


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the shipped detector files to break."""
    out = tmp_path / "detectors"
    shutil.copytree(Path(str(detectors_dir())), out, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return out


def _edit(path: Path, old: str, new: str) -> int:
    """Replace the first ``old`` in ``path`` by ``new``; the 1-based line it was on."""
    text = path.read_text(encoding="utf-8")
    at = text.index(old)
    path.write_text(text[:at] + new + text[at + len(old) :], encoding="utf-8")
    return text.count("\n", 0, at) + 1


def test_the_shipped_detectors_are_valid() -> None:
    assert check_detectors() == []


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("      validator: resident_id\n", "      validater: resident_id\n", "export_gate.validater", "unknown field"),
        ("    supported_entity: BANK_CARD\n", "    suported_entity: BANK_CARD\n", "suported_entity", "unknown field"),
        ("validator: bank_card", "validator: bank_cards", "export_gate.validator", "is not one of"),
        ("identifier: digits", "identifier: digit", "export_gate.identifier", "is not one of"),
        ("categories: [financial_account]", "categories: [financial]", "categories[0]", "unknown sensitive category"),
        ("priority: 90", "priority: high", "export_gate.priority", "whole number"),
        ("score: 0.3}", "score: 3}", "score", "number from 0 to 1"),
        ("regex: '[0-9]{14,19}'", "regex: '([0-9]{14,19}'", "regex", "not a valid RE2 regex"),
        ("regex: '<<medical_zh>>'", "regex: '<<medical_zhh>>'", "regex", "medical_zhh.txt"),
        ("identity_document: true", "identity_document: yes please", "identity_document", "true or false"),
    ],
)
def test_a_mistake_in_recognizers_yaml_names_file_line_and_field(
    folder: Path, old: str, new: str, field: str, message: str
) -> None:
    line = _edit(folder / "recognizers.yaml", old, new)
    problems = [p for p in check_detectors(folder) if p.split(":")[2].strip().endswith(field)]
    assert len(problems) == 1, check_detectors(folder)
    file, at, where, text = problems[0].split(":", 3)
    assert file == f"{folder}/recognizers.yaml"
    assert abs(int(at) - line) <= 1  # the key's line, or its pattern mapping's
    assert where.strip().startswith("recognizers[") and where.strip().endswith(field)
    assert message in text


def test_a_recognizer_defined_twice_is_an_error(folder: Path) -> None:
    _edit(folder / "recognizers.yaml", "name: cn_resident_id_15", "name: cn_resident_id")
    assert any("defined twice" in p for p in check_detectors(folder))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("types: [string, integer, temporal]", "types: [string, integr, temporal]", "'integr' is not one of"),
        ("  - kind: age\n", "  - kind: years\n", "is not one of"),
        ("    entity: AGE\n", "    entiti: AGE\n", "unknown field"),
    ],
)
def test_a_mistake_in_columns_yaml_names_file_line_and_field(folder: Path, old: str, new: str, message: str) -> None:
    line = _edit(folder / "columns.yaml", old, new)
    problems = [p for p in check_detectors(folder) if message in p]
    assert len(problems) == 1, check_detectors(folder)
    assert re.match(rf"{re.escape(str(folder))}/columns\.yaml:{line}: kinds\[\d+\]\.", problems[0])


def test_the_cli_prints_every_problem_and_exits_2(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _edit(folder / "recognizers.yaml", "priority: 90", "prority: 90")
    _edit(folder / "columns.yaml", "types: [string, integer, temporal]", "types: [strng]")
    assert main(["detectors", "check", str(folder)]) == 2
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and all(re.match(r".+\.yaml:\d+: \S+: .+", line) for line in out)
    assert main(["detectors", "check"]) == 0
