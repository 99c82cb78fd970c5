"""Our light streamed cells write the same file as openpyxl's own write-only cells.

`exports.streaming` hands openpyxl's writer plain objects instead of its `WriteOnlyCell`s and
row heights as ready attributes: the same rows written both ways (numbers, text, dates, empty
styled cells, a comment, row heights) give byte-identical sheet, style and comment parts, so an
openpyxl upgrade that reads something else from a cell is caught here.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles.cell_style import StyleArray

from exports.cells import (
    DATE_FORMAT,
    CellStyle,
    RowWriter,
    StyleBook,
    make_cell,
    note_comment,
    set_value,
)

PLAIN = CellStyle()
BOLD = CellStyle(bold=True, fill="FCE4D6", horizontal="center", wrap=True)
DAY = CellStyle(number_format=DATE_FORMAT)
ROWS = [
    ([(1, PLAIN), ("=1+1", BOLD), (None, BOLD), (datetime(2022, 7, 4, 8, 30), DAY)], 31.0),
    ([None, ("Đảng ủy xã Tri Hải", PLAIN), (12.5, BOLD)], None),
    ([(None, PLAIN), ("  có dấu cách  ", PLAIN), (0, DAY)], 15.5),
]


def _ours() -> bytes:
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet("S")
    out = RowWriter(ws, StyleBook(ws))
    for number, (row, height) in enumerate(ROWS):
        cells = [out.cell(*item) if item else None for item in row]
        if number == 1:
            cells[1].comment = note_comment("ước tính")
        out.append(cells, height=height)
    out.append([make_cell(ws, "cuối")])
    return _saved(workbook)


def _openpyxl() -> bytes:
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet("S")
    styles = StyleBook(ws)
    for number, (row, height) in enumerate(ROWS, start=1):
        cells = []
        for item in row:
            if item is None:
                cells.append(None)
                continue
            cell = WriteOnlyCell(ws)
            cell._style = StyleArray(styles.array(item[1]).array)
            set_value(cell, item[0])
            cells.append(cell)
        if number == 2:
            cells[1].comment = note_comment("ước tính")
        if height:
            ws.row_dimensions[number].height = height
        ws.append(cells)
    cell = WriteOnlyCell(ws)
    set_value(cell, "cuối")
    ws.append([cell])
    return _saved(workbook)


def _saved(workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_streamed_cells_write_what_openpyxl_writes() -> None:
    ours, theirs = zipfile.ZipFile(io.BytesIO(_ours())), zipfile.ZipFile(io.BytesIO(_openpyxl()))
    parts = [name for name in theirs.namelist() if name != "docProps/core.xml"]
    assert sorted(parts) == sorted(n for n in ours.namelist() if n != "docProps/core.xml")
    assert any("comments" in name for name in parts)
    for name in parts:
        assert ours.read(name) == theirs.read(name), name
