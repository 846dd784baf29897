"""Inline SVG charts for the review page and the per-export report.

The charts are plain SVG strings with their colours as attributes, so a report file opened offline (or
printed) shows them without any script, stylesheet or network. They show counts of people and thresholds,
never a value from the data.
"""

from __future__ import annotations

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


def axis_max(values: list[int], thresholds: list[int]) -> int:
    """The scale of a chart: the largest value, stretched to the next threshold above it so a reviewer sees
    how far away the next limit is, but not to limits far beyond it (which would flatten every bar)."""
    top = max([*values, 1])
    above = sorted(t for t in thresholds if t >= top)
    if above:
        top = above[0]
    return _round_up(int(top * 1.08) + 1)


def _round_up(n: int) -> int:
    """Up to two significant digits (10,801 -> 11,000), so the axis label reads as a round number."""
    step = 10 ** max(len(str(n)) - 2, 0)
    return -(-n // step) * step


def threshold_bars(rows: list[BarRow], *, title: str) -> str:
    """Horizontal bars per count (personal, sensitive, each category): the year-to-date total before this
    export in grey, this export's addition in blue, and each threshold of that count as a red line. Each
    row has its own scale (see BarRow); the text at the right says where the row stands."""
    label_w, bar_w, row_h, top_pad = 150, 480, 26, 30
    width = label_w + bar_w + 230
    height = top_pad + row_h * len(rows) + 30
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold" font-size="13">{escape(title)}</text>',
    ]
    for i, row in enumerate(rows):
        y, scale_max = top_pad + i * row_h, row.scale_max()

        def x(value: int, scale_max: int = scale_max) -> float:
            return label_w + bar_w * min(value, scale_max) / scale_max

        added = max(row.after - row.before, 0)
        parts.append(
            f'<text x="0" y="{y + 16}">{escape(row.label)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="16" fill="#f0f4f8"/>'
            f'<rect x="{label_w}" y="{y + 4}" width="{x(row.before) - label_w:.1f}" height="16" fill="{BEFORE_FILL}">'
            f"<title>{escape(row.label)}: {_fmt(row.before)} before this export</title></rect>"
            f'<rect x="{x(row.before):.1f}" y="{y + 4}" width="{x(row.after) - x(row.before):.1f}" height="16" '
            f'fill="{EXPORT_FILL}"><title>{escape(row.label)}: +{_fmt(added)} in this export</title></rect>'
        )
        for limit in sorted(set(row.thresholds)):
            if limit <= scale_max:
                parts.append(
                    f'<line x1="{x(limit):.1f}" x2="{x(limit):.1f}" y1="{y + 1}" y2="{y + row_h - 3}" '
                    f'stroke="{THRESHOLD_STROKE}" stroke-width="2.5"><title>threshold {_fmt(limit)}</title></line>'
                )
        parts.append(f'<text x="{label_w + bar_w + 8}" y="{y + 16}">{escape(_standing(row))}</text>')
    legend_y = top_pad + row_h * len(rows) + 18
    parts.append(_legend(label_w, legend_y, [(BEFORE_FILL, "before"), (EXPORT_FILL, "this export")], True))
    parts.append("</svg>")
    return "".join(parts)


def _standing(row: BarRow) -> str:
    """'10,200 of 100,000' (the next limit not yet reached) or '10,200, over 10,000' (all limits passed)."""
    ahead = sorted(t for t in row.thresholds if t > row.after)
    if ahead:
        return f"{_fmt(row.after)} of {_fmt(ahead[0])}"
    if row.thresholds:
        return f"{_fmt(row.after)}, over {_fmt(max(row.thresholds))}"
    return _fmt(row.after)


def timeline(points: list[TimelinePoint], thresholds: list[tuple[str, int]], *, title: str) -> str:
    """Cumulative personal and sensitive people over the year as step lines, with the thresholds that apply
    as dashed lines, so a reviewer sees a limit coming before an export is blocked."""
    left, plot_w, plot_h, top = 70, 600, 240, 30
    width, height = left + plot_w + 170, top + plot_h + 60
    if not points:
        height = top + 40
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold" font-size="13">{escape(title)}</text>',
    ]
    if not points:
        parts.append(f'<text x="0" y="{top + 20}">No exports counted for this handler and year yet.</text></svg>')
        return "".join(parts)
    ordered = sorted(points, key=lambda p: p.at)
    scale_max = axis_max([p.personal for p in ordered], [t for _, t in thresholds])
    start, end = ordered[0].at.timestamp(), ordered[-1].at.timestamp()
    span = max(end - start, 1.0)

    def px(at: datetime) -> float:
        return left + plot_w * (at.timestamp() - start) / span if len(ordered) > 1 else left + plot_w / 2

    def py(value: int) -> float:
        return top + plot_h - plot_h * min(value, scale_max) / scale_max

    bottom = top + plot_h
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{bottom}" y2="{bottom}" stroke="{AXIS_STROKE}"/>'
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{bottom}" stroke="{AXIS_STROKE}"/>'
        f'<text x="{left - 6}" y="{bottom}" text-anchor="end">0</text>'
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{_fmt(scale_max)}</text>'
        f'<text x="{left}" y="{bottom + 16}">{ordered[0].at:%Y-%m-%d}</text>'
        f'<text x="{left + plot_w}" y="{bottom + 16}" text-anchor="end">{ordered[-1].at:%Y-%m-%d}</text>'
    )
    beyond = []  # thresholds above the scale are named under the chart instead of drawn
    for label, limit in sorted(set(thresholds), key=lambda t: t[1]):
        if limit > scale_max:
            beyond.append(f"{label} {_fmt(limit)}")
            continue
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{py(limit):.1f}" y2="{py(limit):.1f}" '
            f'stroke="{THRESHOLD_STROKE}" stroke-dasharray="6 4"><title>{escape(label)} {_fmt(limit)}</title></line>'
            f'<text x="{left + plot_w + 8}" y="{py(limit) + 4:.1f}" fill="{THRESHOLD_STROKE}">'
            f"{escape(label)} {_fmt(limit)}</text>"
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
            f"<title>{attr}: {_fmt(getattr(ordered[-1], attr))} people so far</title></path>"
        )
    parts.append(_legend(left, bottom + 40, [(PERSONAL_STROKE, "personal"), (SENSITIVE_STROKE, "sensitive")], False))
    if beyond:
        parts.append(
            f'<text x="{left + plot_w}" y="{bottom + 40}" text-anchor="end" fill="{AXIS_STROKE}">'
            f"further thresholds: {escape(', '.join(beyond))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _legend(x: int, y: int, entries: list[tuple[str, str]], with_threshold: bool) -> str:
    """Colour keys in one line, ending with the threshold line (solid in bar charts, dashed in timelines)."""
    parts, offset = [], x
    for colour, label in entries:
        parts.append(
            f'<rect x="{offset}" y="{y - 10}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{offset + 16}" y="{y}">{escape(label)}</text>'
        )
        offset += 30 + 7 * len(label)
    dash = "" if with_threshold else ' stroke-dasharray="6 4"'
    parts.append(
        f'<line x1="{offset}" x2="{offset + 14}" y1="{y - 4}" y2="{y - 4}" stroke="{THRESHOLD_STROKE}" '
        f'stroke-width="2"{dash}/>'
        f'<text x="{offset + 18}" y="{y}">threshold</text>'
    )
    return "".join(parts)
