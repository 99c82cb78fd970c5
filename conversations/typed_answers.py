"""Answers to the question kinds an XLSForm brings: decimal, date, select_one, select_multiple
and list (a repeat, one item per line).

`parse_typed` reads what an officer typed for such a question (it needs the question for its
choices and fields) and returns `Parsed` or `Rejected` with a Vietnamese reason, never raising;
`parsing.format_value` writes a stored value back. Value shapes:

* ``decimal``         -> ``{"value": float}``
* ``date``            -> ``{"value": "YYYY-MM-DD"}``
* ``select_one``      -> ``{"value": name, "label": label}``
* ``select_multiple`` -> ``{"values": [name, ...], "labels": [label, ...]}``
* ``list``            -> ``{"items": [{"raw": line, field_key: value, ...}, ...]}``

Pure: standard library and the form model only.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from conversations.answers import (
    DEFAULT_MAXIMUM,
    MAX_DOCUMENT_LINES,
    MAX_TEXT_CHARS,
    Parsed,
    Rejected,
)
from conversations.formatting import format_number, format_value
from conversations.forms import Question, QuestionKind
from conversations.parsing import normalize, parse_answer

TYPED_KINDS = frozenset({"decimal", "date", "select_one", "select_multiple", "list"})
_DATE = re.compile(r"^\s*(?:ng[àa]y\s*)?(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})\s*$", re.I)
_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$")
_SEPARATORS = re.compile(r"\s*[,;]\s*|\s+và\s+|\s+")


def parse_typed(question: Question, text: str) -> Parsed | Rejected:
    kind = question.kind.value
    try:
        if kind == "decimal":
            return _decimal(text, question.minimum, question.maximum, question.unit)
        if kind == "date":
            return _date(text)
        if kind == "select_one":
            return _select_one(question, text)
        if kind == "select_multiple":
            return _select_multiple(question, text)
        if kind == "list":
            return _list(question, text)
    except Exception:  # the contract is "never raises"; this is a last resort
        pass
    return Rejected(
        reason="Chưa đọc được câu trả lời, vui lòng nhập lại.", example=example(question)
    )


def example(question: Question) -> str:
    kind = question.kind
    if kind is QuestionKind.DECIMAL:
        return "Ví dụ: 12,5"
    if kind is QuestionKind.DATE:
        return "Ví dụ: 05/7/2022"
    if kind in (QuestionKind.SELECT_ONE, QuestionKind.SELECT_MULTIPLE):
        names = "; ".join(f"{n}. {o.label}" for n, o in enumerate(question.choices, start=1))
        many = " (chọn nhiều: 1, 3)" if kind is QuestionKind.SELECT_MULTIPLE else ""
        return f"Trả lời bằng số thứ tự{many}: {names}"
    if kind is QuestionKind.LIST:
        return "Mỗi dòng một mục: " + "; ".join(f.label for f in question.fields)
    return ""


def format_typed(kind: str, value: dict) -> str:
    return format_value(kind, value)


def _read_decimal(text: str) -> Decimal | None:
    cleaned = text.strip().replace(" ", "")
    if re.fullmatch(r"-?\d{1,3}(?:\.\d{3})+(?:,\d+)?", cleaned):
        cleaned = cleaned.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"-?\d+,\d+", cleaned):
        cleaned = cleaned.replace(",", ".")
    elif not re.fullmatch(r"-?\d+(?:\.\d+)?", cleaned):
        return None
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return None


def _decimal(text: str, minimum, maximum, unit) -> Parsed | Rejected:
    body = text.strip()
    if unit and normalize(body).endswith(normalize(unit)):
        body = body[: len(body) - len(unit)].strip()
    number = _read_decimal(body)
    if number is None:
        return Rejected(reason="Cần một số, phần thập phân sau dấu phẩy.", example="Ví dụ: 12,5")
    low = 0 if minimum is None else minimum
    high = DEFAULT_MAXIMUM if maximum is None else maximum
    if number < Decimal(str(low)) or number > Decimal(str(high)):
        return Rejected(
            reason=f"Số phải trong khoảng {format_number(float(low))} đến "
            f"{format_number(float(high))}.",
            example="Ví dụ: 12,5",
        )
    value = {"value": float(number)}
    return Parsed(value=value, echo=format_typed("decimal", value))


def _date(text: str) -> Parsed | Rejected:
    match = _DATE.match(text)
    try:
        if match:
            day = date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        elif _ISO_DATE.match(text):
            day = date.fromisoformat(text.strip())
        else:
            return Rejected(reason="Cần một ngày dạng ngày/tháng/năm.", example="Ví dụ: 05/7/2022")
    except ValueError:
        return Rejected(reason="Ngày này không có thật.", example="Ví dụ: 05/7/2022")
    value = {"value": day.isoformat()}
    return Parsed(value=value, echo=format_typed("date", value))


def _choice(question: Question, word: str):
    bare = normalize(word)
    if bare.isdigit() and 1 <= int(bare) <= len(question.choices):
        return question.choices[int(bare) - 1]
    for option in question.choices:
        if bare in (normalize(option.name), normalize(option.label)):
            return option
    return None


def _select_one(question: Question, text: str) -> Parsed | Rejected:
    option = _choice(question, text)
    if option is None:
        return Rejected(reason="Chưa có lựa chọn này.", example=example(question))
    value = {"value": option.name, "label": option.label}
    return Parsed(value=value, echo=option.label)


def _select_multiple(question: Question, text: str) -> Parsed | Rejected:
    whole = _choice(question, text)
    words = [text] if whole else [w for w in _SEPARATORS.split(text.strip()) if w]
    chosen = []
    for word in words:
        option = _choice(question, word)
        if option is None:
            return Rejected(reason=f"Chưa có lựa chọn «{word}».", example=example(question))
        if option not in chosen:
            chosen.append(option)
    if not chosen:
        return Rejected(reason="Cần chọn ít nhất một mục.", example=example(question))
    chosen.sort(key=question.choices.index)
    value = {"values": [o.name for o in chosen], "labels": [o.label for o in chosen]}
    return Parsed(value=value, echo=format_typed("select_multiple", value))


def read_list_line(question: Question, line: str) -> dict | str:
    """One list item from one line (fields separated by ";"), or a Vietnamese problem."""
    parts = [part.strip() for part in line.split(";")]
    fields = question.fields
    if len(parts) != len(fields):
        return (
            f"cần {len(fields)} phần cách nhau bởi dấu «;» ({'; '.join(f.label for f in fields)})"
        )
    item: dict = {"raw": line.strip()}
    for field, part in zip(fields, parts, strict=True):
        if field.kind is QuestionKind.TEXT:
            item[field.key] = part
            continue
        if field.kind is QuestionKind.INTEGER:
            parsed = parse_answer("integer", part)
        elif field.kind is QuestionKind.DECIMAL:
            parsed = _decimal(part, None, None, None)
        else:
            parsed = _date(part)
        if isinstance(parsed, Rejected):
            return f"{field.label}: {parsed.reason}"
        item[field.key] = parsed.value["value"]
    return item


def _list(question: Question, text: str) -> Parsed | Rejected:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or len(text) > MAX_TEXT_CHARS * 5 or len(lines) > MAX_DOCUMENT_LINES:
        return Rejected(reason="Cần ít nhất một dòng.", example=example(question))
    items = []
    for number, line in enumerate(lines, start=1):
        item = read_list_line(question, line)
        if isinstance(item, str):
            return Rejected(reason=f"Dòng {number}: {item}.", example=example(question))
        items.append(item)
    value = {"items": items}
    return Parsed(value=value, echo=f"{len(items)} mục")
