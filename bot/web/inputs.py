"""Reading what a request carries (path parts, query, form fields) into ids, page numbers and
days, in one place: anything unusable raises `BadInput` with the Vietnamese reason, and the web
server's error middleware (`bot.web.errors`) answers it with a 400 page. Nothing a visitor types
reaches the database in a form it cannot take (a NUL, an id past the integer column, a year
10 000), so bad input is never a 500.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

MAX_ID = 2**31 - 1  # ids are INTEGER columns on PostgreSQL
MAX_TEXT = 10_000  # characters in one field; the longest form field (a reason) keeps 1 000
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2100, 12, 31)


class BadInput(ValueError):
    """A request value that cannot be used; `message` says why, in Vietnamese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_text(value: str, what: str = "giá trị") -> str:
    """The value unchanged when a database can store it: no NUL, not absurdly long."""
    if "\x00" in value:
        raise BadInput(f"{what.capitalize()} có ký tự không hợp lệ.")
    if len(value) > MAX_TEXT:
        raise BadInput(f"{what.capitalize()} quá dài.")
    return value


def check_all(values: Iterable[str], what: str = "giá trị") -> None:
    for value in values:
        check_text(value, what)


def parse_id(text: str, what: str = "mã số") -> int:
    """A record id from a path or field: ASCII digits, within the id column's range."""
    if not (text.isascii() and text.isdigit()) or len(text) > 12 or int(text) > MAX_ID:
        raise BadInput(f"{what.capitalize()} «{_short(text)}» không hợp lệ.")
    return int(text)


def parse_page(text: str | None, *, last: int = 100_000) -> int:
    """A page number (`?trang=`): 1 when absent, else a whole number from 1 to `last`."""
    if not text:
        return 1
    if not (text.isascii() and text.isdigit()) or len(text) > 6 or not 1 <= int(text) <= last:
        raise BadInput(f"Số trang «{_short(text)}» không hợp lệ (là số nguyên từ 1).")
    return int(text)


def parse_day(text: str, what: str = "ngày") -> date:
    """A day as a date field sends it (YYYY-MM-DD), between 2000 and 2100."""
    try:
        day = date.fromisoformat(text) if len(text) == 10 and text.isascii() else None
    except ValueError:
        day = None
    if day is None:
        raise BadInput(f"{what.capitalize()} không hợp lệ (chọn một ngày).")
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise BadInput(
            f"{what.capitalize()} {day:%d/%m/%Y} không hợp lệ: chỉ chọn ngày từ năm "
            f"{EARLIEST_DAY.year} đến năm {LATEST_DAY.year}."
        )
    return day


def _short(text: str) -> str:
    return text if len(text) <= 20 else text[:19] + "…"
