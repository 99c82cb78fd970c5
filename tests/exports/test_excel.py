"""Tests for the Excel exports: one unit's Phụ lục and the consolidated workbook.

Data goes through the real storage (a temporary SQLite database seeded with the CT37 campaign);
each workbook is re-opened with openpyxl and its cells checked: values, types, layout, totals
following the consolidation rules, and that nothing a user typed became a formula.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from openpyxl.styles.numbers import is_date_format

from bot.documents.snapshot import load_reports
from bot.documents.workbooks import export_bytes, export_filename
from conversations.forms import load_form
from exports.cells import INTEGER_FORMAT
from exports.excel import write_consolidated_workbook
from storage.repository import current_campaign
from tests.exports.conftest import (
    NOW,
    Summary,
    bieu_sheets,
    find_row,
    open_workbook,
    sheet_xml,
    summary_columns,
    table_rows,
    unit_row,
)

FORM = load_form("ct37_phuluc.yaml")
V1, V2, V3 = 5, 6, 7  # the value columns of a unit sheet (E, F, G)

HU_NP = {
    "docs_party": {
        "items": [
            {
                "raw": "12-KH/HU, ngày 05/6/2017, Kế hoạch triển khai Chỉ thị 37-CT/TU",
                "number": "12-KH/HU",
                "date": "2017-06-05",
                "summary": "Kế hoạch triển khai Chỉ thị 37-CT/TU",
            },
            {"raw": "Công văn số 8", "number": None, "date": None, "summary": "Công văn số 8"},
        ]
    },
    "docs_state": "N/A",
    "inspection_teams": {"value": 12},
    "inspected_units": {"value": 1234},
    "online_services_l34": {"value": 40},
    "online_services_l4": {"value": 0},
    "satisfaction_pct": {"value": 85.5},
    "reception_local_regular": {"times": 12, "people": 345},
    "reception_local_adhoc": {"times": 0, "people": 0},
    "dialogue_district_party": {"value": 3},
    "dialogue_district_gov": "N/A",
    "dialogue_commune_party": {"value": 7},
    # dialogue_commune_gov: not answered
    "complaints": {"done": 45, "total": 50},
    "denunciations": {"done": 0, "total": 0},
    "complex_cases": {"done": 2, "total": 3},
    "supervisions": {"value": 6},
    "criticism_conferences": {"value": 1},
}


def unit_sheet(store, code="HU-NP", answers=HU_NP):
    store.answers(code, answers)
    name, data = export_bytes(store.database, unit_code=code, now=NOW)
    workbook = open_workbook(data)
    assert workbook.sheetnames == [code]
    return name, data, workbook[code]


def value_row(ws, label: str) -> tuple:
    row = find_row(ws, 2, label)
    return tuple(ws.cell(row, column) for column in (V1, V2, V3))


# --- one unit's Phụ lục ----------------------------------------------------------------------


def test_unit_sheet_title_unit_and_section_order(store):
    name, _, ws = unit_sheet(store)
    assert name == "CT37-2022_HU-NP_20220704-0830.xlsx"
    # the unit's own Party heading, from the unit list's columns
    assert ws["A1"].value == "ĐẢNG BỘ TỈNH NINH THUẬN"
    assert ws["A2"].value == "HUYỆN ỦY NINH PHƯỚC" and ws["A2"].font.bold
    assert ws["A3"].value == "*"
    assert ws["E1"].value == "ĐẢNG CỘNG SẢN VIỆT NAM" and ws["E1"].font.underline == "single"
    assert ws["E3"].value == "Ninh Phước, ngày     tháng     năm 2022" and ws["E3"].font.italic
    assert ws["A5"].value == "Biểu số 01"
    assert ws["A6"].value == FORM.title
    assert ws["A6"].value.startswith("PHỤ LỤC — Kết quả triển khai thực hiện Chỉ thị 37-CT/TU")
    # the annex of the unit's own report, with the unit's ký hiệu; the number is left blank
    assert ws["A7"].value == (
        "(Kèm theo Báo cáo số …-BC/HU, ngày … tháng … năm 2022 của Huyện ủy Ninh Phước)"
    )
    assert ws["A8"].value == (
        "Số liệu từ ngày 11/5/2017 đến ngày 30/5/2022; gửi Ban Dân vận Tỉnh ủy "
        "trước ngày 05/7/2022."
    )
    # "Nơi nhận" and the signer block close the sheet
    receivers = find_row(ws, 1, "Nơi nhận:")
    assert ws.cell(receivers, 5).value == "T/M BAN THƯỜNG VỤ"
    assert ws.cell(receivers + 1, 1).value == "- Ban Dân vận Tỉnh ủy (b/c),"
    assert ws.cell(receivers + 1, 5).value == "BÍ THƯ"
    assert ws.max_row == receivers + 2 + 3  # room to sign, no name typed
    numbers = [
        ws.cell(row, 1).value
        for row in range(1, ws.max_row + 1)
        if re.fullmatch(r"\d+(\.\d+)*\.", str(ws.cell(row, 1).value))
    ]
    assert numbers == ["1.", "2.", "3.", "4.", "4.1.", "4.2.", "4.3.", "4.4.", "4.5.", "5."]
    titles = {ws.cell(row, 1).value: ws.cell(row, 2).value for row in range(1, ws.max_row + 1)}
    assert titles["1."] == "Văn bản chỉ đạo, triển khai"
    assert titles["4.1."] == "Công tác tiếp công dân"
    assert titles["4.3."].startswith("Kết quả giải quyết đơn thư khiếu nại")


def test_unit_sheet_documents_side_by_side(store):
    _, _, ws = unit_sheet(store)
    head = find_row(ws, 2, "Văn bản của cấp ủy Đảng")
    assert ws.cell(head, 1).value == "STT"
    assert ws.cell(head, 5).value == "Văn bản của cơ quan nhà nước, chính quyền"
    parts = [ws.cell(head + 1, column).value for column in range(2, 8)]
    assert parts == ["Số, ký hiệu", "Ngày ban hành", "Trích yếu"] * 2
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert f"B{head}:D{head}" in merged and f"E{head}:G{head}" in merged
    first = head + 2
    assert ws.cell(first, 1).value == 1
    assert ws.cell(first, 2).value == "12-KH/HU"
    assert ws.cell(first, 3).value == datetime(2017, 6, 5)
    assert is_date_format(ws.cell(first, 3).number_format)
    assert ws.cell(first, 4).value == "Kế hoạch triển khai Chỉ thị 37-CT/TU"
    assert ws.cell(first + 1, 1).value == 2
    assert ws.cell(first + 1, 4).value == "Công văn số 8"
    assert ws.cell(first + 1, 3).value is None
    # the state column is "Không áp dụng", shown once
    assert ws.cell(first, 5).value == "Không áp dụng"
    assert ws.cell(first + 1, 5).value is None


def test_unit_sheet_every_answer_in_its_cell_with_its_type(store):
    _, _, ws = unit_sheet(store)

    teams = value_row(ws, "Tổng số đoàn kiểm tra")
    assert teams[0].value == 12 and type(teams[0].value) is int
    assert '#"."###' in teams[0].number_format and "đoàn" in teams[0].number_format
    assert value_row(ws, "Tổng số đơn vị cơ sở được kiểm tra")[0].value == 1234

    satisfaction = FORM.question("satisfaction_pct").label
    pct = value_row(ws, satisfaction)[0]
    assert pct.value == "85,5%"  # printed text: the decimal comma whatever the locale
    # The district's own leaders come first under "Cấp huyện" (a district has no province rows).
    assert value_row(ws, "Người đứng đầu cấp ủy")[0].value == 3
    assert value_row(ws, "Người đứng đầu chính quyền")[0].value == "Không áp dụng"
    assert value_row(ws, "Tổng số dịch vụ công trực tuyến mức độ 3, 4")[0].value == 40
    zero = value_row(ws, "Trong đó, số dịch vụ công trực tuyến mức độ 4")[0]
    assert zero.value == 0 and type(zero.value) is int  # 0 is an answer, not "unanswered"

    unanswered = ws.cell(find_row(ws, 2, "Người đứng đầu chính quyền") + 3, V1)  # Cấp xã
    assert unanswered.value == "(chưa trả lời)"
    assert unanswered.fill.fgColor.rgb.endswith("FFF4D6")

    times, people, _ = value_row(ws, "Số lần tiếp định kỳ (lượt/lượt người)")
    assert (times.value, people.value) == (12, 345)
    assert "lượt" in times.number_format and "lượt người" in people.number_format
    times, people, _ = value_row(ws, "Số lần tiếp đột xuất (lượt/lượt người)")
    assert (times.value, people.value) == (0, 0)

    done, total, rate = value_row(ws, FORM.question("complaints").label)
    assert (done.value, total.value) == (45, 50)
    assert rate.value == "đạt 90,0%"  # text: the decimal comma whatever the locale
    done, total, rate = value_row(ws, FORM.question("denunciations").label)
    assert (done.value, total.value, rate.value) == (0, 0, "—")
    done, total, rate = value_row(ws, FORM.question("complex_cases").label)
    assert rate.value == "đạt 66,7%"

    assert value_row(ws, "Số cuộc giám sát")[0].value == 6
    assert value_row(ws, "Số Hội nghị phản biện")[0].value == 1


def test_unit_sheet_headings_and_levels(store):
    _, _, ws = unit_sheet(store)
    labels = [ws.cell(row, 2).value for row in range(1, ws.max_row + 1)]
    # HU-NP is a district: the province-level questions are not asked, so not shown
    assert "Chủ tịch UBND tỉnh:" not in labels
    assert "Cấp tỉnh:" not in labels
    assert "Chủ tịch UBND huyện, Giám đốc sở, ngành:" in labels
    district = labels.index("Cấp huyện:") + 1  # rows are 1-based, the list 0-based
    assert ws.cell(district + 1, 2).value == "Người đứng đầu cấp ủy"
    assert ws.cell(district + 1, V1).value == 3
    assert ws.cell(district + 2, 2).value == "Người đứng đầu chính quyền"
    assert ws.cell(district + 2, V1).value == "Không áp dụng"
    commune = labels.index("Cấp xã:") + 1
    assert ws.cell(commune + 1, V1).value == 7
    assert ws.cell(commune + 2, V1).value == "(chưa trả lời)"


def test_unit_sheet_looks_and_prints_right(store):
    _, _, ws = unit_sheet(store)
    assert ws["A5"].font.name == "Times New Roman" and ws["A5"].font.bold
    assert ws.cell(find_row(ws, 2, "Tổng số đoàn kiểm tra"), V1).font.name == "Times New Roman"
    assert ws.page_setup.orientation == "portrait"
    assert ws.page_setup.paperSize in (9, "9")
    assert ws.page_setup.fitToWidth in (1, "1")
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows is None  # the heading is printed once, on page 1
    # internal lines go to the footer, in Times New Roman
    assert "Huyện ủy Ninh Phước" in ws.oddFooter.left.text
    assert "ct37-2022" not in ws.oddFooter.left.text and "HU-NP" not in ws.oddFooter.left.text
    assert "08:30 ngày 04/7/2022" in ws.oddFooter.left.text
    assert ws.oddFooter.right.text == "Trang &P"
    assert ws.oddFooter.left.font == ws.oddFooter.right.font == "Times New Roman,Regular"
    assert ws.row_dimensions[5].height >= 15 and "A5:G5" in {str(r) for r in ws.merged_cells}
    assert ws.sheet_view.showGridLines is False
    widths = [ws.column_dimensions[letter].width for letter in "ABCDEFG"]
    assert all(width and width >= 5 for width in widths)


def test_unit_sheet_for_a_province_unit_shows_province_questions(store):
    answers = {"reception_province_regular": {"times": 4, "people": 40}}
    _, _, ws = unit_sheet(store, "BCSD-UBND", answers)
    labels = [ws.cell(row, 2).value for row in range(1, ws.max_row + 1)]
    assert "Chủ tịch UBND tỉnh:" in labels and "Cấp tỉnh:" in labels
    row = labels.index("Chủ tịch UBND tỉnh:") + 2
    assert (ws.cell(row, V1).value, ws.cell(row, V2).value) == (4, 40)


def test_unknown_unit_is_a_clear_error(database):
    from storage.repository import StorageError

    with pytest.raises(StorageError, match="không có đơn vị"):
        export_bytes(database, unit_code="KHONG-CO", now=NOW)


# --- the consolidated workbook -------------------------------------------------------------


CONSOLIDATION = {
    "HU-NP": {
        "inspection_teams": {"value": 5},
        "inspected_units": "N/A",
        "satisfaction_pct": {"value": 80},
        "reception_local_regular": {"times": 3, "people": 30},
        "complaints": {"done": 45, "total": 50},
        "denunciations": {"done": 0, "total": 0},
        "docs_party": {"items": [{"raw": "a", "number": "1-KH/HU", "date": None, "summary": "a"}]},
    },
    "HU-NH": {
        "inspection_teams": "N/A",
        "satisfaction_pct": {"value": 90.5},
        "reception_local_regular": {"times": 2, "people": 25},
        "complaints": {"done": 0, "total": 0},
        "docs_party": "N/A",
    },
    "TU-PRTC": {
        # inspection_teams and inspected_units: not answered
        "inspected_units": "N/A",
        "satisfaction_pct": "N/A",
        "complaints": {"done": 5, "total": 10},
    },
    "HU-BACAI": {"complaints": {"done": 10, "total": 10}, "satisfaction_pct": {"value": 60}},
}


@pytest.fixture
def consolidated(store):
    for code, answers in CONSOLIDATION.items():
        store.answers(code, answers)
    store.submit("HU-NP")
    name, data = export_bytes(store.database, now=NOW)
    return name, data, open_workbook(data)


def test_consolidated_sheets_and_name(consolidated):
    name, _, workbook = consolidated
    assert name == "CT37-2022_tong-hop_20220704-0830.xlsx"
    assert workbook.sheetnames[:7] == [
        "Biểu số 01", "Biểu số 02", "Biểu số 03",
        "Kiểm tra số liệu", "Văn bản", "Tiến độ", "Báo cáo",
    ]  # fmt: skip
    # a unit with nothing to show gets no sheet: only the five that answered something
    assert sorted(workbook.sheetnames[7:]) == sorted(CONSOLIDATION)


def test_consolidated_heading_title_and_signer(consolidated):
    _, _, workbook = consolidated
    ws = workbook["Biểu số 01"]
    assert ws["A1"].value == "TỈNH ỦY NINH THUẬN"
    assert ws["A2"].value == "BAN DÂN VẬN" and ws["A2"].font.bold
    assert ws["A3"].value == "*"
    assert ws["A4"].value == "Số      -BC/BDVTU"
    right = next(c for c in range(2, ws.max_column + 1) if ws.cell(1, c).value)
    assert ws.cell(1, right).value == "ĐẢNG CỘNG SẢN VIỆT NAM"
    assert ws.cell(1, right).font.bold and ws.cell(1, right).font.underline == "single"
    assert ws.cell(3, right).value == "Ninh Thuận, ngày     tháng     năm 2022"
    assert ws.cell(3, right).font.italic
    # the title starts after the unit columns, which every printed page repeats
    assert ws["D6"].value == "Biểu số 01"
    assert ws["D7"].value == "BẢNG TỔNG HỢP"
    assert ws["D8"].value == (
        "Kết quả triển khai thực hiện Chỉ thị 37-CT/TU, ngày 11/5/2017 của Ban Thường vụ Tỉnh ủy"
    )
    assert ws["D9"].value == (
        "Mục 1. Văn bản chỉ đạo, triển khai; Mục 2. Công tác kiểm tra; Mục 3. Công tác cải "
        "cách hành chính, cải cách thủ tục hành chính"
    )
    assert ws["D10"].value == (
        "(Kèm theo Báo cáo số …-BC/BDVTU, ngày … tháng … năm 2022 của Ban Dân vận Tỉnh ủy)"
    )
    assert ws["D11"].value == (
        "Số liệu từ ngày 11/5/2017 đến ngày 30/5/2022; các đơn vị gửi Ban Dân vận Tỉnh ủy "
        "trước ngày 05/7/2022."
    )
    # every biểu is a table of its own: the same heading, its number, its Mục
    for number, (sheet, part) in enumerate(
        zip(bieu_sheets(workbook), ("Mục 1.", "Mục 4.", "Mục 5."), strict=True), start=1
    ):
        assert sheet["A2"].value == "BAN DÂN VẬN" and sheet["D6"].value == f"Biểu số {number:02}"
        assert sheet["D7"].value == "BẢNG TỔNG HỢP" and sheet["D9"].value.startswith(part)
        assert sheet["D10"].value == ws["D10"].value and sheet["D11"].value == ws["D11"].value
        assert sheet.oddFooter.left.text.startswith(f"Biểu số {number:02} — Bảng tổng hợp")
        assert sheet.oddFooter.right.text == "Trang &P"  # its own pages, from 1
    assert workbook["Biểu số 02"]["D9"].value == (
        "Mục 4. Công tác tiếp dân, đối thoại với Nhân dân của người đứng đầu địa phương đơn vị, "
        "xử lý đơn thư và kết quả giải quyết các vụ việc phức tạp, kéo dài giai đoạn 2017-2022"
    )
    # "Nơi nhận" and the signer once, under the last biểu: the biểu are one annex
    for sheet in bieu_sheets(workbook)[:-1]:
        assert all(cell.value != "Nơi nhận:" for cell in sheet["A"])
    ws = workbook["Biểu số 03"]
    receivers = find_row(ws, 1, "Nơi nhận:")
    assert receivers > find_row(ws, 2, "Toàn tỉnh")
    assert ws.cell(receivers, right).value == "K/T TRƯỞNG BAN"
    assert ws.cell(receivers + 1, right).value == "PHÓ TRƯỞNG BAN"
    assert ws.cell(receivers + 1, 1).value == "- Thường trực Tỉnh ủy (b/c),"
    # internal lines only in the footer; Times New Roman there too
    cells = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert not any("ct37-2022" in text or "Mã đơn vị" in text for text in cells)
    assert "ct37-2022" not in ws.oddFooter.left.text  # no system words on paper either
    assert ws.oddFooter.left.font == "Times New Roman,Regular"


def test_consolidated_unit_rows(consolidated):
    _, _, workbook = consolidated
    ws = Summary(workbook)
    first, columns = summary_columns(ws)
    row = unit_row(ws, "Ban Thường vụ Huyện ủy Ninh Phước")
    assert ws.cell(row, 3).value == "đã nộp"
    assert ws.cell(unit_row(ws, "Ban Thường vụ Huyện ủy Ninh Hải"), 3).value == "đang điền 5/18 câu"
    assert ws.cell(unit_row(ws, "Đảng ủy xã Tri Hải"), 3).value == "chưa bắt đầu"
    teams = columns[("Số đoàn kiểm tra", "Số đoàn")]
    cell = ws.cell(row, teams)
    assert cell.value == 5 and type(cell.value) is int and cell.number_format == INTEGER_FORMAT
    assert ws.cell(unit_row(ws, "Ban Thường vụ Huyện ủy Ninh Hải"), teams).value == "x"
    unanswered = ws.cell(unit_row(ws, "Ban Thường vụ Thành ủy Phan Rang - Tháp Chàm"), teams)
    assert unanswered.value is None and unanswered.fill.fgColor.rgb.endswith("FFF4D6")
    # a commune is not asked the province questions: empty on grey
    province = columns[("4.1. Tiếp định kỳ (tỉnh)", "lượt")]
    not_asked = ws.cell(unit_row(ws, "Đảng ủy thị trấn Phước Dân"), province)
    assert not_asked.value is None and not_asked.fill.fgColor.rgb.endswith("E7E6E6")
    done = columns[("4.3. Khiếu nại", "Số đơn đã giải quyết")]
    assert [ws.cell(row, done + i).value for i in range(3)] == [45, 50, "90,0%"]
    rate = ws.cell(unit_row(ws, "Ban Thường vụ Huyện ủy Ninh Hải"), done + 2)
    assert rate.value == "—"
    assert ws.cell(row, columns[("Văn bản cấp ủy Đảng", "Số văn bản")]).value == 1
    pct = ws.cell(row, columns[("Chỉ số hài lòng (%)", "% (dòng cộng: bình quân)")])
    assert pct.value == "80,0%"  # text: a number format's decimal sign follows the locale


def test_consolidated_totals_follow_the_rules(consolidated):
    _, _, workbook = consolidated
    ws = Summary(workbook)
    _, columns = summary_columns(ws)
    direct = find_row(ws, 2, "Cộng Kiểm tra trực tiếp")
    self_check = find_row(ws, 2, "Cộng Tự kiểm tra")
    province = find_row(ws, 2, "Toàn tỉnh")
    assert direct < self_check < province
    # only HU-NP has submitted: drafts (HU-NH, TU-PRTC, HU-BACAI) are in no sum
    assert ws.cell(direct, 3).value == "Tổng hợp từ 1/6 đơn vị đã nộp"
    assert ws.cell(self_check, 3).value == "Tổng hợp từ 0/4 đơn vị đã nộp"
    assert ws.cell(province, 3).value == "Tổng hợp từ 1/10 đơn vị đã nộp"

    teams = columns[("Số đoàn kiểm tra", "Số đoàn")]
    assert ws.cell(direct, teams).value == 5
    assert ws.cell(province, teams).value == 5
    assert ws.cell(self_check, teams).value is None  # nobody counted: empty, not 0
    inspected = columns[("Số đơn vị được kiểm tra", "Số đơn vị")]
    assert ws.cell(direct, inspected).value is None  # only N/A: empty, not 0

    times = columns[("4.1. Tiếp định kỳ (huyện, sở)", "lượt")]
    assert ws.cell(direct, times).value == 3 and ws.cell(direct, times + 1).value == 30

    done = columns[("4.3. Khiếu nại", "Số đơn đã giải quyết")]
    assert [ws.cell(direct, done + i).value for i in range(3)] == [45, 50, "90,0%"]
    assert [ws.cell(self_check, done + i).value for i in range(3)] == [None, None, None]
    assert [ws.cell(province, done + i).value for i in range(3)] == [45, 50, "90,0%"]
    denounced = columns[("4.4. Tố cáo", "Số đơn đã giải quyết")]
    assert [ws.cell(province, denounced + i).value for i in range(3)] == [0, 0, "—"]

    pct = columns[("Chỉ số hài lòng (%)", "% (dòng cộng: bình quân)")]
    average = ws.cell(province, pct)
    assert average.value == "80,0%"  # HU-NH's 90.5 and HU-BACAI's 60 are drafts
    assert average.font.italic  # an average, as the legend says

    docs = columns[("Văn bản cấp ủy Đảng", "Số văn bản")]
    assert ws.cell(province, docs).value == 1
    for row in (direct, self_check, province):
        for column in range(4, ws.max_column + 1):
            value = ws.cell(row, column).value
            is_percent = isinstance(value, str) and value.endswith("%")
            assert value is None or value == "—" or is_percent or isinstance(value, int | float)


def test_consolidated_groups_parents_and_frozen_header(consolidated):
    _, _, workbook = consolidated
    ws = workbook["Biểu số 01"]
    first, _ = summary_columns(ws)
    assert ws.freeze_panes == f"D{first}"
    assert ws.cell(first, 2).value == "Kiểm tra trực tiếp" and ws.cell(first, 1).value == "I"
    names = [ws.cell(row, 2).value for row in range(first, find_row(ws, 2, "Toàn tỉnh"))]
    district = names.index("Ban Thường vụ Huyện ủy Ninh Phước")
    assert names[district + 1] == "– Đảng ủy thị trấn Phước Dân"
    city = names.index("Ban Thường vụ Thành ủy Phan Rang - Tháp Chàm")
    assert names[city + 1] == "– Đảng ủy phường Văn Hải"
    assert names.index("Ban Thường vụ Huyện ủy Bác Ái (mẫu)") > names.index("– Đảng ủy xã Tri Hải")
    child = ws.cell(unit_row(ws, "Đảng ủy thị trấn Phước Dân"), 2)
    assert child.alignment.indent > ws.cell(first + district, 2).alignment.indent
    assert find_row(ws, 2, "Tự kiểm tra") > find_row(ws, 2, "Cộng Kiểm tra trực tiếp")
    top = first - 3
    assert ws.cell(top, 4).value == "1. Văn bản chỉ đạo, triển khai"
    for sheet in bieu_sheets(workbook):  # every biểu: its header rows on every page
        assert sheet.print_title_rows == f"${top}:${top + 2}"
        assert sheet.freeze_panes == f"D{first}"
    assert workbook["Biểu số 02"].cell(top, 4).value.startswith("4. Công tác tiếp dân")
    assert workbook["Biểu số 03"].cell(top, 4).value.startswith("5. Giám sát, phản biện")


def test_consolidated_prints_on_a4_landscape_at_full_size(consolidated):
    _, _, workbook = consolidated
    for ws in bieu_sheets(workbook):
        assert ws.page_setup.paperSize in (9, "9") and ws.page_setup.orientation == "landscape"
        setup = ws.sheet_properties.pageSetUpPr
        assert setup is None or not setup.fitToPage  # never shrunk to fit
        assert ws.page_setup.scale in (100, "100")
        assert ws.print_title_cols == "$A:$C"  # STT, name and status again on every page
        assert ws.print_title_rows  # and the header rows
        assert "&P" in ws.oddFooter.right.text  # page numbers
        fonts = {c.font.name for row in ws.iter_rows() for c in row if c.value is not None}
        assert fonts == {"Times New Roman"}
        sizes = {c.font.size for row in ws.iter_rows() for c in row if c.value is not None}
        assert min(sizes) >= 10
    # Mục 1–3 fit one page; Mục 4 is cut into pages after whole questions; Mục 5 one page
    assert [ws.col_breaks.count for ws in bieu_sheets(workbook)] == [0, 2, 0]


def test_consolidated_has_no_formula(consolidated):
    _, data, _ = consolidated
    for name, xml in sheet_xml(data).items():
        assert "<f>" not in xml and "<f " not in xml, name


def test_documents_sheet(consolidated):
    _, _, workbook = consolidated
    ws = workbook["Văn bản"]
    assert ws["A2"].value == "BAN DÂN VẬN"  # printed as an annex: the same heading
    top = find_row(ws, 1, "STT")
    header = [cell.value for cell in ws[top]]
    assert header[:7] == [
        "STT",
        "Mã đơn vị",
        "Tên đơn vị",
        "Loại văn bản",
        "Số, ký hiệu",
        "Ngày ban hành",
        "Trích yếu",
    ]
    assert table_rows(ws) == [
        [1, "HU-NP", "Ban Thường vụ Huyện ủy Ninh Phước", "Văn bản của cấp ủy Đảng"]
        + ["1-KH/HU", None, "a", "a"]
    ]
    assert ws.auto_filter.ref == f"A{top}:H{top + 1}"
    assert ws.print_title_rows == f"${top}:${top}" and ws.freeze_panes == f"D{top + 1}"


def test_progress_sheet(store):
    store.answers(
        "HU-NP", {"inspection_teams": {"value": 1}, "complaints": {"done": 1, "total": 2}}
    )
    store.submit("HU-NP", by="Trần Văn Bình")
    store.remind("HU-NP", 2)
    store.answers("DU-STNMT", {"inspection_teams": {"value": 2}})
    late = datetime(2022, 7, 8, 1, 30, tzinfo=UTC)  # 3 days and 8½ hours after the deadline
    store.submit("DU-STNMT", at=late)
    _, data = export_bytes(store.database, now=late, unit_sheets=False)
    workbook = open_workbook(data)
    assert workbook.sheetnames == [
        "Biểu số 01", "Biểu số 02", "Biểu số 03", "Kiểm tra số liệu", "Văn bản", "Tiến độ",
        "Báo cáo",
    ]  # fmt: skip
    summary = Summary(workbook)
    assert summary.cell(unit_row(summary, "Đảng ủy Sở Tài nguyên và Môi trường"), 3).value == (
        "đã nộp, nộp muộn 4 ngày"
    )
    assert summary.cell(unit_row(summary, "Ban Thường vụ Huyện ủy Ninh Phước"), 3).value == "đã nộp"
    ws = workbook["Tiến độ"]
    header = [cell.value for cell in ws[find_row(ws, 1, "STT")]]
    row = find_row(ws, 2, "HU-NP")
    record = dict(zip(header, [cell.value for cell in ws[row]], strict=True))
    assert record["Trạng thái"] == "đã nộp"
    assert record["Số câu đã trả lời"] == 2 and record["Tổng số câu"] == 18
    assert record["Nộp lúc"] == datetime(2022, 7, 4, 8, 30)  # Vietnam time, naive for Excel
    assert is_date_format(ws.cell(row, header.index("Nộp lúc") + 1).number_format)
    assert record["Người nộp"] == "Trần Văn Bình"
    assert record["Nộp muộn"] is None  # on time
    assert ws.cell(find_row(ws, 2, "DU-STNMT"), header.index("Nộp muộn") + 1).value == 4
    assert record["Số lần nhắc"] == 2
    assert record["Cấp"] == "Huyện" and record["Nhóm"] == "Kiểm tra trực tiếp"
    assert ws.cell(find_row(ws, 2, "DU-PHUOCDAN"), 6).value == "HU-NP"
    untouched = dict(zip(header, [c.value for c in ws[find_row(ws, 2, "HU-BACAI")]], strict=True))
    assert untouched["Trạng thái"] == "chưa bắt đầu" and untouched["Nộp lúc"] is None
    assert ws.auto_filter.ref == f"A{find_row(ws, 1, 'STT')}:N{ws.max_row}"


def test_unit_sheets_skipped_above_the_limit(database):
    with database.transaction() as session:
        info, form, reports = load_reports(session, current_campaign(session))
    buffer = io.BytesIO()
    result = write_consolidated_workbook(
        buffer, info, form, reports, now=NOW, unit_sheets=True, unit_sheet_limit=5
    )
    assert result.unit_sheets_skipped and result.unit_sheets == 0
    workbook = open_workbook(buffer.getvalue())
    assert workbook.sheetnames == [
        "Biểu số 01", "Biểu số 02", "Biểu số 03", "Kiểm tra số liệu", "Văn bản", "Tiến độ"
    ]  # fmt: skip
    for ws in bieu_sheets(workbook):  # said once, under the last biểu
        notes = [ws.cell(row, 4).value for row in range(find_row(ws, 2, "Toàn tỉnh"), ws.max_row)]
        said = any(note and "Không kèm Phụ lục riêng" in note and "13" in note for note in notes)
        assert said == (ws.title == "Biểu số 03")


def test_export_filename_is_ascii(database):
    with database.transaction() as session:
        info, _, _ = load_reports(session, current_campaign(session))
    assert export_filename(info, None, NOW) == "CT37-2022_tong-hop_20220704-0830.xlsx"
    assert export_filename(info, "ĐU/Phước Dân", NOW) == "CT37-2022_DU-Phuoc-Dan_20220704-0830.xlsx"
