"""The per-export HTML report: self-contained (no network, no script), the counts against every threshold as
an inline chart, missing keys handled, printable with `export-gate report ID`, and linked from the task."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from export_gate.airflow.links import ReportLink
from export_gate.commands.cli import main
from export_gate.errors import EXIT_ERROR, EXIT_OK
from export_gate.records.ledger import Store
from export_gate.reporting.html import count_name, count_rows, render_report
from review_records import decision_record, error_record


def test_report_is_self_contained():
    html = render_report(decision_record(id=7))
    assert html.startswith("<!doctype html>")
    assert "<style>" in html
    # nothing the browser would fetch: no script, stylesheet link, image, frame or CSS import
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", html)
    assert not re.search(r"\bsrc=|@import|url\(", html)


def test_report_shows_decision_rule_source_obligation_and_filing():
    html = render_report(decision_record(id=7, action="annotate"))
    assert "badge-annotate" in html
    assert "national.sensitive.10k" in html
    assert "Sensitive personal information of 10,000 people or more since 1 January" in html
    assert 'href="https://www.cac.gov.cn/2024-03/22/c_1712776611775634.htm"' in html
    assert "Art. 8" in html
    assert "standard contract filed with the provincial CAC" in html
    assert "standard_contract: SC-2026-0042" in html


def test_chart_draws_every_count_and_each_threshold_in_scale():
    record = decision_record(id=7, export=1200, before=9000)
    html = render_report(record)
    svg = html[html.index('<svg class="chart"') : html.index("</svg>")]
    # nine rows (personal, sensitive, seven categories), each with a track, a before and an export bar
    assert svg.count("<rect") == 9 * 3 + 2  # plus the two legend keys
    # the sensitive threshold (10,000) is inside the sensitive row's scale, the personal 100,000 in its row's
    assert "<title>threshold 10,000</title>" in svg
    assert "<title>threshold 100,000</title>" in svg
    assert "10,200, over 10,000" in svg  # sensitive has passed its only threshold
    assert "10,200 of 100,000" in svg  # personal is on the way to the next one


def test_count_rows_take_year_to_date_before_and_after_and_thresholds():
    rows = {row["name"]: row for row in count_rows(decision_record(export=1200, before=9000))}
    assert rows["sensitive"] == {
        "name": "sensitive",
        "export": 1200,
        "before": 9000,
        "after": 10200,
        "thresholds": [10000],
    }
    assert rows["personal"]["thresholds"] == [100000, 1000000]
    assert rows["medical_health"]["after"] == 10200
    assert rows["biometric"]["after"] == 0


@pytest.mark.parametrize(
    ("label", "row"),
    [
        ("personal", "personal"),
        ("sensitive", "sensitive"),
        ("sensitive:medical_health", "medical_health"),
        ("sensitive:medical_health+financial_account", None),
        ("important_data", None),
    ],
)
def test_margin_labels_map_to_chart_rows(label, row):
    assert count_name(label) == row


def test_error_record_without_decision_renders():
    html = render_report(error_record(id=8))
    assert "badge-block" in html
    assert "The gate could not decide and blocked the export" in html
    assert "No rule applied." in html


def test_a_bare_record_renders_without_failing():
    html = render_report({"id": 1})
    assert "Export gate run #1" in html


def test_markup_in_record_fields_is_escaped():
    html = render_report(decision_record(id=3, run_id="<script>alert(1)</script>"))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_report_command_prints_and_writes_the_report(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    record_id = Store(url).append_audit(decision_record())
    assert main(["report", str(record_id), "--ledger", url]) == EXIT_OK
    printed = capsys.readouterr().out
    assert f"Export gate run #{record_id}" in printed
    out = tmp_path / "report.html"
    assert main(["report", str(record_id), "--ledger", url, "--output", str(out)]) == EXIT_OK
    assert out.read_text(encoding="utf-8") == printed


def test_report_command_for_an_unknown_id_exits_2_with_a_hint(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert main(["report", "42", "--ledger", url]) == EXIT_ERROR
    assert "no audit record 42" in capsys.readouterr().err


def test_report_link_points_at_the_task_run_report():
    ti_key = SimpleNamespace(
        dag_id="pv export", run_id="manual__2026-03-01T00:00:00+00:00", task_id="gate", map_index=-1
    )
    url = ReportLink().get_link(None, ti_key=ti_key)  # type: ignore[arg-type]
    assert url == (
        "/export-gate/task-report?dag_id=pv+export&run_id=manual__2026-03-01T00%3A00%3A00%2B00%3A00&task_id=gate"
    )
    assert ReportLink().name == "Export gate report"
