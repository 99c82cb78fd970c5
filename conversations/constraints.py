"""A question's own constraint (an XLSForm `constraint`), checked against one typed answer.

The expression is the safe subset of `conversations.expressions`; `.` is the answer's plain
value (a number, a date as YYYY-MM-DD, a text, a choice's name, the list of chosen names, a
list's number of items), `${unit_level}` the unit's level and `${other}` another answer's plain
value. A broken constraint gives the form's `constraint_message`, or a generic Vietnamese one.
"""

from __future__ import annotations

from collections.abc import Mapping

from conversations.expressions import parse_expression
from conversations.forms import Question

DEFAULT_MESSAGE = "Câu trả lời không đúng điều kiện của biểu mẫu, vui lòng kiểm tra lại."


def plain_value(value: dict | None) -> object:
    """The one value an expression sees for a stored answer (None when there is none)."""
    if not value:
        return None
    if "values" in value:
        return list(value["values"])
    if "items" in value:
        return float(len(value["items"]))
    return value.get("value")


def answer_values(answers: Mapping[str, object], level: str) -> dict[str, object]:
    values: dict[str, object] = {"unit_level": level}
    for key, answer in answers.items():
        if not getattr(answer, "not_applicable", False):
            values[key] = plain_value(getattr(answer, "value", None))
    return values


def constraint_refusal(
    question: Question, value: dict, level: str, answers: Mapping[str, object] | None = None
) -> str | None:
    if not question.constraint:
        return None
    expression = parse_expression(question.constraint)
    if expression.holds(plain_value(value), answer_values(answers or {}, level)):
        return None
    return question.constraint_message or DEFAULT_MESSAGE
