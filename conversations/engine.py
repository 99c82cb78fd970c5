"""The dialogue engine: a pure state machine that walks one unit through its form.

    step(state, event, form, now) -> (state, effects)

No I/O and no clock reads: the caller loads `State` from storage, passes `now`, then persists the
returned state and carries out the effects (`SaveAnswer`, `SubmitReport`, `Reply`).

Modes and transitions (every editable mode also takes «xem», «nộp», «câu N», «trợ giúp»):

    start           any input                 -> asking (first open question)
    asking|paused   valid answer / N/A        -> asking (next open question) | review (none open)
                    bad answer                -> same question, re-asked with the reason
                    «bỏ qua»                  -> asking (next open question; remembered as skipped)
                    «quay lại»                -> asking (previous question)
                    «tạm dừng»                -> paused (same question; any later input resumes)
    review          «N» / «sửa N»             -> asking N, then back to review
                    «nộp»                     -> confirm (or stays, refused, if the form says so)
                    «tiếp»                    -> asking (next open question)
    confirm         «có» / 1                  -> locked (SubmitReport)
                    «không» / 2               -> review
    locked          anything                  -> locked (explains; «xem» shows a read-only review)

A submission returned by the secretariat is editable again: a locked state with an editable
status opens on the review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import NamedTuple

from conversations.forms import (
    NUMERIC_KINDS,
    Form,
    Question,
    QuestionKind,
    Section,
    level_questions,
    memo,
)
from conversations.messages import format_moment, render
from conversations.parsing import Rejected, format_value, normalize, parse_answer

EDITABLE_STATUSES = {"not_started", "in_progress", "returned"}


@dataclass
class Answer:
    value: dict | None = None
    not_applicable: bool = False


@dataclass
class Dialogue:
    """Where the officer is in the form; persisted as JSON between messages."""

    mode: str = "start"
    cursor: str | None = None
    skipped: list[str] = field(default_factory=list)
    return_to_review: bool = False

    def to_json(self) -> dict:
        return {
            "mode": self.mode,
            "cursor": self.cursor,
            "skipped": list(self.skipped),
            "return_to_review": self.return_to_review,
        }

    @classmethod
    def from_json(cls, data: dict | None) -> Dialogue:
        data = data or {}
        return cls(
            mode=data.get("mode", "start"),
            cursor=data.get("cursor"),
            skipped=list(data.get("skipped", [])),
            return_to_review=bool(data.get("return_to_review", False)),
        )


@dataclass
class State:
    dialogue: Dialogue
    answers: dict[str, Answer]
    level: str
    status: str
    unit_name: str
    submitted_at: datetime | None = None


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Press:
    choice: str
    context: str = ""


Event = Text | Press


@dataclass(frozen=True)
class Choice:
    id: str
    label: str
    keyword: str


@dataclass(frozen=True)
class Reply:
    text: str
    choices: tuple[Choice, ...] = ()
    context: str = ""
    numbered: bool = False


@dataclass(frozen=True)
class SaveAnswer:
    key: str
    value: dict | None
    not_applicable: bool
    raw: str


@dataclass(frozen=True)
class SubmitReport:
    pass


Effect = Reply | SaveAnswer | SubmitReport

CHOICES = {
    "na": Choice("na", "Không áp dụng", "kad"),
    "skip": Choice("skip", "Bỏ qua", "bỏ qua"),
    "back": Choice("back", "Quay lại", "quay lại"),
    "pause": Choice("pause", "Tạm dừng", "tạm dừng"),
    "done": Choice("done", "Xong", "xong"),
    "clear": Choice("clear", "Xóa danh sách", "xóa"),
    "review": Choice("review", "Xem lại", "xem"),
    "submit": Choice("submit", "Nộp báo cáo", "nộp"),
    "continue": Choice("continue", "Tiếp tục điền", "tiếp"),
    "confirm": Choice("confirm", "Đồng ý nộp", "có"),
    "cancel": Choice("cancel", "Chưa nộp", "không"),
}

_KEYWORDS = {
    "na": {"kad", "khong ap dung", "k ap dung", "n/a", "na", "/kad"},
    "skip": {"bo qua", "skip", "de sau", "tra loi sau", "/boqua"},
    "back": {"quay lai", "lai", "tro lai", "back", "/lai", "/quaylai"},
    "pause": {"tam dung", "dung", "pause", "/dung", "/tamdung"},
    "done": {"xong", "het", "done", "/xong"},
    "clear": {"xoa", "xoa het", "xoa danh sach"},
    "review": {"xem", "xem lai", "/xem", "/review"},
    "submit": {"nop", "nop bao cao", "/nop", "/submit"},
    "continue": {"tiep", "tiep tuc", "/tiep", "/continue", "bat dau", "/start"},
    "help": {"/help", "help", "huong dan", "/huongdan", "tro giup", "?"},
}
_CONFIRM_WORDS = {"co", "dong y", "yes", "ok", "xac nhan", "1", "nop", "/nop"}
_CANCEL_WORDS = {"khong", "huy", "no", "chua", "2", "chua nop"}
_GOTO = re.compile(r"^/?(?:cau|sua|/sua)\s*(\d{1,3})$")


def step(state: State, event: Event, form: Form, now: datetime) -> tuple[State, list[Effect]]:
    """Apply one officer input to the state; return the new state and what must happen."""
    return _Step(state, form, now).run(event)


def context_of(dialogue: Dialogue) -> str:
    """The tag a button carries so that a press from an old message cannot act on a new one."""
    if dialogue.mode in ("asking", "paused"):
        return f"q:{dialogue.cursor}"
    return dialogue.mode


class _Layout:
    """What the engine derives from a form for one level; built once, shared by every step."""

    def __init__(self, form: Form, level: str) -> None:
        self.questions = level_questions(form, level)
        self.numbers: dict[str, int] = {}
        for number, question in enumerate(self.questions, start=1):
            self.numbers.setdefault(question.key, number)
        # The review's parts: runs of numbered questions under the same top section.
        self.sections: list[tuple[Section, list[tuple[int, Question]]]] = []
        for number, question in enumerate(self.questions, start=1):
            section = form.top_section(question.section)
            if not self.sections or self.sections[-1][0] is not section:
                self.sections.append((section, []))
            self.sections[-1][1].append((number, question))
        # A question as asked (no prefix, no current answer) depends on nothing else.
        self.question_texts: dict[str, str] = {}


class _ReviewLine(NamedTuple):
    number: int
    title: str
    value: str


class _ReviewPart(NamedTuple):
    """One section of the review; tuples rather than dicts are cheaper for Jinja to read."""

    section: Section
    lines: list[_ReviewLine]


def _layout(form: Form, level: str) -> _Layout:
    cache = memo(form)
    layout = cache.get((_Layout, level))
    if layout is None:
        layout = cache[(_Layout, level)] = _Layout(form, level)
    return layout


def _prefixed(prefix: str, text: str) -> str:
    """`text` under `prefix` and a blank line (stripped, as a template rendering both would be)."""
    return f"{prefix}\n\n{text}".strip() if prefix else text


class _Step:
    def __init__(self, state: State, form: Form, now: datetime) -> None:
        self.state = replace(
            state,
            dialogue=replace(state.dialogue, skipped=list(state.dialogue.skipped)),
            answers=dict(state.answers),
        )
        self.form = form
        self.now = now
        self.layout = _layout(form, state.level)
        self.questions = self.layout.questions
        self.effects: list[Effect] = []

    @property
    def dialogue(self) -> Dialogue:
        return self.state.dialogue

    def run(self, event: Event) -> tuple[State, list[Effect]]:
        if self.dialogue.mode == "locked" and self.state.status in EDITABLE_STATUSES:
            self.dialogue.mode = "review"
        if self.dialogue.cursor and not self._index_of(self.dialogue.cursor):
            self.dialogue.cursor = None
        if isinstance(event, Press):
            if event.context and event.context != context_of(self.dialogue):
                self._show_current(prefix=render("stale_button"))
                return self.state, self.effects
            self._command(event.choice, raw="")
        else:
            self._text(event.text)
        return self.state, self.effects

    # --- input dispatch -------------------------------------------------------------

    def _text(self, text: str) -> None:
        words = normalize(text)
        mode = self.dialogue.mode
        if mode == "confirm":
            if words in _CONFIRM_WORDS:
                return self._command("confirm", text)
            if words in _CANCEL_WORDS:
                return self._command("cancel", text)
        goto = _GOTO.match(words) or (mode in ("review", "confirm") and re.fullmatch(r"\d+", words))
        if goto:
            number = int(goto.group(1) if goto.re is _GOTO else goto.group(0))
            return self._goto(number)
        for command, keywords in _KEYWORDS.items():
            if words in keywords:
                return self._command(command, text)
        if mode in ("asking", "paused") and self.dialogue.cursor:
            return self._answer(text)
        if mode == "locked":
            return self._reply_locked()
        if mode == "start":
            return self._advance(prefix=self._intro())
        self._show_current(prefix="Chưa hiểu ý đồng chí.")

    def _command(self, command: str, raw: str) -> None:
        mode = self.dialogue.mode
        if command == "help":
            return self._show_current(prefix=render("help"))
        if command == "review":
            return self._review()
        if mode == "locked":
            return self._reply_locked()
        if command == "submit":
            return self._ask_submit()
        if command == "confirm" and mode == "confirm":
            return self._submit()
        if command == "cancel" and mode == "confirm":
            return self._review()
        if command == "continue" or mode == "start":
            prefix = self._intro() if mode == "start" else ""
            if mode in ("asking", "paused") and self.dialogue.cursor:
                self.dialogue.mode = "asking"
                return self._ask(self.dialogue.cursor, prefix=prefix)
            # «tiếp» from the review comes back to skipped questions once no others are open.
            return self._advance(prefix=prefix, revisit_skipped=command == "continue")
        cursor = self.dialogue.cursor
        if mode not in ("asking", "paused") or cursor is None:
            return self._show_current()
        self.dialogue.mode = "asking"
        question = self.form.question(cursor)
        if command == "na":
            self._save(question, None, not_applicable=True, raw=raw or "Không áp dụng")
            self._after_answer(prefix=f"Đã ghi câu {self._number(cursor)}: Không áp dụng.")
        elif command == "skip":
            answered = self._is_answered(cursor)
            if not answered and cursor not in self.dialogue.skipped:
                self.dialogue.skipped.append(cursor)
            note = "Giữ nguyên câu trả lời." if answered else "Đã để câu này lại, trả lời sau."
            self._after_answer(prefix=note)
        elif command == "back":
            index = self._index_of(cursor)
            if index == 1:
                return self._ask(cursor, prefix="Đây đã là câu đầu tiên.")
            self.dialogue.return_to_review = False
            self._ask(self.questions[index - 2].key)
        elif command == "pause":
            self.dialogue.mode = "paused"
            self.effects.append(
                Reply(
                    render("paused", number=self._number(cursor)),
                    (CHOICES["continue"],),
                    context=context_of(self.dialogue),
                )
            )
        elif command == "done" and question.kind is QuestionKind.DOCUMENTS:
            if not self._is_answered(cursor):
                self._save(question, {"items": []}, not_applicable=False, raw=raw or "Xong")
                return self._after_answer(prefix="Đã ghi: không có văn bản nào.")
            answer = self.state.answers[cursor]
            if answer.not_applicable:
                return self._after_answer(prefix="Giữ nguyên câu trả lời: Không áp dụng.")
            count = len(answer.value["items"])
            self._after_answer(prefix=f"Đã ghi {count} văn bản.")
        elif command == "clear" and question.kind is QuestionKind.DOCUMENTS:
            self._save(question, {"items": []}, not_applicable=False, raw=raw or "Xóa")
            self._ask(cursor, prefix="Đã xóa danh sách văn bản của câu này.")
        else:
            self._ask(cursor, prefix="Lựa chọn này không dùng được ở câu này.")

    # --- answering ------------------------------------------------------------------

    def _answer(self, text: str) -> None:
        cursor = self.dialogue.cursor
        assert cursor is not None
        self.dialogue.mode = "asking"
        question = self.form.question(cursor)
        if question.kind is QuestionKind.DOCUMENTS:
            return self._add_documents(question, text)
        parsed = parse_answer(
            question.kind.value,
            text,
            unit=question.unit,
            minimum=question.minimum,
            maximum=question.maximum,
        )
        if isinstance(parsed, Rejected):
            return self._ask(cursor, prefix=render("rejected", **vars(parsed)))
        violation = self._rule_violation(question, parsed.value)
        if violation:
            return self._ask(cursor, prefix=violation)
        self._save(question, parsed.value, not_applicable=False, raw=text)
        self._after_answer(prefix=f"Đã ghi câu {self._number(cursor)}: {parsed.echo}")

    def _add_documents(self, question: Question, text: str) -> None:
        lines = text.splitlines()
        finished = bool(lines) and normalize(lines[-1]) in _KEYWORDS["done"]
        if finished:
            text = "\n".join(lines[:-1])
        parsed = parse_answer("documents", text)
        if isinstance(parsed, Rejected):
            if finished:
                return self._command("done", "Xong")
            return self._ask(question.key, prefix=render("rejected", **vars(parsed)))
        existing = self.state.answers.get(question.key)
        items = list(existing.value["items"]) if existing and existing.value else []
        items.extend(parsed.value["items"])
        self._save(question, {"items": items}, not_applicable=False, raw=text)
        summary = render(
            "documents_added",
            added=len(parsed.value["items"]),
            total=len(items),
            items=[item["raw"][:120] for item in parsed.value["items"][:10]],
        )
        if finished:
            return self._after_answer(prefix=summary.rsplit("\n", 1)[0])
        self.effects.append(
            Reply(summary, self._choices_for(question), context=context_of(self.dialogue))
        )

    def _rule_violation(self, question: Question, value: dict) -> str | None:
        """The first cross-question rule the candidate value would break, as a message."""
        if question.kind not in NUMERIC_KINDS:
            return None

        def numeric(key: str) -> float | None:
            return value["value"] if key == question.key else self._numeric(key)

        for owner in self.form.questions:
            for rule in owner.rules:
                if question.key not in (owner.key, rule.other):
                    continue
                left, right = numeric(owner.key), numeric(rule.other)
                if left is None or right is None:
                    continue
                if (left <= right) if rule.lte else (left >= right):
                    continue
                shown = self.form.question(rule.other if owner.key == question.key else owner.key)
                return render(
                    "rule_violation",
                    message=rule.message or "Số liệu không khớp với câu khác",
                    other_number=self._number(shown.key) or "?",
                    other_title=shown.title,
                    other_value=format_value(
                        shown.kind.value, self.state.answers[shown.key].value, unit=shown.unit
                    ),
                )
        return None

    def _numeric(self, key: str) -> float | None:
        answer = self.state.answers.get(key)
        if answer is None or answer.not_applicable or answer.value is None:
            return None
        return answer.value.get("value")

    def _save(self, question: Question, value: dict | None, *, not_applicable: bool, raw: str):
        self.state.answers[question.key] = Answer(value, not_applicable)
        if question.key in self.dialogue.skipped:
            self.dialogue.skipped.remove(question.key)
        if self.state.status == "not_started":
            self.state.status = "in_progress"
        self.effects.append(SaveAnswer(question.key, value, not_applicable, raw[:5000]))

    def _after_answer(self, prefix: str) -> None:
        if self.dialogue.return_to_review:
            self.dialogue.return_to_review = False
            return self._review(prefix=prefix)
        self._advance(prefix=prefix, after=self.dialogue.cursor)

    # --- navigation -----------------------------------------------------------------

    def _advance(
        self, prefix: str = "", after: str | None = None, revisit_skipped: bool = False
    ) -> None:
        """Ask the next open question after `after` (wrapping), or show the review."""
        start = self._index_of(after) if after else 0
        keys = [q.key for q in (*self.questions[start:], *self.questions[:start])]
        key = next((k for k in keys if self._is_open(k)), None)
        if key is None and revisit_skipped:
            key = next((k for k in keys if not self._is_answered(k)), None)
        if key is None:
            return self._review(prefix=prefix)
        self._ask(key, prefix=prefix)

    def _goto(self, number: int) -> None:
        if self.dialogue.mode == "locked":
            return self._reply_locked()
        if not 1 <= number <= len(self.questions):
            return self._show_current(
                prefix=f"Không có câu {number}. Phụ lục có {len(self.questions)} câu."
            )
        self.dialogue.return_to_review = self.dialogue.mode in ("review", "confirm")
        self._ask(self.questions[number - 1].key)

    def _ask(self, key: str, prefix: str = "") -> None:
        self.dialogue.mode = "asking"
        self.dialogue.cursor = key
        question = self.form.question(key)
        answer = self.state.answers.get(key)
        current = self._display(question, answer) if answer else ""
        if current:
            text = self._question_text(question, current)
        else:
            text = self.layout.question_texts.get(key)
            if text is None:
                text = self.layout.question_texts[key] = self._question_text(question, "")
        self.effects.append(
            Reply(
                _prefixed(prefix, text),
                self._choices_for(question),
                context=context_of(self.dialogue),
            )
        )

    def _question_text(self, question: Question, current: str) -> str:
        section = self.form.top_section(question.section)
        subsection = self.form.section(question.section) if "." in question.section else None
        return render(
            "question",
            number=self._number(question.key),
            total=len(self.questions),
            section=section,
            subsection=subsection,
            question=question,
            current=current,
            hint=self._hint(question),
        )

    def _hint(self, question: Question) -> str:
        if question.example:
            return f"Ví dụ: {question.example}"
        examples = {
            QuestionKind.INTEGER: "Trả lời bằng một số, ví dụ: 12",
            QuestionKind.PERCENT: "Trả lời tỷ lệ phần trăm, ví dụ: 85,5%",
            QuestionKind.PAIR: "Trả lời số lượt / số lượt người, ví dụ: 12/345",
            QuestionKind.RATIO: "Trả lời số đã giải quyết / tổng số, ví dụ: 45/50",
            QuestionKind.TEXT: "Trả lời bằng một đoạn văn ngắn.",
        }
        return examples.get(question.kind, "").strip()

    def _choices_for(self, question: Question) -> tuple[Choice, ...]:
        ids = []
        if question.kind is QuestionKind.DOCUMENTS:
            ids.append("done")
            answer = self.state.answers.get(question.key)
            if answer and answer.value and answer.value.get("items"):
                ids.append("clear")
        ids += ["na", "skip"]
        if self._index_of(question.key) > 1:
            ids.append("back")
        ids += ["pause", "review"]
        return tuple(CHOICES[i] for i in ids)

    def _show_current(self, prefix: str = "") -> None:
        mode = self.dialogue.mode
        if mode in ("asking", "paused") and self.dialogue.cursor:
            return self._ask(self.dialogue.cursor, prefix=prefix)
        if mode == "locked":
            return self._reply_locked(prefix=prefix)
        if mode == "confirm":
            return self._ask_submit(prefix=prefix)
        if mode == "review":
            return self._review(prefix=prefix)
        self._advance(prefix="\n\n".join(p for p in (prefix, self._intro()) if p))

    def _intro(self) -> str:
        return render("intro", unit_name=self.state.unit_name, total=len(self.questions))

    # --- review and submission --------------------------------------------------------

    def _review(self, prefix: str = "") -> None:
        locked = self.state.status not in EDITABLE_STATUSES
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
        )
        choices = () if locked else (CHOICES["submit"], CHOICES["continue"])
        self.effects.append(Reply(text, choices, context=context_of(self.dialogue)))

    def _review_line(self, number: int, question: Question) -> _ReviewLine:
        value = self._display(question, self.state.answers.get(question.key))
        if not value:
            skipped = question.key in self.dialogue.skipped
            value = "(đã bỏ qua, chưa trả lời)" if skipped else "(chưa trả lời)"
        return _ReviewLine(number, question.title, value)

    def _ask_submit(self, prefix: str = "") -> None:
        missing = [self._number(q.key) for q in self.questions if not self._is_answered(q.key)]
        if missing and self.form.submit_incomplete == "refuse":
            return self._review(prefix=render("refuse_submit", missing=missing))
        self.dialogue.mode = "confirm"
        text = render("confirm_submit", missing=missing, unit_name=self.state.unit_name)
        if prefix:
            text = f"{prefix}\n\n{text}"
        self.effects.append(
            Reply(
                text,
                (CHOICES["confirm"], CHOICES["cancel"]),
                context=context_of(self.dialogue),
                numbered=True,
            )
        )

    def _submit(self) -> None:
        self.dialogue.mode = "locked"
        self.dialogue.return_to_review = False
        self.state.status = "submitted"
        self.state.submitted_at = self.now
        self.effects.append(SubmitReport())
        text = render("submitted", unit_name=self.state.unit_name, when=format_moment(self.now))
        self.effects.append(Reply(text, (CHOICES["review"],), context=context_of(self.dialogue)))

    def _reply_locked(self, prefix: str = "") -> None:
        text = render(
            "locked",
            unit_name=self.state.unit_name,
            when=format_moment(self.state.submitted_at),
        )
        if prefix:
            text = f"{prefix}\n\n{text}"
        self.effects.append(Reply(text, (CHOICES["review"],), context=context_of(self.dialogue)))

    # --- helpers --------------------------------------------------------------------

    def _index_of(self, key: str | None) -> int:
        """1-based position among the questions this unit is asked; 0 when not asked."""
        return self.layout.numbers.get(key, 0)

    def _number(self, key: str) -> int:
        return self._index_of(key)

    def _is_answered(self, key: str) -> bool:
        answer = self.state.answers.get(key)
        return answer is not None and (answer.not_applicable or answer.value is not None)

    def _is_open(self, key: str) -> bool:
        return not self._is_answered(key) and key not in self.dialogue.skipped

    def _display(self, question: Question, answer: Answer | None) -> str:
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


def render_choices_as_text(choices: tuple[Choice, ...], numbered: bool) -> str:
    """How text-only channels (console, Zalo) show choices: numbered lines or keywords."""
    if not choices:
        return ""
    if numbered:
        return "\n".join(f"{i}. {c.label}" for i, c in enumerate(choices, start=1))
    return "Gõ: " + " · ".join(f"«{c.keyword}» {c.label.lower()}" for c in choices)
