"""The secretariat's list sheets: "Văn bản" (every document of every unit, one per row) and
"Tiến độ" (every unit's status, answers, submission and reminders).

Both are flat tables with a filter on their header row, in the same unit order as "Tổng hợp",
streamed with openpyxl's write-only mode. Dates and times are real date cells, in the
campaign's time zone (naive, as Excel wants them).
"""

from __future__ import annotations

from openpyxl.utils import get_column_letter

from conversations.forms import Form, QuestionKind
from conversations.labels import group_title, level_title, status_title
from exports.cells import (
    DATE_FORMAT,
    DATETIME_FORMAT,
    INTEGER_FORMAT,
    PAPER_A4,
    RowWriter,
    StyleBook,
    iso_date,
    line_height,
    make_cell,
    release,
    set_footer,
    text_lines,
    to_local_naive,
)
from exports.consolidated import BASE_STYLE, HEAD_STYLE, TITLE_STYLE, code_width, ordered_reports
from exports.data import CampaignInfo, UnitReport
from exports.figures import documents_of

# --- Văn bản ---------------------------------------------------------------------------------

DOCUMENT_HEADERS = (
    ("STT", 6),
    ("Mã đơn vị", 14),
    ("Tên đơn vị", 36),
    ("Loại văn bản", 30),
    ("Số, ký hiệu", 18),
    ("Ngày ban hành", 13),
    ("Trích yếu", 60),
    ("Nguyên văn", 60),
)


def write_documents_sheet(workbook, title: str, form: Form, reports: list[UnitReport]):
    """Every document of every unit, one per row, with a filter on the header row."""
    ws = workbook.create_sheet(title)
    out = RowWriter(ws, StyleBook(ws))
    _list_setup(ws, DOCUMENT_HEADERS, "Văn bản chỉ đạo, triển khai do các đơn vị báo cáo")
    ws.column_dimensions["B"].width = code_width(reports)
    out.append([out.cell("VĂN BẢN DO CÁC ĐƠN VỊ BÁO CÁO", TITLE_STYLE)])
    out.append([out.cell(label, HEAD_STYLE) for label, _ in DOCUMENT_HEADERS], height=30)
    styles = out.styles
    plain = styles.array(BASE_STYLE)
    center = styles.array(BASE_STYLE.but(horizontal="center"))
    day = styles.array(BASE_STYLE.but(horizontal="center", number_format=DATE_FORMAT))
    wrapped = styles.array(BASE_STYLE.but(wrap=True))
    summary_width, raw_width = DOCUMENT_HEADERS[6][1], DOCUMENT_HEADERS[7][1]
    questions = [q for q in form.questions if q.kind == QuestionKind.DOCUMENTS]
    number = 0
    for report in ordered_reports(form, reports):
        for question in questions:
            answer = report.answer(question.key)
            if answer is None or answer.not_applicable or not question.applies_to(report.level):
                continue
            for item in documents_of(answer.value):
                number += 1
                raw_date = item.get("date")
                when = iso_date(raw_date) or (str(raw_date) if raw_date else None)
                summary, raw = item.get("summary"), item.get("raw")
                lines = max(
                    text_lines(summary or "", summary_width, 11),
                    text_lines(raw or "", raw_width, 11),
                )
                out.append(
                    [
                        make_cell(ws, number, center),
                        make_cell(ws, report.code, plain),
                        make_cell(ws, report.name, plain),
                        make_cell(ws, question.label, plain),
                        make_cell(ws, item.get("number"), plain),
                        make_cell(ws, when, day),
                        make_cell(ws, summary, wrapped),
                        make_cell(ws, raw, wrapped),
                    ],
                    height=lines * line_height(11) if lines > 1 else None,
                )
    ws.auto_filter.ref = f"A2:{get_column_letter(len(DOCUMENT_HEADERS))}{max(out.row, 2)}"
    ws.close()
    release(ws)
    return ws


# --- Tiến độ ---------------------------------------------------------------------------------

PROGRESS_HEADERS = (
    ("STT", 6),
    ("Mã đơn vị", 14),
    ("Tên đơn vị", 40),
    ("Cấp", 10),
    ("Nhóm", 18),
    ("Đơn vị cấp trên", 14),
    ("Trạng thái", 13),
    ("Số câu đã trả lời", 10),
    ("Tổng số câu", 9),
    ("Nộp lúc", 17),
    ("Người nộp", 22),
    ("Hoạt động gần nhất", 17),
    ("Số lần nhắc", 9),
)


def write_progress_sheet(
    workbook, title: str, form: Form, info: CampaignInfo, reports: list[UnitReport]
):
    """Every unit's status, answered/total, submission time and reminders sent."""
    ws = workbook.create_sheet(title)
    out = RowWriter(ws, StyleBook(ws))
    _list_setup(ws, PROGRESS_HEADERS, f"Tiến độ nộp báo cáo — đợt {info.code}")
    ws.column_dimensions["B"].width = code_width(reports)
    ws.column_dimensions["F"].width = code_width(reports)
    out.append([out.cell(f"TIẾN ĐỘ NỘP BÁO CÁO — ĐỢT {info.code.upper()}", TITLE_STYLE)])
    out.append([out.cell(label, HEAD_STYLE) for label, _ in PROGRESS_HEADERS], height=30)
    styles = out.styles
    plain = styles.array(BASE_STYLE)
    center = styles.array(BASE_STYLE.but(horizontal="center"))
    count = styles.array(BASE_STYLE.but(number_format=INTEGER_FORMAT))
    moment = styles.array(BASE_STYLE.but(horizontal="center", number_format=DATETIME_FORMAT))
    zone = info.zone
    for number, report in enumerate(ordered_reports(form, reports), start=1):
        out.append(
            [
                make_cell(ws, number, center),
                make_cell(ws, report.code, plain),
                make_cell(ws, report.name, plain),
                make_cell(ws, level_title(report.level), plain),
                make_cell(ws, group_title(report.group), plain),
                make_cell(ws, report.parent_code, plain),
                make_cell(ws, status_title(report.status), plain),
                make_cell(ws, report.answered, count),
                make_cell(ws, report.total, count),
                make_cell(ws, to_local_naive(report.submitted_at, zone), moment),
                make_cell(ws, report.submitted_by, plain),
                make_cell(ws, to_local_naive(report.last_activity_at, zone), moment),
                make_cell(ws, report.reminders_sent, count),
            ]
        )
    ws.auto_filter.ref = f"A2:{get_column_letter(len(PROGRESS_HEADERS))}{max(out.row, 2)}"
    ws.close()
    release(ws)
    return ws


def _list_setup(ws, headers, footer: str) -> None:
    for index, (_, width) in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "D3"
    ws.page_setup.paperSize = PAPER_A4
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "2:2"
    set_footer(ws, footer, "Trang &P/&N")
