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
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import NamedTuple

from conversations import lifecycle
from conversations.answers import MAX_NOTE_CHARS, Rejected
from conversations.checks import Checks
from conversations.constraints import constraint_refusal
from conversations.documents_list import describe_document, keep_as_typed, read_document_lines
from conversations.formatting import format_value
from conversations.forms import (
    SELECT_KINDS,
    Form,
    Question,
    QuestionKind,
    Section,
    level_questions,
    memo,
)
from conversations.messages import format_day, format_deadline, format_moment, late_phrase, render
from conversations.notes import near_miss, split_note
from conversations.parsing import normalize, parse_answer
from conversations.text import shorten
from conversations.typed_answers import TYPED_KINDS, parse_typed
from conversations.typed_answers import example as typed_example

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
    note: str | None = None


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
    "accept": Choice("accept", "Đúng", "có"),
    "decline": Choice("decline", "Không", "không"),
}
# What the two answers to a pending question are called, by what is pending.
_PENDING_LABELS = {
    "keyword": ("Đúng", "Không phải"),
    "lines": ("Giữ như đã gõ", "Bỏ các dòng này"),
    "clear": ("Xóa hết", "Không xóa"),
    "soft": ("Vẫn ghi", "Nhập lại"),
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
    "continue": {"tiep", "tiep tuc", "/tiep", "/continue", "bat dau", "/start"}
    | {"phu luc", "/phuluc", "ve phu luc"},
    "help": {"/help", "help", "huong dan", "/huongdan", "tro giup", "giup", "/giup", "?"},
}
_CONFIRM_WORDS = {"co", "dong y", "yes", "ok", "xac nhan", "1", "nop", "/nop"}
_CANCEL_WORDS = {"khong", "huy", "no", "chua", "2", "chua nop"}
_ACCEPT_WORDS = {"co", "dung", "dung vay", "dong y", "yes", "ok", "1", "giu", "giu nguyen"}
_ACCEPT_WORDS |= {"van ghi", "ghi"}
_DECLINE_WORDS = {"khong", "khong phai", "sai", "no", "2", "bo", "bo di", "nhap lai"}
_DECLINE_WORDS |= {"khong xoa", "huy"}
_GOTO = re.compile(r"^/?(?:cau|sua|/sua)\s*(\d{1,3})$")
_REMOVE_ITEM = re.compile(r"^xoa\s*(?:van ban\s*|vb\s*)?(\d{1,3})$")
_EDIT_ITEM = re.compile(r"^\s*(\S+)\s+(\d{1,3})\s*[:.,\-]?\s+(\S.*)$", re.S)
# The keywords a slip of the finger is checked against, as typed without diacritics.
_NEAR_MISS_TARGETS = {
    "xong": "done",
    "bo qua": "skip",
    "quay lai": "back",
    "tam dung": "pause",
    "khong ap dung": "na",
    "kad": "na",
    "xem": "review",
    "xem lai": "review",
    "nop": "submit",
    "tiep": "continue",
    "tiep tuc": "continue",
    "xoa": "clear",
}
_NEAR_MISS_WORDS = tuple(_NEAR_MISS_TARGETS)
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
            accept = _ACCEPT_WORDS | ({"xoa", "xoa het"} if pending["kind"] == "clear" else set())
            if words in accept:
                return self._resolve(pending, True)
            if words in _DECLINE_WORDS:
                return self._resolve(pending, False)
        if mode == "confirm":
            if words in _CONFIRM_WORDS:
                return self._command("confirm", text)
            if words in _CANCEL_WORDS:
                return self._command("cancel", text)
        if mode in ("asking", "paused") and self.dialogue.cursor:
            body, note = split_note(text)
            if note is not None:
                return self._noted(body, note)
        goto = _GOTO.match(words) or (mode in ("review", "confirm") and re.fullmatch(r"\d+", words))
        if goto:
            number = int(goto.group(1) if goto.re is _GOTO else goto.group(0))
            return self._goto(number)
        for command, keywords in _KEYWORDS.items():
            if words in keywords:
                return self._command(command, text)
        if mode in ("asking", "paused") and self.dialogue.cursor:
            if self._document_edit(text, words):
                return None
            slip = near_miss(words, _NEAR_MISS_WORDS) if "\n" not in text.strip() else None
            if slip and self._is_choice(text):  # «loa» is a choice here, not a slip for «xóa»
                slip = None
            if slip:
                return self._ask_back({"kind": "keyword", "command": _NEAR_MISS_TARGETS[slip]})
            return self._answer(text)
        if mode == "locked":
            return self._reply_locked()
        if mode == "start":
            return self._advance(prefix=self._intro())
        self._show_current(prefix="Chưa hiểu ý đồng chí.")

    def _is_choice(self, text: str) -> bool:
        question = self.form.question(self.dialogue.cursor)
        return question.kind in SELECT_KINDS and not isinstance(
            parse_typed(question, text), Rejected
        )

    def _noted(self, body: str, note: str) -> None:
        """An answer with «ghi chú: …», or a note alone for the answer already given."""
        cursor = self.dialogue.cursor
        self.dialogue.mode = "asking"
        if len(note) > MAX_NOTE_CHARS:
            return self._ask(
                cursor, prefix=f"Chưa ghi được: ghi chú quá dài (tối đa {MAX_NOTE_CHARS} ký tự)."
            )
        self.note = note
        if body:
            return self._text(body)
        answer = self.state.answers.get(cursor)
        if answer is None or (answer.value is None and not answer.not_applicable):
            return self._ask(
                cursor,
                prefix=(
                    f"Câu {self._number(cursor)} chưa có câu trả lời để ghi chú. Gửi số liệu kèm"
                    " ghi chú, ví dụ: «12 ghi chú: số liệu ước tính». Ghi chú cho câu trước:"
                    " gõ «quay lại» rồi gửi ghi chú."
                ),
            )
        question = self.form.question(cursor)
        self._save(question, answer.value, not_applicable=answer.not_applicable, raw="Ghi chú")
        done = f"Đã ghi ghi chú cho câu {self._number(cursor)}." if note else "Đã bỏ ghi chú."
        self._ask(cursor, prefix=done)

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
            self.effects.append(
                Reply(
                    render("paused", number=self._number(cursor)),
                    (CHOICES["continue"],),
                    context=context_of(self.dialogue),
                )
            )
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

    def _ask_back(self, pending: dict, text: str = "") -> None:
        """Ask the officer to settle something before anything is stored."""
        kind = pending["kind"]
        if kind == "keyword":
            keyword = CHOICES[pending["command"]].keyword
            text = _prefixed(text, f"Ý đồng chí là «{keyword}»?")
        self.dialogue.mode = "asking"
        self.dialogue.pending = pending
        yes, no = _PENDING_LABELS[kind]
        choices = (replace(CHOICES["accept"], label=yes), replace(CHOICES["decline"], label=no))
        self.effects.append(Reply(text, choices, context=context_of(self.dialogue), numbered=True))

    def _resolve(self, pending: dict, accepted: bool) -> None:
        cursor = self.dialogue.cursor
        question = self.form.question(cursor)
        kind = pending["kind"]
        self.dialogue.mode = "asking"
        if kind == "keyword":
            if accepted:
                return self._command(pending["command"], CHOICES[pending["command"]].label)
            return self._ask(cursor, prefix="Chưa ghi gì. Đồng chí gửi lại câu trả lời.")
        if kind == "clear":
            if not accepted:
                return self._ask(cursor, prefix="Giữ nguyên danh sách văn bản.")
            self._save(question, {"items": []}, not_applicable=False, raw="Xóa")
            return self._ask(cursor, prefix="Đã xóa danh sách văn bản của câu này.")
        if kind == "lines":
            raws = pending["raws"]
            if accepted:
                kept = [keep_as_typed(raw) for raw in raws]
                items = self._items(cursor) + kept
                self.note = pending.get("note")
                self._save(question, {"items": items}, not_applicable=False, raw="\n".join(raws))
                summary = self._documents_summary(question, kept, len(items), "Đã giữ")
            else:
                summary = f"Đã bỏ {len(raws)} dòng, không ghi."
            if pending.get("finished"):
                return self._finish_documents(question, "Xong", prefix=summary)
            return self._reply_documents(question, summary)
        # "soft": an unlikely value (or «không áp dụng» against another answer) confirmed or not
        if not accepted:
            return self._ask(cursor, prefix="Chưa ghi. Đồng chí gửi lại số liệu.")
        self.note = pending.get("note")
        number = self._number(cursor)
        if pending.get("na"):
            self._save(question, None, not_applicable=True, raw=pending["raw"] or "Không áp dụng")
            return self._after_answer(prefix=f"Đã ghi câu {number}: Không áp dụng.")
        self._save(question, pending["value"], not_applicable=False, raw=pending["raw"])
        self._after_answer(prefix=f"Đã ghi câu {number}: {pending['echo']}")

    # --- answering ------------------------------------------------------------------

    def _answer(self, text: str) -> None:
        cursor = self.dialogue.cursor
        assert cursor is not None
        self.dialogue.mode = "asking"
        question = self.form.question(cursor)
        if question.kind is QuestionKind.DOCUMENTS:
            return self._add_documents(question, text)
        if question.kind.value in TYPED_KINDS:
            parsed = parse_typed(question, text)
        else:
            parsed = parse_answer(
                question.kind.value,
                text,
                unit=question.unit,
                minimum=question.minimum,
                maximum=question.maximum,
            )
        if isinstance(parsed, Rejected):
            return self._ask(cursor, prefix=render("rejected", **vars(parsed)))
        broken = constraint_refusal(question, parsed.value, self.state.level, self.state.answers)
        if broken:
            return self._ask(cursor, prefix=broken)
        violation = self.checks.rule_violation(question, parsed.value)
        if violation:
            return self._ask(cursor, prefix=violation)
        doubt = self.checks.rule_doubt(question, parsed.value) or self.checks.implausible(
            question, parsed.value
        )
        if doubt:
            pending = {"kind": "soft", "value": parsed.value, "raw": text, "echo": parsed.echo}
            if self.note is not None:
                pending["note"] = self.note
            return self._ask_back(pending, doubt)
        self._save(question, parsed.value, not_applicable=False, raw=text)
        self._after_answer(prefix=f"Đã ghi câu {self._number(cursor)}: {parsed.echo}")

    def _add_documents(self, question: Question, text: str) -> None:
        lines = text.splitlines()
        finished = bool(lines) and normalize(lines[-1]) in _KEYWORDS["done"]
        if finished:
            text = "\n".join(lines[:-1])
        read = read_document_lines(text)
        if isinstance(read, Rejected):
            if finished and not text.strip():
                return self._finish_documents(question, "Xong")
            return self._ask(question.key, prefix=render("rejected", **vars(read)))
        added = [line.item for line in read if not line.problem]
        unread = [line for line in read if line.problem]
        summary = ""
        if added:
            items = self._items(question.key) + added
            self._save(question, {"items": items}, not_applicable=False, raw=text)
            summary = self._documents_summary(question, added, len(items), "Đã ghi")
        if unread:
            pending = {
                "kind": "lines",
                "raws": [line.item["raw"] for line in unread],
                "finished": finished,
            }
            if self.note is not None and not added:
                pending["note"] = self.note
            asked = render(
                "documents_unread",
                lines=[(shorten(line.item["raw"], 120), line.problem) for line in unread],
            )
            return self._ask_back(pending, _prefixed(summary, asked))
        if finished:
            return self._finish_documents(question, "Xong", prefix=summary)
        self._reply_documents(question, summary)

    def _documents_summary(self, question: Question, added: list[dict], total: int, verb: str):
        first = total - len(added) + 1
        return render(
            "documents_added",
            verb=verb,
            added=len(added),
            total=total,
            items=[(n, describe_document(item)) for n, item in enumerate(added[:10], start=first)],
            more=len(added) - 10,
        )

    def _reply_documents(self, question: Question, summary: str) -> None:
        tail = render("documents_more", buttons=self.state.buttons)
        self.effects.append(
            Reply(
                _prefixed(summary, tail),
                self._choices_for(question),
                context=context_of(self.dialogue),
            )
        )

    def _finish_documents(self, question: Question, raw: str, prefix: str = "") -> None:
        """«Xong»: the list is complete (an empty list means "no documents")."""
        cursor = question.key
        if not self._is_answered(cursor):
            self._save(question, {"items": []}, not_applicable=False, raw=raw)
            done = "Đã ghi: không có văn bản nào."
        elif self.state.answers[cursor].not_applicable:
            done = "Giữ nguyên câu trả lời: Không áp dụng."
        else:
            done = f"Đã ghi {len(self._items(cursor))} văn bản."
        self._after_answer(prefix=_prefixed(prefix, done) if prefix else done)

    def _document_edit(self, text: str, words: str) -> bool:
        """«xóa 2» and «sửa 2 …» at a document question; False when the text is neither."""
        cursor = self.dialogue.cursor
        question = self.form.question(cursor)
        if question.kind is not QuestionKind.DOCUMENTS:
            return False
        remove = _REMOVE_ITEM.match(words)
        edit = _EDIT_ITEM.match(text.strip()) if not remove else None
        if edit and normalize(edit.group(1)) not in ("sua", "/sua"):
            edit = None
        if not remove and not edit:
            return False
        self.dialogue.mode = "asking"
        items = self._items(cursor)
        index = int((remove or edit).group(2 if edit else 1))
        if not 1 <= index <= len(items):
            where = f"chỉ có {len(items)} văn bản" if items else "chưa có văn bản nào"
            self._ask(cursor, prefix=f"Không có văn bản {index}: câu này {where}.")
            return True
        if remove:
            gone = items.pop(index - 1)
            self._save(question, {"items": items}, not_applicable=False, raw=text)
            self._ask(cursor, prefix=f"Đã xóa văn bản {index}: {describe_document(gone)}.")
            return True
        read = read_document_lines(edit.group(3))
        if isinstance(read, Rejected) or len(read) != 1 or read[0].problem:
            reason = (
                read.reason
                if isinstance(read, Rejected)
                else "chỉ sửa một văn bản mỗi lần"
                if len(read) != 1
                else read[0].problem
            )
            self._ask(
                cursor,
                prefix=(
                    f"Chưa sửa được văn bản {index}: {reason.rstrip('.')}. Gõ lại, ví dụ:"
                    f" «sửa {index} 12-KH/HU, ngày 05/6/2017, Kế hoạch triển khai»."
                ),
            )
            return True
        items[index - 1] = read[0].item
        self._save(question, {"items": items}, not_applicable=False, raw=text)
        self._ask(cursor, prefix=f"Đã sửa văn bản {index}: {describe_document(read[0].item)}.")
        return True

    def _items(self, key: str) -> list[dict]:
        answer = self.state.answers.get(key)
        if answer is None or answer.value is None:
            return []
        return list(answer.value.get("items", []))

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
        self.effects.append(
            Reply(
                _prefixed(prefix, text),
                self._choices_for(question),
                context=context_of(self.dialogue),
            )
        )

    def _question_text(self, question: Question, answer: Answer | None) -> str:
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
            signed_reports=self.state.signed_reports,
        )
        choices = () if locked else (CHOICES["submit"], CHOICES["continue"])
        self.effects.append(Reply(text, choices, context=context_of(self.dialogue)))

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
        self.effects.append(
            Reply(
                text,
                (CHOICES["confirm"], CHOICES["cancel"]),
                context=context_of(self.dialogue),
                numbered=True,
            )
        )

    def _late(self, submitted_at: datetime | None) -> str:
        deadline = self.state.campaign.deadline
        if deadline is None or submitted_at is None:
            return ""
        return late_phrase(deadline, submitted_at)

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
        self.effects.append(Reply(text, (CHOICES["review"],), context=context_of(self.dialogue)))

    def _reply_locked(self, prefix: str = "") -> None:
        text = render(
            "locked",
            unit_name=self.state.unit_name,
            when=format_moment(self.state.submitted_at),
            late=self._late(self.state.submitted_at),
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
        return _answered(self.state.answers.get(key))

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


def _answered(answer: Answer | None) -> bool:
    return answer is not None and (answer.not_applicable or answer.value is not None)


def render_choices_as_text(choices: tuple[Choice, ...], numbered: bool) -> str:
    """How text-only channels (console, Zalo) show choices: numbered lines or one keyword line.

    A keyword is followed by its meaning only when the label says more than the keyword.
    """
    if not choices:
        return ""
    if numbered:
        return "\n".join(f"{i}. {c.label}" for i, c in enumerate(choices, start=1))
    words = []
    for choice in choices:
        if normalize(choice.label).startswith(normalize(choice.keyword)):
            words.append(choice.keyword)
        else:
            words.append(f"{choice.keyword} ({choice.label.lower()})")
    return "Gõ: " + " · ".join(words)
