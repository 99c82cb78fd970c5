"""Read the list of documents an officer types at a "documents" question, one per line.

Each line is read into số/ký hiệu ("12-KH/HU"), ngày ban hành and trích yếu; a line only partly
read carries what could not be read, so that the conversation lets the officer decide to keep it
as typed (:func:`keep_as_typed`) or correct it. Pure (standard library only).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from conversations.answers import (
    INVALID_CHAR,
    MAX_DOCUMENT_LINE_CHARS,
    MAX_DOCUMENT_LINES,
    Parsed,
    Rejected,
    has_bad_chars,
    reject,
)
from conversations.formatting import format_date, format_day
from conversations.text import shorten

__all__ = [
    "DocumentLine",
    "describe_document",
    "keep_as_typed",
    "parse_documents",
    "read_document_lines",
]

# Số/ký hiệu: digits then "/" or "-" segments, at least one with letters: "05/QĐ-UBND".
_SYMBOL_RE = re.compile(
    r"(?<!\w)(?:s[ốo](?:\s+(?:hi[ệe]u|k[ýy]\s+hi[ệe]u))?\s*:?\s*)?([0-9]+(?:[/\-][^\W_]+)+)",
    re.I,
)
_NUMERIC_DATE_RE = re.compile(
    r"(?<!\w)(?:ng[àa]y\s*:?\s*)?([0-9]{1,2})([/.\-])([0-9]{1,2})\2([0-9]{4})"
    r"(?!\w)(?![/.\-][0-9])",
    re.I,
)
_WORDED_DATE_RE = re.compile(
    r"(?<!\w)ng[àa]y\s+([0-9]{1,2})\s+th[áa]ng\s+([0-9]{1,2})\s*,?\s*n[ăa]m\s+([0-9]{4})(?!\w)",
    re.I,
)
_BULLET_RE = re.compile(r"^(?:\(?[0-9]{1,3}[.)/]|\(?[a-zđ]\))\s+", re.I)
_LEFT_SEPARATORS = " \t,;:-–—./|•*+·"
_RIGHT_SEPARATORS = " \t,;:-–—.|"


def _clean(text: str) -> str:
    """Strip bullets and separators from both ends and collapse whitespace."""
    while True:
        cleaned = " ".join(text.split())
        cleaned = cleaned.lstrip(_LEFT_SEPARATORS).rstrip(_RIGHT_SEPARATORS)
        cleaned = _BULLET_RE.sub("", cleaned)
        if cleaned == text:
            return cleaned
        text = cleaned


def _find_date(text: str) -> tuple[int, int, str | None] | None:
    """The first date-like text in the line: (start, end, "YYYY-MM-DD" or None if impossible).

    A real date wins over an impossible one anywhere in the line.
    """
    candidates = []
    for match in _NUMERIC_DATE_RE.finditer(text):
        day, month, year = match.group(1), match.group(3), match.group(4)
        candidates.append((match.start(), match.end(), day, month, year))
    for match in _WORDED_DATE_RE.finditer(text):
        day, month, year = match.group(1), match.group(2), match.group(3)
        candidates.append((match.start(), match.end(), day, month, year))
    impossible = None
    for start, end, day, month, year in sorted(candidates):
        try:
            if not 1900 <= int(year) <= 2100:
                raise ValueError(year)
            found = date(int(year), int(month), int(day))
        except ValueError:
            impossible = impossible or (start, end, None)
            continue
        return start, end, found.isoformat()
    return impossible


_HOLE = "\x00"  # marks where a number or date was taken out; NUL never reaches here
_HOLE_RE = re.compile(r"[\s,;:.|\-–—]*\x00[\s,;:.|\-–—]*")


def _read_document_line(line: str) -> tuple[dict, str | None]:
    """One typed line as a document, and what could not be read in it (None: all read)."""
    raw = line.strip()
    body = unicodedata.normalize("NFC", raw)
    number = None
    for match in _SYMBOL_RE.finditer(body):
        if any(ch.isalpha() for ch in match.group(1)):
            number = match.group(1)
            body = body[: match.start()] + _HOLE + body[match.end() :]
            break
    found = _find_date(body.replace(_HOLE, " "))  # same length: positions still hold
    iso = None
    problem = None
    if found:
        start, end, iso = found
        if iso is None:
            typed = re.sub(r"^ng[àa]y\s*:?\s*", "", _clean(body[start:end]), flags=re.I)
            problem = f"ngày “{typed}” không có thật"
        else:
            body = body[:start] + _HOLE + body[end:]
    summary = _clean(_HOLE_RE.sub(" ", body)) or None
    if number is None and iso is None and summary is None:
        summary = raw
    if problem is None and number is None and iso is None:
        problem = "không thấy số/ký hiệu và ngày ban hành"
    return {"raw": raw, "number": number, "date": iso, "summary": summary}, problem


def keep_as_typed(raw: str) -> dict:
    """A line the officer chose to keep although not all of it could be read.

    Its số/ký hiệu is kept if one was read; everything else stays in the trích yếu as typed.
    """
    item, _ = _read_document_line(raw)
    if item["date"] is None:
        body = unicodedata.normalize("NFC", item["raw"])
        if item["number"]:
            body = body.replace(item["number"], _HOLE, 1)
        item["summary"] = _clean(_HOLE_RE.sub(" ", body)) or item["raw"]
    return item


def describe_document(item: dict) -> str:
    """A document as read, each part named: "số 12-KH/HU, ngày 05/6/2017, trích yếu: …"."""
    number = f"số {item['number']}" if item.get("number") else "chưa có số/ký hiệu"
    day = item.get("date")
    when = f"ngày {format_day(date.fromisoformat(day))}" if day else "chưa có ngày"
    summary = item.get("summary")
    return f"{number}, {when}" + (f", trích yếu: {summary}" if summary else "")


def _document_label(item: dict) -> str:
    label = shorten(item["number"] or item["summary"] or item["raw"], 40)
    if item["date"]:
        label += " ngày " + format_date(item["date"])
    return label


_COUNT_ONLY = re.compile(r"\s*\d+(?:[.,\s]\d+)*\s*(?:văn bản|van ban|vb)?\s*\.?\s*", re.IGNORECASE)


@dataclass(frozen=True)
class DocumentLine:
    """One line typed at a document question, as read: the item, and what could not be read."""

    item: dict
    problem: str | None


def read_document_lines(text: str) -> list[DocumentLine] | Rejected:
    """Each non-empty line read into số/ký hiệu, ngày ban hành and trích yếu.

    A message that cannot be a list of documents at all (too long, a bare count) is Rejected;
    a line that was only partly read carries its `problem` so that the officer decides.
    """
    kind = "documents"
    if has_bad_chars(text):
        return reject(INVALID_CHAR, kind)
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return reject("Chưa có văn bản nào.", kind)
    if len(lines) > MAX_DOCUMENT_LINES:
        return reject(f"Quá nhiều dòng (tối đa {MAX_DOCUMENT_LINES} văn bản mỗi lần gửi).", kind)
    for number, line in enumerate(lines, start=1):
        if len(line.strip()) > MAX_DOCUMENT_LINE_CHARS:
            return reject(
                f"Dòng thứ {number} quá dài (tối đa {MAX_DOCUMENT_LINE_CHARS} ký tự).", kind
            )
    read = [DocumentLine(*_read_document_line(line)) for line in lines]
    for number, line in enumerate(read, start=1):
        item = line.item
        if not item["number"] and not item["date"] and _COUNT_ONLY.fullmatch(item["summary"] or ""):
            where = f"Dòng thứ {number}" if len(lines) > 1 else "Câu trả lời"
            return reject(
                f"{where} chỉ có một con số: mỗi dòng là một văn bản (số/ký hiệu, ngày ban hành,"
                " trích yếu), không phải số lượng văn bản.",
                kind,
            )
    return read


def parse_documents(text: str) -> Parsed | Rejected:
    read = read_document_lines(text)
    if isinstance(read, Rejected):
        return read
    items = [line.item for line in read]
    labels = "; ".join(_document_label(item) for item in items[:3])
    if len(items) > 3:
        labels += f" và {len(items) - 3} văn bản khác"
    return Parsed(value={"items": items}, echo=f"Đã nhận {len(items)} văn bản: {labels}.")


# --------------------------------------------------------------------------------------------
