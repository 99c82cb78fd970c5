"""What the dialogue shows: a question as asked, the opening, the review and the submission.

The engine's `_Step` (in `conversations.engine`) inherits these methods; they read its state,
form and layout and reply through its `_reply`, so that the engine module keeps the transitions
and this one the wording. Pure: templates in `conversations/templates`, no I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from conversations import lifecycle
from conversations.choices import CHOICES, Choice
from conversations.documents_list import describe_document
from conversations.formatting import format_value
from conversations.forms import Question, QuestionKind, Section
from conversations.messages import format_day, format_deadline, format_moment, late_phrase, render
from conversations.text import shorten
from conversations.typed_answers import example as typed_example


class _ReviewLine(NamedTuple):
    number: int
    title: str
    value: str
    details: tuple[str, ...] = ()
    note: str | None = None


class _ReviewPart(NamedTuple):
    """One section of the review; tuples rather than dicts are cheaper for Jinja to read."""

    section: Section
    lines: list[_ReviewLine]


def prefixed(prefix: str, text: str) -> str:
    """`text` under `prefix` and a blank line (stripped, as a template rendering both would be)."""
    return f"{prefix}\n\n{text}".strip() if prefix else text


class ShowsDialogue:
    """The wording half of the engine's step; see the module docstring. An `answer` argument is
    the engine's `Answer` (or None), not imported here: the engine imports this module."""

    def _question_text(self, question: Question, answer) -> str:
        section = self.form.top_section(question.section)
        subsection = self.form.section(question.section) if "." in question.section else None
        documents = question.kind is QuestionKind.DOCUMENTS
        items = []
        if documents and answer and answer.value:
            items = [describe_document(item) for item in answer.value.get("items", [])]
        return render(
            "question",
            number=self._number(question.key),
            total=len(self.questions),
            section=section,
            subsection=subsection,
            question=question,
            current=self._display(question, answer) if answer else "",
            documents=documents,
            items=[shorten(item, 160) for item in items],
            note=answer.note if answer else None,
            hint=self._hint(question),
            buttons=self.state.buttons,
        )

    def _hint(self, question: Question) -> str:
        if question.example:
            return f"Ví dụ: {question.example}"
        examples = {
            QuestionKind.INTEGER: "Trả lời bằng một số, ví dụ: 12",
            QuestionKind.PERCENT: "Trả lời tỷ lệ phần trăm, ví dụ: 85,5%",
            QuestionKind.PAIR: "Trả lời số lượt / số lượt người, ví dụ: 12/345 (không có: 0)",
            QuestionKind.RATIO: "Trả lời số đã giải quyết / tổng số, ví dụ: 45/50 (không có: 0)",
            QuestionKind.TEXT: "Trả lời bằng một đoạn văn ngắn.",
        }
        return (examples.get(question.kind) or typed_example(question)).strip()

    def _intro(self) -> str:
        campaign = self.state.campaign
        return render(
            "intro",
            unit_name=self.state.unit_name,
            total=len(self.questions),
            minutes=self.layout.minutes,
            issued_by=campaign.issued_by,
            receiver=campaign.receiver or "Ban Dân vận Tỉnh ủy",
            deadline=format_deadline(campaign.deadline) if campaign.deadline else "",
            period_start=format_day(campaign.period_start) if campaign.period_start else "",
            period_end=format_day(campaign.period_end) if campaign.period_end else "",
        )

    def _resume(self) -> str:
        answered = sum(1 for q in self.questions if self._is_answered(q.key))
        if not answered:
            return ""
        return render(
            "resume",
            answered=answered,
            total=len(self.questions),
            number=self._number(self.dialogue.cursor),
        )

    def _review(self, prefix: str = "") -> None:
        locked = self.state.status not in lifecycle.EDITABLE
        if not locked:
            self.dialogue.mode = "review"
        parts = [
            _ReviewPart(section, [self._review_line(n, question) for n, question in numbered])
            for section, numbered in self.layout.sections
        ]
        open_count = sum(1 for q in self.questions if not self._is_answered(q.key))
        text = render(
            "review",
            prefix=prefix,
            unit_name=self.state.unit_name,
            answered=len(self.questions) - open_count,
            total=len(self.questions),
            open_count=open_count,
            parts=parts,
            editable=not locked,
            signed_reports=self.state.signed_reports,
        )
        choices = () if locked else (CHOICES["submit"], CHOICES["continue"])
        self._reply(text, choices)

    def _review_line(self, number: int, question: Question) -> _ReviewLine:
        answer = self.state.answers.get(question.key)
        value = self._display(question, answer)
        if not value:
            skipped = question.key in self.dialogue.skipped
            value = "(đã bỏ qua, chưa trả lời)" if skipped else "(chưa trả lời)"
        details = ()
        if question.kind is QuestionKind.DOCUMENTS and answer and answer.value:
            details = tuple(
                shorten(describe_document(item), 80) for item in answer.value.get("items", [])
            )
        return _ReviewLine(number, question.title, value, details, answer.note if answer else None)

    def _ask_submit(self, prefix: str = "") -> None:
        missing = [self._number(q.key) for q in self.questions if not self._is_answered(q.key)]
        required = [
            self._number(q.key)
            for q in self.questions
            if q.required and not self._is_answered(q.key)
        ]
        if required or (missing and self.form.submit_incomplete == "refuse"):
            return self._review(prefix=render("refuse_submit", missing=required or missing))
        self.dialogue.mode = "confirm"
        text = render("confirm_submit", missing=missing, unit_name=self.state.unit_name)
        if prefix:
            text = f"{prefix}\n\n{text}"
        self._reply(text, (CHOICES["confirm"], CHOICES["cancel"]), numbered=True)

    def _late(self, submitted_at: datetime | None) -> str:
        deadline = self.state.campaign.deadline
        if deadline is None or submitted_at is None:
            return ""
        return late_phrase(deadline, submitted_at)

    def _reply_locked(self, prefix: str = "") -> None:
        text = render(
            "locked",
            unit_name=self.state.unit_name,
            when=format_moment(self.state.submitted_at),
            late=self._late(self.state.submitted_at),
        )
        if prefix:
            text = f"{prefix}\n\n{text}"
        self._reply(text, (CHOICES["review"],))

    def _display(self, question: Question, answer) -> str:
        if answer is None:
            return ""
        if answer.not_applicable:
            return "Không áp dụng"
        if answer.value is None:
            return ""
        if question.kind is QuestionKind.DOCUMENTS:
            count = len(answer.value.get("items", []))
            return f"{count} văn bản" if count else "không có văn bản"
        return format_value(question.kind.value, answer.value, unit=question.unit)

    def _choices_for(self, question: Question) -> tuple[Choice, ...]:
        ids = []
        if question.kind is QuestionKind.DOCUMENTS:
            ids.append("done")
            if self._items(question.key):
                ids.append("clear")
        ids += ["na", "skip"]
        if self._index_of(question.key) > 1:
            ids.append("back")
        ids += ["pause", "review"]
        return tuple(CHOICES[i] for i in ids)
