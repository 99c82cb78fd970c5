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
                    a near-miss («xongg»)     -> same question, asking "Ý đồng chí là «xong»?"
                    an unlikely value         -> same question, shown back; kept when confirmed
                    «… ghi chú: …»            -> the answer, with its note
    asking (documents) lines                  -> lines read and shown back; a line not fully
                                                 read is kept as typed or dropped, as asked
                    «xóa N» / «sửa N …»       -> one document removed / corrected
                    «xóa»                     -> asks first, then empties the list
    review          «N» / «sửa N»             -> asking N, then back to review (a skipped
                                                 question goes on to the next skipped one)
                    «nộp»                     -> confirm (or stays, refused, if the form says so)
                    «tiếp»                    -> asking (next open question)
    confirm         «có» / 1                  -> locked (SubmitReport)
                    «không» / 2               -> review
    locked          anything                  -> locked (explains; «xem» shows a read-only review)

A question the engine asks back (near-miss, unlikely value, lines to keep, clearing a list) is
`Dialogue.pending`: «1»/«có» accepts, «2»/«không» declines, anything else drops it and is read
as usual.

A submission returned by the secretariat is editable again: a locked state with an editable
status opens on the review.

This module keeps the states, events, effects and transitions; `_Step` inherits reading answers
(`conversations.dialogue_answers`), editing a documents list (`conversations.dialogue_documents`)
and what is shown (`conversations.dialogue_text`); the buttons and keywords are
`conversations.choices`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from conversations import lifecycle
from conversations.checks import Checks
from conversations.choices import (
    ACCEPT_WORDS,
    CANCEL_WORDS,
    CHOICES,
    CONFIRM_WORDS,
    DECLINE_WORDS,
    GOTO,
    KEYWORDS,
    NEAR_MISS_TARGETS,
    NEAR_MISS_WORDS,
    Choice,
)
from conversations.dialogue_answers import ReadsAnswers
from conversations.dialogue_documents import EditsDocuments
from conversations.dialogue_text import ShowsDialogue, prefixed
from conversations.forms import (
    Form,
    Question,
    QuestionKind,
    Section,
    level_questions,
    memo,
)
from conversations.messages import format_moment, render
from conversations.notes import near_miss, split_note
from conversations.parsing import normalize

EDITABLE_STATUSES = lifecycle.EDITABLE


@dataclass
class Answer:
    value: dict | None = None
    not_applicable: bool = False
    note: str | None = None


@dataclass
class Dialogue:
    """Where the officer is in the form; persisted as JSON between messages."""

    mode: str = "start"
    cursor: str | None = None
    skipped: list[str] = field(default_factory=list)
    return_to_review: bool = False
    pending: dict | None = None  # a question the engine asked back; JSON-safe
    narrative: dict | None = None  # the place in the report's narrative (conversations.narrative)

    def to_json(self) -> dict:
        data = {
            "mode": self.mode,
            "cursor": self.cursor,
            "skipped": list(self.skipped),
            "return_to_review": self.return_to_review,
        }
        if self.pending:
            data["pending"] = self.pending
        if self.narrative:
            data["narrative"] = self.narrative
        return data

    @classmethod
    def from_json(cls, data: dict | None) -> Dialogue:
        data = data or {}
        return cls(
            mode=data.get("mode", "start"),
            cursor=data.get("cursor"),
            skipped=list(data.get("skipped", [])),
            return_to_review=bool(data.get("return_to_review", False)),
            pending=data.get("pending") or None,
            narrative=data.get("narrative") or None,
        )


@dataclass(frozen=True)
class CampaignBrief:
    """What the opening and the submission say about the reporting round."""

    issued_by: str = ""
    receiver: str = "Ban Dân vận Tỉnh ủy"
    deadline: datetime | None = None
    period_start: date | None = None
    period_end: date | None = None


@dataclass
class State:
    dialogue: Dialogue
    answers: dict[str, Answer]
    level: str
    status: str
    unit_name: str
    submitted_at: datetime | None = None
    campaign: CampaignBrief = CampaignBrief()
    buttons: bool = False  # the channel shows choices as buttons (Telegram)
    signed_reports: tuple[str, ...] = ()  # the signed report files sent back, as the review lists


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Press:
    choice: str
    context: str = ""


Event = Text | Press


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
    note: str | None = None


@dataclass(frozen=True)
class SubmitReport:
    pass


Effect = Reply | SaveAnswer | SubmitReport


# Minutes an officer takes, about, per question: a list of documents takes longer to type.
_MINUTES = {QuestionKind.DOCUMENTS: 3}


def step(state: State, event: Event, form: Form, now: datetime) -> tuple[State, list[Effect]]:
    """Apply one officer input to the state; return the new state and what must happen."""
    return _Step(state, form, now).run(event)


def context_of(dialogue: Dialogue) -> str:
    """The tag a button carries so that a press from an old message cannot act on a new one."""
    if dialogue.pending:
        return f"p:{dialogue.cursor}"
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
        minutes = sum(_MINUTES.get(q.kind, 1) for q in self.questions)
        self.minutes = max(5, 5 * round(minutes / 5))
        # A question as asked (no prefix, no current answer) depends on nothing else.
        self.question_texts: dict[tuple[str, bool], str] = {}


def _layout(form: Form, level: str) -> _Layout:
    cache = memo(form)
    layout = cache.get((_Layout, level))
    if layout is None:
        layout = cache[(_Layout, level)] = _Layout(form, level)
    return layout


class _Step(ReadsAnswers, EditsDocuments, ShowsDialogue):
    def __init__(self, state: State, form: Form, now: datetime) -> None:
        self.state = replace(
            state,
            dialogue=replace(state.dialogue, skipped=list(state.dialogue.skipped)),
            answers=dict(state.answers),
        )
        self.before = state.answers
        self.form = form
        self.now = now
        self.layout = _layout(form, state.level)
        self.questions = self.layout.questions
        self.checks = Checks(form, state.level, self.state.answers, self._number)
        self.effects: list[Effect] = []
        self.note: str | None = None  # a note typed with this input ("" removes the note)

    @property
    def dialogue(self) -> Dialogue:
        return self.state.dialogue

    def _reply(self, text: str, choices: tuple[Choice, ...] = (), numbered: bool = False) -> None:
        """Reply with `choices` tagged for the current place, so that old buttons are refused."""
        self.effects.append(
            Reply(text, choices, context=context_of(self.dialogue), numbered=numbered)
        )

    def run(self, event: Event) -> tuple[State, list[Effect]]:
        if self.dialogue.mode == "locked" and self.state.status in EDITABLE_STATUSES:
            self.dialogue.mode = "review"
        if self.dialogue.cursor and not self._index_of(self.dialogue.cursor):
            self.dialogue.cursor = None
            self.dialogue.pending = None
        if self.dialogue.pending and self.dialogue.mode not in ("asking", "paused"):
            self.dialogue.pending = None
        if isinstance(event, Press):
            if event.context and event.context != context_of(self.dialogue):
                self.dialogue.pending = None
                self._show_current(prefix=render("stale_button"))
                return self.state, self.effects
            pending = self.dialogue.pending
            self.dialogue.pending = None
            if pending and event.choice in ("accept", "decline"):
                return self._settle(pending, event.choice == "accept")
            self._command(event.choice, raw="")
        else:
            self._text(event.text)
        return self.state, self.effects

    def _settle(self, pending: dict, accepted: bool) -> tuple[State, list[Effect]]:
        self._resolve(pending, accepted)
        return self.state, self.effects

    # --- input dispatch -------------------------------------------------------------

    def _text(self, text: str) -> None:
        words = normalize(text)
        mode = self.dialogue.mode
        pending = self.dialogue.pending
        if pending:
            self.dialogue.pending = None
            accept = ACCEPT_WORDS | ({"xoa", "xoa het"} if pending["kind"] == "clear" else set())
            if words in accept:
                return self._resolve(pending, True)
            if words in DECLINE_WORDS:
                return self._resolve(pending, False)
        if mode == "confirm":
            if words in CONFIRM_WORDS:
                return self._command("confirm", text)
            if words in CANCEL_WORDS:
                return self._command("cancel", text)
        if mode in ("asking", "paused") and self.dialogue.cursor:
            body, note = split_note(text)
            if note is not None:
                return self._noted(body, note)
        goto = GOTO.match(words) or (mode in ("review", "confirm") and re.fullmatch(r"\d+", words))
        if goto:
            number = int(goto.group(1) if goto.re is GOTO else goto.group(0))
            return self._goto(number)
        for command, keywords in KEYWORDS.items():
            if words in keywords:
                return self._command(command, text)
        if mode in ("asking", "paused") and self.dialogue.cursor:
            if self._document_edit(text, words):
                return None
            slip = near_miss(words, NEAR_MISS_WORDS) if "\n" not in text.strip() else None
            if slip and self._is_choice(text):  # «loa» is a choice here, not a slip for «xóa»
                slip = None
            if slip:
                return self._ask_back({"kind": "keyword", "command": NEAR_MISS_TARGETS[slip]})
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
                return self._ask(self.dialogue.cursor, prefix=self._resume())
            # «tiếp» from the review comes back to skipped questions once no others are open.
            return self._advance(prefix=prefix, revisit_skipped=command == "continue")
        cursor = self.dialogue.cursor
        if command == "pause" and (mode not in ("asking", "paused") or cursor is None):
            choices = () if mode == "locked" else (CHOICES["continue"],)
            return self.effects.append(Reply(render("paused", number=None), choices))
        if mode not in ("asking", "paused") or cursor is None:
            return self._show_current()
        self.dialogue.mode = "asking"
        question = self.form.question(cursor)
        if command == "na":
            doubt = self.checks.not_applicable_doubt(question)
            if doubt:
                return self._ask_back({"kind": "soft", "na": True, "raw": raw}, doubt)
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
            self._reply(render("paused", number=self._number(cursor)), (CHOICES["continue"],))
        elif command == "done" and question.kind is QuestionKind.DOCUMENTS:
            self._finish_documents(question, raw or "Xong")
        elif command == "clear" and question.kind is QuestionKind.DOCUMENTS:
            items = self._items(question.key)
            if not items:
                return self._ask(cursor, prefix="Danh sách văn bản của câu này đang trống.")
            self._ask_back(
                {"kind": "clear"},
                f"Xóa cả {len(items)} văn bản đã ghi ở câu {self._number(cursor)}?",
            )
        else:
            self._ask(cursor, prefix="Lựa chọn này không dùng được ở câu này.")

    # --- questions asked back -----------------------------------------------------------

    # --- answering ------------------------------------------------------------------

    def _save(self, question: Question, value: dict | None, *, not_applicable: bool, raw: str):
        existing = self.state.answers.get(question.key)
        note = existing.note if existing else None
        if self.note is not None:
            note = self.note or None
        self.state.answers[question.key] = Answer(value, not_applicable, note)
        if question.key in self.dialogue.skipped:
            self.dialogue.skipped.remove(question.key)
        self.state.status = lifecycle.after(self.state.status, lifecycle.Event.ANSWER)
        self.effects.append(SaveAnswer(question.key, value, not_applicable, raw[:5000], note))

    def _after_answer(self, prefix: str) -> None:
        cursor = self.dialogue.cursor
        if self.dialogue.return_to_review:
            was_open = not _answered(self.before.get(cursor))
            later = self._next_unanswered(cursor) if was_open else None
            if later:
                # Answering the skipped questions from the review: on to the next one.
                return self._ask(later, prefix=prefix)
            self.dialogue.return_to_review = False
            return self._review(prefix=prefix)
        self._advance(prefix=prefix, after=cursor)

    def _next_unanswered(self, after: str) -> str | None:
        start = self._index_of(after)
        return next((q.key for q in self.questions[start:] if not self._is_answered(q.key)), None)

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
        if _answered(answer) or (answer and answer.note):
            text = self._question_text(question, answer)
        else:
            cache_key = (key, self.state.buttons)
            text = self.layout.question_texts.get(cache_key)
            if text is None:
                text = self.layout.question_texts[cache_key] = self._question_text(question, None)
        self._reply(prefixed(prefix, text), self._choices_for(question))

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

    # --- review and submission --------------------------------------------------------

    def _submit(self) -> None:
        self.dialogue.mode = "locked"
        self.dialogue.return_to_review = False
        self.state.status = lifecycle.after(self.state.status, lifecycle.Event.SUBMIT)
        self.state.submitted_at = self.now
        self.effects.append(SubmitReport())
        text = render(
            "submitted",
            unit_name=self.state.unit_name,
            when=format_moment(self.now),
            late=self._late(self.now),
        )
        self._reply(text, (CHOICES["review"],))

    # --- helpers --------------------------------------------------------------------

    def _index_of(self, key: str | None) -> int:
        """1-based position among the questions this unit is asked; 0 when not asked."""
        return self.layout.numbers.get(key, 0)

    def _number(self, key: str) -> int:
        return self._index_of(key)

    def _is_answered(self, key: str) -> bool:
        return _answered(self.state.answers.get(key))

    def _is_open(self, key: str) -> bool:
        return not self._is_answered(key) and key not in self.dialogue.skipped


def _answered(answer: Answer | None) -> bool:
    return answer is not None and (answer.not_applicable or answer.value is not None)
