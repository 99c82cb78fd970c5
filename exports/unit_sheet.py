"""One unit's Phụ lục as a worksheet that reads like the printed Phụ lục of Kế hoạch 131-KH/TU.

The sheet opens with the unit's own Party heading (`exports.heading`: its superior body and name,
place and date, from the unit list), "Biểu số 01", the form's title, the line "(Kèm theo Báo cáo
số …-BC/HU, ngày … của Huyện ủy …)" naming the unit's own report it is attached to, the period
and the deadline, then the sections in form order with the plan's labels and the
unit's values, and ends with "Nơi nhận" and the signer block. The unit's name, status and the
moment of the figures go to the page footer. The layout is derived from the form
alone, so another form file exports without code changes:

* consecutive `documents` questions of a section become side-by-side column groups (for CT37:
  "Văn bản của cấp ủy Đảng | Văn bản của cơ quan nhà nước, chính quyền"), one document per row
  with số/ký hiệu, ngày ban hành and trích yếu;
* other questions are lines "- label: value" with the value in the last three columns: counts
  and pairs as numbers with their unit words in the number format ("12 lượt", "345 lượt
  người"), ratios as "45 đơn | / 50 đơn | đạt 90,0%" (the rate computed, "—" when the total is
  0), percentages as "85,5%"; the cells hold plain numbers;
* a subsection holding a single question whose label repeats the subsection title (4.3–4.5)
  is one line, as in the plan; `heading`s ("Cấp tỉnh") become "* Cấp tỉnh:" lines;
* "Không áp dụng" is written out; an unanswered question shows "(chưa trả lời)" on a light
  yellow fill, so it can never be mistaken for 0; questions not asked of the unit's level are
  left out.

The sheet is streamed (openpyxl write-only), so the same code writes the single-unit workbook
and the unit sheets of the consolidated workbook.
"""

from __future__ import annotations

from datetime import datetime

from openpyxl.utils import get_column_letter

from conversations.forms import Form, Question, QuestionKind, Section
from conversations.labels import status_title
from conversations.messages import format_moment, late_phrase
from conversations.statuses import DONE
from exports.cells import (
    DATE_FORMAT,
    PAPER_A4,
    UNANSWERED_FILL,
    CellStyle,
    RowWriter,
    StyleBook,
    format_quote,
    grouped_format,
    iso_date,
    line_height,
    percent_text,
    release,
    set_footer,
    text_lines,
)
from exports.data import AnswerData, CampaignInfo, UnitReport
from exports.figures import documents_of, numbers_of, unit_words
from exports.heading import DocumentFrame
from exports.letterhead import unit_letterhead

NUMBER_WIDTH, DATE_WIDTH, SUMMARY_WIDTH, BULLET_WIDTH = 15.0, 11.5, 25.0, 6.0
SIZE = 12
TABLE_NUMBER = "Biểu số 01"  # the annex of a unit's report has one table
UNANSWERED_TEXT = "(chưa trả lời)"
NOT_APPLICABLE_TEXT = "Không áp dụng"
NO_DOCUMENTS_TEXT = "(không có văn bản)"

_PLAIN = CellStyle(size=SIZE, border="none", vertical="top")
TITLE = _PLAIN.but(bold=True, size=13, horizontal="center", vertical="center", wrap=True)
SUBTITLE = _PLAIN.but(italic=True, horizontal="center", vertical="center", wrap=True)
TABLE_NUMBER_STYLE = _PLAIN.but(bold=True, horizontal="right")
SECTION_NUMBER = _PLAIN.but(bold=True)
SECTION_TITLE = _PLAIN.but(bold=True, wrap=True)
HEADING = _PLAIN.but(bold=True, italic=True, wrap=True)
BULLET = _PLAIN.but(horizontal="right")
LABEL = _PLAIN.but(wrap=True)
NOTE = _PLAIN.but(italic=True, wrap=True, size=11)
VALUE = _PLAIN.but(border="dotted", horizontal="left")
VALUE_TEXT = VALUE.but(wrap=True)
NOT_APPLICABLE = VALUE.but(italic=True)
UNANSWERED = VALUE.but(italic=True, color="7F7F7F", fill=UNANSWERED_FILL)
TABLE_HEAD = CellStyle(size=SIZE, bold=True, horizontal="center", wrap=True, fill="DDEBF7")
TABLE_TEXT = CellStyle(size=SIZE, vertical="top", wrap=True)
TABLE_CENTER = TABLE_TEXT.but(horizontal="center")
TABLE_DATE = TABLE_CENTER.but(number_format=DATE_FORMAT)
TABLE_NOT_APPLICABLE = TABLE_TEXT.but(italic=True, horizontal="center")
TABLE_UNANSWERED = TABLE_NOT_APPLICABLE.but(color="7F7F7F", fill=UNANSWERED_FILL)


def document_groups(form: Form) -> int:
    """How many document column groups the sheet needs: the longest run, at least two."""
    longest = run = 0
    previous: Question | None = None
    for question in form.questions:
        if question.kind == QuestionKind.DOCUMENTS:
            same = previous is not None and previous.kind == QuestionKind.DOCUMENTS
            run = run + 1 if same and previous.section == question.section else 1
            longest = max(longest, run)
        previous = question
    return max(2, longest)


def display_label(question: Question, section: Section) -> str:
    """The question's label without what its heading or section already says."""
    label = question.label
    if question.heading:
        marker = question.heading + " — "
        at = label.find(marker)
        if at >= 0:
            label = label[at + len(marker) :]
    prefix = section.title + " — "
    if label.casefold().startswith(prefix.casefold()):
        label = label[len(prefix) :]
    return label[:1].upper() + label[1:]


def _number_format(unit: str | None, *, before: str = "") -> str:
    word = format_quote(unit or "")
    head = f'"{before}"' if before else ""
    return grouped_format(head, f'" {word}"' if word else "")


class UnitSheet:
    """Writes Phụ lục sheets for one form into one workbook (column layout computed once)."""

    def __init__(self, form: Form, info: CampaignInfo, now: datetime) -> None:
        self.form = form
        self.info = info
        self.now = now
        self.groups = document_groups(form)
        self.columns = 1 + 3 * self.groups
        self.widths = [BULLET_WIDTH] + [NUMBER_WIDTH, DATE_WIDTH, SUMMARY_WIDTH] * self.groups
        self.first_value = self.columns - 2  # the last group's three columns hold values
        self.label_width = sum(self.widths[1 : self.first_value - 1])
        self.frame = DocumentFrame(self.widths)

    # --- the sheet ---------------------------------------------------------------------------

    def write(self, workbook, styles: StyleBook | None, title: str, report: UnitReport):
        """Add and fill one worksheet named `title`; returns the style book to reuse."""
        ws = workbook.create_sheet(title)
        styles = styles or StyleBook(ws)
        self._setup(ws, report)
        out = RowWriter(ws, styles)
        self._header(out, report)
        for section in self.form.sections:
            questions = [
                q
                for q in self.form.questions
                if q.section == section.key and q.applies_to(report.level)
            ]
            if not questions and not self._has_questions_below(section, report.level):
                continue
            self._section(out, section, questions, report)
        self.frame.bottom(out, unit_letterhead(self.info, report))
        ws.close()
        release(ws)
        return styles

    def _has_questions_below(self, section: Section, level: str) -> bool:
        prefix = section.key + "."
        return any(
            q.section.startswith(prefix) and q.applies_to(level) for q in self.form.questions
        )

    def _setup(self, ws, report: UnitReport) -> None:
        for index, width in enumerate(self.widths, start=1):
            ws.column_dimensions[get_column_letter(index)].width = width
        ws.sheet_view.showGridLines = False
        ws.page_setup.paperSize = PAPER_A4
        ws.page_setup.orientation = "portrait"
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_options.horizontalCentered = True
        ws.page_margins.left = ws.page_margins.right = 0.5
        ws.page_margins.top, ws.page_margins.bottom = 0.6, 0.7
        zone = self.info.zone
        state = status_title(report.status)
        if report.submitted_at and report.status in DONE:
            state += f" lúc {format_moment(report.submitted_at, zone)}"
            late = late_phrase(self.info.deadlines.of(report.code), report.submitted_at)
            state += f" ({late})" if late else ""
        else:
            state += f", {report.answered}/{report.total} câu"
        internal = f"{report.name} · {state} · số liệu đến {format_moment(self.now, zone)}"
        set_footer(ws, internal, size=8)

    def _full_row(self, out: RowWriter, text: str, style: CellStyle, size: float) -> None:
        width = sum(self.widths)
        lines = text_lines(text, width, size, bold=style.bold)
        cells = [out.cell(text, style)] + [None] * (self.columns - 1)
        out.append(cells, height=lines * line_height(size), merges=[(1, self.columns)])

    def _header(self, out: RowWriter, report: UnitReport) -> None:
        letterhead = unit_letterhead(self.info, report)
        self.frame.top(out, letterhead, self.now)
        self._full_row(out, TABLE_NUMBER, TABLE_NUMBER_STYLE, SIZE)
        self._full_row(out, self.form.title, TITLE, 13)
        year = self.now.astimezone(self.info.zone).year
        self._full_row(out, letterhead.attached_line(year), SUBTITLE, SIZE)
        period = self.info.period_text
        when = f"Số liệu {period}; " if period else ""
        receiver = f"gửi {self.info.receiver} " if self.info.receiver else "gửi "
        self._full_row(out, f"{when}{receiver}{self.info.deadline_text}.", SUBTITLE, SIZE)
        out.append([])

    # --- sections ----------------------------------------------------------------------------

    def _section(
        self, out: RowWriter, section: Section, questions: list[Question], report: UnitReport
    ) -> None:
        number = section.key + "."
        only = questions[0] if len(questions) == 1 else None
        inline = (
            only is not None
            and only.kind not in (QuestionKind.DOCUMENTS, QuestionKind.TEXT)
            and not only.heading
            and only.label.casefold().startswith(section.title.casefold())
        )
        if inline:
            self._line(out, only, report.answer(only.key), number, only.label, SECTION_TITLE)
            return
        lines = text_lines(section.title, sum(self.widths[1:]), SIZE, bold=True)
        out.append(
            [out.cell(number, SECTION_NUMBER), out.cell(section.title, SECTION_TITLE)]
            + [None] * (self.columns - 2),
            height=lines * line_height(SIZE),
            merges=[(2, self.columns)],
        )
        heading = None
        index = 0
        while index < len(questions):
            question = questions[index]
            if question.kind == QuestionKind.DOCUMENTS:
                run = [question]
                while (
                    index + len(run) < len(questions)
                    and questions[index + len(run)].kind == QuestionKind.DOCUMENTS
                ):
                    run.append(questions[index + len(run)])
                self._documents(out, run, report)
                out.append([], height=6)
                index += len(run)
                heading = None
                continue
            if question.heading and question.heading != heading:
                self._heading(out, question.heading)
            heading = question.heading
            label = display_label(question, section)
            self._line(out, question, report.answer(question.key), "-", label, LABEL)
            index += 1

    def _heading(self, out: RowWriter, heading: str) -> None:
        text = heading.rstrip(":") + ":"
        lines = text_lines(text, sum(self.widths[1:]), SIZE, bold=True)
        out.append(
            [out.cell("*", BULLET), out.cell(text, HEADING)] + [None] * (self.columns - 2),
            height=lines * line_height(SIZE),
            merges=[(2, self.columns)],
        )

    # --- one line: label and value -----------------------------------------------------------

    def _line(
        self,
        out: RowWriter,
        question: Question,
        answer: AnswerData | None,
        bullet: str,
        label: str,
        label_style: CellStyle,
    ) -> None:
        bullet_style = SECTION_NUMBER if label_style is SECTION_TITLE else BULLET
        values, merges, value_lines = self._value_cells(out, question, answer)
        label_last = self.first_value - 1
        cells = [out.cell(bullet, bullet_style), out.cell(label, label_style)]
        cells += [None] * (label_last - 2)
        cells += values
        label_lines = text_lines(label, self.label_width, SIZE, bold=label_style.bold)
        lines = max(label_lines, value_lines)
        out.append(
            cells,
            height=lines * line_height(SIZE),
            merges=[(2, label_last), *merges],
        )
        if answer is not None and answer.note:
            self._note(out, f"Ghi chú: {answer.note}")

    def _note(self, out: RowWriter, text: str) -> None:
        """The officer's note beneath its answer, across the sheet, so that it prints."""
        lines = text_lines(text, sum(self.widths[1:]), 11)
        out.append(
            [None, out.cell(text, NOTE)] + [None] * (self.columns - 2),
            height=lines * line_height(11),
            merges=[(2, self.columns)],
        )

    def _value_cells(self, out: RowWriter, question: Question, answer: AnswerData | None):
        """The three value cells of a line, the merges they need and their height in lines."""
        v1, v3 = self.first_value, self.columns
        spread = [(v1, v3)]
        if answer is None:
            return self._spread(out, UNANSWERED_TEXT, UNANSWERED), spread, 1
        if answer.not_applicable:
            return self._spread(out, NOT_APPLICABLE_TEXT, NOT_APPLICABLE), spread, 1
        kind, value = question.kind, answer.value
        if kind == QuestionKind.TEXT:
            text = str(value.get("value", "")) if isinstance(value, dict) else ""
            width = sum(self.widths[v1 - 1 :])
            return self._spread(out, text, VALUE_TEXT), spread, text_lines(text, width, SIZE)
        numbers = numbers_of(question, value)
        if numbers is None:
            return self._spread(out, str(value), VALUE_TEXT), spread, 1
        if kind == QuestionKind.PERCENT:
            text = percent_text(numbers[0])
            cells = [out.cell(text, VALUE), out.cell(None, VALUE), out.cell(None, VALUE)]
            return cells, [], 1
        if kind == QuestionKind.PAIR:
            times, people = unit_words(question)
            cells = [
                out.cell(numbers[0], VALUE.but(number_format=_number_format(times))),
                out.cell(numbers[1], VALUE.but(number_format=_number_format(people))),
                out.cell(None, VALUE),
            ]
            return cells, [(v1 + 1, v3)], 1
        if kind == QuestionKind.RATIO:
            done, total = int(numbers[0]), int(numbers[1])
            cells = [
                out.cell(done, VALUE.but(number_format=_number_format(question.unit))),
                out.cell(
                    total, VALUE.but(number_format=_number_format(question.unit, before="/ "))
                ),
            ]
            if total:
                cells.append(out.cell(f"đạt {percent_text(done * 100 / total)}", VALUE))
            else:
                cells.append(out.cell("—", VALUE))
            return cells, [], 1
        style = VALUE.but(number_format=_number_format(question.unit))
        return [out.cell(numbers[0], style), out.cell(None, VALUE), out.cell(None, VALUE)], [], 1

    def _spread(self, out: RowWriter, text: str, style: CellStyle) -> list:
        return [out.cell(text, style), out.cell(None, style), out.cell(None, style)]

    # --- documents ---------------------------------------------------------------------------

    def _documents(self, out: RowWriter, questions: list[Question], report: UnitReport) -> None:
        spans = self._group_spans(len(questions))
        head = [out.cell("STT", TABLE_HEAD)] + [None] * (self.columns - 1)
        sub = [out.cell(None, TABLE_HEAD)] + [None] * (self.columns - 1)
        head_lines = 1
        for question, (first, last) in zip(questions, spans, strict=True):
            head[first - 1] = out.cell(question.label, TABLE_HEAD)
            for column in range(first + 1, last + 1):
                head[column - 1] = out.cell(None, TABLE_HEAD)
            width = sum(self.widths[first - 1 : last])
            head_lines = max(head_lines, text_lines(question.label, width, SIZE, bold=True))
            for column, text in zip(
                range(first, last + 1), ("Số, ký hiệu", "Ngày ban hành", "Trích yếu"), strict=False
            ):
                sub[column - 1] = out.cell(text, TABLE_HEAD)
            for column in range(first + 3, last + 1):
                sub[column - 1] = out.cell(None, TABLE_HEAD)
        top = out.append(head, height=head_lines * line_height(SIZE), merges=spans)
        sub_merges = [(first + 2, last) for first, last in spans if last > first + 2]
        out.append(sub, height=line_height(SIZE) * 2, merges=sub_merges)
        out.merge(1, top, 1, top + 1)

        columns = []
        for question in questions:
            answer = report.answer(question.key)
            if answer is None:
                columns.append(("note", UNANSWERED_TEXT, TABLE_UNANSWERED))
            elif answer.not_applicable:
                columns.append(("note", NOT_APPLICABLE_TEXT, TABLE_NOT_APPLICABLE))
            else:
                items = documents_of(answer.value)
                if items:
                    columns.append(("items", items, None))
                else:
                    columns.append(("note", NO_DOCUMENTS_TEXT, TABLE_NOT_APPLICABLE))
        rows = max(len(data) if kind == "items" else 1 for kind, data, _ in columns)
        for index in range(rows):
            cells = [out.cell(index + 1, TABLE_CENTER)] + [None] * (self.columns - 1)
            merges, lines = [], 1
            for (kind, data, style), (first, last) in zip(columns, spans, strict=True):
                summary_width = sum(self.widths[first + 1 : last])
                if kind == "note":
                    text = data if index == 0 else None
                    for column in range(first, last + 1):
                        cells[column - 1] = out.cell(text if column == first else None, style)
                    merges.append((first, last))
                    continue
                item = data[index] if index < len(data) else None
                number, when, summary = self._document_cells(item)
                cells[first - 1] = out.cell(number, TABLE_TEXT)
                cells[first] = out.cell(when, TABLE_DATE)
                for column in range(first + 2, last + 1):
                    text = summary if column == first + 2 else None
                    cells[column - 1] = out.cell(text, TABLE_TEXT)
                if last > first + 2:
                    merges.append((first + 2, last))
                lines = max(
                    lines,
                    text_lines(summary or "", summary_width, SIZE),
                    text_lines(number or "", self.widths[first - 1], SIZE),
                )
            out.append(cells, height=lines * line_height(SIZE), merges=merges)
        for question in questions:
            answer = report.answer(question.key)
            if answer is not None and answer.note:
                self._note(out, f"Ghi chú ({question.label}): {answer.note}")

    def _group_spans(self, count: int) -> list[tuple[int, int]]:
        """Column spans of `count` document groups; the last one takes any spare columns."""
        spans = [(2 + 3 * index, 4 + 3 * index) for index in range(count)]
        spans[-1] = (spans[-1][0], self.columns)
        return spans

    @staticmethod
    def _document_cells(item: dict | None) -> tuple[str | None, object, str | None]:
        if item is None:
            return None, None, None
        number = item.get("number") or None
        raw_date = item.get("date")
        when = iso_date(raw_date) or (str(raw_date) if raw_date else None)
        summary = item.get("summary") or None
        if not number and not when and not summary:
            summary = item.get("raw") or None
        return (
            str(number) if number is not None else None,
            when,
            str(summary) if summary is not None else None,
        )
