"""The report's narrative in the chat: the officer writes the Đề cương point by point.

    step(state, event, outline, now) -> (state, effects)

Pure, like the Phụ lục engine it sits beside: the caller loads `NarrativeState`, passes the
event, then stores the texts (`SaveAnswer`, answers keyed `dc:<point key>`, so they keep their
history, lock on submission and return with the report), sends the replies and, on `SendDraft`,
the unit's draft. Its place (`Place`) is kept inside the Phụ lục dialogue's JSON.

    writing  text          -> appended to the point's text (several messages make one text)
             «xong»        -> the next point (or the review after the last one)
             «bỏ qua»      -> the next point; the point is left to be completed later
             «quay lại»    -> the previous point
             «xóa»         -> asks first, then empties the point's text
    paused   text          -> writing again: appended to the point it was paused on
    any      «điểm N» / «điểm III.4.1» -> that point (by its order or by the plan's mark)
             «tạm dừng»    -> paused: the place is kept, nothing is stored
             «tiếp», «báo cáo», /start -> the point (or review) the officer was at, with its text
             «xem»         -> the review of every point with its text
             «giúp»        -> the words understood here
             «dự thảo»     -> SendDraft
             «phụ lục», «nộp» -> Leave (the Phụ lục engine takes the same input)

No command word is ever stored as report text: every keyword is matched before writing.
Points are named by the plan's own marks ("III.4.1"), which are the outline's keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from conversations.choices import Choice
from conversations.engine import EDITABLE_STATUSES, Press, Reply, SaveAnswer, Text
from conversations.outline import Outline, OutlineSection, Point
from conversations.parsing import normalize
from conversations.text import shorten

KEY_PREFIX = "dc:"
MAX_TEXT_CHARS = 30_000  # one point's text; a whole report is rarely longer than this
# «/baocao», «báo cáo» (as `command_words` gives them): the officer asks for the report part.
OPEN_WORDS = frozenset({"/baocao", "bao cao", "viet bao cao", "/vietbaocao"})
CONTEXT_PREFIX = "n:"

CHOICES = {
    "done": Choice("n-done", "Xong điểm này", "xong"),
    "skip": Choice("n-skip", "Để bổ sung sau", "bỏ qua"),
    "back": Choice("n-back", "Quay lại", "quay lại"),
    "review": Choice("n-review", "Xem phần đã viết", "xem"),
    "draft": Choice("n-draft", "Tải dự thảo", "dự thảo"),
    "leave": Choice("n-leave", "Về Phụ lục", "phụ lục"),
    "write": Choice("n-write", "Viết tiếp", "viết"),
    "accept": Choice("n-accept", "Xóa", "có"),
    "decline": Choice("n-decline", "Không xóa", "không"),
}
_WORDS = {
    "done": {"xong", "het", "done", "/xong", "tiep diem sau"},
    "skip": {"bo qua", "de sau", "/boqua", "skip"},
    "back": {"quay lai", "lai", "/lai", "/quaylai", "back"},
    "review": {"xem", "xem lai", "/xem", "/review"},
    "draft": {"du thao", "/duthao", "tai du thao", "gui du thao"},
    "leave": {"phu luc", "/phuluc", "ve phu luc", "nop", "/nop", "nop bao cao"},
    "resume": {"tiep", "/tiep", "tiep tuc", "/continue", "/start", "bat dau", "viet tiep"},
    "pause": {"tam dung", "dung", "pause", "/dung", "/tamdung", "dung lai"},
    "write": {"viet"},
    "clear": {"xoa", "xoa het", "/xoa"},
    "help": {"/help", "help", "huong dan", "/huongdan", "tro giup", "giup", "/giup", "?"},
}
_YES = {"co", "dong y", "yes", "ok", "1", "xoa", "xoa het"}
_NO = {"khong", "khong xoa", "no", "2", "huy"}
_GOTO = re.compile(r"^/?(?:diem|sua|muc)\s*(\d{1,3}|[ivx]{1,4}(?:\s*\.\s*\d{1,2})*)\.?$")
# «điểm N» typed in the Phụ lục opens the report at that point (see `wants_point`).
_POINT_WORD = re.compile(r"^/?diem\s*(\d{1,3}|[ivx]{1,4}(?:\s*\.\s*\d{1,2})*)\.?$")


def narrative_key(point_key: str) -> str:
    return KEY_PREFIX + point_key


def is_narrative_key(question_key: str) -> bool:
    return question_key.startswith(KEY_PREFIX)


def narrative_texts(values: Mapping[str, dict | None]) -> dict[str, str]:
    """{point key: text} from answers by question key (the draft's `narratives`)."""
    texts = {}
    for key, value in values.items():
        if is_narrative_key(key) and isinstance(value, dict) and value.get("text"):
            texts[key[len(KEY_PREFIX) :]] = str(value["text"])
    return texts


def wants_point(words: str) -> bool:
    """«điểm 5», «điểm III.4.1»: words (as `command_words` gives them) that name a point."""
    return _POINT_WORD.match(words) is not None


def command_words(text: str) -> str:
    """A message as its command words are compared: no diacritics, case or final «.»/«!»."""
    return normalize(text).strip().rstrip(".!").strip()


@dataclass(frozen=True)
class Slot:
    """A point the officer can write under: a leaf of the outline, in reading order."""

    key: str  # the plan's own mark, "III.4.1", by which the officer and the review name it
    number: int
    section: str  # "III- KẾT QUẢ …"
    path: tuple[str, ...]  # the wording of the points above it
    wording: str
    note: str
    has_figures: bool
    title: str = ""  # the point's words without its mark (the section's title for a section)


def slots(outline: Outline) -> list[Slot]:
    found: list[Slot] = []

    def visit(section: OutlineSection, points: list[Point], path: tuple[str, ...]) -> None:
        for point in points:
            wording = f"{point.mark} {point.text}".strip()
            if point.points:
                visit(section, point.points, (*path, wording))
                continue
            found.append(
                Slot(
                    point.key,
                    len(found) + 1,
                    section.heading,
                    path,
                    wording,
                    point.note,
                    bool(point.figures),
                    point.text,
                )
            )

    for section in outline.sections:
        if section.points:
            visit(section, section.points, ())
        else:
            found.append(
                Slot(
                    section.key,
                    len(found) + 1,
                    section.heading,
                    (),
                    "",
                    section.note,
                    bool(section.figures),
                    section.title,
                )
            )
    return found


@dataclass
class Place:
    """Where the officer is in the narrative; JSON inside the Phụ lục dialogue."""

    active: bool = False
    mode: str = "writing"  # writing | paused | review
    point: str | None = None
    skipped: list[str] = field(default_factory=list)
    pending: str | None = None  # "clear" while «xóa» waits for its confirmation

    def to_json(self) -> dict:
        data = {"active": self.active, "mode": self.mode, "point": self.point}
        data["skipped"] = list(self.skipped)
        if self.pending:
            data["pending"] = self.pending
        return data

    @classmethod
    def from_json(cls, data: dict | None) -> Place:
        data = data or {}
        return cls(
            active=bool(data.get("active")),
            mode=data.get("mode") or "writing",
            point=data.get("point"),
            skipped=list(data.get("skipped") or []),
            pending=data.get("pending") or None,
        )


@dataclass
class NarrativeState:
    place: Place
    texts: dict[str, str]  # by point key
    status: str  # the submission's status: texts are editable only while the Phụ lục is
    unit_name: str
    buttons: bool = False


@dataclass(frozen=True)
class SendDraft:
    """Send the unit's draft report (.docx, or a download link where files cannot go)."""


@dataclass(frozen=True)
class Leave:
    """The input is the Phụ lục's: the caller runs the Phụ lục engine with it."""


Effect = Reply | SaveAnswer | SendDraft | Leave


def open_narrative(state: NarrativeState, outline: Outline) -> tuple[NarrativeState, list]:
    """«/baocao»: the draft, then the point the officer was at (or the first open one)."""
    return _Step(state, outline).open()


def step(
    state: NarrativeState, event: Text | Press, outline: Outline, now: datetime
) -> tuple[NarrativeState, list]:
    """Apply one input while the narrative is open."""
    del now  # texts carry no time of their own; the caller stamps the answers
    return _Step(state, outline).run(event)


def context_of(place: Place) -> str:
    return f"{CONTEXT_PREFIX}{place.mode}:{place.point or ''}:{place.pending or ''}"


class _Step:
    def __init__(self, state: NarrativeState, outline: Outline) -> None:
        place = replace(state.place, skipped=list(state.place.skipped))
        self.state = replace(state, place=place, texts=dict(state.texts))
        self.slots = slots(outline)
        self.by_key = {slot.key: slot for slot in self.slots}
        self.effects: list = []

    @property
    def place(self) -> Place:
        return self.state.place

    @property
    def editable(self) -> bool:
        return self.state.status in EDITABLE_STATUSES

    def done(self) -> tuple[NarrativeState, list]:
        return self.state, self.effects

    def open(self) -> tuple[NarrativeState, list]:
        self.place.active = True
        self.place.pending = None
        self.effects.append(SendDraft())
        if not self.editable:
            self._review(prefix=self._locked_text())
            return self.done()
        if self.place.point not in self.by_key:
            self.place.point = self._first_open() or self.slots[0].key
        self._show(prefix=_OPENING)
        return self.done()

    def run(self, event: Text | Press) -> tuple[NarrativeState, list]:
        self.place.active = True  # a press under an older narrative message reopens it
        if self.place.point not in self.by_key:
            self.place.point = self._first_open() or self.slots[0].key
        if isinstance(event, Press):
            if event.context and event.context != context_of(self.place):
                self.place.pending = None
                self._show_current(prefix="Nút này thuộc một tin nhắn cũ.")
                return self.done()
            command = event.choice.removeprefix("n-")
            if self.place.pending and command in ("accept", "decline"):
                self._settle(command == "accept")
            else:
                self.place.pending = None
                self._command(command)
            return self.done()
        words = command_words(event.text)
        if self.place.pending:
            self.place.pending = None
            if words in _YES:
                self._settle(True)
                return self.done()
            if words in _NO:
                self._settle(False)
                return self.done()
        goto = _GOTO.match(words)
        if goto:
            self._goto(goto.group(1))
            return self.done()
        if words in OPEN_WORDS:
            self._command("resume")
            return self.done()
        for command, keywords in _WORDS.items():
            if words in keywords:
                self._command(command)
                return self.done()
        if self.place.mode == "paused" and self.editable:
            self.place.mode = "writing"
            self._write(event.text, prefix=f"Tiếp tục viết điểm {self.place.point}.")
        elif self.place.mode == "writing" and self.editable:
            self._write(event.text)
        elif not self.editable:
            self._review(prefix=self._locked_text())
        else:
            self._review(prefix="Chưa hiểu ý đồng chí. Gõ «viết» để viết tiếp, hoặc «điểm N».")
        return self.done()

    # --- commands ------------------------------------------------------------------------

    def _command(self, command: str) -> None:
        if command == "leave":
            self.place.active = False
            self.effects.append(Leave())
            return
        if command == "draft":
            self.effects.append(SendDraft())
            return
        if command == "review":
            return self._review()
        if command == "help":
            return self._show_current(prefix=_HELP)
        if command == "resume":
            if self.place.mode == "paused":
                self.place.mode = "writing"
            return self._show_current()
        if command == "pause":
            return self._pause()
        if not self.editable:
            return self._review(prefix=self._locked_text())
        if command == "write":
            self.place.mode = "writing"
            return self._show()
        if command == "done":
            return self._next()
        if command == "skip":
            if self.place.point not in self.place.skipped:
                self.place.skipped.append(self.place.point)
            return self._next(prefix=f"Đã để điểm {self.place.point} bổ sung sau.")
        if command == "back":
            index = self.by_key[self.place.point].number
            self.place.mode = "writing"
            if index == 1:
                return self._show(prefix="Đây là điểm đầu tiên của Đề cương.")
            self.place.point = self.slots[index - 2].key
            return self._show()
        if command == "clear":
            if not self.state.texts.get(self.place.point):
                return self._show(prefix="Điểm này chưa có lời văn để xóa.")
            self.place.pending = "clear"
            self.effects.append(
                Reply(
                    f"Xóa toàn bộ lời văn đã viết ở điểm {self.place.point}?",
                    (CHOICES["accept"], CHOICES["decline"]),
                    context=context_of(self.place),
                    numbered=True,
                )
            )
            return
        self._show_current(prefix="Chưa hiểu ý đồng chí.")

    def _settle(self, accepted: bool) -> None:
        key = self.place.point
        if not accepted or not self.editable:
            return self._show(prefix="Giữ nguyên lời văn.")
        self.state.texts.pop(key, None)
        self.effects.append(SaveAnswer(narrative_key(key), None, False, "xóa"))
        self._show(prefix="Đã xóa lời văn của điểm này.")

    def _pause(self) -> None:
        """«tạm dừng»: nothing is stored; the place is kept for «báo cáo» or the next message."""
        if self.editable and self.place.mode != "review":
            self.place.mode = "paused"
        what = (
            f"điểm {self.place.point}"
            if self.place.mode == "paused"
            else "phần lời văn của báo cáo"
        )
        self.effects.append(
            Reply(
                f"Đã tạm dừng ở {what}; phần đã viết được lưu. Khi muốn viết tiếp, đồng chí gõ "
                "«báo cáo» (hoặc gửi tiếp lời văn); gõ «phụ lục» để về Phụ lục số liệu.",
                (CHOICES["write"], CHOICES["leave"]),
                context=context_of(self.place),
            )
        )

    def _goto(self, wanted: str) -> None:
        slot = self._slot_named(wanted)
        if slot is None:
            return self._show_current(
                prefix=f"Không có điểm {wanted.upper().replace(' ', '')}. Đề cương có "
                f"{len(self.slots)} điểm để viết, từ {self.slots[0].key} đến "
                f"{self.slots[-1].key} (hoặc gõ theo thứ tự, từ 1 đến {len(self.slots)})."
            )
        if not self.editable:
            return self._review(prefix=self._locked_text())
        self.place.point = slot.key
        self.place.mode = "writing"
        self._show()

    def _slot_named(self, wanted: str) -> Slot | None:
        """Point N in reading order, or the point whose plan mark is `wanted` ("iii.4.1")."""
        if wanted.isdigit():
            number = int(wanted)
            return self.slots[number - 1] if 1 <= number <= len(self.slots) else None
        mark = wanted.replace(" ", "").upper()
        return self.by_key.get(mark)

    def _write(self, text: str, prefix: str = "") -> None:
        key = self.place.point
        addition = text.strip()
        if not addition:
            return self._show(prefix="Tin nhắn trống, chưa ghi gì.")
        current = self.state.texts.get(key, "")
        combined = f"{current}\n{addition}" if current else addition
        if len(combined) > MAX_TEXT_CHARS:
            room = MAX_TEXT_CHARS - len(current) - 1
            return self.effects.append(
                Reply(
                    f"Lời văn của một điểm dài tối đa {MAX_TEXT_CHARS:,} ký tự".replace(",", ".")
                    + f"; tin nhắn này chưa được ghi (còn chỗ cho {max(room, 0)} ký tự). "
                    "Đề nghị đồng chí rút gọn, hoặc bổ sung phần dài vào dự thảo sau.",
                    self._choices(),
                    context=context_of(self.place),
                )
            )
        self.state.texts[key] = combined
        if key in self.place.skipped:
            self.place.skipped.remove(key)
        self.effects.append(SaveAnswer(narrative_key(key), {"text": combined}, False, addition))
        words = len(combined.split())
        self.effects.append(
            Reply(
                _join(
                    prefix,
                    f"Đã ghi vào điểm {key} (tổng {words} từ). Gửi tiếp nếu còn; "
                    f"{'bấm' if self.state.buttons else 'gõ'} «xong» để sang điểm sau.",
                ),
                self._choices(),
                context=context_of(self.place),
            )
        )

    # --- showing --------------------------------------------------------------------------

    def _next(self, prefix: str = "") -> None:
        index = self.by_key[self.place.point].number
        later = [s.key for s in self.slots[index:] if self._is_open(s.key)]
        if later:
            self.place.point = later[0]
            self.place.mode = "writing"
            return self._show(prefix=prefix)
        self._review(prefix=_join(prefix, "Đã đi hết các điểm của Đề cương."))

    def _first_open(self) -> str | None:
        return next((s.key for s in self.slots if self._is_open(s.key)), None)

    def _is_open(self, key: str) -> bool:
        return not self.state.texts.get(key) and key not in self.place.skipped

    def _show_current(self, prefix: str = "") -> None:
        if self.place.mode == "review" or not self.editable:
            return self._review(prefix=prefix)
        self._show(prefix=prefix)

    def _show(self, prefix: str = "") -> None:
        self.place.mode = "writing"
        slot = self.by_key[self.place.point]
        lines = [f"Đề cương — điểm {slot.key} ({slot.number}/{len(self.slots)})", slot.section]
        lines += list(slot.path)
        if slot.wording:
            lines.append(slot.wording)
        if slot.note:
            lines.append(slot.note)
        if slot.has_figures:
            lines.append("(Số liệu của điểm này được lấy từ Phụ lục và điền sẵn vào dự thảo.)")
        text = self.state.texts.get(slot.key)
        if text:
            lines += ["", "Đã viết:", text, "", "Tin nhắn gửi thêm sẽ được viết tiếp vào đây."]
        else:
            lines += ["", "Đề nghị đồng chí gửi lời văn cho điểm này (một hoặc nhiều tin nhắn)."]
        verb = "Bấm" if self.state.buttons else "Gõ"
        lines.append(f"{verb} «xong» để sang điểm sau, «bỏ qua» để bổ sung sau.")
        self.effects.append(
            Reply(_join(prefix, "\n".join(lines)), self._choices(), context=context_of(self.place))
        )

    def _choices(self) -> tuple[Choice, ...]:
        ids = ["done", "skip"]
        if self.by_key[self.place.point].number > 1:
            ids.append("back")
        ids += ["review", "leave"]
        return tuple(CHOICES[i] for i in ids)

    def _review(self, prefix: str = "") -> None:
        if self.editable:
            self.place.mode = "review"
        written = sum(1 for s in self.slots if self.state.texts.get(s.key))
        lines = [f"Phần lời văn của {self.state.unit_name}: {written}/{len(self.slots)} điểm."]
        section = None
        for slot in self.slots:
            if slot.section != section:
                section = slot.section
                lines += ["", section]
            text = self.state.texts.get(slot.key)
            title = shorten(slot.title or slot.section, 90).rstrip(".:;")
            head = f"{slot.key}. {title}"
            if text:
                lines += [f"{head}:", text]
            elif slot.key in self.place.skipped:
                lines.append(f"{head} — (để bổ sung sau)")
            else:
                lines.append(f"{head} — (chưa viết)")
        if self.editable:
            example = self.slots[-1].key
            lines += ["", f"Gõ «điểm …» để viết hoặc sửa một điểm, ví dụ «điểm {example}»."]
            choices = (CHOICES["write"], CHOICES["draft"], CHOICES["leave"])
        else:
            choices = (CHOICES["draft"], CHOICES["leave"])
        self.effects.append(
            Reply(_join(prefix, "\n".join(lines)), choices, context=context_of(self.place))
        )
        return None

    def _locked_text(self) -> str:
        return (
            f"Báo cáo của {self.state.unit_name} đã nộp: phần lời văn đã khóa, "
            "chỉ xem được. Khi cần sửa, đề nghị liên hệ Ban Dân vận Tỉnh ủy để được trả lại."
        )


_OPENING = (
    "Dự thảo báo cáo của đơn vị (tệp Word) được gửi kèm. Đồng chí có thể viết phần lời văn "
    "theo từng điểm của Đề cương ngay tại đây; phần viết được ghi vào dự thảo."
)
_HELP = (
    "Viết báo cáo theo Đề cương: gửi lời văn cho từng điểm (một hoặc nhiều tin nhắn). "
    "«xong»: sang điểm sau · «bỏ qua»: để bổ sung sau · «quay lại»: điểm trước · "
    "«điểm III.4.1» (hoặc «điểm 5»): đến điểm đó · «xóa»: xóa lời văn của điểm này · "
    "«xem»: xem phần đã viết · «tạm dừng»: dừng, lần sau viết tiếp · "
    "«dự thảo»: tải dự thảo báo cáo (Word) · «phụ lục»: về Phụ lục số liệu · «giúp»: hướng dẫn."
)


def _join(prefix: str, text: str) -> str:
    return f"{prefix}\n\n{text}" if prefix else text
