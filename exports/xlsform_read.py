"""Read a campaign's form from an XLSForm workbook (sheets `survey`, `choices`, `settings`).

Staff write collection forms in Excel in the field's standard format (ODK, KoboToolbox). This
module maps such a workbook onto our form model (`conversations.forms`) and campaign spec
(`conversations.campaigns`): groups are the "Mục" of the form, a repeat a list question, a
`calculate` a computed column, `relevant` on `${unit_level}` (or a `levels` column) the levels a
question is for; simple constraints become bounds and cross-question rules, any other constraint
in the safe subset of `conversations.expressions` is kept as such. Columns of ours carry what
XLSForm has no word for (`unit`, `short_label`, `heading`, `example`, `kind`, `plausible`).

Every problem raises `XLSFormError` naming the sheet, row and column, in Vietnamese, before
anything is stored; the structure is also checked by `pyxform`, the format's reference library.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import openpyxl
import yaml
from pydantic import ValidationError
from pyxform import xls2json, xls2json_backends
from pyxform.errors import PyXFormError

from conversations.campaigns import LoadedCampaign
from conversations.expressions import ExpressionError, parse_expression
from conversations.forms import (
    KEY_PATTERN,
    Calculation,
    FormError,
    ListField,
    Option,
    Plausible,
    Question,
    QuestionKind,
    Rule,
    Section,
    parse_form,
)
from exports.xlsform_rows import Row as _Row
from exports.xlsform_rows import XLSFormError
from exports.xlsform_rows import fail as _fail
from exports.xlsform_settings import campaign_spec_of, read_settings
from exports.xlsx_unpacked import MAX_UNPACKED_BYTES, megabytes, unpacked_size

DEFAULT_LEVELS = ["tinh", "so_nganh", "huyen", "xa"]
SURVEY_COLUMNS = {
    "type", "name", "label", "hint", "required", "constraint", "constraint_message",
    "relevant", "calculation", "default", "levels",
    "unit", "short_label", "heading", "example", "kind", "plausible",
}  # fmt: skip
SIMPLE_TYPES = {
    "integer": QuestionKind.INTEGER,
    "decimal": QuestionKind.DECIMAL,
    "text": QuestionKind.TEXT,
    "date": QuestionKind.DATE,
}
# The `kind` column: our kinds that XLSForm has no type for, on the type that carries them.
KIND_OVERRIDES = {
    "percent": ("decimal", "integer"),
    "pair": ("text",),
    "ratio": ("text",),
    "documents": ("text",),
}
_SECTION_NAME = re.compile(r"^muc_(\d+(?:_\d+)?)$")
_BOUND = re.compile(r"^\s*\.\s*(<=|>=)\s*(-?\d+(?:\.\d+)?)\s*$")
_RULE = re.compile(r"^\s*\.\s*(<=|>=)\s*\$\{([A-Za-z_][A-Za-z0-9_]*)\}\s*$")


def _sheet(workbook, name: str, *, required: bool) -> list[_Row]:
    if name not in workbook.sheetnames:
        if required:
            raise _fail(name, None, None, "thiếu trang này trong tệp XLSForm")
        return []
    rows = workbook[name].iter_rows(values_only=True)
    header = next(rows, None) or ()
    columns = _base_columns([str(c).strip().lower() if c is not None else "" for c in header])
    result = []
    for number, values in enumerate(rows, start=2):
        cells = {c: v for c, v in zip(columns, values, strict=False) if c and v not in (None, "")}
        if cells:
            result.append(_Row(number, cells))
    return result


TRANSLATED = ("label", "hint", "constraint_message")


def _base_columns(columns: list[str]) -> list[str]:
    """`label::Tiếng Việt (vi)` (a KoboToolbox form in one language) read as `label`: the first
    language of a translated column stands for it when the plain column is absent."""
    result = list(columns)
    for base in TRANSLATED:
        if base in columns:
            continue
        for index, column in enumerate(columns):
            if column.startswith(base + "::"):
                result[index] = base
                break
    return result


def read_xlsform(path: str | Path, *, code: str | None = None) -> LoadedCampaign:
    """The campaign a workbook describes (code from `settings.form_id` unless `code` is given)."""
    path = Path(path)
    if not path.is_file():
        raise XLSFormError(f"{path}: không tìm thấy tệp")
    unpacked = unpacked_size(path)
    if unpacked is not None and unpacked.too_big:
        raise XLSFormError(
            f"{path}: nội dung tệp Excel khi giải nén lớn quá {megabytes(MAX_UNPACKED_BYTES)}; "
            "một biểu mẫu chỉ cần vài chục KB"
        )
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # a corrupt or non-xlsx file: openpyxl raises many kinds
        raise XLSFormError(
            f"{path}: không đọc được tệp Excel (.xlsx): {type(error).__name__}"
        ) from None
    try:
        survey = _sheet(workbook, "survey", required=True)
        choices = _sheet(workbook, "choices", required=False)
        settings_rows = _sheet(workbook, "settings", required=True)
    finally:
        workbook.close()
    settings = read_settings(settings_rows)
    reader = _FormReader(survey, _choice_lists(choices), settings)
    form_raw = reader.read()
    try:
        form = parse_form(form_raw, source="trang «survey»")
    except FormError as error:
        raise XLSFormError(str(error)) from None
    _check_with_pyxform(path, settings.get("form_id", "form"))
    spec = campaign_spec_of(settings, code)
    spec_text = yaml.safe_dump(
        spec.model_dump(mode="json", exclude_defaults=True), allow_unicode=True, sort_keys=False
    )
    form_text = yaml.safe_dump(
        form.model_dump(mode="json", by_alias=True, exclude_defaults=True),
        allow_unicode=True,
        sort_keys=False,
    )
    return LoadedCampaign(spec=spec, form=form, spec_text=spec_text, form_text=form_text)


def _check_with_pyxform(path: Path, form_id: str) -> None:
    """The reference library's own structural checks (names, groups, choice lists, references);
    `${unit_level}` is ours, so a hidden row declares it for the check only."""
    try:
        raw = xls2json_backends.xlsx_to_dict(str(path))
        survey = list(raw.get("survey") or [])
        survey.append({"type": "calculate", "name": "unit_level", "calculation": "''"})
        raw["survey"] = survey
        definition = xls2json_backends.DefinitionData(fallback_form_name=path.stem, **raw)
        xls2json.workbook_to_json(definition, form_name=form_id, warnings=[])
    except PyXFormError as error:
        raise XLSFormError(f"tệp không đúng chuẩn XLSForm (pyxform): {error}") from None


def _choice_lists(rows: list[_Row]) -> dict[str, list[Option]]:
    lists: dict[str, list[Option]] = {}
    for row in rows:
        for column in ("list_name", "name", "label"):
            if not row.text(column):
                raise _fail("choices", row.number, column, "cần điền ô này")
        options = lists.setdefault(row.text("list_name"), [])
        if any(option.name == row.text("name") for option in options):
            raise _fail("choices", row.number, "name", "tên lựa chọn bị trùng trong danh sách")
        options.append(Option(name=row.text("name"), label=row.text("label")))
    return lists


def _levels_of(settings: dict[str, str]) -> list[str]:
    return (settings.get("form_levels") or settings.get("participant_levels") or "").split() or (
        list(DEFAULT_LEVELS)
    )


class _FormReader:
    """Walks the survey rows once, keeping the open groups and the repeat being read."""

    def __init__(self, rows: list[_Row], lists: dict[str, list[Option]], settings: dict) -> None:
        self.rows = rows
        self.lists = lists
        self.settings = settings
        self.levels = _levels_of(settings)
        self.sections: list[Section] = []
        self.questions: list[dict] = []
        self.calculations: list[Calculation] = []
        self.groups: list[tuple[str, int]] = []  # (section key, row)
        self.top_count = 0
        self.child_count: dict[str, int] = {}
        self.repeat: dict | None = None
        self.intro: list[str] = []
        self.names: set[str] = set()

    def read(self) -> dict:
        for row in self.rows:
            for column in row.cells:
                if column not in SURVEY_COLUMNS:
                    raise _fail("survey", row.number, column, "cột này không được hỗ trợ")
            self._row(row)
        if self.repeat is not None:
            raise _fail("survey", self.repeat["row"], "type", "begin_repeat không có end_repeat")
        if self.groups:
            raise _fail("survey", self.groups[-1][1], "type", "begin_group không có end_group")
        if self.intro:
            raise _fail(
                "survey", self.rows[-1].number, "type", "ghi chú ở cuối, sau nó không có câu hỏi"
            )
        settings = self.settings
        return {
            "key": _form_key(settings["form_id"]),
            "title": settings["form_title"],
            **({"subtitle": settings["form_subtitle"]} if settings.get("form_subtitle") else {}),
            **(
                {"submit_incomplete": settings["submit_incomplete"]}
                if settings.get("submit_incomplete")
                else {}
            ),
            "levels": self.levels,
            "sections": [s.model_dump() for s in self.sections],
            "questions": self.questions,
            "calculations": [c.model_dump() for c in self.calculations],
        }

    def _row(self, row: _Row) -> None:
        kind, _, list_name = row.text("type").partition(" ")
        list_name = list_name.strip()
        if not kind:
            raise _fail("survey", row.number, "type", "cần điền loại câu hỏi")
        if kind in ("begin_group", "begin group"):
            return self._begin_group(row)
        if kind in ("end_group", "end group"):
            if self.repeat is not None or not self.groups:
                raise _fail("survey", row.number, "type", "end_group không khớp với begin_group")
            self.groups.pop()
            return None
        if kind in ("begin_repeat", "begin repeat"):
            if self.repeat is not None:
                raise _fail("survey", row.number, "type", "không hỗ trợ danh sách lồng nhau")
            self.repeat = {"row": row, "fields": []}
            return None
        if kind in ("end_repeat", "end repeat"):
            if self.repeat is None:
                raise _fail("survey", row.number, "type", "end_repeat không khớp với begin_repeat")
            return self._end_repeat(row)
        name = self._name(row)
        if self.repeat is not None:
            if kind not in SIMPLE_TYPES:
                raise _fail(
                    "survey",
                    row.number,
                    "type",
                    f"trong danh sách chỉ dùng {', '.join(SIMPLE_TYPES)}",
                )
            self.repeat["fields"].append(
                ListField(key=name, label=self._label(row), kind=SIMPLE_TYPES[kind])
            )
            return None
        if kind == "note":
            self.intro.append(self._label(row))
            return None
        if kind == "calculate":
            if not row.text("calculation"):
                raise _fail("survey", row.number, "calculation", "câu tính cần công thức")
            self._expression(row, "calculation")
            self.calculations.append(
                Calculation(
                    key=name,
                    section=self._section(row),
                    label=row.text("label") or name,
                    calculation=row.text("calculation"),
                )
            )
            return None
        if kind in ("select_one", "select_multiple", "select_one_from_file"):
            if kind == "select_one_from_file":
                raise _fail("survey", row.number, "type", "chưa hỗ trợ select_one_from_file")
            if list_name not in self.lists:
                raise _fail(
                    "survey",
                    row.number,
                    "type",
                    f"không có danh sách lựa chọn «{list_name}» ở trang «choices»",
                )
            question = self._question(row, name, QuestionKind(kind))
            question["choices"] = [o.model_dump() for o in self.lists[list_name]]
            return self._add(row, question)
        if kind not in SIMPLE_TYPES:
            raise _fail("survey", row.number, "type", f"loại «{kind}» chưa được hỗ trợ")
        our_kind = SIMPLE_TYPES[kind]
        override = row.text("kind")
        if override:
            if kind not in KIND_OVERRIDES.get(override, ()):
                raise _fail(
                    "survey", row.number, "kind", f"«{override}» không dùng được với loại {kind}"
                )
            our_kind = QuestionKind(override)
        return self._add(row, self._question(row, name, our_kind))

    def _begin_group(self, row: _Row) -> None:
        if self.repeat is not None:
            raise _fail("survey", row.number, "type", "không hỗ trợ nhóm bên trong danh sách")
        if len(self.groups) >= 2:
            raise _fail("survey", row.number, "type", "chỉ hỗ trợ hai cấp nhóm (Mục và mục con)")
        label = self._label(row)
        match = _SECTION_NAME.match(row.text("name"))
        if self.groups:
            parent = self.groups[-1][0]
            self.child_count[parent] = self.child_count.get(parent, 0) + 1
            key = f"{parent}.{self.child_count[parent]}"
        else:
            self.top_count += 1
            key = str(self.top_count)
        if match:
            key = match.group(1).replace("_", ".")
        if any(section.key == key for section in self.sections):
            raise _fail("survey", row.number, "name", f"mục {key} bị trùng")
        self.sections.append(Section(key=key, title=label))
        self.groups.append((key, row.number))

    def _end_repeat(self, row: _Row) -> None:
        repeat, self.repeat = self.repeat, None
        assert repeat is not None
        start = repeat["row"]
        if not repeat["fields"]:
            raise _fail("survey", start.number, "type", "danh sách không có trường nào")
        name = self._name(start)
        question = self._question(start, name, QuestionKind.LIST)
        question["fields"] = [f.model_dump(mode="json") for f in repeat["fields"]]
        self._add(start, question)

    def _name(self, row: _Row) -> str:
        name = row.text("name")
        if not KEY_PATTERN.match(name):
            raise _fail(
                "survey",
                row.number,
                "name",
                "tên chỉ gồm chữ thường không dấu, số, dấu _ và bắt đầu bằng chữ (tối đa 40 ký tự)",
            )
        if name in self.names or name == "unit_level":
            raise _fail("survey", row.number, "name", f"tên «{name}» bị trùng")
        self.names.add(name)
        return name

    def _label(self, row: _Row) -> str:
        label = row.text("label")
        if not label:
            raise _fail("survey", row.number, "label", "cần nhãn (câu hỏi như cán bộ sẽ thấy)")
        return label

    def _section(self, row: _Row) -> str:
        if self.groups:
            return self.groups[-1][0]
        if not any(section.key == "0" for section in self.sections):
            self.sections.insert(0, Section(key="0", title="Thông tin chung"))
        return "0"

    def _expression(self, row: _Row, column: str):
        try:
            return parse_expression(row.text(column))
        except ExpressionError as error:
            raise _fail("survey", row.number, column, str(error)) from None

    def _question(self, row: _Row, name: str, kind: QuestionKind) -> dict:
        question: dict[str, Any] = {
            "key": name,
            "section": self._section(row),
            "label": self._label(row),
            "type": kind.value,
        }
        for column, field in (
            ("hint", "help"),
            ("unit", "unit"),
            ("short_label", "short_label"),
            ("heading", "heading"),
            ("example", "example"),
            ("default", "default"),
        ):
            if row.text(column):
                question[field] = row.text(column)
        required = row.text("required").lower()
        if required not in ("", "yes", "no", "true", "false", "true()", "false()"):
            raise _fail("survey", row.number, "required", "chỉ ghi yes hoặc no")
        if required in ("yes", "true", "true()"):
            question["required"] = True
        if self.intro:
            question["intro"] = "\n".join(self.intro)
            self.intro = []
        levels = self._levels(row)
        if levels is not None:
            question["levels"] = levels
        self._constraint(row, question)
        if row.text("plausible"):
            try:
                checks = json.loads(row.text("plausible"))
                question["plausible"] = [
                    Plausible.model_validate(c).model_dump(exclude_defaults=True) for c in checks
                ]
            except (ValueError, TypeError, ValidationError):
                raise _fail(
                    "survey", row.number, "plausible", "cần danh sách JSON các kiểm tra hợp lý"
                ) from None
        return question

    def _levels(self, row: _Row) -> list[str] | None:
        levels = None
        if row.text("levels"):
            levels = row.text("levels").split()
            unknown = [level for level in levels if level not in self.levels]
            if unknown:
                raise _fail(
                    "survey",
                    row.number,
                    "levels",
                    f"cấp không có: {', '.join(unknown)} (các cấp: {', '.join(self.levels)})",
                )
        if row.text("relevant"):
            expression = self._expression(row, "relevant")
            if expression.references != {"unit_level"}:
                raise _fail(
                    "survey",
                    row.number,
                    "relevant",
                    "chỉ hỗ trợ điều kiện theo ${unit_level} (cấp của đơn vị)",
                )
            by_rule = [lv for lv in self.levels if expression.holds(None, {"unit_level": lv})]
            if not by_rule:
                raise _fail(
                    "survey", row.number, "relevant", "điều kiện này không đúng với cấp nào"
                )
            levels = [lv for lv in (levels or by_rule) if lv in by_rule]
        if levels is not None and set(levels) == set(self.levels):
            return None
        return levels

    def _constraint(self, row: _Row, question: dict) -> None:
        text = row.text("constraint")
        message = row.text("constraint_message")
        if not text:
            if message:
                raise _fail(
                    "survey",
                    row.number,
                    "constraint_message",
                    "có thông báo mà không có constraint",
                )
            return
        expression = self._expression(row, "constraint")
        unknown = expression.references - self.names - {"unit_level"}
        if unknown:
            raise _fail(
                "survey",
                row.number,
                "constraint",
                f"nhắc tới câu chưa có ở trước: {', '.join(sorted(unknown))}",
            )
        parts = re.split(r"\s+and\s+", text)
        bounds: dict[str, float] = {}
        rules: list[dict] = []
        for part in parts:
            bound, rule = _BOUND.match(part), _RULE.match(part)
            if bound:
                bounds["minimum" if bound.group(1) == ">=" else "maximum"] = float(bound.group(2))
            elif rule:
                side = "lte" if rule.group(1) == "<=" else "gte"
                rules.append({side: rule.group(2), **({"message": message} if message else {})})
            else:
                break
        else:
            numeric = question["type"] in ("integer", "percent", "decimal")
            if numeric and (rules or not message):
                question.update(bounds)
                if rules:
                    question["rules"] = [
                        Rule.model_validate(r).model_dump(exclude_none=True) for r in rules
                    ]
                return
        question["constraint"] = text
        if message:
            question["constraint_message"] = message

    def _add(self, row: _Row, question: dict) -> None:
        try:
            Question.model_validate(question)
        except ValidationError as error:
            first = error.errors()[0]
            raise _fail("survey", row.number, None, f"{first['loc']}: {first['msg']}") from None
        self.questions.append(question)


def _form_key(form_id: str) -> str:
    key = re.sub(r"[^a-z0-9_]", "_", form_id.lower())
    return key if key[:1].isalpha() else f"f_{key}"[:40]
