"""Several open campaigns at once, in words: the short title that starts every reply, the menu an
officer picks a campaign from, how a typed pick or the «đợt» word is read, and the refusal of a
closed campaign. Pure: the service (`bot.campaign_choice`) decides when each is said.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from conversations.choices import Choice
from conversations.messages import format_deadline
from conversations.parsing import normalize

MENU_CONTEXT = "dot"  # the context of a campaign button (a button's id is the campaign's code)
SWITCH_COMMAND = "dot"
SWITCH_WORDS = frozenset({"dot", "doi dot", "chon dot", "dot bao cao"})
SHORT_TITLE_LENGTH = 48


def short_title(title: str) -> str:
    """The title up to its first comma, or cut at a word, so that it fits one phone line."""
    head = title.split(",", 1)[0].strip()
    if len(head) <= SHORT_TITLE_LENGTH:
        return head
    cut = head[:SHORT_TITLE_LENGTH].rsplit(" ", 1)[0]
    return f"{cut}…"


def prefix_line(title: str) -> str:
    """The first line of every reply while several campaigns are open."""
    return f"[Đợt: {short_title(title)}]"


def is_switch(text: str) -> bool:
    """«đợt» (or «đổi đợt», «chọn đợt») typed alone: the officer wants to switch campaign."""
    return len(text) <= 20 and normalize(text) in SWITCH_WORDS


def read_pick(text: str, codes: Sequence[str]) -> int | None:
    """The position of the campaign a typed text picks: its number in the menu, or its code."""
    typed = normalize(text).rstrip(".")
    if typed.isdigit() and 1 <= int(typed) <= len(codes):
        return int(typed) - 1
    for position, code in enumerate(codes):
        if typed == code.lower():
            return position
    return None


def menu_text(unit_name: str, count: int, *, asked_again: bool = False) -> str:
    lead = "Đề nghị đồng chí chọn đợt báo cáo trước khi trả lời. " if asked_again else ""
    return (
        f"{lead}{unit_name} đang có {count} đợt báo cáo cần điền. Đồng chí điền đợt nào? "
        "(Đổi đợt bất cứ lúc nào: gõ «đợt».)"
    )


def menu_choices(campaigns: Sequence[tuple[str, str, datetime]], zone) -> tuple[Choice, ...]:
    """One choice per (code, title, deadline), numbered in the order given."""
    return tuple(
        Choice(code, f"{short_title(title)} ({format_deadline(deadline, zone)})", str(number))
        for number, (code, title, deadline) in enumerate(campaigns, start=1)
    )


def closed_text(title: str) -> str:
    return (
        f"Đợt báo cáo «{short_title(title)}» đã kết thúc, trợ lý không nhận thêm trả lời. "
        "Cần bổ sung số liệu, đề nghị đồng chí liên hệ Ban Dân vận."
    )


def only_one_text(title: str) -> str:
    return f"Hiện chỉ có một đợt báo cáo đang mở: «{short_title(title)}». Gõ «tiếp» để điền tiếp."


def several_open_text(codes: Sequence[str], example: str | None) -> str:
    """For the secretariat: a command that needs to know which campaign (`example` None: one
    that cannot be told yet)."""
    lead = "Đang mở nhiều đợt báo cáo: " + ", ".join(codes) + ". "
    if example is None:
        return lead + "Lệnh này chưa chọn được đợt khi nhiều đợt cùng mở; chưa thay đổi gì."
    return lead + f"Đề nghị ghi rõ mã đợt, ví dụ: {example}"
