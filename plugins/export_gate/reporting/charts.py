"""Inline SVG charts for the review page and the per-export report.

The charts are plain SVG strings with their colours as attributes, so a report file opened offline (or
printed) shows them without any script, stylesheet or network; classes on the parts let the page's stylesheet
recolour them (dark mode). They show counts of people and thresholds, never a value from the data.

Text never overlaps: threshold labels are spread apart vertically, legend entries are laid out by their
length (wide characters count double), and notes go on lines of their own.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

#: Colours: year-to-date before this export, this export's share, thresholds, the two timeline series.
BEFORE_FILL = "#9aa5b1"
EXPORT_FILL = "#2f6fdf"
THRESHOLD_STROKE = "#c62828"
PERSONAL_STROKE = "#2f6fdf"
SENSITIVE_STROKE = "#e07b00"
AXIS_STROKE = "#52606d"
#: Font size of chart text (SVG user units); the page keeps charts wide enough that this never renders below
#: 10 CSS pixels (style.css: svg.chart min-width).
FONT_SIZE = 12
#: Vertical room a threshold label needs, so two labels of nearby thresholds do not overlap.
LABEL_GAP = FONT_SIZE + 3
#: A timeline stretches its axis to the next threshold only when the data would still fill this share of the
#: height; a farther threshold is named under the chart instead of flattening a small handler's line.
REACH = 4
#: English words of the charts; the review page passes its own (e.g. Chinese) for the words it shows.
WORDS: Mapping[str, str] = {
    "before": "before",
    "this export": "this export",
    "threshold": "threshold",
    "personal": "personal",
    "sensitive": "sensitive",
    "further thresholds": "further thresholds",
    "no exports": "No exports counted for this handler and year yet.",
}


@dataclass(frozen=True)
class BarRow:
    """One row of the threshold chart: people counted before this export, after it, and the limits.

    ``scale`` is the count at the right end of the bar; None means up to the row's next threshold, so each
    row reads as progress towards its own next limit."""

    label: str
    before: int
    after: int
    thresholds: tuple[int, ...] = field(default=())
    scale: int | None = None

    def scale_max(self) -> int:
        return self.scale or axis_max([self.before, self.after], list(self.thresholds))


@dataclass(frozen=True)
class TimelinePoint:
    """Cumulative people of one handler and year after one export."""

    at: datetime
    personal: int
    sensitive: int


def _fmt(n: int) -> str:
    return f"{n:,}"


def text_width(text: str, size: int = FONT_SIZE) -> float:
    """A generous estimate of how wide ``text`` renders in a sans-serif font: CJK and other wide characters
    take a full em, the rest about 0.62 em (SVG text cannot be measured on the server)."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else size * 0.62 for ch in text)


def axis_max(values: list[int], thresholds: list[int], reach: float | None = None) -> int:
    """The scale of a chart: the largest value, stretched to the next threshold above it so a reviewer sees
    how far away the next limit is, but not to limits beyond it. With ``reach``, only to a threshold at
    most ``reach`` times the largest value (farther ones would flatten the data to a line at the bottom)."""
    top = max([*values, 1])
    above = sorted(t for t in thresholds if t >= top and (reach is None or t <= top * reach))
    if above:
        top = above[0]
    return _round_up(int(top * 1.08) + 1)


def spread(positions: list[float], gap: float, low: float, high: float) -> list[float]:
    """Label positions (in the given order, top to bottom) moved apart to at least ``gap``, kept inside
    [low, high] where there is room: each label stays as near its line as the others allow."""
    placed: list[float] = []
    for y in positions:
        placed.append(max(y, placed[-1] + gap) if placed else y)
    overflow = placed[-1] - high if placed else 0
    if overflow > 0:  # pushed past the bottom: shift up from the end, keeping the gaps
        for i in range(len(placed) - 1, -1, -1):
            limit = high if i == len(placed) - 1 else placed[i + 1] - gap
            placed[i] = max(min(placed[i], limit), low)
    return placed


def _round_up(n: int) -> int:
    """Up to two significant digits (10,801 -> 11,000), so the axis label reads as a round number."""
    step = 10 ** max(len(str(n)) - 2, 0)
    return -(-n // step) * step


def _svg_open(width: int, height: int, title: str) -> list[str]:
    return [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="{FONT_SIZE}" fill="#1f2933">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold" font-size="{FONT_SIZE + 1}">{escape(title)}</text>',
    ]


def threshold_bars(rows: list[BarRow], *, title: str, words: Mapping[str, str] = WORDS) -> str:
    """Horizontal bars per count (personal, sensitive, each category): the year-to-date total before this
    export in grey, this export's addition in blue, and each threshold of that count as a red line. Each
    row has its own scale (see BarRow); the text at the right says where the row stands. A count above 0
    is at least 2 units wide, so a small handler far from its threshold is still seen to have people."""
    label_w, bar_w, row_h, top_pad = 150, 480, 26, 30
    width = label_w + bar_w + 230
    height = top_pad + row_h * len(rows) + 30
    parts = _svg_open(width, height, title)
    for i, row in enumerate(rows):
        y, scale_max = top_pad + i * row_h, row.scale_max()

        def x(value: int, scale_max: int = scale_max) -> float:
            share = bar_w * min(value, scale_max) / scale_max
            return label_w + (max(share, 2.0) if value > 0 else 0.0)

        added = max(row.after - row.before, 0)
        parts.append(
            f'<text x="0" y="{y + 16}">{escape(row.label)}</text>'
            f'<rect class="track" x="{label_w}" y="{y + 4}" width="{bar_w}" height="16" fill="#f0f4f8"/>'
            f'<rect x="{label_w}" y="{y + 4}" width="{x(row.before) - label_w:.1f}" height="16" fill="{BEFORE_FILL}">'
            f"<title>{escape(row.label)}: {_fmt(row.before)} {escape(words['before'])}</title></rect>"
            f'<rect x="{x(row.before):.1f}" y="{y + 4}" width="{max(x(row.after) - x(row.before), 0):.1f}" '
            f'height="16" fill="{EXPORT_FILL}"><title>{escape(row.label)}: +{_fmt(added)} '
            f"{escape(words['this export'])}</title></rect>"
        )
        for limit in sorted(set(row.thresholds)):
            if limit <= scale_max:
                parts.append(
                    f'<line class="limit" x1="{x(limit):.1f}" x2="{x(limit):.1f}" y1="{y + 1}" y2="{y + row_h - 3}" '
                    f'stroke="{THRESHOLD_STROKE}" stroke-width="2.5"><title>{escape(words["threshold"])} '
                    f"{_fmt(limit)}</title></line>"
                )
        parts.append(f'<text x="{label_w + bar_w + 8}" y="{y + 16}">{escape(_standing(row))}</text>')
    legend_y = top_pad + row_h * len(rows) + 18
    parts.append(
        _legend(label_w, legend_y, [(BEFORE_FILL, words["before"]), (EXPORT_FILL, words["this export"])], words, True)
    )
    parts.append("</svg>")
    return "".join(parts)


def _standing(row: BarRow) -> str:
    """'10,200 of 100,000 (10%)' (the next limit not yet reached) or '10,200, over 10,000' (all passed)."""
    ahead = sorted(t for t in row.thresholds if t > row.after)
    if ahead:
        return f"{_fmt(row.after)} of {_fmt(ahead[0])} ({percent(row.after, ahead[0])})"
    if row.thresholds:
        return f"{_fmt(row.after)}, over {_fmt(max(row.thresholds))}"
    return _fmt(row.after)


def percent(used: int, limit: int) -> str:
    """How much of a threshold is used, readable at both ends: '0.04%', '8%', '99.9%', '120%'."""
    share = 100 * used / limit if limit else 0.0
    if 0 < share < 1:
        return f"{share:.2g}%"
    if 99 < share < 100:
        return f"{share:.1f}%"
    return f"{share:.0f}%"


def timeline(
    points: list[TimelinePoint], thresholds: list[tuple[str, int]], *, title: str, words: Mapping[str, str] = WORDS
) -> str:
    """Cumulative personal and sensitive people over the year (by the exports' dates) as step lines, with
    the thresholds that apply as dashed lines, so a reviewer sees a limit coming before an export is blocked.
    The axis reaches a threshold only when the data would not be flattened by it (see REACH); farther
    thresholds are listed under the chart with the share used."""
    left, plot_w, plot_h, top = 70, 600, 240, 30
    width = left + plot_w + 170
    if not points:
        parts = _svg_open(width, top + 40, title)
        parts.append(f'<text x="0" y="{top + 20}">{escape(words["no exports"])}</text></svg>')
        return "".join(parts)
    ordered = sorted(points, key=lambda p: p.at)
    latest = ordered[-1]
    scale_max = axis_max([p.personal for p in ordered], [t for _, t in thresholds], reach=REACH)
    ordered_limits = sorted(set(thresholds), key=lambda t: (-t[1], t[0]))  # top of the chart first
    drawn = [(label, limit) for label, limit in ordered_limits if limit <= scale_max]
    beyond = [(label, limit) for label, limit in reversed(ordered_limits) if limit > scale_max]
    bottom = top + plot_h
    height = bottom + 44 + (LABEL_GAP + 4 if beyond else 0)
    parts = _svg_open(width, height, title)
    start, end = ordered[0].at.timestamp(), latest.at.timestamp()
    span = max(end - start, 1.0)

    def px(at: datetime) -> float:
        return left + plot_w * (at.timestamp() - start) / span if len(ordered) > 1 else left + plot_w / 2

    def py(value: int) -> float:
        return top + plot_h - plot_h * min(value, scale_max) / scale_max

    parts.append(
        f'<line class="axis" x1="{left}" x2="{left + plot_w}" y1="{bottom}" y2="{bottom}" stroke="{AXIS_STROKE}"/>'
        f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{bottom}" stroke="{AXIS_STROKE}"/>'
    )
    for tick in (0, scale_max // 2, scale_max):
        parts.append(f'<text x="{left - 6}" y="{py(tick) + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>')
    parts.append(
        f'<text x="{left}" y="{bottom + 16}">{ordered[0].at:%Y-%m-%d}</text>'
        + (
            f'<text x="{left + plot_w}" y="{bottom + 16}" text-anchor="end">{latest.at:%Y-%m-%d}</text>'
            if len(ordered) > 1 and ordered[0].at.date() != latest.at.date()
            else ""
        )
    )
    label_ys = spread([py(limit) + 4 for _, limit in drawn], LABEL_GAP, top + 4, bottom + 4)
    for (label, limit), label_y in zip(drawn, label_ys, strict=True):
        name = f"{words.get(label, label)} {_fmt(limit)}"
        parts.append(
            f'<line class="limit" x1="{left}" x2="{left + plot_w}" y1="{py(limit):.1f}" y2="{py(limit):.1f}" '
            f'stroke="{THRESHOLD_STROKE}" stroke-dasharray="6 4"><title>{escape(name)}</title></line>'
            f'<text class="limit" x="{left + plot_w + 8}" y="{label_y:.1f}" fill="{THRESHOLD_STROKE}">'
            f"{escape(name)}</text>"
        )
    for attr, colour in (("personal", PERSONAL_STROKE), ("sensitive", SENSITIVE_STROKE)):
        path = []
        previous_y = py(0)
        for point in ordered:
            x, y = px(point.at), py(getattr(point, attr))
            path.append(f"{'M' if not path else 'L'}{x:.1f},{previous_y:.1f} L{x:.1f},{y:.1f}")
            previous_y = y
        path.append(f"L{left + plot_w:.1f},{previous_y:.1f}")
        parts.append(
            f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2.5">'
            f"<title>{escape(words[attr])}: {_fmt(getattr(latest, attr))}</title></path>"
        )
    legend = [(PERSONAL_STROKE, words["personal"]), (SENSITIVE_STROKE, words["sensitive"])]
    parts.append(_legend(left, bottom + 38, legend, words, False))
    if beyond:
        used = {"personal": latest.personal, "sensitive": latest.sensitive}
        further = ", ".join(
            f"{words.get(label, label)} {_fmt(limit)}" + (f" ({percent(used[label], limit)})" if label in used else "")
            for label, limit in beyond
        )
        parts.append(
            f'<text class="note" x="{left}" y="{bottom + 38 + LABEL_GAP + 4}" fill="{AXIS_STROKE}">'
            f"{escape(words['further thresholds'])}: {escape(further)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _legend(x: int, y: int, entries: list[tuple[str, str]], words: Mapping[str, str], solid: bool) -> str:
    """Colour keys in one line, each placed after the measured width of the one before, ending with the
    threshold line (solid in bar charts, dashed in timelines)."""
    parts, offset = [], float(x)
    for colour, label in entries:
        parts.append(
            f'<rect x="{offset:.0f}" y="{y - 10}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{offset + 16:.0f}" y="{y}">{escape(label)}</text>'
        )
        offset += 16 + text_width(label) + 18
    dash = "" if solid else ' stroke-dasharray="6 4"'
    parts.append(
        f'<line class="limit" x1="{offset:.0f}" x2="{offset + 14:.0f}" y1="{y - 4}" y2="{y - 4}" '
        f'stroke="{THRESHOLD_STROKE}" stroke-width="2"{dash}/>'
        f'<text x="{offset + 18:.0f}" y="{y}">{escape(words["threshold"])}</text>'
    )
    return "".join(parts)
