"""The secretariat's consolidated table, the document the Ban Dân vận files, as biểu sheets.

The table is split into biểu (`exports.table_plan`: whole Mục per biểu, small neighbours
together, a wide Mục alone), one sheet each, "Biểu số 01", "Biểu số 02", …; each is a printed
table of its own: the Party heading (`exports.heading`), "Biểu số NN", the title with the Mục it
covers, the report it is attached to and the period, then the same unit rows on every biểu:
grouped by group (Kiểm tra trực tiếp, Tự kiểm tra, then the others by name), each unit followed
by the units beneath it (indented "trong đó" detail), the STT running 1..N over the biểu, a
subtotal row per group and a "Toàn tỉnh" row, then the legend, the units' notes on that biểu's
figures as numbered footnotes, and what is left out of the totals. "Nơi nhận" and the signer
close the last biểu only: the biểu are one annex, signed once.

Who is added into a total is decided by `exports.consolidation` only: submitted roots; every
total row says "Tổng hợp từ N/M đơn vị đã nộp". The totals are computed once, before the first
biểu, and each biểu prints its questions' share. Reports not submitted show their status and
progress, their figures in grey italics. Each question takes one column per part of its answer
(see `exports.figures`), under a three-row header repeated on every printed page. Totals are
values computed in Python (no formulas), so any viewer shows them and tests can check them.

A parent's cell whose submitted children add up to more is marked, and "Kiểm tra số liệu"
lists every such figure with both numbers.

Printing: A4 landscape at 100 % (body text 11 pt on paper); a biểu wider than a page is cut
after whole questions (`exports.table_plan.page_breaks`), the unit columns (STT, name, status)
and the header rows printed again on every page; the page number, the biểu and the moment of the
figures go to the footer; "Nơi nhận" and the signer start a new page when the page would cut
them. Every sheet is streamed (openpyxl write-only): memory stays flat at 10,000 units.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break

from conversations.forms import Form, QuestionKind
from conversations.labels import group_title, status_title
from conversations.messages import format_moment, late_phrase
from conversations.statuses import SubmissionStatus
from exports.cells import (
    GROUP_FILL,
    HEADER_FILL,
    INTEGER_FORMAT,
    NOT_ASKED_FILL,
    PAPER_A4,
    TOTAL_FILL,
    UNANSWERED_FILL,
    CellStyle,
    RowWriter,
    StyleBook,
    line_height,
    make_cell,
    note_comment,
    percent_text,
    release,
    set_footer,
    text_lines,
)
from exports.consolidation import Mismatch, UnitTree, add_counted, counts, level_order
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
    printed_title,
    unit_figures,
)
from exports.heading import DocumentFrame
from exports.letterhead import (
    Letterhead,
    issuing_body,
    secretariat_letterhead,
    unit_letterhead,
)
from exports.table_plan import (
    PAGE_BOTTOM,
    PAGE_MARGIN,
    PAGE_TOP,
    UNIT_COLUMNS,
    UNIT_HEADERS,
    Table,
    ends_a_page,
    table_plan,
)

Progress = Callable[[str, int, int], None]
"""Called as progress(stage, done, total) while rows are written."""

PROVINCE_TITLE = "Toàn tỉnh"
BEHIND_TITLE = "Số đơn vị có số liệu"
NAME_WIDTH = UNIT_HEADERS[1][1]
STATUS_WIDTH = UNIT_HEADERS[2][1]
MISMATCH_FILL = "F8CBAD"
FIT = 0.7  # row heights are estimated on a narrower column: a cut line is worse than a spare one


def _cut_at(spans: list[tuple[str, int, int]], breaks: list[int]) -> list[tuple[str, int, int]]:
    """Header spans cut where a printed page ends, each piece carrying the whole title."""
    result = []
    for text, first, last in spans:
        for column in breaks:
            if first <= column < last:
                result.append((text, first, column))
                first = column + 1
        result.append((text, first, last))
    return result


def shown(figure) -> object:
    """What a figure's cell holds: counts as numbers, percentages as printed text ("89,0%")."""
    if figure.role in (PCT, AVG) and isinstance(figure.value, int | float):
        return percent_text(figure.value)
    return figure.value


def code_width(reports: list[UnitReport], minimum: float = 11) -> float:
    """A code column wide enough for the longest unit code (within reason)."""
    longest = max((len(report.code) for report in reports), default=0)
    return max(minimum, min(longest * 1.2 + 2, 30))


def progress_text(report: UnitReport, deadline: datetime) -> str:
    """ "đã nộp" (", nộp muộn 3 ngày" when late), or the status with how far it got:
    "đang điền 5/22 câu"."""
    text = status_title(report.status)
    if report.status in (SubmissionStatus.IN_PROGRESS, SubmissionStatus.RETURNED):
        text += f" {report.answered}/{report.total} câu"
    elif counts(report.status) and report.submitted_at:
        late = late_phrase(deadline, report.submitted_at)
        text += f", {late}" if late else ""
    return text


LEGEND = (
    "Ghi chú: chỉ báo cáo đã nộp (hoặc đã duyệt) được cộng. Đơn vị thụt vào dưới một đơn vị "
    "là đơn vị trực thuộc (trong đó), số liệu đã nằm trong báo cáo của đơn vị cấp trên nên "
    "không cộng lại. Số liệu chữ xám nghiêng là của báo cáo chưa nộp, không được cộng.",
    "x = Không áp dụng; ô trống nền vàng = chưa trả lời; ô nền xám = câu không hỏi cấp của "
    "đơn vị; ô nền đỏ = tổng của các đơn vị trực thuộc lớn hơn số của đơn vị cấp trên (xem "
    "biểu «Kiểm tra số liệu»).",
    "Tỷ lệ % ở dòng cộng = tổng số đã giải quyết / tổng số (không cộng, không lấy bình quân "
    "các tỷ lệ); «—» khi tổng số bằng 0. Tỷ lệ % in nghiêng ở dòng cộng = bình quân tỷ lệ % "
    "tự khai của các đơn vị được cộng (tỷ lệ tự khai không cộng dồn).",
)

BASE_STYLE = CellStyle(size=11)
HEAD_STYLE = BASE_STYLE.but(bold=True, horizontal="center", wrap=True, fill=HEADER_FILL)
TITLE_STYLE = CellStyle(size=14, bold=True, border="none")
DOC_TITLE = CellStyle(size=14, bold=True, border="none", horizontal="center", wrap=True)
DOC_SUBTITLE = DOC_TITLE.but(size=13)
DOC_PART = DOC_TITLE.but(size=13, italic=True)
DOC_LINE = CellStyle(size=13, italic=True, border="none", horizontal="center", wrap=True)
TABLE_NUMBER_STYLE = CellStyle(size=12, bold=True, border="none", horizontal="right")
_NOTE = CellStyle(size=10, italic=True, border="none", wrap=True, vertical="top")
_ROLE_STYLES = {
    INT: BASE_STYLE.but(number_format=INTEGER_FORMAT),
    PCT: BASE_STYLE.but(horizontal="right"),
    AVG: BASE_STYLE.but(horizontal="right", italic=True),
    TEXT: BASE_STYLE,
    NA: BASE_STYLE.but(horizontal="center", italic=True, color="595959"),
    NO_RATE: BASE_STYLE.but(horizontal="center"),
    UNANSWERED: BASE_STYLE.but(fill=UNANSWERED_FILL),
    NOT_ASKED: BASE_STYLE.but(fill=NOT_ASKED_FILL),
    EMPTY: BASE_STYLE,
}
_ROW_KINDS = {
    "unit": {},
    "draft": {"italic": True, "color": "808080"},
    "flag": {"bold": True, "color": "C00000", "fill": MISMATCH_FILL},
    "subtotal": {"bold": True},
    "total": {"bold": True, "fill": TOTAL_FILL},
}


# --- order -----------------------------------------------------------------------------------


def unit_tree(form: Form, reports: list[UnitReport]) -> UnitTree[UnitReport]:
    """The participating units as `exports.consolidation` sees them, siblings by level."""
    return UnitTree(reports, order=level_order(form, reports))


def grouped_units(form: Form, reports: list[UnitReport]) -> list[tuple[str | None, list]]:
    """[(group, [(report, depth), …]), …]: known groups first, each parent before its children."""
    return unit_tree(form, reports).groups()


def ordered_reports(form: Form, reports: list[UnitReport]) -> Iterator[UnitReport]:
    return unit_tree(form, reports).ordered()


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


def document_title(form: Form) -> tuple[str, str]:
    """("BẢNG TỔNG HỢP", "Kết quả triển khai …"): the form's title without "PHỤ LỤC — "."""
    title = form.title
    for marker in (" — ", " - ", ": "):
        first, found, rest = title.partition(marker)
        if found and first.strip().upper() == "PHỤ LỤC":
            title = rest.strip()
            break
    return "BẢNG TỔNG HỢP", title


@dataclass
class _Sums:
    """The totals every biểu prints, computed once: per group, the province, the district's
    communes (its own table only); and each unit row's labels, the same on every biểu."""

    groups: list[tuple[str | None, list, Totals]]
    province: Totals
    rows: list
    beside: tuple[str, Totals] | None = None
    labels: dict[int, tuple[str, int, str, int]] = field(default_factory=dict)


class SummarySheet:
    """Writes the biểu sheets of the consolidated table ("Biểu số 01", …)."""

    def __init__(
        self,
        form: Form,
        info: CampaignInfo,
        now: datetime,
        *,
        letterhead: Letterhead | None = None,
        district: UnitReport | None = None,
    ) -> None:
        """`district`: the table is that unit's own (its communes beneath it): its heading,
        its figures as the total, and the sum of its submitted communes beside them."""
        self.form = form
        self.info = info
        self.now = now
        self.district = district
        self.letterhead = letterhead or (
            unit_letterhead(info, district) if district else secretariat_letterhead(info)
        )
        self.total_title = (
            f"Số liệu của {issuing_body(district.name)}" if district else PROVINCE_TITLE
        )
        self.tables: list[Table] = table_plan(form)

    def write(
        self,
        workbook,
        name: Callable[[str], str],
        reports: list[UnitReport],
        *,
        notes: list[str] = (),
        closing: list[str] = (),
        progress: Progress | None = None,
        tree: UnitTree | None = None,
        flagged: list[Mismatch] = (),
    ) -> list[str]:
        """One sheet per biểu, named through `name` (unique sheet names); returns the names.
        `notes` are printed under every biểu (what its totals leave out), `closing` under the
        last one only, before "Nơi nhận"."""
        tree = tree or unit_tree(self.form, reports)
        flags = {(id(m.parent), m.question_key, m.part) for m in flagged}
        sums = self._sums(tree)
        names = []
        done = [0, len(reports) * len(self.tables)]
        for table in self.tables:
            last = table is self.tables[-1]
            names.append(name(table.label))
            _TableSheet(self, table, workbook.create_sheet(names[-1])).write(
                tree,
                sums,
                flags,
                notes=[*notes, *closing] if last else list(notes),
                signed=last,
                progress=progress,
                done=done,
            )
        return names

    def _sums(self, tree: UnitTree) -> _Sums:
        province = Totals(self.form)
        groups, rows = [], []
        for group, members in tree.groups():
            totals = Totals(self.form)
            add_counted(tree, members, totals)
            add_counted(tree, members, province)
            groups.append((group, members, totals))
            rows.extend(members)
        sums = _Sums(groups, province, rows)
        if self.district is not None:
            children = tree.children(self.district) if self.district in tree.members else []
            submitted = [child for child in children if counts(child.status)]
            totals = Totals(self.form)
            for child in submitted:
                totals.add(child.level, child.answers)
            scope = f"Cộng từ {len(submitted)}/{len(children)} đơn vị trực thuộc đã nộp"
            sums.beside = (scope, totals)
        return sums


class _TableSheet:
    """One biểu's sheet: the heading, its questions' columns for every unit, its notes."""

    def __init__(self, sheet: SummarySheet, table: Table, ws) -> None:
        self.form, self.info, self.now = sheet.form, sheet.info, sheet.now
        self.letterhead, self.total_title = sheet.letterhead, sheet.total_title
        self.district = sheet.district
        self.table = table
        self.ws = ws
        self.questions = table.questions
        self.columns: list[Column] = list(table.columns)
        self.width = UNIT_COLUMNS + len(self.columns)
        self.widths = [width for _, width in UNIT_HEADERS] + [c.width for c in self.columns]
        self.breaks = table.breaks
        first_page = self.breaks[0] if self.breaks else self.width
        self.page_widths = self.widths[:first_page]

    def write(self, tree: UnitTree, sums: _Sums, flags, *, notes, signed, progress, done):
        ws = self.ws
        styles = StyleBook(ws)
        out = RowWriter(ws, styles, measure=signed)
        frame = DocumentFrame(self.page_widths, repeated=UNIT_COLUMNS)
        letterhead = self.letterhead
        title_lines = self._title_lines()
        header_top = frame.top_rows(letterhead) + len(title_lines) + 2
        self._setup(ws)  # sheet properties first: a write-only sheet writes them with row 1
        ws.print_title_rows = f"{header_top}:{header_top + 2}"
        ws.freeze_panes = f"{get_column_letter(UNIT_COLUMNS + 1)}{header_top + 3}"
        frame.top(out, letterhead, self.now)
        for text, style in title_lines:
            frame.full(out, text, style)
        out.append([], height=8)
        self._header(out)
        arrays = {
            (role, kind): styles.array(style.but(**changes))
            for role, style in _ROLE_STYLES.items()
            for kind, changes in _ROW_KINDS.items()
        }
        label_styles = {
            kind: {
                "center": styles.array(BASE_STYLE.but(horizontal="center", **changes)),
                "left": styles.array(BASE_STYLE.but(wrap=True, **changes)),
            }
            for kind, changes in _ROW_KINDS.items()
        }
        group_style = styles.array(BASE_STYLE.but(bold=True, fill=GROUP_FILL))
        group_number = styles.array(BASE_STYLE.but(bold=True, fill=GROUP_FILL, horizontal="center"))
        name_styles: dict[tuple[int, str], object] = {}
        number = 0  # STT: every unit row numbered in turn, 1..N over the whole biểu
        footnotes: list[str] = []  # the units' notes on this biểu's figures, numbered
        for roman, (group, members, group_totals) in enumerate(sums.groups, start=1):
            out.append(
                [make_cell(ws, _roman(roman), group_number)]
                + [make_cell(ws, group_title(group), group_style)]
                + [make_cell(ws, None, group_style) for _ in range(self.width - 2)]
            )
            for report, depth in members:
                number += 1
                kind = "unit" if counts(report.status) else "draft"
                indent = min(depth * 2, 15)
                name, name_lines, state, state_lines = self._labels(sums, report, depth)
                marks: list[int] = []
                key = (indent, kind)
                if key not in name_styles:
                    name_styles[key] = styles.array(
                        BASE_STYLE.but(
                            horizontal="left", indent=indent, wrap=True, **_ROW_KINDS[kind]
                        )
                    )
                labels = label_styles[kind]
                cells = [
                    make_cell(ws, number, labels["center"]),
                    make_cell(ws, name, name_styles[key]),
                    make_cell(ws, state, labels["left"]),
                ]
                for question in self.questions:
                    answer = report.answer(question.key)
                    figures = unit_figures(question, answer, question.applies_to(report.level))
                    for part, figure in enumerate(figures):
                        cell_kind = kind
                        if flags and (id(report), question.key, part) in flags:
                            cell_kind = "flag"
                        cell = make_cell(ws, shown(figure), arrays[(figure.role, cell_kind)])
                        if part == 0 and answer is not None and answer.note:
                            cell.comment = note_comment(answer.note)
                            footnotes.append(
                                f"({len(footnotes) + 1}) {report.name} — "
                                f"{printed_title(question)}: {answer.note}"
                            )
                            marks.append(len(footnotes))
                        cells.append(cell)
                if marks:  # the status cell points to the unit's notes under the table
                    state = f"{state} (ghi chú {', '.join(map(str, marks))})"
                    cells[2] = make_cell(ws, state, labels["left"])
                    state_lines = text_lines(state, STATUS_WIDTH * FIT, 11)
                lines = max(name_lines, state_lines)
                out.append(cells, height=lines * line_height(11) if lines > 1 else None)
                done[0] += 1
                if progress is not None:
                    progress("summary", done[0], done[1])
            label = f"Cộng {group_title(group)}"
            scope = tree.scope(members)
            self._totals_row(out, label, scope.label, group_totals, "subtotal", arrays,
                             label_styles)  # fmt: skip
        scope = tree.scope(sums.rows)
        self._totals_row(out, self.total_title, scope.label, sums.province, "total", arrays,
                         label_styles)  # fmt: skip
        self._behind(out, tree, sums.rows, sums.province, label_styles)
        if sums.beside is not None:
            scope, totals = sums.beside
            self._totals_row(out, "Cộng các đơn vị trực thuộc", scope, totals, "subtotal",
                             arrays, label_styles)  # fmt: skip
        out.append([], height=6)
        for text in self._legend():
            frame.full(out, text, _NOTE)
        if footnotes:
            frame.full(out, "Ghi chú của các đơn vị:", _NOTE.but(bold=True))
            for text in footnotes:
                frame.full(out, text, _NOTE)
        for text in notes:
            frame.full(out, text, _NOTE.but(bold=True, color="C00000"))
        if signed:
            # "Nơi nhận" and the signer never start at the foot of a page and end on the next
            rows = max(len(letterhead.recipients) + 1, 6)
            block = 8 + rows * line_height(13) * 1.2
            if ends_a_page(out.heights, (header_top, header_top + 2), block):
                ws.row_breaks.append(Break(id=out.row))
            frame.bottom(out, letterhead)
        ws.close()
        release(ws)

    def _labels(self, sums: _Sums, report: UnitReport, depth: int) -> tuple[str, int, str, int]:
        """A unit row's name and status, each with the lines it wraps to: the same on every
        biểu, so worked out on the first one only."""
        found = sums.labels.get(id(report))
        if found is None:
            indent = min(depth * 2, 15)
            name = f"– {report.name}" if depth else report.name
            state = progress_text(report, self.info.deadlines.of(report.code))
            found = sums.labels[id(report)] = (
                name,
                text_lines(name, (NAME_WIDTH - indent * 1.5) * FIT, 11),
                state,
                text_lines(state, STATUS_WIDTH * FIT, 11),
            )
        return found

    def _legend(self) -> tuple[str, ...]:
        """The legend's lines this biểu needs: the rate line only where a rate is printed."""
        rates = any(q.kind in (QuestionKind.RATIO, QuestionKind.PERCENT) for q in self.questions)
        return LEGEND if rates else LEGEND[:2]

    def _behind(self, out, tree: UnitTree, rows, totals: Totals, label_styles) -> None:
        """How many of the counted units each total is built from ("1/2"): a total from only
        some of the units that were asked is marked, never passed off as everyone's."""
        ws = self.ws
        counted = [member for member, _ in rows if tree.counted(member)]
        labels = label_styles["subtotal"]
        cells = [
            make_cell(ws, None, labels["center"]),
            make_cell(ws, BEHIND_TITLE, labels["left"]),
            make_cell(ws, "đơn vị có số liệu / đơn vị đã nộp", labels["left"]),
        ]
        merges = []
        column = UNIT_COLUMNS
        for question in self.questions:
            width = sum(1 for c in self.columns if c.question is question)
            asked = sum(question.applies_to(member.level) for member in counted)
            text = f"{totals.contributors(question)}/{asked}" if asked else None
            cells.append(make_cell(ws, text, labels["center"]))
            cells.extend(make_cell(ws, None, labels["center"]) for _ in range(width - 1))
            if width > 1:
                merges.append((column + 1, column + width))
            column += width
        lines = text_lines(cells[2].value, STATUS_WIDTH * FIT, 11, bold=True)
        out.append(cells, height=lines * line_height(11), merges=merges)

    def _totals_row(self, out, label, scope, totals: Totals, kind, arrays, label_styles):
        ws = self.ws
        labels = label_styles[kind]
        cells = [
            make_cell(ws, None, labels["center"]),
            make_cell(ws, label, labels["left"]),
            make_cell(ws, scope, labels["left"]),
        ]
        for question in self.questions:
            for figure in totals.figures(question):
                cells.append(make_cell(ws, shown(figure), arrays[(figure.role, kind)]))
        lines = max(
            text_lines(scope, STATUS_WIDTH * FIT, 11, bold=True),
            text_lines(label, NAME_WIDTH * FIT, 11, bold=True),
        )
        out.append(cells, height=lines * line_height(11))

    def _setup(self, ws) -> None:
        for index, width in enumerate(self.widths, start=1):
            ws.column_dimensions[get_column_letter(index)].width = width
        ws.sheet_view.showGridLines = False
        ws.page_setup.paperSize = PAPER_A4
        ws.page_setup.orientation = "landscape"
        ws.page_setup.scale = 100  # printed at its own size: 11 pt stays 11 pt on paper
        ws.print_title_cols = f"A:{get_column_letter(UNIT_COLUMNS)}"
        for column in self.breaks:  # each page ends after a whole question
            ws.col_breaks.append(Break(id=column))
        ws.page_margins.left = ws.page_margins.right = PAGE_MARGIN
        ws.page_margins.top, ws.page_margins.bottom = PAGE_TOP, PAGE_BOTTOM
        moment = format_moment(self.now, self.info.zone)
        set_footer(ws, f"{self.table.label} — Bảng tổng hợp — số liệu đến {moment}")

    def _title_lines(self) -> list[tuple[str, CellStyle]]:
        first, second = document_title(self.form)
        year = self.now.astimezone(self.info.zone).year
        attached = self.letterhead.attached_line(year)
        lines = [
            (self.table.label, TABLE_NUMBER_STYLE),
            (first, DOC_TITLE),
            (second, DOC_SUBTITLE),
            (self.table.title, DOC_PART),
            (attached, DOC_LINE),
        ]
        period = self.info.period_text
        when = f"Số liệu {period}; " if period else ""
        receiver = f" gửi {self.info.receiver}" if self.info.receiver else ""
        lines.append((f"{when}các đơn vị{receiver} {self.info.deadline_text}.", DOC_LINE))
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
        for question in self.questions:
            section = self.form.top_section(question.section)
            count = sum(1 for column in self.columns if column.question is question)
            first, last = column_index + 1, column_index + count
            section_title = f"{section.key}. {section.title}"
            if section_spans and section_spans[-1][0] == section_title:
                section_spans[-1] = (section_title, section_spans[-1][1], last)
            else:
                section_spans.append((section_title, first, last))
            label = printed_title(question)
            if question.section != section.key:
                label = f"{question.section}. {label}"
            question_spans.append((label, first, last))
            column_index = last
        section_spans = _cut_at(section_spans, self.breaks)  # a page never cuts a title
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
                lines = max(lines, text_lines(text, width * FIT, 11, bold=True))
            heights.append(min(lines, 10) * line_height(11))
        part_lines = max(
            text_lines(column.header, column.width * FIT, 11, bold=True) for column in self.columns
        )
        heights.append(min(part_lines, 6) * line_height(11))
        all_spans = (section_spans, question_spans, [])
        for row, height, spans in zip(rows, heights, all_spans, strict=True):
            out.append(row, height=height, merges=[(first, last) for _, first, last in spans])
