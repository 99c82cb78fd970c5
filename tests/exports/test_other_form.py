"""A form that is not CT37 exports without code changes: the layout comes from the form file.

The form and the reports are built in memory (`parse_form`, `UnitReport`), no database.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from openpyxl import load_workbook

from conversations.forms import parse_form
from exports.data import AnswerData, CampaignInfo, UnitReport
from exports.excel import consolidated_workbook_bytes, unit_workbook_bytes
from tests.exports.conftest import Summary, find_row, summary_columns, table_rows

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
FORM = parse_form(
    {
        "key": "thu_nghiem",
        "title": "BIỂU MẪU THỬ — Kết quả công tác dân vận năm 2023",
        "subtitle": "(Kèm theo Công văn số 99-CV/BDV)",
        "levels": ["tinh", "xa"],
        "sections": [
            {"key": "A", "title": "Văn bản ban hành"},
            {"key": "B", "title": "Số liệu"},
            {"key": "B.1", "title": "Tiếp dân"},
            {"key": "C", "title": "Ý kiến"},
        ],
        "questions": [
            {"key": "resolutions", "section": "A", "label": "Nghị quyết", "type": "documents"},
            {"key": "plans", "section": "A", "label": "Kế hoạch", "type": "documents"},
            {"key": "reports", "section": "A", "label": "Báo cáo", "type": "documents"},
            {
                "key": "meetings",
                "section": "B",
                "label": "Số cuộc họp",
                "short_label": "Cuộc họp",
                "type": "integer",
                "unit": "cuộc",
            },
            {
                "key": "visits",
                "section": "B.1",
                "label": "Tiếp dân định kỳ",
                "short_label": "Tiếp dân",
                "type": "pair",
                "unit": "buổi / người",
                "levels": ["tinh"],
            },
            {"key": "cases", "section": "B.1", "label": "Vụ việc", "type": "ratio", "unit": "vụ"},
            {"key": "opinion", "section": "C", "label": "Ý kiến khác", "type": "text"},
        ],
    },
    source="test",
)
INFO = CampaignInfo(
    code="dv-2023",
    title="Báo cáo công tác dân vận 2023",
    issued_by="Công văn số 99-CV/BDV",
    receiver="Ban Dân vận",
    deadline=datetime(2024, 3, 10, tzinfo=UTC),
)


def _doc(number: str) -> dict:
    return {"raw": number, "number": number, "date": "2023-02-01", "summary": f"Về {number}"}


PROVINCE = UnitReport(
    code="TINH",
    name="Ban Dân vận Tỉnh ủy",
    level="tinh",
    group="nhom_a",
    status="submitted",
    answers={
        "resolutions": AnswerData({"items": [_doc("01-NQ/TU"), _doc("02-NQ/TU")]}),
        "plans": AnswerData(None, True),
        "reports": AnswerData({"items": [_doc("05-BC/TU")]}),
        "meetings": AnswerData({"value": 4}),
        "visits": AnswerData({"times": 3, "people": 70}),
        "cases": AnswerData({"done": 2, "total": 4}),
        "opinion": AnswerData({"value": "=Đề nghị tăng cường"}),
    },
)
COMMUNE = UnitReport(
    code="XA-1",
    name="Đảng ủy xã Một",
    level="xa",
    group="nhom_a",
    parent_code="TINH",
    answers={"meetings": AnswerData({"value": 6}), "cases": AnswerData({"done": 1, "total": 1})},
)


def test_unit_sheet_of_another_form():
    data = unit_workbook_bytes(INFO, FORM, PROVINCE, now=NOW)
    ws = load_workbook(io.BytesIO(data))["TINH"]
    assert ws["A2"].value == "BAN DÂN VẬN TỈNH ỦY"  # no heading columns: the name, in capitals
    assert ws["A5"].value == "Biểu số 01"
    assert ws["A6"].value == FORM.title
    # the annex of the unit's own report; the ký hiệu follows from the kind of body
    assert ws["A7"].value == (
        "(Kèm theo Báo cáo số …-BC/BDV, ngày … tháng … năm 2024 của Ban Dân vận Tỉnh ủy)"
    )
    assert ws["A8"].value == "gửi Ban Dân vận trước 07:00 ngày 10/3/2024."
    head = find_row(ws, 2, "Nghị quyết")
    # three consecutive documents questions: three column groups side by side
    assert [ws.cell(head, column).value for column in (2, 5, 8)] == [
        "Nghị quyết",
        "Kế hoạch",
        "Báo cáo",
    ]
    assert ws.cell(head + 2, 2).value == "01-NQ/TU"
    assert ws.cell(head + 2, 5).value == "Không áp dụng"
    assert ws.cell(head + 2, 8).value == "05-BC/TU"
    assert ws.cell(head + 3, 2).value == "02-NQ/TU"
    values = 8  # the value columns are the last three of ten
    assert ws.cell(find_row(ws, 2, "Số cuộc họp"), values).value == 4
    visits = find_row(ws, 2, "Tiếp dân định kỳ")
    assert (ws.cell(visits, values).value, ws.cell(visits, values + 1).value) == (3, 70)
    assert "buổi" in ws.cell(visits, values).number_format
    cases = find_row(ws, 2, "Vụ việc")
    assert [ws.cell(cases, values + i).value for i in range(3)] == [2, 4, "đạt 50,0%"]
    opinion = ws.cell(find_row(ws, 2, "Ý kiến khác"), values)
    assert opinion.value == "=Đề nghị tăng cường" and opinion.data_type == "s"
    sections = [ws.cell(row, 1).value for row in range(1, ws.max_row + 1)]
    assert [s for s in sections if s in ("A.", "B.", "B.1.", "C.")] == ["A.", "B.", "B.1.", "C."]


def test_unit_sheet_leaves_out_questions_not_asked():
    data = unit_workbook_bytes(INFO, FORM, COMMUNE, now=NOW)
    ws = load_workbook(io.BytesIO(data))["XA-1"]
    labels = [ws.cell(row, 2).value for row in range(1, ws.max_row + 1)]
    assert "Tiếp dân định kỳ" not in labels
    assert ws.cell(find_row(ws, 2, "Số cuộc họp"), 8).value == 6
    assert ws.cell(find_row(ws, 2, "Ý kiến khác"), 8).value == "(chưa trả lời)"


def test_consolidated_workbook_of_another_form():
    data = consolidated_workbook_bytes(INFO, FORM, [COMMUNE, PROVINCE], now=NOW)
    workbook = load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == [
        "Biểu số 01",  # Mục A and B: side by side on one page width
        "Biểu số 02",  # Mục C: a text column too wide to join them
        "Kiểm tra số liệu",
        "Văn bản",
        "Tiến độ",
        "TINH",
        "XA-1",
    ]
    for title, part in (("Biểu số 01", "Mục A. Văn bản ban hành; Mục B. Số liệu"),
                        ("Biểu số 02", "Mục C. Ý kiến")):  # fmt: skip
        bieu = workbook[title]
        assert find_row(bieu, 4, part) == find_row(bieu, 4, title) + 3  # under the form's title
    ws = Summary(workbook)
    first, columns = summary_columns(ws)
    assert ws.cell(first, 2).value == "nhom_a"  # an unknown group is shown by its name
    assert ws.cell(first + 1, 2).value == "Ban Dân vận Tỉnh ủy"
    assert ws.cell(first + 2, 2).value == "– Đảng ủy xã Một"  # beneath its parent
    total = find_row(ws, 2, "Toàn tỉnh")
    assert ws.cell(total, 3).value == "Tổng hợp từ 1/1 đơn vị đã nộp"
    # the commune is inside the province's report, and it has not submitted: not added
    assert ws.cell(total, columns[("Cuộc họp", "Số cuộc")]).value == 4
    cases = columns[("B.1. Vụ việc", "Số vụ đã giải quyết")]
    assert [ws.cell(total, cases + i).value for i in (0, 1)] == [2, 4]
    assert ws.cell(total, cases + 2).value == "50,0%"
    assert ws.cell(total, columns[("B.1. Tiếp dân", "buổi")]).value == 3
    assert ws.cell(total, columns[("Nghị quyết", "Số văn bản")]).value == 2
    assert ws.cell(first + 1, columns[("Ý kiến khác", "Nội dung")]).value == "=Đề nghị tăng cường"
    assert ws.cell(total, columns[("Ý kiến khác", "Nội dung")]).value is None
    documents = workbook["Văn bản"]
    assert [row[4] for row in table_rows(documents)] == [
        "01-NQ/TU",
        "02-NQ/TU",
        "05-BC/TU",
    ]
