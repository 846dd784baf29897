"""The inline SVG charts: labels and legends that do not overlap, an axis that keeps a small handler's line
readable, and a timeline drawn by the exports' dates."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

from export_gate.airflow.web.dashboard import timeline_points
from export_gate.reporting.charts import LABEL_GAP, WORDS, BarRow, TimelinePoint, text_width, threshold_bars, timeline
from review_records import decision_record

DAY = datetime(2026, 3, 1, tzinfo=UTC)


def texts(svg: str) -> list[tuple[float, float, str]]:
    """(x, y, text) of every <text> element."""
    return [
        (float(x), float(y), body)
        for x, y, body in re.findall(r'<text[^>]*? x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>', svg)
    ]


def boxes_overlap(a: tuple[float, float, str], b: tuple[float, float, str]) -> bool:
    (ax, ay, at), (bx, by, bt) = a, b
    return abs(ay - by) < 12 and ax < bx + text_width(bt) and bx < ax + text_width(at)


def test_threshold_labels_of_nearby_thresholds_are_spread_apart():
    points = [TimelinePoint(DAY, 9_000, 8_000), TimelinePoint(DAY + timedelta(days=30), 9_900, 9_800)]
    svg = timeline(points, [("sensitive", 10_000), ("personal", 10_000), ("personal", 10_100)], title="t")
    labels = sorted(y for _, y, body in texts(svg) if re.match(r"(personal|sensitive) 10,", body))
    assert len(labels) == 3
    assert all(b - a >= LABEL_GAP - 0.01 for a, b in itertools.pairwise(labels))


def test_legend_and_notes_never_overlap_even_with_chinese_words():
    words = {
        **WORDS,
        "personal": "个人信息",
        "sensitive": "敏感个人信息",
        "threshold": "阈值",
        "further thresholds": "更高阈值",
    }
    points = [TimelinePoint(DAY, 40, 30), TimelinePoint(DAY + timedelta(days=9), 70, 55)]
    svg = timeline(
        points, [("sensitive", 10_000), ("personal", 100_000), ("personal", 1_000_000)], title="t", words=words
    )
    found = texts(svg)
    for i, a in enumerate(found):
        for b in found[i + 1 :]:
            assert not boxes_overlap(a, b), (a, b)
    bars = threshold_bars([BarRow("personal", 10, 20, (100,))], title="t", words=words)
    found = texts(bars)
    assert all(not boxes_overlap(a, b) for i, a in enumerate(found) for b in found[i + 1 :])


def test_a_far_threshold_does_not_flatten_a_small_handler():
    """40-70 people against 10,000 and 100,000: the axis fits the people, the thresholds are named below."""
    points = [TimelinePoint(DAY, 40, 30), TimelinePoint(DAY + timedelta(days=9), 70, 55)]
    svg = timeline(points, [("sensitive", 10_000), ("personal", 100_000)], title="t")
    axis = max(int(body.replace(",", "")) for x, _, body in texts(svg) if x == 64 and body.replace(",", "").isdigit())
    assert axis < 100
    assert "further thresholds: sensitive 10,000 (0.55%), personal 100,000 (0.07%)" in svg
    near = timeline([TimelinePoint(DAY, 9_000, 8_000)], [("sensitive", 10_000)], title="t")
    assert "sensitive 10,000</text>" in near  # a threshold within reach is drawn on the chart


def test_a_small_count_is_still_visible_as_a_bar():
    svg = threshold_bars([BarRow("personal", 0, 40, (100_000,))], title="t")
    widths = [
        float(w) for w in re.findall(r'<rect x="[\d.]+" y="\d+" width="([\d.]+)" height="16" fill="#2f6fdf"', svg)
    ]
    assert widths and widths[0] >= 2
    assert "40 of 100,000 (0.04%)" in svg


def test_the_timeline_is_drawn_by_the_exports_dates_not_the_time_of_writing():
    """A March export written to the ledger in June is drawn in March."""
    records = [
        decision_record(reservation="r-march", as_of="2026-03-02T00:00:00+00:00"),
        decision_record(reservation="r-april", as_of="2026-04-15T00:00:00+00:00"),
    ]
    history = [
        {
            "ts": "2026-06-01T10:00:00.000000Z",
            "reservation": "r-march",
            "event": "reserve",
            "personal": 10,
            "sensitive": 5,
        },
        {
            "ts": "2026-06-01T11:00:00.000000Z",
            "reservation": "r-april",
            "event": "reserve",
            "personal": 20,
            "sensitive": 9,
        },
        {
            "ts": "2026-06-02T09:00:00.000000Z",
            "reservation": "r-april",
            "event": "release",
            "personal": 10,
            "sensitive": 5,
        },
    ]
    points = timeline_points(history, records)
    assert [p.at.date().isoformat() for p in points] == ["2026-03-02", "2026-04-15", "2026-06-02"]
    svg = timeline(points, [], title="t")
    assert ">2026-03-02</text>" in svg and ">2026-06-02</text>" in svg
