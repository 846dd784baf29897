"""Handler profiles, --filing parsing, validity of approvals, and the counting year in the handler's time zone."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from export_gate.errors import ConfigError
from export_gate.rules.handler import Filing, Handler, load_handler, parse_filing, period_year


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("security_assessment=SA-2025-001@2025-03-01", Filing("security_assessment", "SA-2025-001", date(2025, 3, 1))),
        ("standard_contract=沪SC-17", Filing("standard_contract", "沪SC-17")),
        ("certification=CERT@ACME@2024-12-31", Filing("certification", "CERT@ACME", date(2024, 12, 31))),
    ],
)
def test_parse_filing(text, expected):
    assert parse_filing(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("contract=SC-1", "unknown kind 'contract'"),
        ("security_assessment", "KIND=REFERENCE"),
        ("security_assessment=SA-1@2025-02-30", "is not a date"),
    ],
)
def test_parse_filing_rejects(text, words):
    with pytest.raises(ConfigError, match=words):
        parse_filing(text)


def test_parse_filing_names_where_the_text_came_from():
    with pytest.raises(ConfigError, match=r"^--filing 'contract=SC-1': unknown kind"):
        parse_filing("contract=SC-1")
    with pytest.raises(ConfigError, match=r"^filings= 'contract=SC-1': unknown kind"):
        parse_filing("contract=SC-1", "filings=")


def test_security_assessment_valid_three_years_leap_day():
    assert Filing("security_assessment", "A", date(2024, 3, 1)).last_valid_day(3) == date(2027, 2, 28)
    assert Filing("security_assessment", "B", date(2024, 2, 29)).last_valid_day(3) == date(2027, 2, 28)
    assert Filing("security_assessment", "C", date(2024, 2, 29), valid_until=date(2030, 1, 1)).last_valid_day(
        3
    ) == date(2030, 1, 1)
    assert Filing("standard_contract", "D", date(2024, 1, 1)).last_valid_day(None) is None


def test_load_handler_yaml_and_json(tmp_path):
    yaml_path = tmp_path / "acme.yaml"
    yaml_path.write_text(
        "id: acme-sh\nzone: shanghai-ftz\nciio: false\ntimezone: Asia/Shanghai\nfilings:\n"
        "  - {kind: security_assessment, reference: SA-1, date: 2025-01-02}\n"
        "  - {kind: standard_contract, reference: SC-2, valid_until: 2026-01-01}\n",
        encoding="utf-8",
    )
    handler = load_handler(yaml_path)
    assert handler == Handler(
        "acme-sh",
        "shanghai-ftz",
        False,
        "Asia/Shanghai",
        (
            Filing("security_assessment", "SA-1", date(2025, 1, 2)),
            Filing("standard_contract", "SC-2", valid_until=date(2026, 1, 1)),
        ),
    )
    json_path = tmp_path / "grid.json"
    json_path.write_text(json.dumps({"id": "grid", "ciio": True}), encoding="utf-8")
    assert load_handler(json_path) == Handler("grid", ciio=True)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("zone: shanghai-ftz\n", "field 'id'"),
        ("id: a\nciio: maybe\n", "field 'ciio'"),
        ("id: a\ntimezone: Mars/Olympus\n", "field 'timezone': unknown time zone"),
        ("id: a\nzones: [x]\n", "unknown field 'zones'"),
        ("id: a\nfilings:\n  - {kind: permit, reference: X}\n", "filings[0].kind"),
        ("id: a\nfilings:\n  - {kind: certification, reference: X, date: soon}\n", "filings[0].date"),
        ("id: [a\n", "not valid YAML"),
    ],
)
def test_load_handler_names_file_and_field(tmp_path, content, words):
    path = tmp_path / "handler.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_handler(path)
    assert str(info.value).startswith(str(path)) and words in str(info.value)


def test_missing_handler_file():
    with pytest.raises(ConfigError, match="cannot read the handler profile"):
        load_handler("/nonexistent/handler.yaml")


@pytest.mark.parametrize(
    ("timezone", "at", "year"),
    [
        ("Asia/Shanghai", datetime(2024, 12, 31, 15, 59, 59, tzinfo=UTC), 2024),  # 23:59:59 in Shanghai
        ("Asia/Shanghai", datetime(2024, 12, 31, 16, 0, 0, tzinfo=UTC), 2025),  # midnight 1 January in Shanghai
        ("America/New_York", datetime(2025, 1, 1, 4, 59, 59, tzinfo=UTC), 2024),
        ("America/New_York", datetime(2025, 1, 1, 5, 0, 0, tzinfo=UTC), 2025),
        ("Asia/Shanghai", datetime(2024, 12, 31, 16, 0, 0), 2025),  # naive = UTC, as Airflow's dates are
        ("UTC", datetime(2024, 12, 31, 23, 59, 59), 2024),
    ],
)
def test_period_year_rolls_over_at_midnight_in_the_handlers_time_zone(timezone, at, year):
    assert period_year(Handler("h", timezone=timezone), at) == year
