"""The shipped lists validate and carry their sources; a malformed list is rejected with file, line and field,
by load_lists (ListError) and by `export-gate lists check` (exit 2)."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from export_gate.commands.cli import main
from export_gate.errors import ListError
from export_gate.resources import lists_dir
from export_gate.rules.lists import check_paths, load_lists

SHIPPED = Path(str(lists_dir()))
REQUIRED_IDS = {
    "cn-national-2024",
    "shanghai-ftz-2024",
    "beijing-ftz-2024",
    "tianjin-ftz-2024",
    "hainan-ftp-2024",
    "zhejiang-ftz-2024",
    "guangxi-ftz-2025",
    "shanghai-2025",
    "beijing-2025",
}


@pytest.fixture(scope="session")
def lists():
    return load_lists()


def test_shipped_lists_validate(lists):
    assert check_paths() == []
    assert set(lists) == REQUIRED_IDS


def test_every_list_and_rule_has_a_source_url_and_effective_date(lists):
    for gl in lists.values():
        assert gl.source.url.startswith(("https://", "http://")) and isinstance(gl.effective, date), gl.id
        for rule in gl.rules:
            assert rule.source.url.startswith(("https://", "http://")), (gl.id, rule.id)
            assert rule.source.article and isinstance(rule.source.date, date), (gl.id, rule.id)
            assert isinstance(rule.effective, date) and rule.effective >= gl.effective, (gl.id, rule.id)
        for purpose in gl.purposes:
            assert purpose.source.url.startswith("https://"), (gl.id, purpose.id)


def test_ftz_lists_are_partial_and_say_what_is_missing(lists):
    for gl in lists.values():
        if gl.kind == "ftz":
            assert gl.status == "partial" and gl.missing, gl.id
            assert gl.base == "cn-national-2024" and not gl.applies_to_ciio


def test_national_list_encodes_order_16(lists):
    rules = {r.id: r for r in lists["cn-national-2024"].rules}
    thresholds = {(r.count, c.comparison, c.threshold, r.mechanism) for r in rules.values() for c in r.conditions}
    assert ("personal", "not less than", 1_000_000, "security_assessment") in thresholds
    assert ("sensitive", "not less than", 10_000, "security_assessment") in thresholds
    assert ("personal", "not less than", 100_000, "standard_contract_or_certification") in thresholds
    assert ("personal", "less than", 1_000_000, "standard_contract_or_certification") in thresholds
    assert ("sensitive", "less than", 10_000, "standard_contract_or_certification") in thresholds
    assert ("personal", "less than", 100_000, "none") in thresholds
    assert rules["ciio-personal-information"].handlers == "ciio"
    assert lists["cn-national-2024"].mechanisms["security_assessment"].validity_years == 3
    assert {p.id for p in lists["cn-national-2024"].purposes} >= {
        "contract_with_individual",
        "cross_border_hr",
        "emergency",
    }


def test_shanghai_list_names_its_scenarios_and_recognises_other_ftz_lists(lists):
    sh = lists["shanghai-ftz-2024"]
    # the sectors the sources name; drug R&D and clinical trials are named by no source (removed)
    assert set(sh.scenario_ids) == {"reinsurance", "international_shipping", "commerce", "pharmacovigilance"}
    assert sh.effective == date(2025, 2, 8)
    assert "shanghai-ftz" in sh.recognizes_ftz_lists_for


def test_extra_list_is_loaded_next_to_the_shipped_ones(tmp_path):
    text = (SHIPPED / "tianjin-ftz-2024.yaml").read_text(encoding="utf-8").replace("tianjin", "testzone")
    (tmp_path / "testzone-ftz-2024.yaml").write_text(text, encoding="utf-8")
    assert "testzone-ftz-2024" in load_lists([tmp_path])


# ----------------------------------------------------------------------------------------- malformed


def _line(text: str, needle: str) -> int:
    """The 1-based line where ``needle`` starts (after any leading newlines it carries to be unique)."""
    start = text.index(needle) + len(needle) - len(needle.lstrip("\n"))
    return text[:start].count("\n") + 1


PV_RULE = "id: pharmacovigilance-sensitive-100k-assessment"
BROKEN = [
    # (original text, replacement, field the problem names, words in the message, text on the line it names)
    (
        "comparison: less than\n    threshold: 100000",
        "comparison: under\n    threshold: 100000",
        "rules[1].comparison",
        "not one of",
        "comparison: under",
    ),
    (
        "threshold: 100000\n    mechanism: security_assessment",
        "threshold: lots\n    mechanism: security_assessment",
        "rules[0].threshold",
        "whole number",
        "threshold: lots",
    ),
    (
        "effective: 2025-02-08\nexpires",
        "effective: 2025-02-30\nexpires",
        "effective",
        "YYYY-MM-DD",
        "effective: 2025-02-30",
    ),
    (
        "mechanism: security_assessment\n",
        "mechanism: security_assessment\n    penalty: 5\n",
        "rules[0].penalty",
        "unknown field",
        "penalty: 5",
    ),
    (
        "scenarios: [pharmacovigilance]\n    handlers",
        "scenarios: [pv]\n    handlers",
        "rules[0].scenarios[0]",
        "unknown scenario 'pv'",
        "scenarios: [pv]",
    ),
    (
        "categories: [sensitive]\n    comparison: not",
        "categories: [genome]\n    comparison: not",
        "rules[0].categories[0]",
        "does not fit",
        "categories: [genome]",
    ),
    ("  url: https://ccpitbj", "  url: ccpitbj", "source.url", "http(s) URL", "url: ccpitbj"),
    (
        "  state: partial\n  missing: >-",
        "  state: partial\n  missing_: >-",
        "status.missing",
        "must say what is missing",
        "state: partial",
    ),
    (
        "overrides: [sensitive-10k-assessment, sensitive-under-10k-contract]\n    source: &xinhua",
        "overrides: [sensitive-10k]\n    source: &xinhua",
        "rules.pharmacovigilance-sensitive-100k-assessment.overrides",
        "no rule 'sensitive-10k'",
        PV_RULE,
    ),
    (
        "mechanism: none\n",
        "mechanism: none\n    mechanism: security_assessment\n",
        "rules[1].mechanism",
        "appears twice",
        "    mechanism: security_assessment\n    exemption",
    ),
    (
        "\nbase: cn-national-2024",
        "\nbase: cn-national-2023",
        "base",
        "not a known national list",
        "\nbase: cn-national-2023",
    ),
    ("id: shanghai-ftz-2024", "id: shanghai-2024", "id", "must match the file name", "id: shanghai-2024"),
    ("zones: [shanghai-ftz, shanghai-lingang]\n", "zones: [shanghai-ftz, [shanghai-lingang\n", "(yaml)", "", None),
]


@pytest.mark.parametrize(("old", "new", "field", "words", "at"), BROKEN)
def test_malformed_list_is_rejected_with_file_line_and_field(tmp_path, old, new, field, words, at):
    original = (SHIPPED / "shanghai-ftz-2024.yaml").read_text(encoding="utf-8")
    assert old in original
    text = original.replace(old, new, 1)
    path = tmp_path / "shanghai-ftz-2024.yaml"
    path.write_text(text, encoding="utf-8")
    problems = check_paths([path])
    line = rf"{_line(text, at)}" if at else r"\d+"
    pattern = re.compile(rf"^{re.escape(str(path))}:{line}: {re.escape(field)}: .*{re.escape(words)}")
    assert any(pattern.match(p) for p in problems), problems
    with pytest.raises(ListError, match=re.escape(str(path))):
        load_lists([path])


def test_missing_required_field_points_at_the_mapping(tmp_path):
    text = (SHIPPED / "cn-national-2024.yaml").read_text(encoding="utf-8").replace("issuer:", "isuer:", 1)
    path = tmp_path / "cn-national-2024.yaml"
    path.write_text(text, encoding="utf-8")
    problems = check_paths([path])
    assert f"{path}:{_line(text, 'isuer:')}: isuer: unknown field; allowed here: applies_to_ciio" in problems[0]
    assert f"{path}:{_line(text, 'id:')}: issuer: is required" in problems


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_lists_check_exit_codes(tmp_path, capsys):
    assert main(["lists", "check"]) == 0
    text = (
        (SHIPPED / "cn-national-2024.yaml")
        .read_text(encoding="utf-8")
        .replace("threshold: 10000\n", "threshold: -1\n", 1)
    )
    path = tmp_path / "cn-national-2024.yaml"
    path.write_text(text, encoding="utf-8")
    capsys.readouterr()
    assert main(["lists", "check", str(tmp_path)]) == 2
    out = capsys.readouterr().out.strip().splitlines()
    line = _line(text, "threshold: -1")
    assert out == [f"{path}:{line}: rules[4].threshold: must be a whole number of people (0 or more) with a comparison"]
    assert main(["lists", "check", str(tmp_path / "nope.yaml")]) == 2


def test_cli_lists_table_and_json(capsys):
    assert main(["lists"]) == 0
    table = capsys.readouterr().out
    assert "shanghai-ftz-2024" in table and "2025-02-08" in table and "partial" in table
    assert main(["lists", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in rows} == REQUIRED_IDS
    national = next(r for r in rows if r["id"] == "cn-national-2024")
    assert national["effective"] == "2024-03-22" and national["status"] == "complete"
    assert national["version"].startswith("2026.1+sha256:")


# ------------------------------------------------------------------------- issue 13: editions, last_checked


def test_every_list_carries_edition_issue_date_and_last_checked(lists):
    for gl in lists.values():
        assert gl.edition and gl.issued <= gl.effective and gl.last_checked >= gl.issued, gl.id
        assert all(r.source.url.startswith("http") for r in gl.rules)


def test_superseded_editions_are_kept_with_their_dates(lists):
    assert (lists["shanghai-ftz-2024"].expires, lists["shanghai-2025"].effective) == (
        date(2026, 4, 23),
        date(2026, 4, 24),
    )
    assert (lists["beijing-ftz-2024"].expires, lists["beijing-2025"].effective) == (
        date(2026, 5, 10),
        date(2026, 5, 11),
    )
    assert "meteorology" in lists["shanghai-2025"].scenario_ids
    assert lists["zhejiang-ftz-2024"].version == "2024"  # was labelled 2025 after its release year
    certification = lists["cn-national-2024"].mechanisms["certification"]
    assert certification.validity_years == 3 and set(certification.unavailable_to) == {"ciio", "important_data"}
    assert "Order No. 20" in certification.source.title


def test_no_list_can_override_or_relax_an_important_data_rule(tmp_path):
    text = (SHIPPED / "shanghai-ftz-2024.yaml").read_text(encoding="utf-8")
    path = tmp_path / "shanghai-ftz-2024.yaml"
    path.write_text(text.replace("[sensitive-10k-assessment, sensitive-under-10k-contract]", "[important-data]", 1))
    assert any("'important-data' is an important-data rule, which no list can lift" in p for p in check_paths([path]))
    beijing = (SHIPPED / "beijing-ftz-2024.yaml").read_text(encoding="utf-8")
    path = tmp_path / "beijing-ftz-2024.yaml"
    path.write_text(beijing.replace("mechanism: security_assessment", "mechanism: standard_contract_or_certification"))
    assert any("an important-data rule requires 'security_assessment'" in p for p in check_paths([path]))


def test_editions_of_one_series_may_not_overlap(tmp_path):
    text = (
        (SHIPPED / "shanghai-ftz-2024.yaml").read_text(encoding="utf-8").replace("expires: 2026-04-23", "expires: null")
    )
    path = tmp_path / "shanghai-ftz-2024.yaml"
    path.write_text(text, encoding="utf-8")
    assert any("overlaps shanghai-2025" in p for p in check_paths([path]))


def test_lists_shows_last_checked_and_check_warns_after_180_days(capsys):
    assert main(["lists"]) == 0
    assert "last_checked" in capsys.readouterr().out.splitlines()[0]
    assert main(["lists", "check", "--as-of", "2027-06-04"]) == 0  # 180 days after 2026-12-06: not yet
    assert "warning" not in capsys.readouterr().err
    assert main(["lists", "check", "--as-of", "2027-06-05"]) == 0  # a warning, not a failure
    err = capsys.readouterr().err
    assert "cn-national-2024" in err and "181 days ago" in err
