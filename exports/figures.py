"""The figures of the consolidated table, and the consolidation rules, without any Excel.

Each question becomes one or more columns (a pair: lượt / lượt người; a ratio: đã giải quyết /
tổng số / tỷ lệ %; a list of documents: how many). `unit_figures` gives a unit's cells for a
question and `Totals` adds units up following FORM-CT37.md "Consolidation rules":

* counts (integers, both halves of pairs and ratios, numbers of documents) are summed;
* a ratio's percentage is recomputed from the summed halves (Σdone / Σtotal), never averaged,
  and is "—" when Σtotal is 0;
* a typed percentage is never summed: totals show the average of the units that gave one,
  printed in italics (the legend says it is an average);
* "Không áp dụng" ("x") and "not answered" are kept apart from 0 and left out of every sum;
  a total nobody contributed to stays empty, not 0.

Every cell is a `Figure(value, role)`; the role tells the writer how to show it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from conversations.formatting import ratio_percent
from conversations.forms import Form, Question, QuestionKind

NA_MARK = "x"  # as statistical tables mark "Không áp dụng" (the legend says so)
DASH = "—"

# Roles of a figure
INT = "int"  # a count
PCT = "pct"  # a percentage (typed, or a ratio's computed one)
AVG = "avg"  # an average of typed percentages (totals only)
TEXT = "text"  # free text
NA = "na"  # "Không áp dụng"
UNANSWERED = "unanswered"
NOT_ASKED = "not_asked"  # the question is not asked of this unit's level
NO_RATE = "no_rate"  # a ratio whose total is 0: no percentage ("—")
EMPTY = "empty"  # a total nobody contributed to


@dataclass(frozen=True, slots=True)
class AnswerData:
    """One stored answer: its value (shape depends on the question kind) or "Không áp dụng"."""

    value: dict | None
    not_applicable: bool = False
    note: str | None = None  # the officer's own remark ("ghi chú: số liệu ước tính")

    @property
    def answered(self) -> bool:
        return self.not_applicable or self.value is not None


@dataclass(frozen=True)
class Figure:
    value: object
    role: str


@dataclass(frozen=True)
class Column:
    """One column of the consolidated table: a question, and which part of its answer."""

    question: Question
    part: str  # value | times | people | done | total | rate | count
    header: str
    width: float


def unit_words(question: Question) -> tuple[str, str]:
    """The two unit words of a pair question ("lượt", "lượt người")."""
    if question.unit:
        parts = [part.strip() for part in question.unit.split("/")]
        if len(parts) == 2 and all(parts):
            return parts[0], parts[1]
    return "lượt", "lượt người"


def question_columns(question: Question) -> list[Column]:
    kind, unit = question.kind, question.unit
    if kind == QuestionKind.PAIR:
        times, people = unit_words(question)
        return [
            Column(question, "times", times, 7),
            Column(question, "people", people, 8),
        ]
    if kind == QuestionKind.RATIO:
        noun = f" {unit}" if unit else ""
        return [
            Column(question, "done", f"Số{noun} đã giải quyết", 9),
            Column(question, "total", f"Tổng số{noun}", 8),
            Column(question, "rate", "Tỷ lệ %", 7.5),
        ]
    if kind == QuestionKind.PERCENT:
        return [Column(question, "value", "% (dòng cộng: bình quân)", 9)]
    if kind == QuestionKind.DOCUMENTS:
        return [Column(question, "count", "Số văn bản", 8)]
    if kind == QuestionKind.TEXT:
        return [Column(question, "value", "Nội dung", 30)]
    return [Column(question, "value", f"Số {unit}" if unit else "Số", 8)]


def form_columns(form: Form) -> list[Column]:
    return [column for question in form.questions for column in question_columns(question)]


def _count(value: dict | None, key: str) -> int | None:
    if not isinstance(value, dict):
        return None
    number = value.get(key)
    if isinstance(number, bool) or not isinstance(number, int | float):
        return None
    return int(number)


def _percent(value: dict | None) -> float | None:
    if not isinstance(value, dict):
        return None
    number = value.get("value")
    if isinstance(number, bool) or not isinstance(number, int | float):
        return None
    return float(number)


def documents_of(value: dict | None) -> list[dict]:
    if not isinstance(value, dict) or not isinstance(value.get("items"), list):
        return []
    return [item for item in value["items"] if isinstance(item, dict)]


def numbers_of(question: Question, value: dict | None) -> list[int | float] | None:
    """The numbers an answer contributes to totals, one per column; None when malformed."""
    kind = question.kind
    if kind == QuestionKind.INTEGER:
        parts = [_count(value, "value")]
    elif kind == QuestionKind.PERCENT:
        parts = [_percent(value)]
    elif kind == QuestionKind.PAIR:
        parts = [_count(value, "times"), _count(value, "people")]
    elif kind == QuestionKind.RATIO:
        parts = [_count(value, "done"), _count(value, "total")]
    elif kind == QuestionKind.DOCUMENTS:
        if not isinstance(value, dict) or not isinstance(value.get("items"), list):
            return None
        parts = [len(documents_of(value))]
    else:
        return None
    return None if any(part is None for part in parts) else parts  # type: ignore[return-value]


def unit_figures(question: Question, answer: AnswerData | None, asked: bool) -> list[Figure]:
    """A unit's cells for one question (as many as the question has columns)."""
    if not asked:
        return [Figure(None, NOT_ASKED)] * len(question_columns(question))
    if answer is None or not answer.answered:
        return [Figure(None, UNANSWERED)] * len(question_columns(question))
    if answer.not_applicable:
        return [Figure(NA_MARK, NA)] * len(question_columns(question))
    kind, value = question.kind, answer.value
    if kind == QuestionKind.TEXT:
        text = value.get("value") if isinstance(value, dict) else None
        return [Figure(str(text) if text is not None else None, TEXT)]
    numbers = numbers_of(question, value)
    if numbers is None:  # a stored value of the wrong shape: show it rather than hide it
        width = len(question_columns(question))
        return [Figure(str(value), TEXT)] + [Figure(None, UNANSWERED)] * (width - 1)
    if kind == QuestionKind.PERCENT:
        return [Figure(numbers[0], PCT)]
    figures = [Figure(number, INT) for number in numbers]
    if kind == QuestionKind.RATIO:
        rate = ratio_percent(int(numbers[0]), int(numbers[1]))
        figures.append(Figure(DASH, NO_RATE) if rate is None else Figure(rate, PCT))
    return figures


@dataclass
class _Sum:
    contributors: int = 0
    sums: list[float] = field(default_factory=list)

    def add(self, numbers: list[int | float]) -> None:
        if not self.sums:
            self.sums = [0] * len(numbers)
        self.contributors += 1
        for index, number in enumerate(numbers):
            self.sums[index] += number


class Totals:
    """Running totals of a set of units (a group, the province), question by question."""

    def contributors(self, question: Question) -> int:
        return self._sums[question.key].contributors

    def __init__(self, form: Form) -> None:
        self.form = form
        self._sums: dict[str, _Sum] = {q.key: _Sum() for q in form.questions}

    def add(self, level: str, answers: dict[str, AnswerData]) -> None:
        """Add one unit's answers; who may be added is `exports.consolidation`'s business."""
        for question in self.form.questions:
            if not question.applies_to(level):
                continue
            answer = answers.get(question.key)
            if answer is None or answer.not_applicable or answer.value is None:
                continue
            numbers = numbers_of(question, answer.value)
            if numbers is not None:
                self._sums[question.key].add(numbers)

    def figures(self, question: Question) -> list[Figure]:
        width = len(question_columns(question))
        total = self._sums[question.key]
        if question.kind == QuestionKind.TEXT or not total.contributors:
            return [Figure(None, EMPTY)] * width
        if question.kind == QuestionKind.PERCENT:
            return [Figure(total.sums[0] / total.contributors, AVG)]
        figures = [Figure(int(number), INT) for number in total.sums]
        if question.kind == QuestionKind.RATIO:
            rate = ratio_percent(int(total.sums[0]), int(total.sums[1]))
            figures.append(Figure(DASH, NO_RATE) if rate is None else Figure(rate, PCT))
        return figures


# The chat's short labels abbreviate; printed documents use the plan's own words.
_PLAN_WORDS = {"KT": "kiểm tra", "VB": "Văn bản", "DVC": "Dịch vụ công"}
_ABBREVIATION = re.compile(r"\b(" + "|".join(_PLAN_WORDS) + r")\b")


def printed_title(question) -> str:
    """A question's short title with the chat's abbreviations written out: "Số đoàn KT" ->
    "Số đoàn kiểm tra", "VB cấp ủy Đảng" -> "Văn bản cấp ủy Đảng"."""
    return _ABBREVIATION.sub(lambda match: _PLAN_WORDS[match.group(1)], question.title)
