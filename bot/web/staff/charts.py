"""The overview's two pictures, drawn on the server as SVG markup (no script, no CDN): a
stacked bar per group (submitted / in progress / not started) and the running count of
submissions per day up to today, on an axis that runs to the deadline.

Readable without colour: each part of a bar has its own pattern (solid, stripes, dots) as well
as a colour chosen to stay apart for red-green colour-blind readers (blue, orange, grey), and
its count written in or beside it. Sizes are in the SVG's own units on a 400-wide canvas, so a
15-unit label stays at least 12 px on a 390 px phone. Labels are escaped; sizes come from the
counts only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape

from markupsafe import Markup

from conversations.formatting import format_day
from conversations.statuses import SubmissionStatus

WIDTH = 400
FONT = 15
# (field, fill, pattern id or None, text colour on it)
BAR_PARTS = (
    (SubmissionStatus.SUBMITTED, "#1f4e8c", None, "#fff"),
    (SubmissionStatus.IN_PROGRESS, "url(#p-dang-dien)", "p-dang-dien", "#000"),
    (SubmissionStatus.NOT_STARTED, "url(#p-chua)", "p-chua", "#000"),
)
PATTERNS = (  # {p}: a prefix, so that the legend's own copies have ids of their own
    '<defs><pattern id="{p}-dang-dien" width="8" height="8" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="8" height="8" fill="#f0a43a"/>'
    '<rect width="3" height="8" fill="#c46f00"/></pattern>'
    '<pattern id="{p}-chua" width="8" height="8" patternUnits="userSpaceOnUse">'
    '<rect width="8" height="8" fill="#e4e4e4"/><circle cx="4" cy="4" r="1.6" fill="#6b6b6b"/>'
    "</pattern></defs>"
)
LEGEND = (
    (SubmissionStatus.SUBMITTED, "đã nộp"),
    (SubmissionStatus.IN_PROGRESS, "đang điền"),
    (SubmissionStatus.NOT_STARTED, "chưa bắt đầu"),
)


@dataclass(frozen=True)
class GroupBar:
    title: str
    submitted: int
    in_progress: int
    not_started: int

    @property
    def total(self) -> int:
        return self.submitted + self.in_progress + self.not_started


def legend_swatch(field: str) -> Markup:
    """The small square of the legend, drawn with the bar's own fill and pattern."""
    fill = next(fill for name, fill, _p, _t in BAR_PARTS if name == field)
    prefix = f"l-{field}"
    return Markup(
        '<svg class="swatch" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">'
        f"{PATTERNS.format(p=prefix)}"
        f'<rect width="16" height="16" fill="{fill.replace("#p-", f"#{prefix}-")}" '
        'stroke="#333"/></svg>'
    )


def group_bars(bars: list[GroupBar]) -> Markup:
    """One horizontal stacked bar per group under its title, each part's count written on it."""
    row_height, bar_height, chart_width = 62, 26, WIDTH - 70
    height = max(1, len(bars)) * row_height + 6
    parts = [
        _open(height, "Số đơn vị theo nhóm: đã nộp, đang điền, chưa bắt đầu"),
        PATTERNS.format(p="p"),
    ]
    for index, bar in enumerate(bars):
        y = 4 + index * row_height
        parts.append(_text(0, y + 16, bar.title, anchor="start", weight="600"))
        x, top = 0.0, y + 24
        for field, fill, _pattern, ink in BAR_PARTS:
            count = getattr(bar, field)
            width = chart_width * count / bar.total if bar.total else 0
            if width:
                title = dict(LEGEND)[field]
                parts.append(
                    f'<rect x="{x:.1f}" y="{top}" width="{width:.1f}" height="{bar_height}" '
                    f'fill="{fill}" stroke="#fff" stroke-width="1">'
                    f"<title>{escape(bar.title)}, {title}: {count}</title></rect>"
                )
                if width >= 24:
                    label = _text(x + width / 2, top + 19, str(count), fill=ink, weight="700")
                    parts.append(label if field == SubmissionStatus.SUBMITTED else _halo(label))
            x += width
        summary = f"{bar.submitted}/{bar.total}"
        parts.append(_text(chart_width + 6, top + 19, summary, anchor="start"))
    parts.append("</svg>")
    return Markup("".join(parts))


def submissions_line(
    days: list[date], cumulative: list[int], total: int, deadline: date, today: date
) -> Markup:
    """The running count of submitted units, one point per day up to today; the axis runs on
    to the deadline, which is marked."""
    height, left, right, top, bottom = 250, 40, 12, 14, 34
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    parts = [_open(height, "Số đơn vị đã nộp cộng dồn theo ngày, đến hôm nay")]
    ceiling = max(total, 1)
    span = max(len(days) - 1, 1)

    def x_at(index: int) -> float:
        return left + plot_w * index / span

    def y_at(value: int) -> float:
        return top + plot_h * (1 - value / ceiling)

    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#555"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#555"/>'
    )
    parts.append(_text(left - 6, y_at(ceiling) + 5, str(total), anchor="end"))
    parts.append(_text(left - 6, y_at(0) + 5, "0", anchor="end"))
    shown = [(i, v) for i, (d, v) in enumerate(zip(days, cumulative, strict=True)) if d <= today]
    if shown:
        points = " ".join(f"{x_at(i):.1f},{y_at(v):.1f}" for i, v in shown)
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="#1f4e8c" stroke-width="2.5"/>'
        )
        for index, value in shown:
            parts.append(
                f'<circle cx="{x_at(index):.1f}" cy="{y_at(value):.1f}" r="3" fill="#1f4e8c">'
                f"<title>{format_day(days[index])}: {value} đơn vị</title></circle>"
            )
        last, value = shown[-1]
        anchor = "end" if x_at(last) > left + plot_w * 0.7 else "start"
        dx = -6 if anchor == "end" else 6
        parts.append(
            _text(x_at(last) + dx, y_at(value) - 8, f"{value} đơn vị", anchor=anchor, weight="700")
        )
    if days:
        step = max(1, -(-len(days) // 5))
        for index in range(0, len(days), step):
            day = days[index]
            parts.append(_text(x_at(index), top + plot_h + 20, f"{day.day:02d}/{day.month}"))
        if deadline in days:
            x = x_at(days.index(deadline))
            parts.append(
                f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" '
                'stroke="#a51d1d" stroke-width="2" stroke-dasharray="5 3"/>'
            )
            parts.append(_text(x - 4, top + 14, "hạn nộp", anchor="end", fill="#a51d1d"))
    parts.append("</svg>")
    return Markup("".join(parts))


def _open(height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-label="{escape(label)}" class="chart"><title>{escape(label)}</title>'
    )


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "middle",
    fill: str = "#1d1d1f",
    weight: str = "400",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{FONT}" '
        f'font-weight="{weight}" fill="{fill}">{escape(text)}</text>'
    )


def _halo(text: str) -> str:
    """A count on a patterned part: a white outline keeps it legible over stripes and dots."""
    return text.replace("<text ", '<text paint-order="stroke" stroke="#fff" stroke-width="3" ', 1)
