"""How the web page writes things people read: channels and roles in Vietnamese, a unit's own
deadline in the plan's words ("đến hết ngày 10/7/2022"), how long something has waited, and the
one folding of text that search uses (case, diacritics and Unicode form ignored; đ/Đ read as d).

Kept apart from the page logic so that every page says a channel, a role or a date the same way.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, time, timedelta

from conversations.formatting import format_day

CHANNEL_TITLES = {
    "telegram": "Telegram",
    "zalo": "Zalo",
    "console": "dòng lệnh",
    "cli": "dòng lệnh",
    "web": "trang web",
    "chat": "trò chuyện",
}
ROLE_TITLES = {
    "officer": "cán bộ đầu mối",
    "secretariat": "cán bộ tổng hợp",
}


def channel_title(channel: str | None) -> str:
    if not channel:
        return "—"
    return CHANNEL_TITLES.get(channel, channel)


def role_title(role: str | None) -> str:
    if not role:
        return "—"
    return ROLE_TITLES.get(role, role)


def fold(text: str) -> str:
    """«Phước», «PHƯỚC», «phuoc» and a decomposed (NFD) «Phước» all give "phuoc"; đ gives d."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "d"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def until_text(deadline: datetime, zone) -> str:
    """A deadline at 00:00 is "đến hết ngày" the day before; otherwise "đến hh:mm ngày …"."""
    local = deadline.astimezone(zone)
    if local.time() == time(0, 0):
        return f"đến hết ngày {format_day(local.date() - timedelta(days=1))}"
    return f"đến {local:%H:%M} ngày {format_day(local.date())}"


def day_text(moment: datetime, zone) -> str:
    """A date alone, as everywhere on the page: "04/7/2022"."""
    return format_day(moment.astimezone(zone).date())


def waited_text(since: datetime | None, now: datetime) -> str:
    """ "chờ 3 ngày", "chờ 5 giờ", "vừa xong" — how long something has been waiting."""
    if since is None:
        return ""
    waited = now - since
    if waited >= timedelta(days=1):
        return f"chờ {waited.days} ngày"
    if waited >= timedelta(hours=1):
        return f"chờ {int(waited.total_seconds() // 3600)} giờ"
    return "chờ dưới 1 giờ"
