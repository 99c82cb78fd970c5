"""The list of documents at a "documents" question: lines added, kept, removed, corrected.

The engine's `_Step` (in `conversations.engine`) inherits these methods: lines are read by
`conversations.documents_list`; a line not fully read is asked back (kept as typed or dropped);
«xóa N» and «sửa N …» edit one document; «xong» closes the list. Pure, no I/O.
"""

from __future__ import annotations

from conversations.answers import Rejected
from conversations.choices import EDIT_ITEM, KEYWORDS, REMOVE_ITEM
from conversations.dialogue_text import prefixed
from conversations.documents_list import describe_document, read_document_lines
from conversations.forms import Question, QuestionKind
from conversations.messages import render
from conversations.parsing import normalize
from conversations.text import shorten


class EditsDocuments:
    """The documents-list half of the engine's step; see the module docstring."""

    def _add_documents(self, question: Question, text: str) -> None:
        lines = text.splitlines()
        finished = bool(lines) and normalize(lines[-1]) in KEYWORDS["done"]
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
            return self._ask_back(pending, prefixed(summary, asked))
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
        self._reply(prefixed(summary, tail), self._choices_for(question))

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
        self._after_answer(prefix=prefixed(prefix, done) if prefix else done)

    def _document_edit(self, text: str, words: str) -> bool:
        """«xóa 2» and «sửa 2 …» at a document question; False when the text is neither."""
        cursor = self.dialogue.cursor
        question = self.form.question(cursor)
        if question.kind is not QuestionKind.DOCUMENTS:
            return False
        remove = REMOVE_ITEM.match(words)
        edit = EDIT_ITEM.match(text.strip()) if not remove else None
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
