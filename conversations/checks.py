"""Checks of one answer against the rest of the form, for the dialogue engine.

Hard cross-question rules are refusals ("level 4 cannot exceed levels 3 and 4"). What is only
doubtful is asked back before anything is stored: a rule that cannot be checked because the other
answer is «Không áp dụng» or missing, and a value that the form declares unlikely (`plausible`:
lượt above lượt người, a count far above what the unit's level makes likely). Each check returns
a Vietnamese message, or None when the answer passes. Pure: no I/O, the answers are given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from conversations.formatting import format_number, format_value
from conversations.forms import NUMERIC_KINDS, Form, Question, Rule
from conversations.labels import level_title
from conversations.messages import render


class Answered(Protocol):
    value: dict | None
    not_applicable: bool


@dataclass(frozen=True)
class Checks:
    """The checks for one unit's answers; `number` is a question's position (0: not asked)."""

    form: Form
    level: str
    answers: Mapping[str, Answered]
    number: Callable[[str], int]

    def rule_violation(self, question: Question, value: dict) -> str | None:
        """The first cross-question rule the candidate value would break."""
        if question.kind not in NUMERIC_KINDS:
            return None

        def numeric(key: str) -> float | None:
            return value["value"] if key == question.key else self._numeric(key)

        for owner, rule in self._rules_with(question.key):
            left, right = numeric(owner.key), numeric(rule.other)
            if left is None or right is None:
                continue
            if (left <= right) if rule.lte else (left >= right):
                continue
            shown = self.form.question(rule.other if owner.key == question.key else owner.key)
            return render(
                "rule_violation",
                message=rule.message or "Số liệu không khớp với câu khác",
                other_number=self.number(shown.key) or "?",
                other_title=shown.title,
                other_value=format_value(
                    shown.kind.value, self.answers[shown.key].value, unit=shown.unit
                ),
            )
        return None

    def rule_doubt(self, question: Question, value: dict) -> str | None:
        """A rule that cannot be checked because the other answer is «không áp dụng» or missing.

        Asked only of the part ("trong đó") whose whole is not there; a whole given before its
        part is the usual order.
        """
        if question.kind not in NUMERIC_KINDS:
            return None
        for owner, rule in self._rules_with(question.key):
            if owner.key != question.key or not self.number(rule.other):
                continue
            other = self.form.question(rule.other)
            answer = self.answers.get(other.key)
            if answer is not None and answer.not_applicable:
                state = "đang ghi «Không áp dụng»"
            elif answer is None or answer.value is None:
                state = "chưa có câu trả lời"
            else:
                continue
            return render(
                "rule_doubt",
                message=rule.message or "Số liệu cần khớp với câu khác",
                other_number=self.number(other.key),
                other_title=other.title,
                state=state,
                value=format_value(question.kind.value, value, unit=question.unit),
            )
        return None

    def not_applicable_doubt(self, question: Question) -> str | None:
        """«Không áp dụng» for a whole whose part already has a figure."""
        for owner, rule in self._rules_with(question.key):
            if rule.other != question.key or self._numeric(owner.key) is None:
                continue
            shown = format_value(owner.kind.value, self.answers[owner.key].value, unit=owner.unit)
            return (
                f"Câu {self.number(owner.key)} «{owner.title}» đang ghi {shown}, là một phần"
                f" của câu này. Vẫn ghi câu {self.number(question.key)} là «Không áp dụng»?"
            )
        return None

    def implausible(self, question: Question, value: dict) -> str | None:
        """The first soft check of the form that the value fails."""
        for check in question.plausible:
            figure = value.get(check.field)
            if figure is None:
                continue
            if check.lte_field:
                if figure <= value.get(check.lte_field, math.inf):
                    continue
                reason = check.message
            else:
                limit = check.limit(self.level)
                if limit is None or figure <= limit:
                    continue
                reason = (
                    f"{check.message} (thường không quá {format_number(limit)}"
                    f" ở cấp {level_title(self.level).lower()})"
                )
            shown = format_value(question.kind.value, value, unit=question.unit)
            return render("implausible", reason=reason, value=shown)
        return None

    def _rules_with(self, key: str) -> Iterator[tuple[Question, Rule]]:
        """(owner, rule) pairs where the question `key` is either side."""
        for owner in self.form.questions:
            for rule in owner.rules:
                if key in (owner.key, rule.other):
                    yield owner, rule

    def _numeric(self, key: str) -> float | None:
        answer = self.answers.get(key)
        if answer is None or answer.not_applicable or answer.value is None:
            return None
        return answer.value.get("value")
