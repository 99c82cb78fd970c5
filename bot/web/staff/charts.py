"""The overview's two pictures, drawn on the server as SVG markup (no script, no CDN): a
stacked bar per group (submitted / in progress / not started) and the running count of
submissions per day up to the deadline. Labels are escaped; sizes come from the counts only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape

from markupsafe import Markup

from conversations.statuses import SubmissionStatus

BAR_COLOURS = (
    (SubmissionStatus.SUBMITTED, "#2e7d32"),
    (SubmissionStatus.IN_PROGRESS, "#f9a825"),
    (SubmissionStatus.NOT_STARTED, "#c62828"),
)
WIDTH = 640


@dataclass(frozen=True)
class GroupBar:
    title: str
    submitted: int
    in_progress: int
    not_started: int

    @property
    def total(self) -> int:
        return self.submitted + self.in_progress + self.not_started


def group_bars(bars: list[GroupBar]) -> Markup:
    """One horizontal stacked bar per group, with its numbers written beside it."""
    label_width, row_height, chart_width = 190, 40, WIDTH - 190 - 80
    height = max(1, len(bars)) * row_height + 10
    parts = [_open(height, "Số đơn vị theo nhóm: đã nộp, đang điền, chưa bắt đầu")]
    for index, bar in enumerate(bars):
        y = 8 + index * row_height
        parts.append(_text(0, y + 18, bar.title, anchor="start"))
        x = float(label_width)
        for field, colour in BAR_COLOURS:
            count = getattr(bar, field)
            width = chart_width * count / bar.total if bar.total else 0
            if width:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="26" fill="{colour}">'
                    f"<title>{escape(bar.title)}: {count}</title></rect>"
                )
            x += width
        summary = f"{bar.submitted}/{bar.total}"
        parts.append(_text(label_width + chart_width + 8, y + 18, summary, anchor="start"))
    parts.append("</svg>")
    return Markup("".join(parts))


def submissions_line(days: list[date], cumulative: list[int], total: int, deadline: date) -> Markup:
    """The running count of submitted units, one point per day, with the deadline marked."""
    height, left, right, top, bottom = 240, 48, 16, 12, 30
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    parts = [_open(height, "Số đơn vị đã nộp cộng dồn theo ngày đến hạn nộp")]
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
    parts.append(_text(left - 6, y_at(ceiling) + 4, str(total), anchor="end"))
    parts.append(_text(left - 6, y_at(0) + 4, "0", anchor="end"))
    if days:
        points = " ".join(f"{x_at(i):.1f},{y_at(v):.1f}" for i, v in enumerate(cumulative))
        parts.append(f'<polyline points="{points}" fill="none" stroke="#1565c0" stroke-width="2"/>')
        for index, value in enumerate(cumulative):
            parts.append(
                f'<circle cx="{x_at(index):.1f}" cy="{y_at(value):.1f}" r="2.5" fill="#1565c0">'
                f"<title>{days[index]:%d/%m}: {value}</title></circle>"
            )
        step = max(1, len(days) // 7)
        for index in range(0, len(days), step):
            parts.append(_text(x_at(index), top + plot_h + 16, f"{days[index]:%d/%m}"))
        if deadline in days:
            x = x_at(days.index(deadline))
            parts.append(
                f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" '
                'stroke="#c62828" stroke-dasharray="4 3"/>'
            )
            parts.append(_text(x - 4, top + 12, "hạn nộp", anchor="end", fill="#c62828"))
    parts.append("</svg>")
    return Markup("".join(parts))


def _open(height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-label="{escape(label)}" class="chart"><title>{escape(label)}</title>'
    )


def _text(x: float, y: float, text: str, *, anchor: str = "middle", fill: str = "#222") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="15" fill="{fill}">'
        f"{escape(text)}</text>"
    )
