"""Write any campaign's form as an XLSForm workbook (sheets `survey`, `choices`, `settings`).

The inverse of `exports.xlsform_read`: importing the written file (under another code) gives the
same questions, checks, levels and labels, so staff can start a new collection from any existing
one — CT37 included — by editing the workbook in Excel. Sections become groups named `muc_<key>`
(keeping their numbering), bounds and cross-question rules become one `constraint`, levels a
`relevant` on `${unit_level}`; what XLSForm has no word for goes into columns of ours.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.styles import Font

from conversations.campaigns import CampaignSpec
from conversations.forms import Form, Question, QuestionKind

SURVEY_HEADER = [
    "type", "name", "label", "hint", "required", "constraint", "constraint_message",
    "relevant", "calculation", "default", "kind", "unit", "short_label", "heading", "example",
    "plausible",
]  # fmt: skip
NATIVE = {
    QuestionKind.INTEGER: "integer",
    QuestionKind.DECIMAL: "decimal",
    QuestionKind.TEXT: "text",
    QuestionKind.DATE: "date",
    QuestionKind.PERCENT: "decimal",
    QuestionKind.PAIR: "text",
    QuestionKind.RATIO: "text",
    QuestionKind.DOCUMENTS: "text",
}
OURS = {QuestionKind.PERCENT, QuestionKind.PAIR, QuestionKind.RATIO, QuestionKind.DOCUMENTS}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _constraint(question: Question) -> tuple[str, str]:
    if question.constraint:
        return question.constraint, question.constraint_message or ""
    parts = []
    if question.minimum is not None:
        parts.append(f". >= {_number(question.minimum)}")
    if question.maximum is not None:
        parts.append(f". <= {_number(question.maximum)}")
    messages = []
    for rule in question.rules:
        parts.append(f". {'<=' if rule.lte else '>='} ${{{rule.other}}}")
        if rule.message:
            messages.append(rule.message)
    return " and ".join(parts), " ".join(dict.fromkeys(messages))


def _relevant(question: Question, form: Form) -> str:
    if not question.levels or set(question.levels) == set(form.levels):
        return ""
    return " or ".join(f"${{unit_level}} = '{level}'" for level in question.levels)


def _row(form: Form, question: Question, kind: str, choices_name: str = "") -> list:
    constraint, message = _constraint(question)
    plausible = [check.model_dump(exclude_defaults=True) for check in question.plausible]
    return [
        f"{kind} {choices_name}".strip(),
        question.key,
        question.label,
        question.help or "",
        "yes" if question.required else "",
        constraint,
        message,
        _relevant(question, form),
        "",
        question.default or "",
        question.kind.value if question.kind in OURS else "",
        question.unit or "",
        question.short_label or "",
        question.heading or "",
        question.example or "",
        json.dumps(plausible, ensure_ascii=False) if plausible else "",
    ]


def _blank(kind: str, name: str = "", label: str = "", calculation: str = "") -> list:
    row = [""] * len(SURVEY_HEADER)
    row[0], row[1], row[2], row[8] = kind, name, label, calculation
    return row


def survey_rows(form: Form) -> tuple[list[list], list[list]]:
    """The survey rows and the choices rows of `form`."""
    rows: list[list] = []
    choices: list[list] = []
    open_groups: list[str] = []
    items = [(q.section, q) for q in form.questions] + [(c.section, c) for c in form.calculations]
    order = {s.key: n for n, s in enumerate(form.sections)}
    items.sort(key=lambda pair: order[pair[0]])  # stable: questions keep their order
    for section_key, item in items:
        path = [section_key] if "." not in section_key else [section_key.split(".")[0], section_key]
        if section_key == "0" and not [s for s in form.sections if s.key == "0"]:
            path = []
        while open_groups and open_groups != path[: len(open_groups)]:
            open_groups.pop()
            rows.append(_blank("end_group"))
        for key in path[len(open_groups) :]:
            rows.append(
                _blank("begin_group", f"muc_{key.replace('.', '_')}", form.section(key).title)
            )
            open_groups.append(key)
        if not isinstance(item, Question):
            rows.append(_blank("calculate", item.key, item.label, item.calculation))
            continue
        if item.intro:
            rows.append(_blank("note", f"{item.key}_note", item.intro))
        if item.kind in (QuestionKind.SELECT_ONE, QuestionKind.SELECT_MULTIPLE):
            list_name = f"{item.key}_list"
            rows.append(_row(form, item, item.kind.value, list_name))
            choices += [[list_name, option.name, option.label] for option in item.choices]
        elif item.kind is QuestionKind.LIST:
            rows.append(_row(form, item, "begin_repeat"))
            rows += [_blank(f.kind.value, f.key, f.label) for f in item.fields]
            rows.append(_blank("end_repeat"))
        else:
            rows.append(_row(form, item, NATIVE[item.kind]))
    rows += [_blank("end_group") for _ in open_groups]
    return rows, choices


def settings_row(form: Form, spec: CampaignSpec) -> tuple[list[str], list[str]]:
    zone = spec.zone
    values = {
        "form_id": spec.code,
        "form_title": form.title,
        "campaign_title": spec.title,
        "form_subtitle": form.subtitle or "",
        "submit_incomplete": form.submit_incomplete,
        "form_levels": " ".join(form.levels),
        "deadline": spec.deadline.astimezone(zone).strftime("%d/%m/%Y %H:%M"),
        "period_start": spec.period_start.strftime("%d/%m/%Y") if spec.period_start else "",
        "period_end": spec.period_end.strftime("%d/%m/%Y") if spec.period_end else "",
        "issued_by": spec.issued_by,
        "receiver": spec.receiver,
        "participant_groups": " ".join(spec.participants.groups),
        "participant_units": " ".join(spec.participants.units),
        "participant_levels": " ".join(spec.participants.levels),
    }
    for field, value in spec.document.model_dump().items():
        values[f"document_{field}"] = "\n".join(value) if isinstance(value, list) else value
    return list(values), [str(v) for v in values.values()]


def write_xlsform(form: Form, spec: CampaignSpec, target: str | Path | BinaryIO) -> None:
    """Write the workbook to a path or an open binary stream."""
    workbook = Workbook()
    survey = workbook.active
    survey.title = "survey"
    rows, choice_rows = survey_rows(form)
    for row in [SURVEY_HEADER, *rows]:
        survey.append(row)
    choices = workbook.create_sheet("choices")
    for row in [["list_name", "name", "label"], *choice_rows]:
        choices.append(row)
    settings = workbook.create_sheet("settings")
    header, values = settings_row(form, spec)
    settings.append(header)
    settings.append(values)
    for sheet in (survey, choices, settings):
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
    survey.column_dimensions["C"].width = 60
    workbook.save(target)
