"""Table-driven tests for bot.unit_import: checking the rows of a unit list and reading CSV/XLSX
files. Every problem names its line; one bad line means nothing is imported.
"""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import pytest
from openpyxl import Workbook

from bot import unit_import
from bot.unit_import import MAX_FILE_BYTES, MAX_ROWS, UnitFileError, check_rows, read_unit_file
from storage.repository import UnitRow

HEADER = ["code", "name", "level", "parent_code", "group"]
EXISTING = {"HU-NP", "HU-NH"}


def rows(*lines: str) -> list[list[str]]:
    return [HEADER, *(line.split(",") for line in lines)]


GOOD = [
    (
        "one unit",
        rows("HU-X,Huyện ủy X,huyen,,tu_kiem_tra"),
        [UnitRow("HU-X", "Huyện ủy X", "huyen", "", "tu_kiem_tra")],
    ),
    (
        "parent in the same file, after the child",
        rows("DU-A,Đảng ủy xã A,xa,HU-X,", "HU-X,Huyện ủy X,huyen,,"),
        [UnitRow("DU-A", "Đảng ủy xã A", "xa", "HU-X"), UnitRow("HU-X", "Huyện ủy X", "huyen")],
    ),
    (
        "parent already stored, written in lower case",
        rows("DU-A,Đảng ủy xã A,xa,hu-np,"),
        [UnitRow("DU-A", "Đảng ủy xã A", "xa", "hu-np")],
    ),
    (
        "blank lines and spaces around cells",
        rows(" HU-X , Huyện ủy X , huyen ,, ", ",,,,", ""),
        [UnitRow("HU-X", "Huyện ủy X", "huyen")],
    ),
    (
        "columns in another order, optional ones missing",
        [["level", "name", "code"], ["xa", "Xã B", "XA-B"]],
        [UnitRow("XA-B", "Xã B", "xa")],
    ),
    (
        "a chain of three levels",
        rows("T,Tỉnh,tinh,,", "H,Huyện,huyen,T,", "X,Xã,xa,H,"),
        [
            UnitRow("T", "Tỉnh", "tinh"),
            UnitRow("H", "Huyện", "huyen", "T"),
            UnitRow("X", "Xã", "xa", "H"),
        ],
    ),
]


@pytest.mark.parametrize(("name", "records", "expected"), GOOD, ids=[g[0] for g in GOOD])
def test_good_rows(name, records, expected):
    assert check_rows(records, EXISTING) == expected


BAD = [
    ("empty file", [], ["tệp trống"]),
    ("header only", [HEADER], ["tệp không có dòng đơn vị nào"]),
    (
        "wrong header",
        [["ma", "ten", "cap"], ["A", "B", "xa"]],
        ["dòng 1: tiêu đề", "thiếu cột code"],
    ),
    ("unknown column", [[*HEADER, "colour"], ["A", "B", "xa", "", "", "x"]], ["dòng 1", "colour"]),
    ("bad level", rows("A,Đơn vị A,xa,,", "B,Đơn vị B,thon,,"), ["dòng 3: cấp 'thon'"]),
    ("empty name", rows("A,,xa,,"), ["dòng 2: tên đơn vị trống"]),
    ("bad code", rows("A B,Đơn vị,xa,,"), ["dòng 2: mã đơn vị 'A B'"]),
    ("bad group", rows("A,Đơn vị,xa,,Tự kiểm tra"), ["dòng 2: nhóm"]),
    (
        "duplicate code, any case",
        rows("A,Đơn vị A,xa,,", "B,Đơn vị B,xa,,", "a,Đơn vị a,xa,,"),
        ["dòng 4: mã a trùng với dòng 2"],
    ),
    ("unknown parent", rows("A,Đơn vị A,xa,ZZ,"), ["dòng 2: không có đơn vị cấp trên mã ZZ"]),
    (
        "self parent",
        rows("A,Đơn vị A,xa,a,"),
        ["dòng 2: đơn vị không thể là cấp trên của chính nó"],
    ),
    (
        "parent cycle",
        rows("A,Đơn vị A,huyen,B,", "B,Đơn vị B,huyen,A,"),
        [
            "dòng 2: cấp trên tạo thành vòng lặp (A → B → A)",
            "dòng 3: cấp trên tạo thành vòng lặp (B → A → B)",
        ],
    ),
    (
        "longer parent cycle",
        rows("A,A,xa,C,", "B,B,xa,A,", "C,C,xa,B,", "D,D,xa,A,"),
        ["dòng 2: cấp trên tạo thành vòng lặp (A → C → B → A)", "dòng 3:", "dòng 4:"],
    ),
    (
        "several problems at once",
        rows("A,Đơn vị A,thon,,", "OK,Đơn vị tốt,xa,,", "C,,xa,ZZ,"),
        ["dòng 2: cấp", "dòng 4: tên", "dòng 4: không có đơn vị cấp trên"],
    ),
]


@pytest.mark.parametrize(("name", "records", "problems"), BAD, ids=[b[0] for b in BAD])
def test_bad_rows_are_all_reported_with_their_lines(name, records, problems):
    with pytest.raises(UnitFileError) as caught:
        check_rows(records, EXISTING)
    reported = caught.value.problems
    for expected in problems:
        assert any(expected in problem for problem in reported), (expected, reported)
    if name == "longer parent cycle":
        assert not any(p.startswith("dòng 5") for p in reported)  # D is under the cycle, not in it


def test_a_cycle_through_stored_units_is_found():
    stored = {"HU-NP": "", "DU-PHUOCDAN": "HU-NP"}
    records = rows("HU-NP,Huyện ủy Ninh Phước,huyen,DU-PHUOCDAN,")
    with pytest.raises(UnitFileError, match="HU-NP → DU-PHUOCDAN → HU-NP"):
        check_rows(records, stored)
    # Moving the commune in the same file breaks the cycle.
    records = rows("HU-NP,Huyện ủy,huyen,DU-PHUOCDAN,", "DU-PHUOCDAN,Đảng ủy,xa,,")
    assert len(check_rows(records, stored)) == 2


def test_too_many_rows():
    records = [HEADER] + [[f"U{i}", "Đơn vị", "xa", "", ""] for i in range(MAX_ROWS + 1)]
    with pytest.raises(UnitFileError, match="quá"):
        check_rows(records)


# --- files ------------------------------------------------------------------------------------

CSV_TEXT = (
    "code,name,level,parent_code,group\n"
    "HU-X,Huyện ủy X,huyen,,tu_kiem_tra\n"
    'DU-A,"Đảng ủy xã A, huyện X",xa,HU-X,tu_kiem_tra\n'
)
EXPECTED = [
    UnitRow("HU-X", "Huyện ủy X", "huyen", "", "tu_kiem_tra"),
    UnitRow("DU-A", "Đảng ủy xã A, huyện X", "xa", "HU-X", "tu_kiem_tra"),
]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_csv_with_and_without_bom(tmp_path, encoding):
    path = tmp_path / "units.csv"
    path.write_text(CSV_TEXT, encoding=encoding)
    assert read_unit_file(path) == EXPECTED


def test_csv_with_windows_line_ends(tmp_path):
    path = tmp_path / "units.csv"
    path.write_bytes(CSV_TEXT.replace("\n", "\r\n").encode("utf-8-sig"))
    assert read_unit_file(path) == EXPECTED


def test_xlsx(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(["HU-X", "Huyện ủy X", "huyen", None, "tu_kiem_tra"])
    sheet.append(["DU-A", "Đảng ủy xã A, huyện X", "xa", "HU-X", "tu_kiem_tra"])
    sheet.append([None, None, None, None, None])
    path = tmp_path / "units.xlsx"
    workbook.save(path)
    assert read_unit_file(path) == EXPECTED


def test_xlsx_with_a_numeric_code_and_a_bad_row(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append([101, "Đơn vị số", "xa", None, None])
    sheet.append(["B", "Đơn vị B", "thon", None, None])
    path = tmp_path / "units.xlsx"
    workbook.save(path)
    with pytest.raises(UnitFileError) as caught:
        read_unit_file(path)
    assert caught.value.problems == [
        "dòng 3: cấp 'thon' không hợp lệ; dùng một trong tinh, so_nganh, huyen, xa"
    ]


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("units.csv", "code,name,level\nA,Đơn vị Á,xa\n".encode("utf-16"), "UTF-8"),
        ("units.csv", b"code,name,level\nA,\xd0\xf5n v\xec,xa\n", "UTF-8"),  # Windows-1258
        ("units.csv", b"", "tệp trống"),
        ("units.txt", b"\x00garbage;;\nmore garbage\n", "dòng 1: tiêu đề"),
        ("units.xlsx", b"not a zip file", "không mở được tệp Excel"),
        ("units.pdf", b"%PDF-1.4", "chỉ nhận tệp .csv hoặc .xlsx"),
    ],
)
def test_unreadable_files(tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnitFileError) as caught:
        read_unit_file(path)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_missing_file(tmp_path):
    with pytest.raises(UnitFileError, match="không tìm thấy"):
        read_unit_file(tmp_path / "absent.csv")


# --- files from outside: size limits and control characters ---------------------------------


def _zip_bomb(path, unpacked: int) -> None:
    """A real XLSX whose sheet unpacks to `unpacked` bytes of rows, from a few MB of zip."""
    workbook = Workbook()
    workbook.active.append(HEADER)
    buffer = io.BytesIO()
    workbook.save(buffer)
    source = zipfile.ZipFile(buffer)
    row = b'<row><c t="inlineStr"><is><t>' + b"x" * 1000 + b"</t></is></c></row>"
    chunk = row * 1024
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as bomb:
        for info in source.infolist():
            if not info.filename.endswith("sheet1.xml"):
                bomb.writestr(info, source.read(info.filename))
                continue
            with bomb.open(info.filename, "w", force_zip64=True) as sheet:
                for _ in range(unpacked // len(chunk)):
                    sheet.write(chunk)


def test_an_xlsx_that_unpacks_to_a_gigabyte_is_refused_without_loading_it(tmp_path):
    path = tmp_path / "don-vi.xlsx"
    _zip_bomb(path, 1024**3)
    assert path.stat().st_size < 10 * 1024**2
    tracemalloc.start()
    try:
        with pytest.raises(UnitFileError) as refused:
            read_unit_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200 * 1024**2
    assert "khi giải nén lớn quá" in str(refused.value)


def test_too_many_xlsx_rows_are_refused_while_streaming(tmp_path, monkeypatch):
    limit = 2_000
    monkeypatch.setattr(unit_import, "MAX_ROWS", limit)
    read = []
    stream = unit_import._xlsx_records
    monkeypatch.setattr(
        unit_import, "_xlsx_records", lambda sheet: (read.append(r) or r for r in stream(sheet))
    )
    path = tmp_path / "dai.xlsx"
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADER)
    for number in range(limit * 10):
        sheet.append([f"U{number}", f"Đơn vị {number}", "xa", "", ""])
    workbook.save(path)
    with pytest.raises(UnitFileError, match=f"quá {limit} dòng"):
        read_unit_file(path)
    assert len(read) == limit + 2  # the header, the allowed rows, and the one too many


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "lon.csv"
    with path.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(UnitFileError, match="tệp lớn quá"):
        read_unit_file(path)


def test_a_renamed_file_that_is_not_a_zip(tmp_path):
    path = tmp_path / "gia.xlsx"
    path.write_text("code,name,level\n", encoding="utf-8")
    with pytest.raises(UnitFileError, match="không mở được tệp Excel"):
        read_unit_file(path)


@pytest.mark.parametrize(
    ("cell", "named"),
    [("Huyện\x00 ủy", "U+0000"), ("Huyện\x0bủy", "U+000B"), ("Huyện\x0củy", "U+000C")],
)
def test_control_characters_are_refused_with_line_and_column(tmp_path, cell, named):
    path = tmp_path / "don-vi.csv"
    path.write_text(
        f"code,name,level,parent_code,group\nHU-A,Huyện ủy A,huyen,,\nHU-B,{cell},huyen,,\n",
        encoding="utf-8",
    )
    with pytest.raises(UnitFileError) as refused:
        read_unit_file(path)
    assert refused.value.problems == [
        f"dòng 3: cột name có ký tự điều khiển ({named}); đề nghị gõ lại ô này"
    ]


def test_a_line_break_inside_a_quoted_cell_is_refused(tmp_path):
    path = tmp_path / "don-vi.csv"
    path.write_text('code,name,level\nHU-A,"Huyện ủy\nA",huyen\n', encoding="utf-8")
    with pytest.raises(UnitFileError, match="dòng 2: cột name có ký tự điều khiển"):
        read_unit_file(path)
