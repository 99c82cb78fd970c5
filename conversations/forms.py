"""Forms as data: the model of a Phụ lục (sections, questions, rules) and its YAML loader.

A form file is validated on load; any problem raises `FormError` with one line naming the file,
the question key and what is wrong, so an operator can fix a new form without reading code.

A form is not changed after load. Lookups by key and per level are therefore built once per form
object (see `memo`), which keeps them off the per-message path.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Hashable
from enum import StrEnum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conversations.expressions import ExpressionError, parse_expression

BUNDLED_FORMS = Path(__file__).parent / "forms"
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class FormError(ValueError):
    """A form file that cannot be used, with a one-line reason."""


class QuestionKind(StrEnum):
    INTEGER = "integer"
    PERCENT = "percent"
    PAIR = "pair"
    RATIO = "ratio"
    DOCUMENTS = "documents"
    TEXT = "text"
    # Kinds an XLSForm brings (conversations.typed_answers reads them).
    DECIMAL = "decimal"
    DATE = "date"
    SELECT_ONE = "select_one"
    SELECT_MULTIPLE = "select_multiple"
    LIST = "list"  # a repeat: one item per line, its fields separated by ";"


NUMERIC_KINDS = {QuestionKind.INTEGER, QuestionKind.PERCENT, QuestionKind.DECIMAL}
SELECT_KINDS = {QuestionKind.SELECT_ONE, QuestionKind.SELECT_MULTIPLE}
LIST_FIELD_KINDS = {
    QuestionKind.INTEGER,
    QuestionKind.DECIMAL,
    QuestionKind.TEXT,
    QuestionKind.DATE,
}


class Rule(BaseModel):
    """A cross-question rule: this question's value compared with another's."""

    model_config = ConfigDict(extra="forbid")
    lte: str | None = None
    gte: str | None = None
    message: str | None = None

    @property
    def other(self) -> str:
        return self.lte or self.gte or ""


PLAUSIBLE_FIELDS = {
    QuestionKind.INTEGER: ("value",),
    QuestionKind.PERCENT: ("value",),
    QuestionKind.PAIR: ("times", "people"),
    QuestionKind.RATIO: ("done", "total"),
}


class Plausible(BaseModel):
    """A soft check: a value that is possible but unlikely is shown back and kept on confirmation.

    Either `field` <= `lte_field` (two parts of one answer: lượt <= lượt người), or `field` at
    most `max` for the unit's level (`max_by_level`, with `max` for levels not listed).
    """

    model_config = ConfigDict(extra="forbid")
    field: str = "value"
    lte_field: str | None = None
    max: float | None = None
    max_by_level: dict[str, float] = Field(default_factory=dict)
    message: str

    def limit(self, level: str) -> float | None:
        return self.max_by_level.get(level, self.max)


class Option(BaseModel):
    """One choice of a select question: the stored name and the label an officer sees."""

    model_config = ConfigDict(extra="forbid")
    name: str
    label: str


class ListField(BaseModel):
    """One field of a list item (a repeat's question), in the order typed on a line."""

    model_config = ConfigDict(extra="forbid")
    key: str
    label: str
    kind: QuestionKind = QuestionKind.TEXT


class Calculation(BaseModel):
    """A value computed from other answers (XLSForm `calculate`): never asked, recomputed from
    the sums in the consolidated table."""

    model_config = ConfigDict(extra="forbid")
    key: str
    section: str
    label: str
    calculation: str


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    title: str


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    key: str
    section: str
    label: str
    short_label: str | None = None
    heading: str | None = None
    kind: QuestionKind = Field(alias="type")
    unit: str | None = None
    levels: list[str] = Field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    help: str | None = None
    example: str | None = None
    rules: list[Rule] = Field(default_factory=list)
    plausible: list[Plausible] = Field(default_factory=list)
    # From an XLSForm: shown before the question (a `note`), choices, a constraint in the safe
    # subset of conversations.expressions, whether it must be answered, a list's fields.
    intro: str | None = None
    choices: list[Option] = Field(default_factory=list)
    constraint: str | None = None
    constraint_message: str | None = None
    required: bool = False
    default: str | None = None
    fields: list[ListField] = Field(default_factory=list)

    @property
    def title(self) -> str:
        return self.short_label or self.label

    def applies_to(self, level: str) -> bool:
        return not self.levels or level in self.levels


class Form(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    title: str
    subtitle: str | None = None
    levels: list[str]
    submit_incomplete: Literal["confirm", "refuse"] = "confirm"
    sections: list[Section]
    questions: list[Question]
    calculations: list[Calculation] = Field(default_factory=list)

    def question(self, key: str) -> Question:
        return _lookups(self).questions[key]

    def questions_for(self, level: str) -> list[Question]:
        return list(level_questions(self, level))

    def section(self, key: str) -> Section:
        return _lookups(self).sections[key]

    def top_section(self, key: str) -> Section:
        """The numbered part a (sub)section belongs to: "4.3" -> section "4"."""
        return self.section(key.split(".")[0])


class _Lookups:
    """What is derived from one form object: its indexes, and a memo for other modules."""

    def __init__(self, form: Form) -> None:
        self.source = (form.questions, form.sections)
        self.questions: dict[str, Question] = {}
        for question in form.questions:
            self.questions.setdefault(question.key, question)
        self.sections: dict[str, Section] = {}
        for section in form.sections:
            self.sections.setdefault(section.key, section)
        self.levels: dict[str, tuple[Question, ...]] = {}
        self.memo: dict[Hashable, object] = {}

    def describes(self, form: Form) -> bool:
        questions, sections = self.source
        return questions is form.questions and sections is form.sections


# Keyed by id(form), not stored on the form, so that copying, comparing or pickling a form is
# unaffected; a finalizer drops the entry when its form is collected, before the id is reused.
_LOOKUPS: dict[int, _Lookups] = {}


def _lookups(form: Form) -> _Lookups:
    lookups = _LOOKUPS.get(id(form))
    if lookups is None or not lookups.describes(form):
        if lookups is None:
            weakref.finalize(form, _LOOKUPS.pop, id(form), None)
        lookups = _LOOKUPS[id(form)] = _Lookups(form)
    return lookups


def level_questions(form: Form, level: str) -> tuple[Question, ...]:
    """The questions a unit of `level` is asked, in order (`Form.questions_for`, not copied)."""
    levels = _lookups(form).levels
    questions = levels.get(level)
    if questions is None:
        questions = levels[level] = tuple(q for q in form.questions if q.applies_to(level))
    return questions


def memo(form: Form) -> dict[Hashable, object]:
    """A dict for values derived from `form` alone, kept while the form object lives.

    Each form object has its own (a `model_copy` starts empty), and it is emptied if the form's
    question or section list is assigned anew.
    """
    return _lookups(form).memo


def load_form(path: str | Path) -> Form:
    """Read and validate a form file; a bare name is looked up among the bundled forms."""
    path = Path(path)
    if not path.exists() and not path.is_absolute() and (BUNDLED_FORMS / path).exists():
        path = BUNDLED_FORMS / path
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise FormError(f"{path}: không tìm thấy tệp biểu mẫu") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise FormError(f"{path}: không đọc được YAML ({_first_line(error)})") from None
    return parse_form(raw, source=str(path))


def parse_form(raw: object, *, source: str = "<form>") -> Form:
    if not isinstance(raw, dict):
        raise FormError(f"{source}: tệp biểu mẫu phải là một bảng khóa: giá trị")
    for index, item in enumerate(raw.get("questions") or []):
        if isinstance(item, dict):
            try:
                Question.model_validate(item)
            except ValidationError as error:
                key = item.get("key", f"#{index + 1}")
                raise FormError(f"{source}: câu '{key}': {_describe(error)}") from None
    try:
        form = Form.model_validate(raw)
    except ValidationError as error:
        raise FormError(f"{source}: {_describe(error)}") from None
    _check_consistency(form, source)
    return form


def _check_consistency(form: Form, source: str) -> None:
    if not form.questions:
        raise FormError(f"{source}: biểu mẫu không có câu hỏi nào")
    section_keys = {s.key for s in form.sections}
    seen: dict[str, Question] = {}
    for question in form.questions:
        where = f"{source}: câu '{question.key}'"
        if not KEY_PATTERN.match(question.key):
            raise FormError(f"{where}: khóa chỉ gồm chữ thường, số, dấu _ và bắt đầu bằng chữ")
        if question.key in seen:
            raise FormError(f"{where}: khóa bị trùng")
        if question.section not in section_keys:
            raise FormError(f"{where}: phần '{question.section}' không có trong sections")
        if question.section.split(".")[0] not in section_keys:
            raise FormError(f"{where}: thiếu phần cha của '{question.section}'")
        unknown_levels = set(question.levels) - set(form.levels)
        if unknown_levels:
            raise FormError(f"{where}: cấp không hợp lệ {sorted(unknown_levels)}")
        for rule in question.rules:
            if bool(rule.lte) == bool(rule.gte):
                raise FormError(f"{where}: mỗi quy tắc cần đúng một trong lte, gte")
            other = seen.get(rule.other)
            if other is None:
                raise FormError(f"{where}: quy tắc nhắc tới câu '{rule.other}' chưa có ở trước")
            if question.kind not in NUMERIC_KINDS or other.kind not in NUMERIC_KINDS:
                raise FormError(f"{where}: quy tắc so sánh chỉ dùng cho câu kiểu số")
        fields = PLAUSIBLE_FIELDS.get(question.kind, ())
        for check in question.plausible:
            if not fields:
                raise FormError(f"{where}: loại câu này không có kiểm tra hợp lý")
            if check.field not in fields or (check.lte_field and check.lte_field not in fields):
                raise FormError(f"{where}: kiểm tra hợp lý chỉ dùng trường {', '.join(fields)}")
            if bool(check.lte_field) == (check.max is not None or bool(check.max_by_level)):
                raise FormError(f"{where}: mỗi kiểm tra hợp lý cần lte_field hoặc max")
            unknown = set(check.max_by_level) - set(form.levels)
            if unknown:
                raise FormError(f"{where}: cấp không hợp lệ {sorted(unknown)}")
        _check_typed(question, where)
        seen[question.key] = question
    for calculation in form.calculations:
        where = f"{source}: câu tính '{calculation.key}'"
        if not KEY_PATTERN.match(calculation.key) or calculation.key in seen:
            raise FormError(f"{where}: khóa không hợp lệ hoặc bị trùng")
        if calculation.section not in section_keys:
            raise FormError(f"{where}: phần '{calculation.section}' không có trong sections")
        try:
            expression = parse_expression(calculation.calculation)
        except ExpressionError as error:
            raise FormError(f"{where}: {error}") from None
        unknown = expression.references - set(seen) - {"unit_level"}
        if unknown:
            raise FormError(
                f"{where}: công thức nhắc tới câu chưa có: {', '.join(sorted(unknown))}"
            )
        seen[calculation.key] = Question(
            key=calculation.key,
            section=calculation.section,
            label=calculation.label,
            type="decimal",
        )


def _check_typed(question: Question, where: str) -> None:
    """The parts an XLSForm brings: choices, list fields, a constraint in the safe subset."""
    if (question.kind in SELECT_KINDS) != bool(question.choices):
        raise FormError(f"{where}: chỉ câu chọn (select) có danh sách lựa chọn, và phải có")
    names = [option.name for option in question.choices]
    if len(set(names)) != len(names):
        raise FormError(f"{where}: tên lựa chọn bị trùng")
    if (question.kind is QuestionKind.LIST) != bool(question.fields):
        raise FormError(f"{where}: chỉ câu danh sách (repeat) có các trường, và phải có")
    for field in question.fields:
        if field.kind not in LIST_FIELD_KINDS:
            raise FormError(f"{where}: trường '{field.key}' có kiểu không hỗ trợ trong danh sách")
    if question.constraint:
        try:
            parse_expression(question.constraint)
        except ExpressionError as error:
            raise FormError(f"{where}: constraint: {error}") from None


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
