"""Workbooks for any form (campaigns imported from XLSForm): a unit's sheet and the consolidated
table, generated from the form's groups and questions. CT37, and any form of its kinds of
question, keeps the hand-tuned layout (`exports.unit_sheet`, `exports.consolidated`);
`uses_generic_layout` is the one rule choosing.

The consolidated table has one row per participating unit in the unit tree's order (a unit
beneath its participating parent, indented) and a province total built by the hierarchy rules of
`exports.consolidation` (only submitted roots are added). Numbers are summed (a percentage is
averaged); each choice of a select question is a column counting the units that chose it; a
list's column counts its items; `calculate` fields are recomputed from each row's values and,
on the total row, from the sums. Texts, dates and list items go to their own sheet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break

from conversations.constraints import plain_value
from conversations.expressions import parse_expression
from conversations.formatting import format_value
from conversations.forms import Calculation, Form, Question, QuestionKind
from conversations.labels import level_title
from exports.cells import line_height, text_lines, use_document_font
from exports.consolidation import UnitTree, counts, level_order
from exports.data import CampaignInfo, UnitReport
from exports.table_plan import PAGE_MARGIN, PAGE_WIDTH, printed_width

# What the hand-tuned layout (exports.unit_sheet, exports.consolidated) can show; a form using
# anything else (a choice, a date, a decimal, a list, a calculation) gets the generic layout.
HAND_TUNED_KINDS = frozenset(
    {
        QuestionKind.INTEGER,
        QuestionKind.PERCENT,
        QuestionKind.PAIR,
        QuestionKind.RATIO,
        QuestionKind.DOCUMENTS,
        QuestionKind.TEXT,
    }
)
FONT = "Times New Roman"
STATUS_TITLES = {
    "not_started": "Chưa bắt đầu",
    "in_progress": "Đang điền",
    "submitted": "Đã nộp",
    "returned": "Trả lại",
    "approved": "Đã duyệt",
}
NUMBER_KINDS = {QuestionKind.INTEGER, QuestionKind.DECIMAL, QuestionKind.PERCENT}
TEXT_KINDS = {QuestionKind.TEXT, QuestionKind.DATE}
_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP = Alignment(wrap_text=True, vertical="top")
_CENTER = Alignment(wrap_text=True, horizontal="center", vertical="center")


def uses_generic_layout(form: Form) -> bool:
    return bool(form.calculations) or any(q.kind not in HAND_TUNED_KINDS for q in form.questions)


@dataclass(frozen=True)
class _Column:
    """One figure of the consolidated table: its header and how a unit's answers give it."""

    section: str
    header: str
    read: Callable[[dict], float | None]  # the unit's values by key -> its number
    average: bool = False
    key: str | None = None  # the name a calculation refers to
    calculated: bool = False  # recomputed from the row's values (the total row: from the sums)


def _value_of(report: UnitReport, question: Question) -> object:
    answer = report.answer(question.key)
    if answer is None or answer.not_applicable or not question.applies_to(report.level):
        return None
    return answer.value


def _number(value: object, field: str = "value") -> float | None:
    if not isinstance(value, dict):
        return None
    number = value.get(field)
    return (
        float(number) if isinstance(number, int | float) and not isinstance(number, bool) else None
    )


def _columns(form: Form) -> list[_Column]:
    columns: list[_Column] = []
    for question in form.questions:
        key, kind = question.key, question.kind
        title = question.title
        if kind in NUMBER_KINDS:
            columns.append(
                _Column(
                    question.section,
                    title + (f" ({question.unit})" if question.unit else ""),
                    lambda v, k=key: _number(v.get(k)),
                    kind is QuestionKind.PERCENT,
                    key,
                )
            )
        elif kind in (QuestionKind.PAIR, QuestionKind.RATIO):
            parts = ("times", "people") if kind is QuestionKind.PAIR else ("done", "total")
            names = (
                ("lượt", "lượt người")
                if kind is QuestionKind.PAIR
                else ("đã giải quyết", "tổng số")
            )
            for part, name in zip(parts, names, strict=True):
                columns.append(
                    _Column(
                        question.section,
                        f"{title} — {name}",
                        lambda v, k=key, p=part: _number(v.get(k), p),
                    )
                )
        elif kind in (QuestionKind.SELECT_ONE, QuestionKind.SELECT_MULTIPLE):
            for option in question.choices:
                columns.append(
                    _Column(
                        question.section,
                        f"{title}: {option.label}",
                        lambda v, k=key, n=option.name: _chose(v.get(k), n),
                    )
                )
        elif kind in (QuestionKind.LIST, QuestionKind.DOCUMENTS):
            columns.append(
                _Column(
                    question.section,
                    f"{title} (số mục)",
                    lambda v, k=key: _items(v.get(k)),
                    key=key,
                )
            )
    for calculation in form.calculations:
        columns.append(
            _Column(
                calculation.section,
                calculation.label,
                _calculated(calculation),
                key=calculation.key,
                calculated=True,
            )
        )
    return columns


def _chose(value: object, name: str) -> float | None:
    if not isinstance(value, dict):
        return None
    chosen = value.get("values") if "values" in value else [value.get("value")]
    return 1.0 if name in (chosen or []) else 0.0


def _items(value: object) -> float | None:
    if not isinstance(value, dict) or not isinstance(value.get("items"), list):
        return None
    return float(len(value["items"]))


def _calculated(calculation: Calculation) -> Callable[[dict], float | None]:
    expression = parse_expression(calculation.calculation)

    def read(values: dict) -> float | None:
        plain = {
            key: value if isinstance(value, int | float) else plain_value(value)
            for key, value in values.items()
        }
        result = expression.evaluate(None, plain)
        return round(result, 4) if isinstance(result, float) else None

    return read


def _unit_values(report: UnitReport, form: Form) -> dict:
    return {q.key: _value_of(report, q) for q in form.questions}


def _section_order(form: Form) -> dict[str, int]:
    return {section.key: index for index, section in enumerate(form.sections)}


def _heading(sheet, info: CampaignInfo, form: Form, width: int, subtitle: str) -> int:
    """The campaign's own heading; returns the next free row."""
    lines = [
        (info.document.body or info.receiver or "", False),
        (form.title.upper(), True),
        (subtitle, True),
        (f"Thực hiện {info.issued_by}" if info.issued_by else "", False),
        (f"Kỳ báo cáo: {info.period_text}" if info.period_text else "", False),
        (f"Hạn nộp: {info.deadline_text}", False),
    ]
    row = 1
    for text, bold in lines:
        if not text:
            continue
        sheet.cell(row=row, column=1, value=text).font = Font(name=FONT, bold=bold, size=12)
        sheet.cell(row=row, column=1).alignment = Alignment(horizontal="center", wrap_text=True)
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=max(width, 1))
        row += 1
    return row + 1


def _fit_page(sheet, *, landscape: bool) -> None:
    """A4, every column on one page width, as many pages down as needed."""
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape" if landscape else "portrait"
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0


def _fit_rows(sheet, first_row: int) -> None:
    """Rows high enough for their wrapped texts (neither Excel nor LibreOffice grows a row of a
    file by itself, and a row too low prints its lines over the next one)."""
    # Three quarters of the width: these 11 pt cells, printed, hold about one character per
    # unit of width, fewer than the estimate's calibration; a line short prints over a row.
    widths = {
        column: (sheet.column_dimensions[get_column_letter(column)].width or 9) * 0.75
        for column in range(1, sheet.max_column + 1)
    }
    for cells in sheet.iter_rows(min_row=first_row):
        lines = max(
            (
                text_lines(str(cell.value), widths[cell.column], bold=bool(cell.font.b))
                for cell in cells
                if isinstance(cell.value, str) and cell.value
            ),
            default=1,
        )
        if lines > 1:
            sheet.row_dimensions[cells[0].row].height = lines * line_height(11)


def _header(sheet, row: int, column: int, text: str) -> None:
    cell = sheet.cell(row=row, column=column, value=text)
    cell.font, cell.alignment, cell.border = Font(name=FONT, bold=True), _CENTER, _BOX


def _cell(sheet, row: int, column: int, value, *, bold: bool = False) -> None:
    cell = sheet.cell(row=row, column=column, value=value)
    cell.font, cell.alignment, cell.border = Font(name=FONT, bold=bold), _WRAP, _BOX
    if isinstance(value, float):
        cell.number_format = "#,##0" if value.is_integer() else "#,##0.0#"


FIXED_COLUMNS = (("STT", 5), ("Đơn vị", 38), ("Cấp", 9), ("Trạng thái", 12))
FIGURE_WIDTH = 14


def _print_across_pages(sheet, figures: int) -> list[int]:
    """A4 landscape at 100 % (shrinking a wide table to one page width would print it in
    unreadable type): the unit columns again on every page, then as many figure columns as fit.
    Returns the last column of each printed page."""
    _fit_page(sheet, landscape=True)
    sheet.sheet_properties.pageSetUpPr.fitToPage = False
    sheet.page_setup.scale = 100
    sheet.page_margins.left = sheet.page_margins.right = PAGE_MARGIN
    fixed = len(FIXED_COLUMNS)
    sheet.print_title_cols = f"A:{get_column_letter(fixed)}"
    room = PAGE_WIDTH - sum(printed_width(width) for _, width in FIXED_COLUMNS)
    used, page_ends = 0.0, []
    for index in range(figures):
        if used and used + printed_width(FIGURE_WIDTH) > room:
            sheet.col_breaks.append(Break(id=fixed + index))
            page_ends.append(fixed + index)
            used = 0.0
        used += printed_width(FIGURE_WIDTH)
    return [*page_ends, fixed + figures]


def _pieces(first: int, last: int, page_ends: list[int]) -> list[tuple[int, int]]:
    """The columns first..last cut where printed pages end."""
    pieces = []
    for end in page_ends:
        if first > last:
            break
        if end >= first:
            pieces.append((first, min(end, last)))
            first = end + 1
    return pieces


def _write_table(sheet, form: Form, info: CampaignInfo, reports: list[UnitReport]) -> None:
    columns = sorted(_columns(form), key=lambda c: _section_order(form)[c.section])
    fixed = [title for title, _ in FIXED_COLUMNS]
    width = len(fixed) + len(columns)
    page_ends = _print_across_pages(sheet, len(columns))
    top = _heading(sheet, info, form, page_ends[0], "BẢNG TỔNG HỢP")
    for index, title in enumerate(fixed, start=1):
        _header(sheet, top, index, title)
        sheet.merge_cells(start_row=top, start_column=index, end_row=top + 1, end_column=index)
    start = len(fixed) + 1
    for number, column in enumerate(columns, start=start):
        _header(sheet, top + 1, number, column.header)
    position = start
    for section in form.sections:  # a group title over its columns, on each page it reaches
        span = sum(1 for c in columns if c.section == section.key)
        for first, last in _pieces(position, position + span - 1, page_ends):
            _header(sheet, top, first, f"{section.key}. {section.title}")
            if last > first:
                sheet.merge_cells(start_row=top, start_column=first, end_row=top, end_column=last)
        position += span
    tree = UnitTree(reports, order=level_order(form, reports))
    counted = [report for report in reports if tree.counted(report)]
    row = top + 2
    _cell(sheet, row, 1, "")
    _cell(
        sheet, row, 2, f"TỔNG CỘNG (từ {len(counted)}/{len(tree.roots())} đơn vị đã nộp)", bold=True
    )
    _cell(sheet, row, 3, "")
    _cell(sheet, row, 4, "")
    for number, value in enumerate(_total_row(form, columns, counted), start=start):
        _cell(sheet, row, number, value, bold=True)
    for index, report in enumerate(tree.ordered(), start=1):
        row += 1
        depth = _depth(tree, report)
        _cell(sheet, row, 1, index)
        _cell(sheet, row, 2, "   " * depth + report.name)
        _cell(sheet, row, 3, level_title(report.level))
        _cell(sheet, row, 4, STATUS_TITLES.get(report.status, report.status))
        numbers = _row_numbers(columns, _unit_values(report, form))
        for number, value in enumerate(numbers, start=start):
            _cell(sheet, row, number, value)
    for number, (_, column_width) in enumerate(FIXED_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = column_width
    for number in range(start, width + 1):
        sheet.column_dimensions[get_column_letter(number)].width = FIGURE_WIDTH
    sheet.freeze_panes = sheet.cell(row=top + 2, column=start)
    sheet.print_title_rows = f"{top}:{top + 1}"
    sheet.row_dimensions[top].height = 32
    sheet.row_dimensions[top + 1].height = 80
    _fit_rows(sheet, top + 2)


def _depth(tree: UnitTree, report: UnitReport) -> int:
    depth, parent = 0, tree.parent(report)
    while parent is not None and depth < 20:
        depth, parent = depth + 1, tree.parent(parent)
    return depth


def _row_numbers(columns: list[_Column], values: dict) -> list:
    """A unit's numbers, column by column; a calculation sees the values and earlier results."""
    values = dict(values)
    result = []
    for column in columns:
        number = column.read(values)
        if column.calculated and column.key:
            values[column.key] = number
        result.append(number)
    return result


def _total_row(form: Form, columns: list[_Column], counted: list[UnitReport]) -> list:
    """Sums (averages for percentages) of the counted units; calculations from the sums."""
    rows = [_unit_values(report, form) for report in counted]
    sums: dict[str, float | None] = {}
    result = []
    for column in columns:
        if column.calculated:
            total = column.read(sums)
        else:
            numbers = [n for values in rows if (n := column.read(values)) is not None]
            total = None
            if numbers:
                total = sum(numbers) / len(numbers) if column.average else float(sum(numbers))
        if column.key:
            sums[column.key] = total
        result.append(total)
    return result


def _write_texts(sheet, form: Form, info: CampaignInfo, reports: list[UnitReport]) -> None:
    """Texts, dates and list items: one row per unit and answer (a list: one row per item)."""
    top = _heading(sheet, info, form, 4, "NỘI DUNG VÀ DANH SÁCH")
    for index, title in enumerate(("Đơn vị", "Câu hỏi", "Mục", "Trả lời"), start=1):
        _header(sheet, top, index, title)
    row = top
    wanted = [
        q
        for q in form.questions
        if q.kind in TEXT_KINDS | {QuestionKind.LIST, QuestionKind.DOCUMENTS}
    ]
    for report in reports:
        for question in wanted:
            value = _value_of(report, question)
            if value is None:
                continue
            if question.kind in (QuestionKind.LIST, QuestionKind.DOCUMENTS):
                lines = [
                    (n, str(item.get("raw", "")))
                    for n, item in enumerate(value.get("items", []), 1)
                ]
            else:
                lines = [("", format_value(question.kind.value, value))]
            for number, text in lines:
                row += 1
                for column, cell in enumerate((report.name, question.title, number, text), start=1):
                    _cell(sheet, row, column, cell)
    for letter, width in zip("ABCD", (35, 35, 6, 64), strict=True):
        sheet.column_dimensions[letter].width = width
    _fit_rows(sheet, top + 1)
    _fit_page(sheet, landscape=True)


def _write_unit(sheet, form: Form, info: CampaignInfo, report: UnitReport) -> None:
    """A unit's sheet: each question it is asked, by group, with its answer as the chat words it."""
    top = _heading(sheet, info, form, 3, report.name.upper())
    for index, title in enumerate(("STT", "Nội dung", "Trả lời"), start=1):
        _header(sheet, top, index, title)
    row, number = top, 0
    values = _unit_values(report, form)
    for section in form.sections:
        questions = [
            q for q in form.questions if q.section == section.key and q.applies_to(report.level)
        ]
        calculations = [c for c in form.calculations if c.section == section.key]
        if not questions and not calculations:
            continue
        row += 1
        _cell(sheet, row, 1, section.key, bold=True)
        _cell(sheet, row, 2, section.title, bold=True)
        _cell(sheet, row, 3, "")
        for question in questions:
            row, number = row + 1, number + 1
            answer = report.answer(question.key)
            if answer is None:
                text = "Chưa trả lời"
            elif answer.not_applicable:
                text = "Không áp dụng"
            else:
                text = format_value(question.kind.value, answer.value, unit=question.unit)
            _cell(sheet, row, 1, number)
            _cell(sheet, row, 2, question.label)
            _cell(sheet, row, 3, text)
        for calculation in calculations:
            row += 1
            _cell(sheet, row, 1, "")
            _cell(sheet, row, 2, calculation.label)
            values[calculation.key] = _calculated(calculation)(values)
            _cell(sheet, row, 3, values[calculation.key])
    for letter, width in zip("ABC", (6, 60, 40), strict=True):
        sheet.column_dimensions[letter].width = width
    _fit_rows(sheet, top + 1)
    _fit_page(sheet, landscape=False)


def _sheet_title(text: str, used: set[str]) -> str:
    base = "".join(ch for ch in text if ch not in "[]:*?/\\")[:28] or "Don vi"
    title, n = base, 1
    while title in used:
        n += 1
        title = f"{base[:25]}~{n}"
    used.add(title)
    return title


def write_generic_unit(
    output: str | Path | BinaryIO,
    info: CampaignInfo,
    form: Form,
    report: UnitReport,
    *,
    now: datetime,
) -> None:
    workbook = Workbook()
    use_document_font(workbook)
    sheet = workbook.active
    sheet.title = _sheet_title(report.code, set())
    _write_unit(sheet, form, info, report)
    workbook.properties.title = f"{form.title} — {report.name}"
    workbook.properties.creator = "baocao"
    workbook.save(output)


def write_generic_consolidated(
    output: str | Path | BinaryIO,
    info: CampaignInfo,
    form: Form,
    reports: list[UnitReport],
    *,
    now: datetime,
    unit_sheets: bool = True,
) -> int:
    """The consolidated workbook; returns the number of unit sheets written."""
    workbook = Workbook()
    use_document_font(workbook)
    used: set[str] = set()
    table = workbook.active
    table.title = _sheet_title("Tổng hợp", used)
    _write_table(table, form, info, reports)
    _write_texts(workbook.create_sheet(_sheet_title("Nội dung", used)), form, info, reports)
    written = 0
    if unit_sheets:
        for report in reports:
            if any(answer.answered for answer in report.answers.values()) or counts(report.status):
                _write_unit(
                    workbook.create_sheet(_sheet_title(report.code, used)), form, info, report
                )
                written += 1
    workbook.properties.title = f"Bảng tổng hợp — {info.title}"
    workbook.properties.creator = "baocao"
    workbook.save(output)
    return written
