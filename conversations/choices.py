"""What an officer can choose in the dialogue, and the words typed to choose it.

A :class:`Choice` is a button on Telegram and a keyword on text-only channels
(:func:`render_choices_as_text`); the keyword sets below are what the engine accepts when the
officer types instead of pressing, compared without diacritics (`conversations.parsing.normalize`).
Kept apart from the engine so that channels and menus need not import the state machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from conversations.parsing import normalize

__all__ = [
    "ACCEPT_WORDS",
    "CANCEL_WORDS",
    "CHOICES",
    "CONFIRM_WORDS",
    "DECLINE_WORDS",
    "EDIT_ITEM",
    "GOTO",
    "KEYWORDS",
    "NEAR_MISS_TARGETS",
    "NEAR_MISS_WORDS",
    "PENDING_LABELS",
    "REMOVE_ITEM",
    "Choice",
    "render_choices_as_text",
]


@dataclass(frozen=True)
class Choice:
    id: str
    label: str
    keyword: str


CHOICES = {
    "na": Choice("na", "Không áp dụng", "kad"),
    "skip": Choice("skip", "Bỏ qua", "bỏ qua"),
    "back": Choice("back", "Quay lại", "quay lại"),
    "pause": Choice("pause", "Tạm dừng", "tạm dừng"),
    "done": Choice("done", "Xong", "xong"),
    "clear": Choice("clear", "Xóa danh sách", "xóa"),
    "review": Choice("review", "Xem lại", "xem"),
    "submit": Choice("submit", "Nộp báo cáo", "nộp"),
    "continue": Choice("continue", "Tiếp tục điền", "tiếp"),
    "confirm": Choice("confirm", "Đồng ý nộp", "có"),
    "cancel": Choice("cancel", "Chưa nộp", "không"),
    "accept": Choice("accept", "Đúng", "có"),
    "decline": Choice("decline", "Không", "không"),
}
# What the two answers to a pending question are called, by what is pending.
PENDING_LABELS = {
    "keyword": ("Đúng", "Không phải"),
    "lines": ("Giữ như đã gõ", "Bỏ các dòng này"),
    "clear": ("Xóa hết", "Không xóa"),
    "soft": ("Vẫn ghi", "Nhập lại"),
}

KEYWORDS = {
    "na": {"kad", "khong ap dung", "k ap dung", "n/a", "na", "/kad"},
    "skip": {"bo qua", "skip", "de sau", "tra loi sau", "/boqua"},
    "back": {"quay lai", "lai", "tro lai", "back", "/lai", "/quaylai"},
    "pause": {"tam dung", "dung", "pause", "/dung", "/tamdung"},
    "done": {"xong", "het", "done", "/xong"},
    "clear": {"xoa", "xoa het", "xoa danh sach"},
    "review": {"xem", "xem lai", "/xem", "/review"},
    "submit": {"nop", "nop bao cao", "/nop", "/submit"},
    "continue": {"tiep", "tiep tuc", "/tiep", "/continue", "bat dau", "/start"}
    | {"phu luc", "/phuluc", "ve phu luc"},
    "help": {"/help", "help", "huong dan", "/huongdan", "tro giup", "giup", "/giup", "?"},
}
CONFIRM_WORDS = {"co", "dong y", "yes", "ok", "xac nhan", "1", "nop", "/nop"}
CANCEL_WORDS = {"khong", "huy", "no", "chua", "2", "chua nop"}
ACCEPT_WORDS = {"co", "dung", "dung vay", "dong y", "yes", "ok", "1", "giu", "giu nguyen"}
ACCEPT_WORDS |= {"van ghi", "ghi"}
DECLINE_WORDS = {"khong", "khong phai", "sai", "no", "2", "bo", "bo di", "nhap lai"}
DECLINE_WORDS |= {"khong xoa", "huy"}
GOTO = re.compile(r"^/?(?:cau|sua|/sua)\s*(\d{1,3})$")
REMOVE_ITEM = re.compile(r"^xoa\s*(?:van ban\s*|vb\s*)?(\d{1,3})$")
EDIT_ITEM = re.compile(r"^\s*(\S+)\s+(\d{1,3})\s*[:.,\-]?\s+(\S.*)$", re.S)
# The keywords a slip of the finger is checked against, as typed without diacritics.
NEAR_MISS_TARGETS = {
    "xong": "done",
    "bo qua": "skip",
    "quay lai": "back",
    "tam dung": "pause",
    "khong ap dung": "na",
    "kad": "na",
    "xem": "review",
    "xem lai": "review",
    "nop": "submit",
    "tiep": "continue",
    "tiep tuc": "continue",
    "xoa": "clear",
}
NEAR_MISS_WORDS = tuple(NEAR_MISS_TARGETS)


def render_choices_as_text(choices: tuple[Choice, ...], numbered: bool) -> str:
    """How text-only channels (console, Zalo) show choices: numbered lines or one keyword line.

    A keyword is followed by its meaning only when the label says more than the keyword.
    """
    if not choices:
        return ""
    if numbered:
        return "\n".join(f"{i}. {c.label}" for i, c in enumerate(choices, start=1))
    words = []
    for choice in choices:
        if normalize(choice.label).startswith(normalize(choice.keyword)):
            words.append(choice.keyword)
        else:
            words.append(f"{choice.keyword} ({choice.label.lower()})")
    return "Gõ: " + " · ".join(words)
