"""Exports never turn what users typed into formulas, links or broken files.

Formula-like text stays text (checked in the re-opened workbook and in the raw sheet XML),
illegal control characters are dropped, and sheet names stay valid and unique whatever the
unit codes are.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.documents.workbooks import export_bytes
from exports.cells import MAX_SHEET_NAME, SheetNames, clean_text
from storage.repository import UnitRow, replace_units
from tests.exports.conftest import (
    NOW,
    bieu_sheets,
    find_row,
    open_workbook,
    sheet_xml,
    table_rows,
    unit_row,
)

FORMULA_LIKE = ["=1+1", "+84 123", "-SUM(A1)", "@cmd", "\t=x", "#N/A", '=HYPERLINK("http://x","y")']


def _items(summaries: list[str]) -> dict:
    return {
        "items": [
            {"raw": text, "number": text, "date": None, "summary": text} for text in summaries
        ]
    }


def test_formula_like_text_is_written_as_text(store):
    store.answer("HU-NP", "docs_party", _items(FORMULA_LIKE))
    _, data = export_bytes(store.database, now=NOW)
    workbook = open_workbook(data)

    ws = workbook["Văn bản"]
    top = find_row(ws, 1, "STT")
    for index, text in enumerate(FORMULA_LIKE):
        row = top + 1 + index
        for column in (5, 7, 8):  # số/ký hiệu, trích yếu, nguyên văn
            cell = ws.cell(row, column)
            assert cell.value == text, (text, cell.value)
            assert cell.data_type == "s"

    sheet = workbook["HU-NP"]
    head = find_row(sheet, 2, "Văn bản của cấp ủy Đảng")
    for index, text in enumerate(FORMULA_LIKE):
        for column in (2, 4):
            cell = sheet.cell(head + 2 + index, column)
            assert cell.value == text and cell.data_type == "s"

    for name, xml in sheet_xml(data).items():
        assert "<f>" not in xml and "<f " not in xml, name
        assert "<hyperlink" not in xml, name

    _, single = export_bytes(store.database, unit_code="HU-NP", now=NOW)
    for name, xml in sheet_xml(single).items():
        assert "<f>" not in xml and "<f " not in xml, name


def test_formula_like_unit_names_stay_text(store):
    with store.database.transaction() as session:
        replace_units(
            session,
            [UnitRow(code="X-1", name="=cmd|' /C calc'!A0", level="xa", group="tu_kiem_tra")],
        )
    _, data = export_bytes(store.database, now=NOW)
    for ws in bieu_sheets(open_workbook(data)):
        cell = ws.cell(unit_row(ws, "=cmd|' /C calc'!A0"), 2)
        assert cell.value == "=cmd|' /C calc'!A0" and cell.data_type == "s"


def test_control_characters_are_removed(store):
    store.answer("HU-NP", "docs_party", _items(["Kế hoạch\x07 số\x1b 1\x0b\x0c"]))
    with store.database.transaction() as session:
        replace_units(
            session,
            [UnitRow(code="X-2", name="Đảng ủy\x01 xã\x1f Mẫu", level="xa", group="tu_kiem_tra")],
        )
    store.answer("X-2", "inspection_teams", {"value": 1})
    _, data = export_bytes(store.database, now=NOW)
    workbook = open_workbook(data)
    assert table_rows(workbook["Văn bản"])[0][6] == "Kế hoạch số 1"
    for ws in bieu_sheets(workbook):
        assert ws.cell(unit_row(ws, "Đảng ủy xã Mẫu"), 2).value == "Đảng ủy xã Mẫu"
    assert workbook["X-2"]["A2"].value == "ĐẢNG ỦY XÃ MẪU"


NASTY_CODES = [
    "A/B",
    "A\\B",
    "A?B",
    "A*B",
    "[A]:B",
    "'quoted'",
    "history",
    "Tổng hợp",
    "Biểu số 01",
    "biểu số 02",
    "X" * 45,
    "X" * 45 + "2",
]


def test_sheet_names_valid_and_unique_whatever_the_codes(store):
    long_name = "Đảng ủy / Ban chỉ đạo \\ thực hiện? * [Chỉ thị 37]: " + "rất dài " * 10
    with store.database.transaction() as session:
        replace_units(
            session,
            [
                UnitRow(code=code, name=long_name, level="xa", group="tu_kiem_tra")
                for code in NASTY_CODES
            ],
        )
    for code in NASTY_CODES:  # something to show, so each gets a sheet
        store.answer(code, "inspection_teams", {"value": 1})
    _, data = export_bytes(store.database, now=NOW)
    workbook = open_workbook(data)
    names = workbook.sheetnames
    assert len(names) == 7 + len(NASTY_CODES)
    assert len({name.casefold() for name in names}) == len(names)
    for name in names:
        _assert_valid_sheet_name(name)
    assert "history" not in [name.casefold() for name in names]
    assert names[:7] == [
        "Biểu số 01", "Biểu số 02", "Biểu số 03", "Kiểm tra số liệu", "Văn bản", "Tiến độ",
        "Báo cáo",
    ]  # fmt: skip
    units = names[7:]
    assert "Biểu số 01 (2)" in units and "biểu số 02 (2)" in units  # a unit never takes a biểu's
    assert units[0] == "A-B" and units[1] == "A-B (2)" and units[2] == "A-B (3)"
    ws = workbook[units[-1]]
    assert ws["A2"].value == long_name.upper()  # the full name is in the sheet, the tab is short


def _assert_valid_sheet_name(name: str) -> None:
    assert 0 < len(name) <= MAX_SHEET_NAME, name
    assert not re.search(r"[/\\?*\[\]:]", name), name
    assert not name.startswith("'") and not name.endswith("'"), name


@given(st.lists(st.text(max_size=60), max_size=30))
def test_sheet_names_property(wanted):
    names = SheetNames()
    given_names = [names.unique(text) for text in wanted]
    assert len({name.casefold() for name in given_names}) == len(given_names)
    for name in given_names:
        _assert_valid_sheet_name(name)
        assert clean_text(name) == name


@given(st.text())
def test_clean_text_leaves_only_what_excel_accepts(text):
    cleaned = clean_text(text)
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", cleaned)
    assert len(cleaned) <= 32_767
