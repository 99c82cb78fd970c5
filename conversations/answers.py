"""What reading an officer's answer gives: a :class:`Parsed` value or a :class:`Rejected` one.

Shared by the readers of each kind (numbers and free text in `conversations.parsing`, the
documents list in `conversations.documents_list`): the answer kinds, the size limits, and the
Vietnamese example shown with every rejection.
"""

from __future__ import annotations

from dataclasses import dataclass

from conversations.formatting import unit_parts

__all__ = [
    "DEFAULT_MAXIMUM",
    "INVALID_CHAR",
    "KINDS",
    "MAX_ANSWER_CHARS",
    "MAX_DOCUMENT_LINE_CHARS",
    "MAX_DOCUMENT_LINES",
    "MAX_NOTE_CHARS",
    "MAX_TEXT_CHARS",
    "Parsed",
    "Rejected",
    "example",
    "has_bad_chars",
    "reject",
]

MAX_ANSWER_CHARS = 200
"""Longest accepted answer for every kind except ``documents`` and ``text``."""

DEFAULT_MAXIMUM = 10_000_000
"""A count above this is "too large to be real" unless the question gives its own maximum."""

MAX_TEXT_CHARS = 2000
MAX_NOTE_CHARS = 500
MAX_DOCUMENT_LINE_CHARS = 500
MAX_DOCUMENT_LINES = 100

KINDS = ("integer", "percent", "pair", "ratio", "documents", "text")


@dataclass(frozen=True)
class Parsed:
    """A successfully read answer."""

    value: dict
    echo: str  # Vietnamese: what was understood, e.g. "45/50 đơn, đạt 90%"


@dataclass(frozen=True)
class Rejected:
    """An answer that could not be read; nothing is stored."""

    reason: str  # Vietnamese, short, e.g. "Số không được âm."
    example: str  # Vietnamese example of a valid answer, e.g. "Ví dụ: 12"


def example(kind: str, unit: str | None = None) -> str:
    """A valid answer for a question of `kind`, as shown after a rejection."""
    if kind == "integer":
        return f"Ví dụ: 12 {unit}" if unit else "Ví dụ: 12"
    if kind == "percent":
        return "Ví dụ: 85,5 hoặc 90%"
    if kind == "pair":
        times_word, people_word = unit_parts(unit)
        return f"Ví dụ: 12 {times_word} / 345 {people_word}"
    if kind == "ratio":
        return "Ví dụ: 45/50 (đã giải quyết 45 trên tổng số 50)"
    if kind == "documents":
        return (
            "Ví dụ: 12-KH/HU, ngày 05/6/2017, Kế hoạch triển khai Chỉ thị 37-CT/TU "
            "(mỗi văn bản một dòng)"
        )
    return "Ví dụ: Đơn vị đã tổ chức 2 hội nghị quán triệt."


INVALID_CHAR = "Câu trả lời có ký tự không hợp lệ."


def reject(reason: str, kind: str, unit: str | None = None) -> Rejected:
    """A rejection with `reason` and the example of a valid answer for `kind`."""
    return Rejected(reason=reason, example=example(kind, unit))


def has_bad_chars(text: str) -> bool:
    """NUL and lone surrogates cannot be stored (PostgreSQL text/JSON, UTF-8)."""
    return any(ch == "\x00" or "\ud800" <= ch <= "\udfff" for ch in text)
