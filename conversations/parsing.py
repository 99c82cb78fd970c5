"""Read what an officer types in reply to a report question, and format values back.

This module is pure (standard library only). :func:`parse_answer` turns a free-text chat
answer into a typed, JSON-serialisable value -- or a :class:`Rejected` with a short
Vietnamese reason and an example of a valid answer -- and never raises. Writing values
back is `conversations.formatting`; the documents list is read by
`conversations.documents_list`; notes and keyword slips are in `conversations.notes`; the
words accepted around numbers are `conversations.number_words`.

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

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from conversations import number_words as vocab
from conversations.answers import (
    DEFAULT_MAXIMUM,
    INVALID_CHAR,
    KINDS,
    MAX_ANSWER_CHARS,
    MAX_TEXT_CHARS,
    Parsed,
    Rejected,
    example,
    has_bad_chars,
    reject,
)
from conversations.documents_list import parse_documents
from conversations.formatting import (
    format_number,
    format_percent,
    format_value,
    ratio_percent,
    unit_parts,
)
from conversations.text import shorten

__all__ = ["normalize", "parse_answer"]


# --------------------------------------------------------------------------------------------
# Comparing words
# --------------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Lowercase, drop Vietnamese diacritics (đ -> d), collapse whitespace and strip."""
    if text.isascii():  # nothing to decompose: the common case of digits and bare keywords
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFD", text.lower())
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(bare.replace("đ", "d").split())


# --------------------------------------------------------------------------------------------
# Numbers: lexing (the vocabulary is `conversations.number_words`)
# --------------------------------------------------------------------------------------------


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
    for word in vocab.WORD_WITH_MARKS_RE.findall(text):
        if normalize(word) == bare:
            return word
    return bare


def _lex(text: str, kind: str, unit: str | None) -> list[_Token] | Rejected:
    """Common checks for the number kinds, then split into numbers, words and punctuation."""
    stripped = text.strip()
    if not stripped:
        return reject("Chưa có câu trả lời.", kind, unit)
    if len(stripped) > MAX_ANSWER_CHARS:
        return reject(f"Câu trả lời quá dài (tối đa {MAX_ANSWER_CHARS} ký tự).", kind, unit)
    bare = normalize(stripped).translate(vocab.DASHES).rstrip(".! ")
    bare = vocab.SPACE_GROUP_RE.sub(lambda m: m.group().replace(" ", ""), bare)
    tokens: list[_Token] = []
    for match in vocab.LEX_RE.finditer(bare):
        group = match.lastgroup
        if group == "other":
            return reject(INVALID_CHAR, kind, unit)
        if group != "space":
            tokens.append(_Token(group, match.group()))
    if re.search(r"[0-9] ?- ?[0-9]", bare):
        return reject("Không dùng dấu “-” giữa hai số.", kind, unit)
    words = {token.text for token in tokens if token.kind == "word"}
    if re.search(r"- ?[0-9]", bare) or words & vocab.NEGATIVE_WORDS:
        return reject(vocab.NEGATIVE, kind, unit)
    if not any(token.kind == "num" for token in tokens):
        return reject(vocab.NO_DIGITS, kind, unit)
    return tokens


@lru_cache(maxsize=256)
def _vocabulary(kind: str, unit: str | None) -> tuple[frozenset[tuple[str, ...]], int]:
    """The phrases accepted in an answer of `kind` to a question in `unit`, and the longest."""
    vocabulary = vocab.KIND_PHRASES[kind] | _unit_phrases(unit)
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
                if word in vocab.MULTIPLIERS:
                    return reject(
                        "Vui lòng ghi đầy đủ bằng chữ số, ví dụ 12.000 thay cho “12 nghìn”.",
                        kind,
                        unit,
                    )
                quoted = _original_word(text, word)
                return reject(f"Chưa hiểu “{quoted}”. Vui lòng chỉ ghi số.", kind, unit)
        run = []
    return None


def _read_number(token: str, *, dot_decimal: bool) -> Decimal | str:
    """Read one number token; return an error reason (str) when it is badly written."""
    if vocab.PLAIN_INT_RE.fullmatch(token):
        return Decimal(token)
    if vocab.DOT_GROUPED_RE.fullmatch(token):
        return Decimal(token.replace(".", ""))
    match = vocab.COMMA_DECIMAL_RE.fullmatch(token)
    if match:
        return Decimal(match.group(1).replace(".", "") + "." + match.group(2))
    match = vocab.DOT_DECIMAL_RE.fullmatch(token)
    if match and dot_decimal:
        return Decimal(match.group(1) + "." + match.group(2))
    if match:
        return vocab.NEED_INTEGER + " Dấu chấm dùng để tách hàng nghìn, ví dụ 1.234."
    return (
        f"Chưa đọc được số “{token}”: dấu chấm để tách hàng nghìn (1.234), "
        "dấu phẩy là dấu thập phân (85,5)."
    )


def _read_count(token: str) -> int | str:
    number = _read_number(token, dot_decimal=False)
    if isinstance(number, str):
        return number
    if "," in token:
        return vocab.NEED_INTEGER
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
        return vocab.TOO_LARGE
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
        return reject(vocab.ONE_NUMBER, kind, unit)
    if _has_punct(tokens, "%"):
        return reject("Câu hỏi này cần một số nguyên, không phải tỷ lệ phần trăm.", kind, unit)
    rejected = _check_words(tokens, text, kind, unit)
    if rejected:
        return rejected
    value = _read_count(numbers[0].text)
    if isinstance(value, str):
        return reject(value, kind, unit)
    error = _bounds_error(value, minimum, maximum)
    if error:
        return reject(error, kind, unit)
    result = {"value": value}
    return Parsed(value=result, echo=format_value(kind, result, unit=unit))


def _parse_percent(text, unit, minimum, maximum) -> Parsed | Rejected:
    kind = "percent"
    tokens = _lex(text, kind, unit)
    if isinstance(tokens, Rejected):
        return tokens
    numbers = [token for token in tokens if token.kind == "num"]
    if len(numbers) > 1 or _has_punct(tokens, "/"):
        return reject("Chỉ cần nhập một tỷ lệ phần trăm.", kind, unit)
    rejected = _check_words(tokens, text, kind, unit)
    if rejected:
        return rejected
    number = _read_number(numbers[0].text, dot_decimal=True)
    if isinstance(number, str):
        return reject(number, kind, unit)
    if number.normalize().as_tuple().exponent < -2:
        return reject("Tỷ lệ chỉ ghi tối đa hai chữ số thập phân, ví dụ 90,25.", kind, unit)
    error = _bounds_error(number, minimum, maximum, percent=True)
    if error:
        return reject(error, kind, unit)
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
        return reject(reason, kind, unit)
    return indexes[0], indexes[1]


def _has_separator(between: list[_Token]) -> bool:
    return any(
        (token.kind == "punct" and token.text in vocab.PAIR_SEPARATOR_PUNCT)
        or (token.kind == "word" and token.text in vocab.PAIR_SEPARATOR_WORDS)
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
    times_word, people_word = unit_parts(unit)
    times = vocab.phrases("luot") | _unit_phrases(times_word)
    people = vocab.phrases("luot nguoi", "nguoi") | _unit_phrases(people_word)
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
        for phrases, role in ((vocab.RATIO_DONE, "done"), (vocab.RATIO_TOTAL, "total")):
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
        return reject("Cần số lượt và số lượt người, không phải tỷ lệ phần trăm.", kind, unit)
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
        return reject("Chưa rõ đâu là số lượt, đâu là số lượt người.", kind, unit)
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
            return reject(value, kind, unit)
        error = _bounds_error(value, minimum, maximum)
        if error:
            return reject(error, kind, unit)
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
        return reject("Chỉ ghi một tỷ lệ phần trăm.", kind, unit)
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
        return reject("Chưa rõ đâu là số đã giải quyết, đâu là tổng số.", kind, unit)
    done, total = values[order[0]], values[order[1]]
    if done > total:
        return reject(
            f"Số đã giải quyết ({format_number(done)}) không được lớn hơn "
            f"tổng số ({format_number(total)}).",
            kind,
            unit,
        )
    if percents:
        token = tokens[percents[0]].text
        stated = _read_number(token, dot_decimal=True)
        if isinstance(stated, str):
            return reject(stated, kind, unit)
        actual = ratio_percent(done, total)
        decimals = max(0, -stated.normalize().as_tuple().exponent)
        tolerance = 0.5 * 10**-decimals + 1e-9
        if actual is None or abs(float(stated) - actual) > tolerance:
            return reject(
                f"Tỷ lệ {format_percent(float(stated))} không khớp với "
                f"{format_number(done)}/{format_number(total)} ({format_percent(actual)}).",
                kind,
                unit,
            )
    result = {"done": done, "total": total}
    return Parsed(value=result, echo=format_value(kind, result, unit=unit))


# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Free text
# --------------------------------------------------------------------------------------------


def _parse_text(text: str) -> Parsed | Rejected:
    kind = "text"
    if has_bad_chars(text):
        return reject(INVALID_CHAR, kind)
    value = text.strip()
    if not value:
        return reject("Chưa có câu trả lời.", kind)
    if len(value) > MAX_TEXT_CHARS:
        return reject(f"Câu trả lời quá dài (tối đa {format_number(MAX_TEXT_CHARS)} ký tự).", kind)
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
        return reject("Chưa có câu trả lời.", kind if kind in KINDS else "text", unit)
    if kind in _NUMBER_PARSERS:
        return _NUMBER_PARSERS[kind](text, unit, minimum, maximum)
    if kind == "documents":
        return parse_documents(text)
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
            example=example(kind if kind in KINDS else "integer"),
        )
