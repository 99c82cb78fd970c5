"""The secretariat's "Tổng hợp" sheet: one row per unit, with group subtotals and a total.

"Tổng hợp" groups units by their group (Kiểm tra trực tiếp, Tự kiểm tra, then the others by
name) and, inside a group, puts each district right before its communes (indented). Each
question takes one column per part of its answer (see `exports.figures`), under a three-row
header: section → figure → part. A subtotal row closes every group and a "Toàn tỉnh" row closes
the table; totals are values computed in Python (no formulas), following the consolidation
rules, so any viewer shows them and tests can check them.

The sheet is streamed (openpyxl write-only) and keeps memory flat at 10,000 units. The unit
order defined here (`grouped_units`) is shared by the list sheets in `exports.lists`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime

from openpyxl.utils import get_column_letter

from conversations.forms import Form
from conversations.labels import GROUP_ORDER, group_title, level_title, status_title
from conversations.messages import format_moment
from exports.cells import (
    AVERAGE_FORMAT,
    GROUP_FILL,
    HEADER_FILL,
    INTEGER_FORMAT,
    NOT_ASKED_FILL,
    PAPER_A4,
    PERCENT_FORMAT,
    TOTAL_FILL,
    UNANSWERED_FILL,
    CellStyle,
    RowWriter,
    StyleBook,
    footer_text,
    line_height,
    make_cell,
    release,
    text_lines,
)
from exports.data import CampaignInfo, UnitReport
from exports.figures import (
    AVG,
    EMPTY,
    INT,
    NA,
    NO_RATE,
    NOT_ASKED,
    PCT,
    TEXT,
    UNANSWERED,
    Column,
    Totals,
    form_columns,
    unit_figures,
)

Progress = Callable[[str, int, int], None]
"""Called as progress(stage, done, total) while rows are written."""

PROVINCE_TITLE = "Toàn tỉnh"
UNIT_HEADERS = (
    ("STT", 5),
    ("Mã đơn vị", 14),
    ("Tên đơn vị", 40),
    ("Cấp", 9),
    ("Trạng thái", 12),
)
UNIT_COLUMNS = len(UNIT_HEADERS)
NAME_WIDTH = UNIT_HEADERS[2][1]


def code_width(reports: list[UnitReport], minimum: float = 11) -> float:
    """A code column wide enough for the longest unit code (within reason)."""
    longest = max((len(report.code) for report in reports), default=0)
    return max(minimum, min(longest * 1.05 + 2, 30))


LEGEND = (
    "Ghi chú: KAD = Không áp dụng; ô trống nền vàng = chưa trả lời; ô nền xám = câu không hỏi "
    "cấp của đơn vị.",
    "Tỷ lệ % ở dòng cộng = Σ đã giải quyết / Σ tổng số (không cộng, không lấy trung bình các "
    "tỷ lệ); «—» khi tổng số bằng 0.",
    "«TB» = trung bình cộng tỷ lệ % tự khai của các đơn vị có số liệu (tỷ lệ tự khai không "
    "cộng dồn).",
)

BASE_STYLE = CellStyle(size=11)
HEAD_STYLE = BASE_STYLE.but(bold=True, horizontal="center", wrap=True, fill=HEADER_FILL)
TITLE_STYLE = CellStyle(size=14, bold=True, border="none")
_NOTE = CellStyle(size=10, italic=True, border="none")
_ROLE_STYLES = {
    INT: BASE_STYLE.but(number_format=INTEGER_FORMAT),
    PCT: BASE_STYLE.but(number_format=PERCENT_FORMAT),
    AVG: BASE_STYLE.but(number_format=AVERAGE_FORMAT, italic=True),
    TEXT: BASE_STYLE,
    NA: BASE_STYLE.but(horizontal="center", italic=True, color="595959"),
    NO_RATE: BASE_STYLE.but(horizontal="center"),
    UNANSWERED: BASE_STYLE.but(fill=UNANSWERED_FILL),
    NOT_ASKED: BASE_STYLE.but(fill=NOT_ASKED_FILL),
    EMPTY: BASE_STYLE,
}
_ROW_KINDS = {"unit": {}, "subtotal": {"bold": True}, "total": {"bold": True, "fill": TOTAL_FILL}}


# --- order -----------------------------------------------------------------------------------


def grouped_units(form: Form, reports: list[UnitReport]) -> list[tuple[str | None, list]]:
    """[(group, [(report, depth), …]), …]: known groups first, a parent before its children."""
    levels = {level: rank for rank, level in enumerate(form.levels)}
    position = {id(report): index for index, report in enumerate(reports)}
    by_group: dict[str | None, list[UnitReport]] = defaultdict(list)
    for report in reports:
        by_group[report.group or None].append(report)

    def group_key(group: str | None) -> tuple:
        if group in GROUP_ORDER:
            return (0, GROUP_ORDER.index(group), "")
        return (1 if group else 2, 0, group_title(group).casefold())

    def unit_key(report: UnitReport) -> tuple:
        return (levels.get(report.level, len(levels)), position[id(report)])

    return [
        (group, _family_order(by_group[group], unit_key))
        for group in sorted(by_group, key=group_key)
    ]


def _family_order(members: list[UnitReport], unit_key) -> list[tuple[UnitReport, int]]:
    """Members sorted by `unit_key`, each parent directly followed by its children (depth)."""
    codes = {report.code for report in members}
    children: dict[str, list[UnitReport]] = defaultdict(list)
    roots = []
    for report in members:
        if report.parent_code in codes and report.parent_code != report.code:
            children[report.parent_code].append(report)
        else:
            roots.append(report)
    ordered: list[tuple[UnitReport, int]] = []
    seen: set[str] = set()

    def visit(report: UnitReport, depth: int) -> None:
        if report.code in seen:
            return
        seen.add(report.code)
        ordered.append((report, depth))
        for child in sorted(children.get(report.code, []), key=unit_key):
            visit(child, depth + 1)

    for root in sorted(roots, key=unit_key):
        visit(root, 0)
    for report in sorted(members, key=unit_key):  # units caught in a parent cycle
        visit(report, 0)
    return ordered


def ordered_reports(form: Form, reports: list[UnitReport]) -> Iterator[UnitReport]:
    for _, members in grouped_units(form, reports):
        for report, _depth in members:
            yield report


def _roman(number: int) -> str:
    numerals = (
        (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
        (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
    )  # fmt: skip
    text = ""
    for value, letters in numerals:
        while number >= value:
            text += letters
            number -= value
    return text


# --- Tổng hợp --------------------------------------------------------------------------------


class SummarySheet:
    """Writes the "Tổng hợp" sheet."""

    def __init__(self, form: Form, info: CampaignInfo, now: datetime) -> None:
        self.form = form
        self.info = info
        self.now = now
        self.columns: list[Column] = form_columns(form)
        self.width = UNIT_COLUMNS + len(self.columns)

    def write(
        self,
        workbook,
        title: str,
        reports: list[UnitReport],
        *,
        notes: list[str] = (),
        progress: Progress | None = None,
    ):
        ws = workbook.create_sheet(title)
        styles = StyleBook(ws)
        out = RowWriter(ws, styles)
        title_lines = self._title_lines(reports, notes)
        header_top = len(title_lines) + 1
        self._setup(ws, header_top, code_width(reports))
        for text, style in title_lines:
            out.append([out.cell(text, style)])
        self._header(out)
        arrays = {
            (role, kind): styles.array(style.but(**changes))
            for role, style in _ROLE_STYLES.items()
            for kind, changes in _ROW_KINDS.items()
        }
        label_styles = {
            kind: {
                "center": styles.array(BASE_STYLE.but(horizontal="center", **changes)),
                "left": styles.array(BASE_STYLE.but(**changes)),
                "group": styles.array(BASE_STYLE.but(bold=True, fill=GROUP_FILL)),
            }
            for kind, changes in _ROW_KINDS.items()
        }
        name_styles: dict[tuple[int, bool], object] = {}
        province = Totals(self.form)
        done = 0
        groups = grouped_units(self.form, reports)
        for number, (group, members) in enumerate(groups, start=1):
            group_totals = Totals(self.form)
            group_style = label_styles["unit"]["group"]
            out.append(
                [
                    out.cell(
                        _roman(number),
                        BASE_STYLE.but(bold=True, fill=GROUP_FILL, horizontal="center"),
                    ),
                    make_cell(ws, None, group_style),
                    make_cell(ws, group_title(group), group_style),
                ]
                + [make_cell(ws, None, group_style) for _ in range(self.width - 3)]
            )
            for index, (report, depth) in enumerate(members, start=1):
                indent = min(depth * 2, 15)
                lines = text_lines(report.name, NAME_WIDTH - indent * 1.5, 11)
                key = (indent, lines > 1)
                if key not in name_styles:
                    name_styles[key] = styles.array(
                        BASE_STYLE.but(horizontal="left", indent=indent, wrap=lines > 1)
                    )
                finished = report.status in ("submitted", "approved")
                group_totals.add(report.level, report.answers, done=finished)
                province.add(report.level, report.answers, done=finished)
                labels = label_styles["unit"]
                cells = [
                    make_cell(ws, index, labels["center"]),
                    make_cell(ws, report.code, labels["left"]),
                    make_cell(ws, report.name, name_styles[key]),
                    make_cell(ws, level_title(report.level), labels["left"]),
                    make_cell(ws, status_title(report.status), labels["left"]),
                ]
                for question in self.form.questions:
                    figures = unit_figures(
                        question, report.answer(question.key), question.applies_to(report.level)
                    )
                    for figure in figures:
                        cells.append(make_cell(ws, figure.value, arrays[(figure.role, "unit")]))
                out.append(cells, height=lines * line_height(11) if lines > 1 else None)
                done += 1
                if progress is not None:
                    progress("summary", done, len(reports))
            subtotal = f"Cộng {group_title(group)}"
            self._totals_row(ws, out, subtotal, group_totals, "subtotal", arrays, label_styles)
        self._totals_row(ws, out, PROVINCE_TITLE, province, "total", arrays, label_styles)
        ws.close()
        release(ws)
        return ws

    def _totals_row(self, ws, out, label, totals: Totals, kind, arrays, label_styles) -> None:
        labels = label_styles[kind]
        cells = [
            make_cell(ws, None, labels["center"]),
            make_cell(ws, None, labels["left"]),
            make_cell(ws, label, labels["left"]),
            make_cell(ws, f"{totals.units} đơn vị", labels["left"]),
            make_cell(ws, f"đã nộp {totals.done}/{totals.units}", labels["left"]),
        ]
        for question in self.form.questions:
            for figure in totals.figures(question):
                cells.append(make_cell(ws, figure.value, arrays[(figure.role, kind)]))
        out.append(cells)

    def _setup(self, ws, header_top: int, codes: float) -> None:
        for index, (_, width) in enumerate(UNIT_HEADERS, start=1):
            ws.column_dimensions[get_column_letter(index)].width = width
        ws.column_dimensions["B"].width = codes
        for index, column in enumerate(self.columns, start=UNIT_COLUMNS + 1):
            ws.column_dimensions[get_column_letter(index)].width = column.width
        first_data = header_top + 3
        ws.freeze_panes = f"{get_column_letter(UNIT_COLUMNS + 1)}{first_data}"
        ws.page_setup.paperSize = PAPER_A4
        ws.page_setup.orientation = "landscape"
        ws.page_setup.fitToWidth = 3
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_margins.left = ws.page_margins.right = 0.4
        ws.page_margins.top, ws.page_margins.bottom = 0.5, 0.6
        ws.print_title_rows = f"{header_top}:{header_top + 2}"
        ws.print_title_cols = f"A:{get_column_letter(UNIT_COLUMNS)}"
        ws.oddFooter.left.text = footer_text(f"Bảng tổng hợp — đợt {self.info.code}")
        ws.oddFooter.left.size = 9
        moment = format_moment(self.now, self.info.zone)
        ws.oddFooter.right.text = f"Xuất lúc {moment} — Trang &P/&N"
        ws.oddFooter.right.size = 9

    def _title_lines(self, reports: list[UnitReport], notes: list[str]) -> list:
        zone = self.info.zone
        submitted = sum(report.status in ("submitted", "approved") for report in reports)
        lines = [
            ("BẢNG TỔNG HỢP " + self.form.title, TITLE_STYLE),
            (self.form.subtitle or self.info.issued_by, _NOTE.but(size=11)),
            (f"Đợt báo cáo {self.info.code}: {self.info.title}.", _NOTE.but(size=11)),
            (
                f"Hạn nộp: trước {format_moment(self.info.deadline, zone)}. "
                f"Số liệu đến {format_moment(self.now, zone)}; "
                f"đã nộp {submitted}/{len(reports)} đơn vị.",
                _NOTE.but(size=11),
            ),
            *((text, _NOTE) for text in LEGEND),
            *((note, _NOTE.but(bold=True, color="C00000")) for note in notes),
        ]
        return lines

    def _header(self, out: RowWriter) -> None:
        top = out.row + 1
        rows: list[list] = [[], [], []]
        for label, _ in UNIT_HEADERS:
            rows[0].append(out.cell(label, HEAD_STYLE))
            rows[1].append(out.cell(None, HEAD_STYLE))
            rows[2].append(out.cell(None, HEAD_STYLE))
        for column in range(1, UNIT_COLUMNS + 1):
            out.merge(column, top, column, top + 2)

        section_spans: list[tuple[str, int, int]] = []
        question_spans: list[tuple[str, int, int]] = []
        column_index = UNIT_COLUMNS
        for question in self.form.questions:
            section = self.form.top_section(question.section)
            count = sum(1 for column in self.columns if column.question is question)
            first, last = column_index + 1, column_index + count
            section_title = f"{section.key}. {section.title}"
            if section_spans and section_spans[-1][0] == section_title:
                section_spans[-1] = (section_title, section_spans[-1][1], last)
            else:
                section_spans.append((section_title, first, last))
            label = question.title
            if question.section != section.key:
                label = f"{question.section}. {label}"
            question_spans.append((label, first, last))
            column_index = last
        for column in self.columns:
            rows[2].append(out.cell(column.header, HEAD_STYLE))
        for spans, row in ((section_spans, rows[0]), (question_spans, rows[1])):
            for text, first, last in spans:
                row.append(out.cell(text, HEAD_STYLE))
                row.extend(out.cell(None, HEAD_STYLE) for _ in range(last - first))
        heights = []
        for spans in (section_spans, question_spans):
            lines = 1
            for text, first, last in spans:
                width = sum(
                    c.width for c in self.columns[first - UNIT_COLUMNS - 1 : last - UNIT_COLUMNS]
                )
                lines = max(lines, text_lines(text, width, 11, bold=True))
            heights.append(min(lines, 6) * line_height(11))
        part_lines = max(
            text_lines(column.header, column.width, 11, bold=True) for column in self.columns
        )
        heights.append(min(part_lines, 4) * line_height(11))
        all_spans = (section_spans, question_spans, [])
        for row, height, spans in zip(rows, heights, all_spans, strict=True):
            out.append(row, height=height, merges=[(first, last) for _, first, last in spans])
