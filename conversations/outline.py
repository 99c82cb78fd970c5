"""The Đề cương báo cáo as data: sections, numbered points in the plan's words, figure sentences.

An outline file (beside the form, named by the campaign file's `outline:` key) is validated on
load; any problem raises `FormError` with one line naming the file, the point and what is wrong.
A point may name Phụ lục questions whose answers a report writes as sentences in the plan's
words ("Tổng số đoàn kiểm tra: 12 đoàn; tổng số đơn vị cơ sở được kiểm tra: 1.234 đơn vị.");
this module also writes those sentences, so the Word draft and, later, the chat say the same.
"Không áp dụng" and unanswered questions are written as such, never as 0.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conversations.formatting import format_number, format_percent, format_value
from conversations.forms import BUNDLED_FORMS, Form, FormError, Question, QuestionKind

POINT_KEY = re.compile(r"^[A-Za-z0-9]+(\.[A-Za-z0-9]+)*$")
VALUE_SLOT = "value"
NOT_APPLICABLE_TEXT = "Không áp dụng"
UNANSWERED_TEXT = "(chưa trả lời)"
NO_DATA_TEXT = "(chưa có số liệu)"
INTRO_SLOTS = {"plan", "unit"}
KEYED = {"sections": "mục", "points": "điểm"}


class Clause(BaseModel):
    """One figure in a sentence: a question and the plan's words around its value."""

    model_config = ConfigDict(extra="forbid")
    question: str
    text: str = "{value}"


class FigureSentence(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lead: str = ""
    clauses: list[Clause] = Field(min_length=1)


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    mark: str = ""
    text: str
    note: str = ""
    figures: list[FigureSentence] = Field(default_factory=list)
    points: list[Point] = Field(default_factory=list)

    @property
    def numbered(self) -> bool:
        """A numbered point ("1.", "4.1.") is a heading; a bullet ("-", "+") is guidance."""
        return bool(self.mark) and self.mark[0].isdigit()


Point.model_rebuild()  # a point holds points


class OutlineSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    title: str
    note: str = ""
    figures: list[FigureSentence] = Field(default_factory=list)
    points: list[Point] = Field(default_factory=list)

    @property
    def heading(self) -> str:
        """As the plan writes it: "I- ĐẶC ĐIỂM, TÌNH HÌNH"."""
        return f"{self.key}- {self.title}"


class Outline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    form: str | None = None
    title: str
    subtitle: str = ""
    attached_to: str = ""
    report_title: str = "BÁO CÁO"
    report_subject: str
    intro: str = ""
    sections: list[OutlineSection] = Field(min_length=1)

    def walk(self) -> Iterator[tuple[int, Point]]:
        """Every point in reading order, with its depth (1 = directly under a section)."""

        def visit(points: list[Point], depth: int) -> Iterator[tuple[int, Point]]:
            for point in points:
                yield depth, point
                yield from visit(point.points, depth + 1)

        for section in self.sections:
            yield from visit(section.points, 1)

    def question_keys(self) -> list[str]:
        """The Phụ lục questions the outline writes as figures, once per mention."""
        keys: list[str] = []
        holders: list[OutlineSection | Point] = list(self.sections)
        holders += [point for _, point in self.walk()]
        for holder in holders:
            for sentence in holder.figures:
                keys += [clause.question for clause in sentence.clauses]
        return keys

    def intro_text(self, *, plan: str, unit: str) -> str:
        return self.intro.format(plan=plan, unit=unit) if self.intro else ""


def resolve_outline_path(name: str | Path, beside: Path | None = None) -> Path:
    """Where an outline named in a campaign file is: beside that file, as given, or bundled."""
    path = Path(name)
    if not path.is_absolute() and beside is not None and (beside / path).exists():
        return beside / path
    if not path.exists() and not path.is_absolute() and (BUNDLED_FORMS / path).exists():
        return BUNDLED_FORMS / path
    return path


def load_outline(path: str | Path, form: Form | None = None) -> Outline:
    """Read and validate an outline file; with `form`, its figures must name its questions."""
    path = resolve_outline_path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise FormError(f"{path}: không tìm thấy tệp đề cương") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FormError(f"{path}: không đọc được YAML ({reason})") from None
    return parse_outline(raw, form, source=str(path))


def parse_outline(raw: object, form: Form | None = None, *, source: str = "<đề cương>") -> Outline:
    if not isinstance(raw, dict):
        raise FormError(f"{source}: tệp đề cương phải là một bảng khóa: giá trị")
    try:
        outline = Outline.model_validate(raw)
    except ValidationError as error:
        raise FormError(f"{source}: {_describe(error, raw)}") from None
    _check(outline, form, source)
    return outline


def _describe(error: ValidationError, raw: dict) -> str:
    """The first problem, naming the section or point it is in by its key."""
    first = error.errors()[0]
    where, node, container = "", raw, ""
    fields: list[str] = []
    for part in first["loc"]:
        if isinstance(part, str):
            fields.append(part)
            container = part
            node = node.get(part) if isinstance(node, dict) else None
            continue
        node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        if isinstance(node, dict) and node.get("key") is not None and container in KEYED:
            where = f"{KEYED[container]} '{node['key']}'"
            fields = []
    parts = [where] if where else []
    if fields:
        parts.append(".".join(fields))
    return f"{', '.join(parts)}: {first['msg']}" if parts else first["msg"]


def _check(outline: Outline, form: Form | None, source: str) -> None:
    if form is not None and outline.form and outline.form != form.key:
        raise FormError(
            f"{source}: đề cương dành cho biểu mẫu '{outline.form}', không phải '{form.key}'"
        )
    _check_slots(outline.intro, INTRO_SLOTS, f"{source}: intro")
    seen: set[str] = set()
    holders: list[tuple[str, OutlineSection | Point]] = [
        (f"mục '{section.key}'", section) for section in outline.sections
    ]
    holders += [(f"điểm '{point.key}'", point) for _, point in outline.walk()]
    for where, holder in holders:
        where = f"{source}: {where}"
        if not POINT_KEY.match(holder.key):
            raise FormError(f"{where}: khóa chỉ gồm chữ, số và dấu chấm, ví dụ III.4.1")
        if holder.key in seen:
            raise FormError(f"{where}: khóa bị trùng")
        seen.add(holder.key)
        for sentence in holder.figures:
            for clause in sentence.clauses:
                _check_slots(clause.text, {VALUE_SLOT}, f"{where}, câu '{clause.question}'")
                if "{value}" not in clause.text:
                    raise FormError(f"{where}, câu '{clause.question}': lời văn thiếu {{value}}")
                if form is not None and clause.question not in {q.key for q in form.questions}:
                    raise FormError(
                        f"{where}: câu '{clause.question}' không có trong biểu mẫu {form.key}"
                    )


def _check_slots(text: str, allowed: set[str], where: str) -> None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as error:
        raise FormError(f"{where}: dấu ngoặc nhọn không hợp lệ ({error})") from None
    unknown = sorted(names - allowed)
    if unknown:
        allowed_text = ", ".join("{" + name + "}" for name in sorted(allowed))
        raise FormError(f"{where}: chỗ điền {{{unknown[0]}}} không có; chỉ dùng {allowed_text}")


# --- writing figures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """What a report knows about one question: a value, "Không áp dụng", or nothing yet.

    `asked=False` means the question is not asked of the unit's level: its clause is left out.
    `missing` is written when there is no value (a unit: unanswered; totals: no data).
    A totals value may carry `"average": True` (a typed percentage averaged over units).
    """

    value: dict | None = None
    not_applicable: bool = False
    asked: bool = True
    missing: str = UNANSWERED_TEXT


def figure_text(question: Question, reading: Reading) -> str:
    """A value in Vietnamese number formats: "1.234 đơn vị", "85,5%", "45/50 đơn, đạt 90%"."""
    if reading.not_applicable:
        return NOT_APPLICABLE_TEXT
    value = reading.value
    if not isinstance(value, dict):
        return reading.missing
    if question.kind == QuestionKind.DOCUMENTS:
        count = value.get("count")
        if count is None:
            items = value.get("items")
            count = len(items) if isinstance(items, list) else None
        if not isinstance(count, int) or isinstance(count, bool):
            return reading.missing
        return f"{format_number(count)} văn bản" if count else "không có văn bản"
    if question.kind == QuestionKind.PERCENT and value.get("average"):
        number = value.get("value")
        if isinstance(number, int | float) and not isinstance(number, bool):
            return f"bình quân {format_percent(float(number))}"
        return reading.missing
    try:
        return format_value(question.kind, value, unit=question.unit)
    except ValueError:
        return reading.missing


def sentence_text(
    sentence: FigureSentence, form: Form, read: Callable[[Question], Reading]
) -> str | None:
    """One figure sentence, or None when none of its questions is asked of the unit."""
    clauses = []
    for clause in sentence.clauses:
        question = form.question(clause.question)
        reading = read(question)
        if reading.asked:
            clauses.append(clause.text.format(value=figure_text(question, reading)))
    if not clauses:
        return None
    text = "; ".join(clauses)
    if sentence.lead:
        text = f"{sentence.lead} {text}"
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."
