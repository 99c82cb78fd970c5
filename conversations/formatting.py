"""Write stored answer values back the Vietnamese way, so that reading them gives them again.

Pure (standard library only). Numbers group thousands with "." and use "," as the decimal mark;
percentages are rounded half up as on paper; dates are written as the plan writes them
(05/7/2022). :func:`format_value` is the inverse of :func:`conversations.parsing.parse_answer`:
parsing the text it writes gives the same value back.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "decimal_text",
    "format_date",
    "format_day",
    "format_number",
    "format_percent",
    "format_value",
    "half_up",
    "ratio_percent",
    "unit_parts",
]

_TYPED_KINDS = frozenset({"decimal", "date", "select_one", "select_multiple", "list"})


def format_number(n: int | float) -> str:
    """Vietnamese style: 1234567 -> "1.234.567", 85.5 -> "85,5", 90.0 -> "90"."""
    if isinstance(n, bool):
        n = int(n)
    if isinstance(n, float):
        if not math.isfinite(n):
            return str(n)
        if n.is_integer():
            n = int(n)
    sign = "-" if n < 0 else ""
    if isinstance(n, int):
        return sign + f"{abs(n):,}".replace(",", ".")
    whole, _, fraction = format(abs(Decimal(repr(n))), "f").partition(".")
    fraction = fraction.rstrip("0")
    grouped = f"{int(whole):,}".replace(",", ".")
    return sign + grouped + ("," + fraction if fraction else "")


def half_up(x: float | int | Decimal, places: int = 1) -> Decimal:
    """`x` rounded half up, as people round on paper: 88.95 -> 89.0 (never to even, and on the
    decimal written, not on the binary float: round(88.95, 1) could give 88.9)."""
    exact = x if isinstance(x, Decimal) else Decimal(repr(x) if isinstance(x, float) else x)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def decimal_text(x: float | int | Decimal, places: int = 1) -> str:
    """A fixed number of decimals with the Vietnamese signs, whatever the machine's locale:
    88.95 -> "89,0", 1234.5 -> "1.234,5"."""
    rounded = half_up(x, places)
    sign = "-" if rounded < 0 else ""
    whole, _, fraction = format(abs(rounded), "f").partition(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    return sign + grouped + ("," + fraction if fraction else "")


def format_percent(x: float | None, places: int = 1) -> str:
    """`places` decimals at most, rounded half up: 90.0 -> "90%", 66.666 -> "66,7%",
    88.95 -> "89%". A stored answer is shown with two places, as typed ("90,25%")."""
    if x is None:
        return "—"
    return format_number(float(half_up(float(x), places))) + "%"


def ratio_percent(done: int, total: int) -> float | None:
    """``done / total`` as a percentage, or None when ``total`` is 0."""
    if total == 0:
        return None
    return done * 100 / total


def unit_parts(unit: str | None) -> tuple[str, str]:
    """The two unit words of a pair question ("lượt/lượt người"), with defaults."""
    if unit:
        parts = [part.strip() for part in unit.split("/")]
        if len(parts) == 2 and all(parts):
            return parts[0], parts[1]
    return "lượt", "lượt người"


def format_day(day: date) -> str:
    """A date the way the plan writes it: 05/7/2022 (day on two digits, month as is)."""
    return f"{day.day:02d}/{day.month}/{day.year}"


def format_date(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{day}/{month}/{year}"


def _format_document(item: dict) -> str:
    parts = []
    if item.get("number"):
        parts.append(item["number"])
    if item.get("date"):
        parts.append("ngày " + format_date(item["date"]))
    if item.get("summary"):
        parts.append(item["summary"])
    if not parts:
        return str(item.get("raw") or "")
    return ", ".join(parts)


def format_value(kind: str, value: dict, *, unit: str | None = None) -> str:
    """Write a stored value the Vietnamese way; ``parse_answer`` reads it back unchanged.

    Raises ValueError for an unknown kind or a value of the wrong shape (programming errors).
    """
    try:
        if kind in _TYPED_KINDS:
            return _format_typed(kind, value)
        if kind == "integer":
            text = format_number(int(value["value"]))
            return f"{text} {unit}" if unit else text
        if kind == "percent":
            return format_percent(float(value["value"]), places=2)
        if kind == "pair":
            times_word, people_word = unit_parts(unit)
            times = format_number(int(value["times"]))
            people = format_number(int(value["people"]))
            return f"{times} {times_word} / {people} {people_word}"
        if kind == "ratio":
            done, total = int(value["done"]), int(value["total"])
            head = f"{format_number(done)}/{format_number(total)}"
            if unit:
                head += f" {unit}"
            percent = ratio_percent(done, total)
            if percent is None:
                return f"{head}, chưa có tỷ lệ"
            return f"{head}, đạt {format_percent(percent)}"
        if kind == "documents":
            return "\n".join(_format_document(item) for item in value["items"])
        if kind == "text":
            return str(value["value"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"malformed {kind} value: {value!r}") from exc
    raise ValueError(f"unknown answer kind: {kind!r}")


def _format_typed(kind: str, value: dict) -> str:
    """The kinds an XLSForm brings (read by `conversations.typed_answers`)."""
    if kind == "decimal":
        return format_number(float(value["value"]))
    if kind == "date":
        return format_day(date.fromisoformat(value["value"]))
    if kind == "select_one":
        return str(value["label"])
    if kind == "select_multiple":
        return ", ".join(str(label) for label in value["labels"]) or "(không chọn)"
    return "\n".join(str(item.get("raw", "")) for item in value["items"])  # list
