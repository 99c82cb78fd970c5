"""An officer's answer to the current question: read, checked, asked back when in doubt.

The engine's `_Step` (in `conversations.engine`) inherits these methods. An answer is read by
its kind (`conversations.parsing`, `conversations.typed_answers`), refused when it breaks a
constraint or a rule, and asked back (`Dialogue.pending`) when it is unlikely, when a keyword
looks mistyped, or when document lines were not fully read; «có»/«không» then settle it. Pure.
"""

from __future__ import annotations

from dataclasses import replace

from conversations.answers import MAX_NOTE_CHARS, Rejected
from conversations.choices import CHOICES, PENDING_LABELS
from conversations.constraints import constraint_refusal
from conversations.dialogue_text import prefixed
from conversations.documents_list import keep_as_typed
from conversations.forms import SELECT_KINDS, QuestionKind
from conversations.messages import render
from conversations.parsing import parse_answer
from conversations.typed_answers import TYPED_KINDS, parse_typed


class ReadsAnswers:
    """The answering half of the engine's step; see the module docstring."""

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

    def _ask_back(self, pending: dict, text: str = "") -> None:
        """Ask the officer to settle something before anything is stored."""
        kind = pending["kind"]
        if kind == "keyword":
            keyword = CHOICES[pending["command"]].keyword
            text = prefixed(text, f"Ý đồng chí là «{keyword}»?")
        self.dialogue.mode = "asking"
        self.dialogue.pending = pending
        yes, no = PENDING_LABELS[kind]
        choices = (replace(CHOICES["accept"], label=yes), replace(CHOICES["decline"], label=no))
        self._reply(text, choices, numbered=True)

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
