"""The written report under the Đề cương báo cáo, as a Word (.docx) draft in the Party's format.

`build_unit_report` drafts one unit's report with everything the bot knows: the Đề cương's
sections and points in the plan's words, the unit's figures written into their points as
sentences, the unit's own texts per point (when it has written any), "Nơi nhận" and the signer
block, and the unit's Phụ lục as a table at the end. `build_consolidated_report` drafts the Ban
Dân vận's report to the Ban Thường vụ with the province totals in the same points and the list of
units that reported.

The layout follows Hướng dẫn 36-HD/VPTW: issuing body top left (superior body, the body in bold
capitals, "*"), "ĐẢNG CỘNG SẢN VIỆT NAM" top right, underlined, with the italic place-and-date
line, "Số …-BC/…" to fill, the title, the body in Times New Roman 14 on A4 with the Party's
margins. A report not yet submitted is marked "DỰ THẢO" on every page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt, RGBColor

from conversations.formatting import format_number, format_value
from conversations.forms import Form, Question, QuestionKind
from conversations.labels import status_title
from conversations.outline import (
    NO_DATA_TEXT,
    UNANSWERED_TEXT,
    FigureSentence,
    Outline,
    OutlineSection,
    Point,
    Reading,
    figure_text,
    sentence_text,
)
from conversations.statuses import SubmissionStatus
from exports.data import CampaignInfo, UnitReport
from exports.figures import documents_of
from exports.letterhead import PARTY_NAME, Letterhead
from exports.table_plan import totals_table
from exports.unit_sheet import display_label

FONT = "Times New Roman"
BODY_SIZE = Pt(14)
TABLE_SIZE = Pt(12)
DRAFT_MARK = "DỰ THẢO"
TABLE_NUMBER = "Biểu số 01"
SUBMITTED = (SubmissionStatus.SUBMITTED, SubmissionStatus.APPROVED)
UNIT_PLACEHOLDER = "(Đơn vị bổ sung nội dung.)"
CONSOLIDATED_PLACEHOLDER = "(Ban Dân vận tổng hợp nội dung từ báo cáo của các đơn vị.)"
GREY = RGBColor(0x59, 0x59, 0x59)
# Hướng dẫn 36-HD/VPTW: top and bottom 20–25 mm, left 30–35 mm, right 15–20 mm.
MARGINS = {"top": Mm(20), "bottom": Mm(20), "left": Mm(30), "right": Mm(15)}
CONTENT_WIDTH = Mm(210 - 30 - 15)
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass
class _Page:
    """The document being written, with the few paragraph shapes a report uses."""

    document: object = field(default_factory=Document)

    def paragraph(
        self,
        text: str = "",
        *,
        bold: bool = False,
        italic: bool = False,
        align=WD_ALIGN_PARAGRAPH.JUSTIFY,
        indent: bool = True,
        size=None,
        container=None,
        keep_with_next: bool = False,
        color=None,
    ):
        paragraph = (container or self.document).add_paragraph()
        paragraph.alignment = align
        if indent:
            paragraph.paragraph_format.first_line_indent = Cm(1)
        paragraph.paragraph_format.keep_with_next = keep_with_next
        if text:
            run(paragraph, text, bold=bold, italic=italic, size=size, color=color)
        return paragraph

    def page_break(self) -> None:
        self.document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def run(paragraph, text: str, *, bold=False, italic=False, underline=False, size=None, color=None):
    piece = paragraph.add_run(clean(text))
    piece.bold = bold or None
    piece.italic = italic or None
    piece.underline = underline or None
    if size is not None:
        piece.font.size = size
    if color is not None:
        piece.font.color.rgb = color
    return piece


def clean(text: object) -> str:
    """Text Word accepts: control characters (other than tab and newline) removed."""
    return _XML_ILLEGAL.sub("", str(text))


# --- the unit's report -------------------------------------------------------------------------


def build_unit_report(
    campaign: CampaignInfo,
    outline: Outline,
    form: Form,
    unit: UnitReport,
    *,
    letterhead: Letterhead,
    narratives: Mapping[str, str] | None = None,
    standing: str | None = None,
    now: datetime,
) -> bytes:
    """One unit's draft report as .docx bytes; "DỰ THẢO" until the unit has submitted.
    `standing` says whether its figures are in a total (`exports.consolidation.standing_text`)."""
    submitted = unit.status in SUBMITTED
    page = _start(letterhead, draft=not submitted)
    moment = unit.submitted_at if submitted and unit.submitted_at else None
    _heading(page, letterhead, campaign, moment or now, dated=moment is not None)
    _title(page, outline, campaign)
    intro = outline.intro_text(plan=campaign.issued_by, unit=unit.name)
    if intro:
        page.paragraph(intro)
    if standing:
        page.paragraph(standing, italic=True)

    def read(question: Question) -> Reading:
        if not question.applies_to(unit.level):
            return Reading(asked=False)
        answer = unit.answer(question.key)
        if answer is None:
            return Reading(missing=UNANSWERED_TEXT)
        return Reading(answer.value, answer.not_applicable)

    notes = {key: answer.note for key, answer in unit.answers.items() if answer.note}
    body = _Body(page, form, read, narratives or {}, UNIT_PLACEHOLDER, documents=True, notes=notes)
    body.write(outline)
    _signature(page, letterhead)
    page.page_break()
    _appendix_title(page, form, unit.name, letterhead.attached_line(_year(now, campaign)))
    asked = [q for q in form.questions if q.applies_to(unit.level)]
    _figures_table(page, form, asked, read, notes)
    return _save(page)


# --- the consolidated report -------------------------------------------------------------------


def build_consolidated_report(
    campaign: CampaignInfo,
    outline: Outline,
    form: Form,
    *,
    totals: Mapping[str, dict | None],
    units: Sequence[UnitReport],
    counted: int,
    letterhead: Letterhead,
    narratives: Mapping[str, str] | None = None,
    left_out: str | None = None,
    now: datetime,
) -> bytes:
    """The Ban Dân vận's draft report to the Ban Thường vụ, with the province totals.

    `totals` maps a question key to its consolidated value, in the shape of an answer
    (`{"value": 12}`, `{"times", "people"}`, `{"done", "total"}`, `{"count": 3}` for documents,
    `{"value": 85.5, "average": True}` for an averaged percentage); a missing key or None means
    no unit contributed. `counted` is how many units the totals are built from; `units` are all
    participating units, listed with whether they reported. `left_out` names the submitted
    units in no total because the unit above them has not submitted
    (`exports.consolidation.left_out_text`).
    """
    page = _start(letterhead, draft=True)
    _heading(page, letterhead, campaign, now, dated=False)
    _title(page, outline, campaign)
    reported = [unit for unit in units if unit.status in SUBMITTED]
    intro = outline.intro_text(plan=campaign.issued_by, unit=campaign.receiver or "Ban Dân vận")
    if intro:
        page.paragraph(intro)
    page.paragraph(
        f"Đến {now.astimezone(campaign.zone).strftime('%d/%m/%Y')}, "
        f"{format_number(len(reported))}/{format_number(len(units))} đơn vị đã gửi báo cáo "
        f"(danh sách kèm theo). Số liệu dưới đây tổng hợp từ báo cáo của "
        f"{format_number(counted)} đơn vị; số liệu của đơn vị cấp dưới đã có trong báo cáo của "
        f"đơn vị cấp trên không cộng lại lần nữa." + (f" {left_out}" if left_out else "")
    )

    def read(question: Question) -> Reading:
        return Reading(totals.get(question.key), missing=NO_DATA_TEXT)

    body = _Body(page, form, read, narratives or {}, CONSOLIDATED_PLACEHOLDER, documents=False)
    body.write(outline)
    _signature(page, letterhead)
    page.page_break()
    _units_list(page, campaign, units)
    page.page_break()
    _appendix_title(
        page,
        form,
        f"Tổng hợp từ {format_number(counted)} đơn vị đã báo cáo",
        letterhead.attached_line(_year(now, campaign)),
        consolidated=True,
    )
    _figures_table(page, form, list(form.questions), read)
    return _save(page)


# --- page set-up and heading -------------------------------------------------------------------


def _start(letterhead: Letterhead, *, draft: bool) -> _Page:
    page = _Page()
    document = page.document
    normal = document.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = BODY_SIZE
    fonts = normal.element.get_or_add_rPr().get_or_add_rFonts()
    for slot in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(slot), FONT)
    normal.paragraph_format.space_after = Pt(6)
    normal.paragraph_format.line_spacing = 1.1
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = MARGINS["top"], MARGINS["bottom"]
    section.left_margin, section.right_margin = MARGINS["left"], MARGINS["right"]
    section.header_distance = section.footer_distance = Mm(10)
    header = section.header.paragraphs[0]
    if draft:
        run(header, DRAFT_MARK, bold=True, size=Pt(13))
        header.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _page_number(section.footer.paragraphs[0])
    document.core_properties.title = letterhead.body
    return page


def _page_number(paragraph) -> None:
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    piece = paragraph.add_run()
    piece.font.size = Pt(12)
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        else:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        piece._r.append(element)


def _date_line(place: str, moment: datetime, zone, *, dated: bool) -> str:
    """ "Ninh Thuận, ngày 04 tháng 7 năm 2022"; blanks to fill when not dated yet.

    As Hướng dẫn 36 writes dates: a day below 10 and the months 1 and 2 take a leading zero.
    """
    local = moment.astimezone(zone)
    if not dated:
        return f"{place}, ngày    tháng    năm {local.year}"
    month = f"{local.month:02d}" if local.month <= 2 else str(local.month)
    return f"{place}, ngày {local.day:02d} tháng {month} năm {local.year}"


def _heading(page: _Page, letterhead: Letterhead, campaign, moment, *, dated: bool) -> None:
    table = page.document.add_table(rows=1, cols=2)
    _set_widths(table, [Mm(72), CONTENT_WIDTH - Mm(72)])
    left, right = table.rows[0].cells
    centered = {"align": WD_ALIGN_PARAGRAPH.CENTER, "indent": False}
    first = left.paragraphs[0]
    first.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run(first, letterhead.superior.upper())
    page.paragraph(letterhead.body.upper(), bold=True, container=left, **centered)
    page.paragraph("*", container=left, **centered)
    page.paragraph(letterhead.report_number, container=left, **centered)
    party = right.paragraphs[0]
    party.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run(party, letterhead.party or PARTY_NAME, bold=True, underline=True, size=Pt(15))
    date_line = _date_line(letterhead.place, moment, campaign.zone, dated=dated)
    spaced = page.paragraph("", container=right, **centered)
    spaced.paragraph_format.space_before = Pt(12)
    run(spaced, date_line, italic=True)
    for cell in (left, right):
        for paragraph in cell.paragraphs:
            paragraph.paragraph_format.space_after = Pt(0)


def _year(moment: datetime, campaign: CampaignInfo) -> int:
    return moment.astimezone(campaign.zone).year


def _period(campaign: CampaignInfo) -> str | None:
    """ "(Thời gian báo cáo từ ngày 11/5/2017 đến ngày 30/5/2022)", or None."""
    period = campaign.period_text
    return f"(Thời gian báo cáo {period})" if period else None


def _title(page: _Page, outline: Outline, campaign: CampaignInfo) -> None:
    title = page.paragraph(
        outline.report_title, bold=True, size=Pt(15), align=WD_ALIGN_PARAGRAPH.CENTER, indent=False
    )
    title.paragraph_format.space_before = Pt(18)
    title.paragraph_format.space_after = Pt(0)
    page.paragraph(
        outline.report_subject, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False
    ).paragraph_format.space_after = Pt(0)
    period = _period(campaign)
    if period:
        page.paragraph(
            period, italic=True, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False
        ).paragraph_format.space_after = Pt(0)
    rule = page.paragraph("-----", align=WD_ALIGN_PARAGRAPH.CENTER, indent=False)
    rule.paragraph_format.space_after = Pt(12)


# --- the body: sections, points, figures, texts ------------------------------------------------


class _Body:
    def __init__(
        self, page, form, read, narratives, placeholder, *, documents: bool, notes=None
    ) -> None:
        self.page = page
        self.form = form
        self.read = read
        self.narratives = narratives
        self.placeholder = placeholder
        self.documents = documents  # list a unit's documents under their figure sentence
        self.notes = notes or {}  # {question key: the unit's note}, printed under the figure

    def write(self, outline: Outline) -> None:
        for section in outline.sections:
            self._section(section)

    def _section(self, section: OutlineSection) -> None:
        self.page.paragraph(section.heading, bold=True, keep_with_next=True)
        if section.note:
            self.page.paragraph(section.note, italic=True)
        self._figures(section.figures)
        self._text(section.key, leaf=not section.points)
        for point in section.points:
            self._point(point)

    def _point(self, point: Point) -> None:
        written = (self.narratives.get(point.key) or "").strip()
        if written and not point.numbered and not point.points and not point.figures:
            self._text(point.key, leaf=True)  # the unit's own words replace the guidance
            return
        paragraph = self.page.paragraph(keep_with_next=True)
        words = f"{point.mark} {point.text}" if point.mark else point.text
        if point.numbered:
            run(paragraph, words, bold=True)
        else:
            run(paragraph, words, italic=True)
        if point.note:
            run(paragraph, f" {point.note}", italic=True)
        self._figures(point.figures)
        self._text(point.key, leaf=not point.points)
        for child in point.points:
            self._point(child)

    def _figures(self, sentences: list[FigureSentence]) -> None:
        for sentence in sentences:
            text = sentence_text(sentence, self.form, self.read)
            if text is None:
                continue
            self.page.paragraph(text)
            for clause in sentence.clauses:
                note = self.notes.get(clause.question)
                if note:
                    self.page.paragraph(f"(Ghi chú: {note})", italic=True)
            if self.documents:
                self._documents(sentence)

    def _documents(self, sentence: FigureSentence) -> None:
        for clause in sentence.clauses:
            question = self.form.question(clause.question)
            reading = self.read(question)
            if question.kind != QuestionKind.DOCUMENTS or not reading.asked:
                continue
            items = documents_of(reading.value) if not reading.not_applicable else []
            if items:
                self.page.paragraph(f"{question.label}:", italic=True, keep_with_next=True)
            for item in items:
                self.page.paragraph(f"+ {_document_text(item)}")

    def _text(self, key: str, *, leaf: bool) -> None:
        text = (self.narratives.get(key) or "").strip()
        if text:
            for line in text.splitlines():
                if line.strip():
                    self.page.paragraph(line.strip())
        elif leaf:
            self.page.paragraph(self.placeholder, italic=True, color=GREY)


def _document_text(item: dict) -> str:
    """ "12-KH/HU, ngày 05/06/2017, Kế hoạch …", as the chat shows a document."""
    try:
        return format_value("documents", {"items": [item]})
    except ValueError:
        return str(item.get("raw") or "")


# --- signature, lists, the Phụ lục table -------------------------------------------------------


def _signature(page: _Page, letterhead: Letterhead) -> None:
    """ "Nơi nhận" and the signer block, kept on one page with the last lines of the body."""
    page.document.paragraphs[-1].paragraph_format.keep_with_next = True
    page.paragraph("", keep_with_next=True)
    table = page.document.add_table(rows=1, cols=2)
    _set_widths(table, [Mm(85), CONTENT_WIDTH - Mm(85)])
    table.rows[0]._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
    left, right = table.rows[0].cells
    heading = left.paragraphs[0]
    run(heading, "Nơi nhận:", bold=True, underline=True, size=Pt(12))
    for line in letterhead.recipients:
        page.paragraph(
            f"- {line}", size=Pt(11), container=left, indent=False, align=WD_ALIGN_PARAGRAPH.LEFT
        )
    lines = [letterhead.signer_for, letterhead.signer_title]
    first = True
    for line in filter(None, lines):
        paragraph = right.paragraphs[0] if first else right.add_paragraph()
        first = False
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run(paragraph, line, bold=True)
    for _ in range(3):
        right.add_paragraph()
    name = page.paragraph("", container=right, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False)
    if letterhead.signer_name:
        run(name, letterhead.signer_name, bold=True)
    else:
        run(name, "(ký, ghi rõ họ tên)", italic=True, color=GREY)
    for cell in (left, right):
        for paragraph in cell.paragraphs:
            paragraph.paragraph_format.space_after = Pt(0)


def _units_list(page: _Page, campaign, units: Sequence[UnitReport]) -> None:
    page.paragraph(
        "DANH SÁCH ĐƠN VỊ GỬI BÁO CÁO", bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False
    )
    table = _grid(page, ["STT", "Đơn vị", "Tình trạng", "Ngày nộp"], [Mm(12), Mm(93), Mm(30)])
    for number, unit in enumerate(units, start=1):
        done = unit.status in SUBMITTED and unit.submitted_at is not None
        when = unit.submitted_at.astimezone(campaign.zone).strftime("%d/%m/%Y") if done else ""
        _row(table, [str(number), unit.name, status_title(unit.status), when])


def _appendix_title(
    page: _Page, form: Form, who: str, attached: str, *, consolidated: bool = False
) -> None:
    """ "Biểu số 01", the Phụ lục's title, the report it is attached to, and whose it is. A
    consolidated report's totals table is numbered after the workbook's biểu and points to
    them (`exports.table_plan.totals_table`)."""
    number, pointer = totals_table(form) if consolidated else (TABLE_NUMBER, None)
    head, _, rest = form.title.partition(" — ")
    center = {"align": WD_ALIGN_PARAGRAPH.CENTER, "indent": False}
    page.paragraph(
        number, bold=True, align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False
    ).paragraph_format.space_after = Pt(0)
    page.paragraph(head, bold=True, **center).paragraph_format.space_after = Pt(0)
    if rest:
        page.paragraph(rest, bold=True, **center).paragraph_format.space_after = Pt(0)
    page.paragraph(attached, italic=True, **center).paragraph_format.space_after = Pt(0)
    page.paragraph(who, bold=True, **center)
    if pointer:
        page.paragraph(pointer, italic=True, **center)


def _figures_table(
    page: _Page,
    form: Form,
    questions: list[Question],
    read,
    notes: Mapping[str, str] | None = None,
) -> None:
    """The Phụ lục as a table in the plan's words (labels as the printed Phụ lục has them,
    "* Cấp tỉnh:" lines for headings): one row per section, one per question, the value
    written out, and the unit's note under its value."""
    table = _grid(page, ["Mục", "Nội dung", "Số liệu"], [Mm(14), Mm(96)])
    shown = {q.section for q in questions} | {q.section.split(".")[0] for q in questions}
    for section in form.sections:
        if section.key not in shown:
            continue
        _row(table, [section.key, section.title], bold=True)
        heading = None
        for question in questions:
            if question.section != section.key:
                continue
            if question.heading and question.heading != heading:
                _row(table, ["", f"* {question.heading}:"], bold=True)
            heading = question.heading
            reading = read(question)
            value = _table_value(question, reading)
            quiet = reading.not_applicable or value in (UNANSWERED_TEXT, NO_DATA_TEXT)
            note = (notes or {}).get(question.key)
            if note:
                value += f"\n(Ghi chú: {note})"
            label = display_label(question, section)
            _row(table, ["", label, value], italic_last=quiet)


def _table_value(question: Question, reading: Reading) -> str:
    text = figure_text(question, reading)
    if question.kind == QuestionKind.DOCUMENTS and not reading.not_applicable:
        items = documents_of(reading.value)
        if items:
            text += ":\n" + "\n".join(f"- {_document_text(item)}" for item in items)
    return text


def _set_widths(table, widths: list) -> None:
    """Fixed column widths, in the grid (what LibreOffice reads) and in every cell (Word)."""
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = width


@dataclass(frozen=True)
class _Grid:
    table: object
    widths: list


def _grid(page: _Page, headers: list[str], widths: list) -> _Grid:
    widths = widths + [CONTENT_WIDTH - sum(widths, Mm(0))]
    table = page.document.add_table(rows=1, cols=len(headers))
    table.style = page.document.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _set_widths(table, widths)
    for cell, text in zip(table.rows[0].cells, headers, strict=True):
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
        run(cell.paragraphs[0], text, bold=True, size=TABLE_SIZE)
    header = table.rows[0]._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    header.append(repeat)
    return _Grid(table, widths)


def _row(grid: _Grid, texts: list[str], *, bold: bool = False, italic_last: bool = False):
    """A row that never breaks across pages; fewer texts than columns: the last cell spans."""
    row = grid.table.add_row()
    row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
    cells = list(row.cells)
    for index, cell in enumerate(cells):
        cell.width = grid.widths[index]
    if len(texts) < len(cells):
        cells = cells[: len(texts) - 1] + [cells[len(texts) - 1].merge(cells[-1])]
    for index, (cell, text) in enumerate(zip(cells, texts, strict=True)):
        lines = str(text).split("\n")
        paragraph = cell.paragraphs[0]
        paragraph.paragraph_format.space_after = Pt(0)
        for number, line in enumerate(lines):
            if number:
                paragraph = cell.add_paragraph()
                paragraph.paragraph_format.space_after = Pt(0)
            italic = italic_last and index == len(texts) - 1
            run(paragraph, line, bold=bold, italic=italic, size=TABLE_SIZE)
    return cells


def _save(page: _Page) -> bytes:
    buffer = io.BytesIO()
    page.document.save(buffer)
    return buffer.getvalue()
