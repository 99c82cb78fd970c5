"""An officer's note on an answer ("ghi chú: số liệu ước tính") travels into the workbooks: a
printed line beneath the answer in the unit's Phụ lục; in the consolidated table a cell comment
and a numbered footnote under the biểu of its figure."""

from __future__ import annotations

from bot.documents.workbooks import export_bytes
from tests.exports.conftest import (
    NOW,
    Summary,
    bieu_sheets,
    find_row,
    open_workbook,
    summary_columns,
    unit_row,
)

ESTIMATE = "số liệu ước tính đến 30/5/2022"
FORMULA_LIKE = "=1+1 theo báo cáo quý"  # user text: never a formula


def test_notes_in_the_unit_phu_luc_and_the_consolidated_table(store):
    store.answer("HU-NP", "inspection_teams", {"value": 5}, note=ESTIMATE)
    store.answer("HU-NP", "complaints", {"done": 4, "total": 5}, note=FORMULA_LIKE)
    store.answer("HU-NP", "docs_party", {"items": []}, note="văn bản gốc đang lưu ở Văn phòng")
    store.answer("HU-NP", "supervisions", {"value": 2})
    store.submit("HU-NP")

    _, data = export_bytes(store.database, unit_code="HU-NP", now=NOW)
    ws = open_workbook(data)["HU-NP"]
    teams = find_row(ws, 2, "Tổng số đoàn kiểm tra")
    assert ws.cell(teams + 1, 2).value == f"Ghi chú: {ESTIMATE}"
    assert ws.cell(teams + 1, 2).font.italic
    complaints_note = find_row(ws, 2, f"Ghi chú: {FORMULA_LIKE}")
    assert ws.cell(complaints_note, 2).data_type == "s"
    find_row(ws, 2, "Ghi chú (Văn bản của cấp ủy Đảng): văn bản gốc đang lưu ở Văn phòng")
    supervisions = find_row(ws, 2, "Số cuộc giám sát")
    assert not str(ws.cell(supervisions + 1, 2).value or "").startswith("Ghi chú")

    _, data = export_bytes(store.database, now=NOW)
    workbook = open_workbook(data)
    summary = Summary(workbook)
    _, columns = summary_columns(summary)
    row = unit_row(summary, "Ban Thường vụ Huyện ủy Ninh Phước")
    teams_cell = summary.cell(row, columns[("Số đoàn kiểm tra", "Số đoàn")])
    assert teams_cell.value == 5
    assert teams_cell.comment.text == f"Ghi chú của đơn vị: {ESTIMATE}"
    commented = [
        summary.cell(row, column).comment.text
        for column in range(1, summary.max_column + 1)
        if summary.cell(row, column).comment is not None
    ]
    assert sorted(commented) == sorted(
        [
            f"Ghi chú của đơn vị: {ESTIMATE}",
            f"Ghi chú của đơn vị: {FORMULA_LIKE}",
            "Ghi chú của đơn vị: văn bản gốc đang lưu ở Văn phòng",
        ]
    )
    # on paper a comment is lost: the notes are numbered footnotes under the biểu whose
    # figures they concern (Mục 1 and 2 on Biểu số 01, Mục 4.3 on Biểu số 02), each biểu
    # numbering its own from 1, its status cell pointing to them
    expected = {
        "Biểu số 01": [
            "(1) Ban Thường vụ Huyện ủy Ninh Phước — Văn bản cấp ủy Đảng: "
            "văn bản gốc đang lưu ở Văn phòng",
            f"(2) Ban Thường vụ Huyện ủy Ninh Phước — Số đoàn kiểm tra: {ESTIMATE}",
        ],
        "Biểu số 02": [f"(1) Ban Thường vụ Huyện ủy Ninh Phước — Khiếu nại: {FORMULA_LIKE}"],
        "Biểu số 03": [],
    }
    marks = {"Biểu số 01": " (ghi chú 1, 2)", "Biểu số 02": " (ghi chú 1)", "Biểu số 03": ""}
    for ws in bieu_sheets(workbook):
        assert ws.cell(row, 3).value == "đã nộp" + marks[ws.title], ws.title
        footnotes = [ws.cell(r, 4).value for r in range(row, ws.max_row + 1)]
        footnotes = [text for text in footnotes if isinstance(text, str) and text[:1] == "("]
        assert footnotes == expected[ws.title], ws.title
        heading = [ws.cell(r, 4).value for r in range(row, ws.max_row + 1)]
        assert ("Ghi chú của các đơn vị:" in heading) == bool(expected[ws.title])
