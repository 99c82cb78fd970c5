"""The secretariat's list sheets: "Kiểm tra số liệu" (children adding up to more than their
parent), "Văn bản" (every document of every unit, one per row), "Tiến độ" (every unit's
status, answers, submission and reminders) and "Báo cáo" (who sent their signed report back,
when, the file names; several files of a unit on one row, a name per line).

Each opens with the Ban Dân vận's Party heading and a title (they are printed as annexes of the
consolidated table), then a flat table with a filter on its header row, repeated on every
printed page, in the same unit order as the biểu. Printed on A4 landscape at 100 % (11 pt stays
11 pt on paper): the wide text columns are narrowed until the table is one page wide
(`fitted`), every text wraps and each row is as high as its longest text needs. Streamed with
openpyxl's write-only mode. Dates and times are real date cells, in the campaign's time zone
(naive, as Excel wants them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache

from openpyxl.utils import get_column_letter

from conversations.forms import Form, QuestionKind
from conversations.labels import group_title, level_title, status_title
from conversations.messages import late_days
from conversations.uploads import format_size
from exports.cells import (
    DATE_FORMAT,
    DATETIME_FORMAT,
    INTEGER_FORMAT,
    PAPER_A4,
    CellStyle,
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
from exports.consolidated import BASE_STYLE, HEAD_STYLE, code_width, ordered_reports
from exports.consolidation import LeftOut, Mismatch, counts, left_out_text
from exports.data import CampaignInfo, SignedFile, UnitReport
from exports.figures import documents_of
from exports.heading import DocumentFrame
from exports.letterhead import Letterhead, secretariat_letterhead
from exports.table_plan import PAGE_MARGIN, PAGE_WIDTH

LIST_TITLE = CellStyle(size=14, bold=True, border="none", horizontal="center", wrap=True)
NOTE = CellStyle(size=11, italic=True, border="none")

# --- Văn bản ---------------------------------------------------------------------------------

DOCUMENT_HEADERS = (
    ("STT", 5),
    ("Mã đơn vị", 14),
    ("Tên đơn vị", 36),
    ("Loại văn bản", 30),
    ("Số, ký hiệu", 14),
    ("Ngày ban hành", 12),
    ("Trích yếu", 60),
    ("Nguyên văn", 60),
)
DOCUMENT_WIDE = (2, 3, 6, 7)  # the columns narrowed to fit the page (their text wraps)

FIT = 0.6  # row heights are estimated on a narrower column: a cut line is worse than a spare one
SIZE = BASE_STYLE.size


def fitted(headers, wide: tuple[int, ...]):
    """`headers` with the `wide` columns narrowed, in proportion, so that the whole table is one
    A4 landscape page wide at 100 % (the other columns keep their width)."""
    padding = 5 / 7  # Excel adds 5 px to every column
    used = sum(width + padding for _, width in headers)
    if used <= PAGE_WIDTH:
        return tuple(headers)
    flexible = sum(width for index, (_, width) in enumerate(headers) if index in wide)
    factor = max(0.2, 1 - (used - PAGE_WIDTH) / flexible)
    return tuple(
        (label, round(width * factor, 1) if index in wide else width)
        for index, (label, width) in enumerate(headers)
    )


_lines = lru_cache(maxsize=8192)(text_lines)  # names and labels repeat on many rows


def row_height(values, headers, size: float = SIZE) -> float | None:
    """The height of a row whose text cells wrap: as many lines as its longest text needs."""
    lines = max(
        (
            _lines(value, width * FIT, size)
            for value, (_, width) in zip(values, headers, strict=True)
            if isinstance(value, str) and value
        ),
        default=1,
    )
    return lines * line_height(size) if lines > 1 else None


def write_documents_sheet(
    workbook,
    title: str,
    form: Form,
    info: CampaignInfo,
    reports: list[UnitReport],
    now: datetime,
    *,
    letterhead: Letterhead | None = None,
):
    """Every document of every unit, one per row, with a filter on the header row."""
    ws = workbook.create_sheet(title)
    out = RowWriter(ws, StyleBook(ws))
    headers = fitted(_with_code_width(DOCUMENT_HEADERS, reports, (1,)), DOCUMENT_WIDE)
    header_row = _start(
        ws, out, headers, info, now, "VĂN BẢN CHỈ ĐẠO, TRIỂN KHAI DO CÁC ĐƠN VỊ BÁO CÁO",
        "Văn bản do các đơn vị báo cáo", letterhead,
    )  # fmt: skip
    styles = out.styles
    center = styles.array(BASE_STYLE.but(horizontal="center"))
    day = styles.array(BASE_STYLE.but(horizontal="center", number_format=DATE_FORMAT))
    wrapped = styles.array(BASE_STYLE.but(wrap=True))
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
                values = [
                    report.code,
                    report.name,
                    question.label,
                    item.get("number"),
                    when,
                    item.get("summary"),
                    item.get("raw"),
                ]
                out.append(
                    [make_cell(ws, number, center)]
                    + [make_cell(ws, value, wrapped) for value in values[:4]]
                    + [make_cell(ws, when, day)]
                    + [make_cell(ws, value, wrapped) for value in values[5:]],
                    height=row_height([None, *values], headers),
                )
    last = get_column_letter(len(DOCUMENT_HEADERS))
    ws.auto_filter.ref = f"A{header_row}:{last}{max(out.row, header_row)}"
    ws.close()
    release(ws)
    return ws


# --- Tiến độ ---------------------------------------------------------------------------------

PROGRESS_HEADERS = (
    ("STT", 5),
    ("Mã đơn vị", 14),
    ("Tên đơn vị", 30),
    ("Cấp", 7),
    ("Nhóm", 12),
    ("Đơn vị cấp trên", 14),
    ("Trạng thái", 8),
    ("Số câu đã trả lời", 7),
    ("Tổng số câu", 6),
    ("Nộp lúc", 14.5),
    ("Nộp muộn", 6),
    ("Người nộp", 14),
    ("Hoạt động gần nhất", 14.5),
    ("Số lần nhắc", 6),
)
PROGRESS_WIDE = (2, 4, 11)
PROGRESS_STYLE = BASE_STYLE.but(size=10)  # 14 columns: the smallest size printed, to fit A4


def write_progress_sheet(
    workbook,
    title: str,
    form: Form,
    info: CampaignInfo,
    reports: list[UnitReport],
    now: datetime,
    *,
    letterhead: Letterhead | None = None,
):
    """Every unit's status, answered/total, submission time and reminders sent."""
    ws = workbook.create_sheet(title)
    out = RowWriter(ws, StyleBook(ws))
    headers = fitted(_with_code_width(PROGRESS_HEADERS, reports, (1, 5)), PROGRESS_WIDE)
    header_row = _start(
        ws, out, headers, info, now, "TIẾN ĐỘ NỘP BÁO CÁO CỦA CÁC ĐƠN VỊ",
        "Tiến độ nộp báo cáo", letterhead,
    )  # fmt: skip
    styles = out.styles
    plain = styles.array(PROGRESS_STYLE.but(wrap=True))
    center = styles.array(PROGRESS_STYLE.but(horizontal="center"))
    count = styles.array(PROGRESS_STYLE.but(number_format=INTEGER_FORMAT))
    moment = styles.array(PROGRESS_STYLE.but(horizontal="center", number_format=DATETIME_FORMAT))
    zone = info.zone
    for number, report in enumerate(ordered_reports(form, reports), start=1):
        texts = [
            report.code,
            report.name,
            level_title(report.level),
            group_title(report.group),
            report.parent_code,
            status_title(report.status),
        ]
        person = printed_person(report.submitted_by)
        out.append(
            [make_cell(ws, number, center)]
            + [make_cell(ws, text, plain) for text in texts]
            + [
                make_cell(ws, report.answered, count),
                make_cell(ws, report.total, count),
                make_cell(ws, to_local_naive(report.submitted_at, zone), moment),
                make_cell(ws, _late_days(report, info), count),
                make_cell(ws, person, plain),
                make_cell(ws, to_local_naive(report.last_activity_at, zone), moment),
                make_cell(ws, report.reminders_sent, count),
            ],
            height=row_height(
                [None, *texts, *[None] * 4, person, None, None], headers, PROGRESS_STYLE.size
            ),
        )
    last = get_column_letter(len(PROGRESS_HEADERS))
    ws.auto_filter.ref = f"A{header_row}:{last}{max(out.row, header_row)}"
    ws.close()
    release(ws)
    return ws


def _late_days(report: UnitReport, info: CampaignInfo) -> int | None:
    """Days a counted report came after the deadline; None when on time or not submitted."""
    if not counts(report.status) or report.submitted_at is None:
        return None
    return late_days(info.deadlines.of(report.code), report.submitted_at) or None


def _with_code_width(headers, reports: list[UnitReport], indexes: tuple[int, ...]):
    """`headers` with the code columns at `indexes` as wide as the longest unit code needs."""
    width = code_width(reports)
    return tuple(
        (label, width if index in indexes else size) for index, (label, size) in enumerate(headers)
    )


def _start(
    ws, out: RowWriter, headers, info: CampaignInfo, now: datetime, title, footer, letterhead=None
) -> int:
    """Page setup, the Party heading (`letterhead`, else the Ban Dân vận's), the title and the
    header row; returns the header's row."""
    frame = DocumentFrame([width for _, width in headers])
    letterhead = letterhead or secretariat_letterhead(info)
    header_row = frame.top_rows(letterhead) + 2
    for index, (_, width) in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = f"D{header_row + 1}"
    ws.page_setup.paperSize = PAPER_A4
    ws.page_setup.orientation = "landscape"
    ws.page_setup.scale = 100  # printed at its own size: 11 pt stays 11 pt on paper
    ws.page_margins.left = ws.page_margins.right = PAGE_MARGIN
    ws.page_margins.top, ws.page_margins.bottom = 0.5, 0.6
    ws.print_title_rows = f"{header_row}:{header_row}"
    set_footer(ws, footer)
    frame.top(out, letterhead, now)
    frame.full(out, title, LIST_TITLE)
    heights = [text_lines(label, width * 0.8, 11, bold=True) for label, width in headers]
    out.append(
        [out.cell(label, HEAD_STYLE) for label, _ in headers],
        height=max(2, *heights) * line_height(11),
    )
    return header_row


# --- Kiểm tra số liệu ------------------------------------------------------------------------

CHECK_HEADERS = (
    ("STT", 5),
    ("Mã đơn vị cấp trên", 14),
    ("Đơn vị cấp trên", 36),
    ("Chỉ tiêu", 60),
    ("Số của đơn vị cấp trên", 13),
    ("Tổng của các đơn vị trực thuộc đã nộp", 15),
    ("Số đơn vị trực thuộc", 11),
    ("Chênh lệch", 11),
)
CHECK_WIDE = (2, 3)


def write_check_sheet(
    workbook,
    title: str,
    info: CampaignInfo,
    found: list[Mismatch],
    reports,
    now: datetime,
    *,
    left_out: Sequence[LeftOut] = (),
    letterhead: Letterhead | None = None,
):
    """Every figure where the submitted children add up to more than their parent reported,
    then the submitted units left out of the totals because the unit above has not submitted."""
    ws = workbook.create_sheet(title)
    out = RowWriter(ws, StyleBook(ws))
    headers = fitted(_with_code_width(CHECK_HEADERS, reports, (1,)), CHECK_WIDE)
    title_text = "KIỂM TRA SỐ LIỆU: ĐƠN VỊ TRỰC THUỘC VƯỢT ĐƠN VỊ CẤP TRÊN"
    header_row = _start(
        ws, out, headers, info, now, title_text, "Kiểm tra số liệu", letterhead
    )  # fmt: skip
    plain = BASE_STYLE.but(wrap=True)
    count = BASE_STYLE.but(number_format=INTEGER_FORMAT)
    flag = count.but(bold=True, color="C00000")
    for number, item in enumerate(found, start=1):
        out.append(
            [
                out.cell(number, BASE_STYLE.but(horizontal="center")),
                out.cell(item.parent.code, plain),
                out.cell(item.parent.name, plain),
                out.cell(item.label, plain),
                out.cell(item.parent_value, count),
                out.cell(item.children_sum, flag),
                out.cell(item.children, count),
                out.cell(item.children_sum - item.parent_value, flag),
            ],
            height=row_height(
                [None, item.parent.code, item.parent.name, item.label, *[None] * 4], headers
            ),
        )
    note = (
        f"Có {len(found)} chỉ tiêu cần kiểm tra lại với đơn vị."
        if found
        else "Không có chỉ tiêu nào mà tổng của các đơn vị trực thuộc lớn hơn đơn vị cấp trên."
    )
    out.append([])
    width = sum(width for _, width in headers)
    for text in filter(None, (note, left_out_text(left_out))):  # across the table, wrapped
        lines = text_lines(text, width * 0.8, NOTE.size)
        out.append(
            [out.cell(text, NOTE.but(wrap=True))] + [None] * (len(headers) - 1),
            height=lines * line_height(NOTE.size),
            merges=[(1, len(headers))],
        )
    last = get_column_letter(len(CHECK_HEADERS))
    ws.auto_filter.ref = f"A{header_row}:{last}{max(out.row - 2, header_row)}"
    ws.close()
    release(ws)
    return ws


def printed_person(name: str | None) -> str | None:
    """Who sent something, as a printed list names them: an entry typed on the server by the
    operator (the contact "root (dòng lệnh)") is "Văn phòng nhập hộ", never a system account."""
    if name and name.rstrip().endswith("(dòng lệnh)"):
        return "Văn phòng nhập hộ"
    return name


# --- Báo cáo ----------------------------------------------------------------------------------

SIGNED_TITLE = "Báo cáo"
SIGNED_HEADERS = (
    ("STT", 6),
    ("Mã đơn vị", 14),
    ("Tên đơn vị", 40),
    ("Số liệu", 13),
    ("Báo cáo có chữ ký", 14),
    ("Số tệp", 8),
    ("Gửi lúc", 17),
    ("Tên tệp", 50),
    ("Người gửi", 22),
)
SIGNED_WIDE = (2, 7, 8)


def write_signed_sheet(
    workbook,
    title: str,
    form: Form,
    info: CampaignInfo,
    reports: list[UnitReport],
    signed: Mapping[str, list[SignedFile]],
    now: datetime,
    *,
    letterhead: Letterhead | None = None,
):
    ws = workbook.create_sheet(title)
    out = RowWriter(ws, StyleBook(ws))
    headers = fitted(_with_code_width(SIGNED_HEADERS, reports, (1,)), SIGNED_WIDE)
    header_row = _start(
        ws, out, headers, info, now, "BÁO CÁO CÓ CHỮ KÝ CỦA CÁC ĐƠN VỊ",
        "Báo cáo có chữ ký", letterhead,
    )  # fmt: skip
    styles = out.styles
    wrapped = styles.array(BASE_STYLE.but(wrap=True))
    plain = wrapped
    center = styles.array(BASE_STYLE.but(horizontal="center"))
    count = styles.array(BASE_STYLE.but(number_format=INTEGER_FORMAT))
    moment = styles.array(BASE_STYLE.but(horizontal="center", number_format=DATETIME_FORMAT))
    for number, report in enumerate(ordered_reports(form, reports), start=1):
        files = signed.get(report.code, [])
        last = max((f.received_at for f in files), default=None)
        names = "\n".join(f"{f.file_name} ({format_size(f.size)})" for f in files)
        senders = ", ".join(dict.fromkeys(printed_person(f.sender) for f in files if f.sender))
        out.append(
            [
                make_cell(ws, number, center),
                make_cell(ws, report.code, plain),
                make_cell(ws, report.name, plain),
                make_cell(ws, status_title(report.status), plain),
                make_cell(ws, "Đã gửi" if files else "Chưa gửi", plain),
                make_cell(ws, len(files), count),
                make_cell(ws, to_local_naive(last, info.zone), moment),
                make_cell(ws, names or None, wrapped),
                make_cell(ws, senders or None, plain),
            ],
            height=row_height(
                [
                    None,
                    report.code,
                    report.name,
                    status_title(report.status),
                    None,
                    None,
                    None,
                    names,
                    senders,
                ],
                headers,
            ),  # fmt: skip
        )
    ws.auto_filter.ref = (
        f"A{header_row}:{get_column_letter(len(headers))}{max(out.row, header_row)}"
    )
    ws.close()
    release(ws)
    return ws
