"""Vietnamese message texts, rendered from the Jinja2 templates in `templates/`.

Texts are plain (no markup): each channel escapes or formats them for its own medium.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

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
    """A time as officers read it: "08:30 ngày 04/07/2022" in Vietnam time."""
    if moment is None:
        return ""
    return moment.astimezone(zone).strftime("%H:%M ngày %d/%m/%Y")
