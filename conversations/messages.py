"""Vietnamese message texts, rendered from the Jinja2 templates in `templates/`, and the one
way each moment is written: the deadline in the plan's words ("trước ngày 05/7/2022"), a time
("08:30 ngày 04/7/2022") and a late submission ("nộp muộn 3 ngày"), always in local time.

Texts are plain (no markup): each channel escapes or formats them for its own medium.
"""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from conversations.formatting import format_day

__all__ = [
    "DISPLAY_ZONE",
    "format_day",
    "format_deadline",
    "format_moment",
    "late_days",
    "late_phrase",
    "render",
]

DISPLAY_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")

_environment = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=False,
    auto_reload=False,  # templates ship with the code; no stat() per message
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=StrictUndefined,
)


def render(name: str, **context: object) -> str:
    return _environment.get_template(f"{name}.j2").render(**context).strip()


def format_moment(moment: datetime | None, zone: ZoneInfo = DISPLAY_ZONE) -> str:
    """A time as officers read it: "08:30 ngày 04/7/2022" in local time."""
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    return f"{local:%H:%M} ngày {format_day(local.date())}"


def format_deadline(deadline: datetime, zone: ZoneInfo = DISPLAY_ZONE) -> str:
    """ "trước ngày 05/7/2022" for a deadline at 00:00, else "trước 17:00 ngày 05/7/2022"."""
    local = deadline.astimezone(zone)
    if local.time() == time(0, 0):
        return f"trước ngày {format_day(local.date())}"
    return f"trước {local:%H:%M} ngày {format_day(local.date())}"


def late_days(deadline: datetime, submitted_at: datetime) -> int:
    """Days a submission came after the deadline, any part of a day counting whole; 0: on time."""
    late = submitted_at - deadline
    if late < timedelta(0):
        return 0
    return max(1, math.ceil(late / timedelta(days=1)))


def late_phrase(deadline: datetime, submitted_at: datetime) -> str:
    """ "nộp muộn 3 ngày", or "" for a submission on time."""
    days = late_days(deadline, submitted_at)
    return f"nộp muộn {days} ngày" if days else ""
