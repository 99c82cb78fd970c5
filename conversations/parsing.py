"""Read what an officer types in reply to a report question, and format values back.

This module is pure (standard library only). :func:`parse_answer` turns a free-text chat
answer into a typed, JSON-serialisable value -- or a :class:`Rejected` with a short
Vietnamese reason and an example of a valid answer -- and never raises. :func:`format_value`
writes a stored value back the Vietnamese way, so that parsing the formatted text gives the
same value again.

Kinds and value shapes:

* ``integer``   -> ``{"value": int}``
* ``percent``   -> ``{"value": float}`` (0-100, at most two decimals, as satisfaction indices)
* ``pair``      -> ``{"times": int, "people": int}`` (lượt / lượt người)
* ``ratio``     -> ``{"done": int, "total": int}`` (đã giải quyết / tổng số)
* ``documents`` -> ``{"items": [{"raw", "number", "date", "summary"}, ...]}``
* ``text``      -> ``{"value": str}``

Vietnamese number conventions: "." or a space groups thousands ("1.234", "1 234"), "," is the
decimal mark ("85,5"). For percentages only, a "." followed by one or two digits ("85.5") is
read as a decimal point, because phone keyboards offer "." first and a percentage can never
need a thousands separator. Answers may carry unit words ("12 đơn", "3 vụ"), polite
particles ("Dạ, 12 đơn ạ") and, for pairs and ratios, role words ("giải quyết 45, tổng 50").
Any other word is rejected rather than guessed at: "khoảng 12", "trên 12", "12 nghìn" or
"chưa giải quyết 5" would all change the meaning of the number.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from conversations.text import shorten

__all__ = [
    "DEFAULT_MAXIMUM",
    "MAX_NOTE_CHARS",
    "DocumentLine",
    "describe_document",
    "format_day",
    "keep_as_typed",
    "near_miss",
    "read_document_lines",
    "split_note",
    "KINDS",
    "MAX_ANSWER_CHARS",
    "MAX_DOCUMENT_LINE_CHARS",
    "MAX_DOCUMENT_LINES",
    "MAX_TEXT_CHARS",
    "Parsed",
    "Rejected",
    "format_number",
    "format_percent",
    "format_value",
    "normalize",
    "parse_answer",
    "ratio_percent",
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
_TYPED_KINDS = frozenset({"decimal", "date", "select_one", "select_multiple", "list"})


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


# --------------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Lowercase, drop Vietnamese diacritics (đ -> d), collapse whitespace and strip."""
    if text.isascii():  # nothing to decompose: the common case of digits and bare keywords
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFD", text.lower())
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(bare.replace("đ", "d").split())


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


def _unit_parts(unit: str | None) -> tuple[str, str]:
    """The two unit words of a pair question ("lượt/lượt người"), with defaults."""
    if unit:
        parts = [part.strip() for part in unit.split("/")]
        if len(parts) == 2 and all(parts):
            return parts[0], parts[1]
    return "lượt", "lượt người"


def format_day(day: date) -> str:
    """A date the way the plan writes it: 05/7/2022 (day on two digits, month as is)."""
    return f"{day.day:02d}/{day.month}/{day.year}"


def _format_date(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{day}/{month}/{year}"


def _format_document(item: dict) -> str:
    parts = []
    if item.get("number"):
        parts.append(item["number"])
    if item.get("date"):
        parts.append("ngày " + _format_date(item["date"]))
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
            times_word, people_word = _unit_parts(unit)
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


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------


def _example(kind: str, unit: str | None = None) -> str:
    if kind == "integer":
        return f"Ví dụ: 12 {unit}" if unit else "Ví dụ: 12"
    if kind == "percent":
        return "Ví dụ: 85,5 hoặc 90%"
    if kind == "pair":
        times_word, people_word = _unit_parts(unit)
        return f"Ví dụ: 12 {times_word} / 345 {people_word}"
    if kind == "ratio":
        return "Ví dụ: 45/50 (đã giải quyết 45 trên tổng số 50)"
    if kind == "documents":
        return (
            "Ví dụ: 12-KH/HU, ngày 05/6/2017, Kế hoạch triển khai Chỉ thị 37-CT/TU "
            "(mỗi văn bản một dòng)"
        )
    return "Ví dụ: Đơn vị đã tổ chức 2 hội nghị quán triệt."


_NO_DIGITS = (
    "Chưa thấy số nào trong câu trả lời. Vui lòng ghi bằng chữ số (nếu không có thì nhập 0)."
)
_INVALID_CHAR = "Câu trả lời có ký tự không hợp lệ."
_NEGATIVE = "Số không được âm."
_TOO_LARGE = "Số quá lớn, vui lòng kiểm tra lại."
_NEED_INTEGER = "Cần một số nguyên (không có phần thập phân)."
_ONE_NUMBER = "Chỉ cần nhập một số."


def _reject(reason: str, kind: str, unit: str | None = None) -> Rejected:
    return Rejected(reason=reason, example=_example(kind, unit))


# --------------------------------------------------------------------------------------------
# Numbers: lexing and vocabulary
# --------------------------------------------------------------------------------------------

_LEX_RE = re.compile(
    r"(?P<num>[0-9]+(?:[.,][0-9]+)*)"
    r"|(?P<word>[a-z]+)"
    r"|(?P<punct>[/%,;:()=.\-])"
    r"|(?P<space>\s)"
    r"|(?P<other>.)",
    re.S,
)
# "1 234 567" -> "1234567"; a group starting with 0 or touching a decimal is not grouping.
_SPACE_GROUP_RE = re.compile(r"(?<![0-9.,])[1-9][0-9]{0,2}(?: [0-9]{3})+(?![0-9]|[.,][0-9])")
_PLAIN_INT_RE = re.compile(r"[0-9]+")
_DOT_GROUPED_RE = re.compile(r"[1-9][0-9]{0,2}(?:\.[0-9]{3})+")
_COMMA_DECIMAL_RE = re.compile(r"([1-9][0-9]{0,2}(?:\.[0-9]{3})+|[0-9]+),([0-9]+)")
_DOT_DECIMAL_RE = re.compile(r"([0-9]+)\.([0-9]{1,2})")
_DASHES = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-", "\u2010": "-"})
_WORD_WITH_MARKS_RE = re.compile(r"[^\W\d_]+")


def _phrases(*items: str) -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(item.split()) for item in items)


# Unit words, polite particles and harmless fillers, accepted around any number.
_COMMON_PHRASES = _phrases(
    # units
    "don", "don thu", "thu", "vu", "vu viec", "viec", "luot", "luot nguoi", "nguoi",
    "cuoc", "hoi nghi", "van ban", "buoi", "lop", "tin", "bai", "tin bai", "bai viet",
    "phien", "lan", "ho so", "truong hop", "to chuc", "dang vien", "co so", "co quan",
    "don vi", "kien nghi", "phan anh", "khieu nai", "to cao", "de an", "ke hoach",
    "chuong trinh", "nghi quyet", "quyet dinh", "chi thi", "thong bao", "cong van", "dot",
    "diem", "tai lieu", "hoat dong", "cuon", "chiec", "cai", "nhom", "doan", "dong chi",
    "can bo", "hoc vien", "thanh vien", "ho", "chi bo", "dang bo", "noi dung", "cong trinh",
    "du an", "mo hinh", "chuyen de", "dau moi", "tap the", "ca nhan",
    # fillers and polite particles
    "da", "a", "vang", "nhe", "nha", "ok", "oke", "la", "co", "duoc", "so", "tong",
    "tong so", "tong cong", "dat", "ket qua", "hien nay", "tiep", "tiep nhan", "cong dan",
    "tiep cong dan", "giai quyet", "xu ly", "xong", "hoan thanh", "thuc hien", "trong ky",
    "ky nay", "ky bao cao", "bao cao", "ban hanh", "gom", "tat ca", "em", "anh", "chi",
    "toi", "xin", "gui", "kinh gui", "cua", "don vi em",
)  # fmt: skip
_PAIR_RATIO_PHRASES = _phrases("tren", "va", "tren tong so", "trong tong so", "trong do")
_PERCENT_PHRASES = _phrases("phan tram", "ty le", "ti le")
_RATIO_ONLY_PHRASES = _phrases("chua co ty le", "chua co ti le")
_KIND_PHRASES = {
    "integer": _COMMON_PHRASES,
    "percent": _COMMON_PHRASES | _PERCENT_PHRASES,
    "pair": _COMMON_PHRASES | _PAIR_RATIO_PHRASES,
    "ratio": _COMMON_PHRASES | _PAIR_RATIO_PHRASES | _PERCENT_PHRASES | _RATIO_ONLY_PHRASES,
}
_MULTIPLIERS = frozenset({"nghin", "ngan", "trieu", "ty", "ti", "tram", "chuc", "van", "muoi"})
_NEGATIVE_WORDS = frozenset({"am", "tru"})

_RATIO_DONE = _phrases("giai quyet", "xong", "hoan thanh", "xu ly", "trong do", "ket thuc")
_RATIO_TOTAL = _phrases("tong")
_PAIR_SEPARATOR_WORDS = frozenset({"tren", "va"})
_PAIR_SEPARATOR_PUNCT = frozenset({"/", ",", ";", ":"})


@dataclass(frozen=True)
class _Token:
    kind: str  # "num", "word" or "punct"
    text: str


@lru_cache(maxsize=256)
def _unit_phrases(unit: str | None) -> frozenset[tuple[str, ...]]:
    if not unit:
        return frozenset()
    phrases = set()
    for part in re.split(r"[/,;]", unit):
        words = tuple(re.findall(r"[a-z]+", normalize(part)))
        if words:
            phrases.add(words)
    return frozenset(phrases)


def _original_word(text: str, bare: str) -> str:
    """The word as the officer typed it (with diacritics), for quoting in a reason."""
    for word in _WORD_WITH_MARKS_RE.findall(text):
        if normalize(word) == bare:
            return word
    return bare


def _lex(text: str, kind: str, unit: str | None) -> list[_Token] | Rejected:
    """Common checks for the number kinds, then split into numbers, words and punctuation."""
    stripped = text.strip()
    if not stripped:
        return _reject("Chưa có câu trả lời.", kind, unit)
    if len(stripped) > MAX_ANSWER_CHARS:
        return _reject(f"Câu trả lời quá dài (tối đa {MAX_ANSWER_CHARS} ký tự).", kind, unit)
    bare = normalize(stripped).translate(_DASHES).rstrip(".! ")
    bare = _SPACE_GROUP_RE.sub(lambda m: m.group().replace(" ", ""), bare)
    tokens: list[_Token] = []
    for match in _LEX_RE.finditer(bare):
        group = match.lastgroup
        if group == "other":
            return _reject(_INVALID_CHAR, kind, unit)
        if group != "space":
            tokens.append(_Token(group, match.group()))
    if re.search(r"[0-9] ?- ?[0-9]", bare):
        return _reject("Không dùng dấu “-” giữa hai số.", kind, unit)
    words = {token.text for token in tokens if token.kind == "word"}
    if re.search(r"- ?[0-9]", bare) or words & _NEGATIVE_WORDS:
        return _reject(_NEGATIVE, kind, unit)
    if not any(token.kind == "num" for token in tokens):
        return _reject(_NO_DIGITS, kind, unit)
    return tokens


@lru_cache(maxsize=256)
def _vocabulary(kind: str, unit: str | None) -> tuple[frozenset[tuple[str, ...]], int]:
    """The phrases accepted in an answer of `kind` to a question in `unit`, and the longest."""
    vocabulary = _KIND_PHRASES[kind] | _unit_phrases(unit)
    return vocabulary, max(len(phrase) for phrase in vocabulary)


def _check_words(tokens: list[_Token], text: str, kind: str, unit: str | None) -> Rejected | None:
    """Every word must belong to the vocabulary of the kind (or to the question's unit)."""
    vocabulary, longest = _vocabulary(kind, unit)
    run: list[str] = []
    for token in [*tokens, _Token("punct", "")]:
        if token.kind == "word":
            run.append(token.text)
            continue
        index = 0
        while index < len(run):
            for size in range(min(longest, len(run) - index), 0, -1):
                if tuple(run[index : index + size]) in vocabulary:
                    index += size
                    break
            else:
                word = run[index]
                if word in _MULTIPLIERS:
                    return _reject(
                        "Vui lòng ghi đầy đủ bằng chữ số, ví dụ 12.000 thay cho “12 nghìn”.",
                        kind,
                        unit,
                    )
                quoted = _original_word(text, word)
                return _reject(f"Chưa hiểu “{quoted}”. Vui lòng chỉ ghi số.", kind, unit)
        run = []
    return None


def _read_number(token: str, *, dot_decimal: bool) -> Decimal | str:
    """Read one number token; return an error reason (str) when it is badly written."""
    if _PLAIN_INT_RE.fullmatch(token):
        return Decimal(token)
    if _DOT_GROUPED_RE.fullmatch(token):
        return Decimal(token.replace(".", ""))
    match = _COMMA_DECIMAL_RE.fullmatch(token)
    if match:
        return Decimal(match.group(1).replace(".", "") + "." + match.group(2))
    match = _DOT_DECIMAL_RE.fullmatch(token)
    if match and dot_decimal:
        return Decimal(match.group(1) + "." + match.group(2))
    if match:
        return _NEED_INTEGER + " Dấu chấm dùng để tách hàng nghìn, ví dụ 1.234."
    return (
        f"Chưa đọc được số “{token}”: dấu chấm để tách hàng nghìn (1.234), "
        "dấu phẩy là dấu thập phân (85,5)."
    )


def _read_count(token: str) -> int | str:
    number = _read_number(token, dot_decimal=False)
    if isinstance(number, str):
        return number
    if "," in token:
        return _NEED_INTEGER
    return int(number)


def _bounds_error(
    value: float, minimum: float | None, maximum: float | None, *, percent: bool = False
) -> str | None:
    low = 0 if minimum is None else minimum
    if percent:
        high = 100 if maximum is None else min(maximum, 100)
    else:
        high = DEFAULT_MAXIMUM if maximum is None else maximum
    suffix = "%" if percent else ""
    if value < low:
        return f"Số phải từ {format_number(low)}{suffix} trở lên."
    if value > high:
        if percent:
            return f"Tỷ lệ không được vượt quá {format_number(high)}%."
        return _TOO_LARGE
    return None


def _is_percent_marked(tokens: list[_Token], index: int) -> bool:
    following = tokens[index + 1 : index + 3]
    if following and following[0].text == "%":
        return True
    return [token.text for token in following] == ["phan", "tram"]


def _has_punct(tokens: list[_Token], mark: str) -> bool:
    return any(token.kind == "punct" and token.text == mark for token in tokens)


# --------------------------------------------------------------------------------------------
# Numbers: one parser per kind
# --------------------------------------------------------------------------------------------


def _parse_integer(text, unit, minimum, maximum) -> Parsed | Rejected:
    kind = "integer"
    tokens = _lex(text, kind, unit)
    if isinstance(tokens, Rejected):
        return tokens
    numbers = [token for token in tokens if token.kind == "num"]
    if len(numbers) > 1 or _has_punct(tokens, "/"):
        return _reject(_ONE_NUMBER, kind, unit)
    if _has_punct(tokens, "%"):
        return _reject("Câu hỏi này cần một số nguyên, không phải tỷ lệ phần trăm.", kind, unit)
    rejected = _check_words(tokens, text, kind, unit)
    if rejected:
        return rejected
    value = _read_count(numbers[0].text)
    if isinstance(value, str):
        return _reject(value, kind, unit)
    error = _bounds_error(value, minimum, maximum)
    if error:
        return _reject(error, kind, unit)
    result = {"value": value}
    return Parsed(value=result, echo=format_value(kind, result, unit=unit))


def _parse_percent(text, unit, minimum, maximum) -> Parsed | Rejected:
    kind = "percent"
    tokens = _lex(text, kind, unit)
    if isinstance(tokens, Rejected):
        return tokens
    numbers = [token for token in tokens if token.kind == "num"]
    if len(numbers) > 1 or _has_punct(tokens, "/"):
        return _reject("Chỉ cần nhập một tỷ lệ phần trăm.", kind, unit)
    rejected = _check_words(tokens, text, kind, unit)
    if rejected:
        return rejected
    number = _read_number(numbers[0].text, dot_decimal=True)
    if isinstance(number, str):
        return _reject(number, kind, unit)
    if number.normalize().as_tuple().exponent < -2:
        return _reject("Tỷ lệ chỉ ghi tối đa hai chữ số thập phân, ví dụ 90,25.", kind, unit)
    error = _bounds_error(number, minimum, maximum, percent=True)
    if error:
        return _reject(error, kind, unit)
    result = {"value": round(float(number), 2)}
    return Parsed(value=result, echo=format_value(kind, result, unit=unit))


def _two_numbers(tokens: list[_Token], kind: str, unit: str | None) -> tuple[int, int] | Rejected:
    """Token indexes of the two counts (a ratio's stated percentage is not one of them)."""
    indexes = [
        index
        for index, token in enumerate(tokens)
        if token.kind == "num" and not (kind == "ratio" and _is_percent_marked(tokens, index))
    ]
    if len(indexes) != 2:
        reason = (
            "Cần đúng hai số: số lượt và số lượt người."
            if kind == "pair"
            else "Cần đúng hai số: số đã giải quyết và tổng số."
        )
        return _reject(reason, kind, unit)
    return indexes[0], indexes[1]


def _has_separator(between: list[_Token]) -> bool:
    return any(
        (token.kind == "punct" and token.text in _PAIR_SEPARATOR_PUNCT)
        or (token.kind == "word" and token.text in _PAIR_SEPARATOR_WORDS)
        for token in between
    )


def _starts_with(words: list[str], phrases: frozenset[tuple[str, ...]]) -> int:
    """Length of the longest phrase that ``words`` starts with (0 when none)."""
    best = 0
    for phrase in phrases:
        if len(phrase) > best and tuple(words[: len(phrase)]) == phrase:
            best = len(phrase)
    return best


@lru_cache(maxsize=256)
def _pair_phrases(unit: str | None) -> tuple[frozenset[tuple[str, ...]], ...]:
    """The words that mark a number as the times, and as the people, of a pair."""
    times_word, people_word = _unit_parts(unit)
    times = _phrases("luot") | _unit_phrases(times_word)
    people = _phrases("luot nguoi", "nguoi") | _unit_phrases(people_word)
    return times, people


def _pair_label(tokens: list[_Token], index: int, unit: str | None) -> str | None:
    """ "times" or "people" from the unit words written right after the number."""
    words = []
    for token in tokens[index + 1 :]:
        if token.kind != "word":
            break
        words.append(token.text)
    times_phrases, people_phrases = _pair_phrases(unit)
    times_len = _starts_with(words, times_phrases)
    people_len = _starts_with(words, people_phrases)
    if times_len == people_len:
        return None
    return "times" if times_len > people_len else "people"


def _ratio_label(tokens: list[_Token], start: int, index: int) -> str | None:
    """ "done" or "total" from the last role word written before the number."""
    words = [token.text if token.kind == "word" else "" for token in tokens[start:index]]
    best_end, label = -1, None
    for position in range(len(words)):
        for phrases, role in ((_RATIO_DONE, "done"), (_RATIO_TOTAL, "total")):
            size = _starts_with(words[position:], phrases)
            if size and position + size > best_end:
                best_end, label = position + size, role
    return label


def _assign_roles(
    labels: list[str | None], roles: tuple[str, str], separated: bool
) -> tuple[int, int] | None:
    """Which of the two numbers plays which role; None when it cannot be told."""
    first, second = labels
    if first is None and second is None:
        return (0, 1) if separated else None
    if first == second:
        return None
    if first == roles[0] or second == roles[1]:
        return (0, 1)
    return (1, 0)


def _parse_pair(text, unit, minimum, maximum) -> Parsed | Rejected:
    kind = "pair"
    tokens = _lex(text, kind, unit)
    if isinstance(tokens, Rejected):
        return tokens
    if _has_punct(tokens, "%"):
        return _reject("Cần số lượt và số lượt người, không phải tỷ lệ phần trăm.", kind, unit)
    zero = _lone_zero(tokens, text, kind, unit)
    if zero:
        return zero
    found = _two_counts(tokens, text, kind, unit, minimum, maximum)
    if isinstance(found, Rejected):
        return found
    first, second, values = found
    labels = [_pair_label(tokens, first, unit), _pair_label(tokens, second, unit)]
    order = _assign_roles(labels, ("times", "people"), _has_separator(tokens[first:second]))
    if order is None:
        return _reject("Chưa rõ đâu là số lượt, đâu là số lượt người.", kind, unit)
    result = {"times": values[order[0]], "people": values[order[1]]}
    return Parsed(value=result, echo=format_value(kind, result, unit=unit))


def _lone_zero(tokens: list[_Token], text: str, kind: str, unit: str | None) -> Parsed | None:
    """A bare "0" at a pair or ratio question: nothing at all, i.e. 0/0."""
    numbers = [token for token in tokens if token.kind == "num"]
    if len(numbers) != 1 or _read_number(numbers[0].text, dot_decimal=False) != 0:
        return None
    if _has_punct(tokens, "/") or _has_punct(tokens, "%") or _check_words(tokens, text, kind, unit):
        return None
    result = {"times": 0, "people": 0} if kind == "pair" else {"done": 0, "total": 0}
    return Parsed(value=result, echo=format_value(kind, result, unit=unit))


def _two_counts(tokens, text, kind, unit, minimum, maximum):
    """The two counts of a pair or ratio: (first index, second index, [values]) or Rejected."""
    found = _two_numbers(tokens, kind, unit)
    if isinstance(found, Rejected):
        return found
    first, second = found
    rejected = _check_words(tokens, text, kind, unit)
    if rejected:
        return rejected
    values = []
    for index in (first, second):
        value = _read_count(tokens[index].text)
        if isinstance(value, str):
            return _reject(value, kind, unit)
        error = _bounds_error(value, minimum, maximum)
        if error:
            return _reject(error, kind, unit)
        values.append(value)
    return first, second, values


def _parse_ratio(text, unit, minimum, maximum) -> Parsed | Rejected:
    kind = "ratio"
    tokens = _lex(text, kind, unit)
    if isinstance(tokens, Rejected):
        return tokens
    percents = [
        index
        for index, token in enumerate(tokens)
        if token.kind == "num" and _is_percent_marked(tokens, index)
    ]
    if len(percents) > 1:
        return _reject("Chỉ ghi một tỷ lệ phần trăm.", kind, unit)
    zero = _lone_zero(tokens, text, kind, unit)
    if zero:
        return zero
    found = _two_counts(tokens, text, kind, unit, minimum, maximum)
    if isinstance(found, Rejected):
        return found
    first, second, values = found
    labels = [_ratio_label(tokens, 0, first), _ratio_label(tokens, first + 1, second)]
    order = _assign_roles(labels, ("done", "total"), _has_separator(tokens[first:second]))
    if order is None:
        return _reject("Chưa rõ đâu là số đã giải quyết, đâu là tổng số.", kind, unit)
    done, total = values[order[0]], values[order[1]]
    if done > total:
        return _reject(
            f"Số đã giải quyết ({format_number(done)}) không được lớn hơn "
            f"tổng số ({format_number(total)}).",
            kind,
            unit,
        )
    if percents:
        token = tokens[percents[0]].text
        stated = _read_number(token, dot_decimal=True)
        if isinstance(stated, str):
            return _reject(stated, kind, unit)
        actual = ratio_percent(done, total)
        decimals = max(0, -stated.normalize().as_tuple().exponent)
        tolerance = 0.5 * 10**-decimals + 1e-9
        if actual is None or abs(float(stated) - actual) > tolerance:
            return _reject(
                f"Tỷ lệ {format_percent(float(stated))} không khớp với "
                f"{format_number(done)}/{format_number(total)} ({format_percent(actual)}).",
                kind,
                unit,
            )
    result = {"done": done, "total": total}
    return Parsed(value=result, echo=format_value(kind, result, unit=unit))


# --------------------------------------------------------------------------------------------
# Documents and free text
# --------------------------------------------------------------------------------------------

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


def _has_bad_chars(text: str) -> bool:
    """NUL and lone surrogates cannot be stored (PostgreSQL text/JSON, UTF-8)."""
    return any(ch == "\x00" or "\ud800" <= ch <= "\udfff" for ch in text)


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
        label += " ngày " + _format_date(item["date"])
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
    if _has_bad_chars(text):
        return _reject(_INVALID_CHAR, kind)
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return _reject("Chưa có văn bản nào.", kind)
    if len(lines) > MAX_DOCUMENT_LINES:
        return _reject(f"Quá nhiều dòng (tối đa {MAX_DOCUMENT_LINES} văn bản mỗi lần gửi).", kind)
    for number, line in enumerate(lines, start=1):
        if len(line.strip()) > MAX_DOCUMENT_LINE_CHARS:
            return _reject(
                f"Dòng thứ {number} quá dài (tối đa {MAX_DOCUMENT_LINE_CHARS} ký tự).", kind
            )
    read = [DocumentLine(*_read_document_line(line)) for line in lines]
    for number, line in enumerate(read, start=1):
        item = line.item
        if not item["number"] and not item["date"] and _COUNT_ONLY.fullmatch(item["summary"] or ""):
            where = f"Dòng thứ {number}" if len(lines) > 1 else "Câu trả lời"
            return _reject(
                f"{where} chỉ có một con số: mỗi dòng là một văn bản (số/ký hiệu, ngày ban hành,"
                " trích yếu), không phải số lượng văn bản.",
                kind,
            )
    return read


def _parse_documents(text: str) -> Parsed | Rejected:
    read = read_document_lines(text)
    if isinstance(read, Rejected):
        return read
    items = [line.item for line in read]
    labels = "; ".join(_document_label(item) for item in items[:3])
    if len(items) > 3:
        labels += f" và {len(items) - 3} văn bản khác"
    return Parsed(value={"items": items}, echo=f"Đã nhận {len(items)} văn bản: {labels}.")


# --------------------------------------------------------------------------------------------
# Notes and keyword near-misses
# --------------------------------------------------------------------------------------------

_NOTE_RE = re.compile(r"(?:^|(?<=[\s,;.(]))gh[iì]\s*ch[uúùủũụ]\s*:", re.I)


def split_note(text: str) -> tuple[str, str | None]:
    """ "45/50 ghi chú: ước tính" -> ("45/50", "ước tính"); without a note, (text, None).

    An empty note ("ghi chú:") gives "" (it removes the note kept with the answer).
    """
    match = _NOTE_RE.search(unicodedata.normalize("NFC", text))
    if not match:
        return text, None
    text = unicodedata.normalize("NFC", text)
    note = " ".join(text[match.end() :].split())
    return text[: match.start()].strip().rstrip(",;(").strip(), note


def _distance(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap two neighbours) from `a` to `b`."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


def near_miss(words: str, targets: tuple[str, ...]) -> str | None:
    """The target `words` (already normalized) is a slip of: "xongg", "xog" -> "xong".

    Only words without digits, at least three letters long, one edit away (two for targets
    longer than five letters), and never a target itself.
    """
    if len(words) < 3 or words in targets or any(ch.isdigit() for ch in words):
        return None
    best, best_distance = None, 3
    for target in targets:
        if abs(len(target) - len(words)) > 2:
            continue
        allowed = 1 if len(target) <= 5 else 2
        distance = _distance(words, target)
        if distance <= allowed and distance < best_distance:
            best, best_distance = target, distance
    return best


def _parse_text(text: str) -> Parsed | Rejected:
    kind = "text"
    if _has_bad_chars(text):
        return _reject(_INVALID_CHAR, kind)
    value = text.strip()
    if not value:
        return _reject("Chưa có câu trả lời.", kind)
    if len(value) > MAX_TEXT_CHARS:
        return _reject(f"Câu trả lời quá dài (tối đa {format_number(MAX_TEXT_CHARS)} ký tự).", kind)
    echo = shorten(value, 100)
    return Parsed(value={"value": value}, echo=echo)


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------

_NUMBER_PARSERS = {
    "integer": _parse_integer,
    "percent": _parse_percent,
    "pair": _parse_pair,
    "ratio": _parse_ratio,
}


def _parse(
    kind: str, text: str, unit: str | None, minimum: float | None, maximum: float | None
) -> Parsed | Rejected:
    if not isinstance(text, str):
        return _reject("Chưa có câu trả lời.", kind if kind in KINDS else "text", unit)
    if kind in _NUMBER_PARSERS:
        return _NUMBER_PARSERS[kind](text, unit, minimum, maximum)
    if kind == "documents":
        return _parse_documents(text)
    if kind == "text":
        return _parse_text(text)
    return Rejected(reason="Loại câu hỏi này chưa được hỗ trợ.", example="Ví dụ: 12")


def parse_answer(
    kind: str,
    text: str,
    *,
    unit: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Parsed | Rejected:
    """Read an officer's answer for a question of ``kind``; never raises.

    ``unit`` is the question's unit ("đơn", "lượt/lượt người"): its words are accepted in the
    answer and used in the echo. ``minimum``/``maximum`` narrow the accepted range (counts
    are never negative; percentages stay within 0-100).
    """
    try:
        return _parse(kind, text, unit, minimum, maximum)
    except Exception:  # the contract is "never raises"; this is a last resort
        return Rejected(
            reason="Chưa đọc được câu trả lời, vui lòng nhập lại.",
            example=_example(kind if kind in KINDS else "integer"),
        )
