"""Workbooks for an imported form: the consolidated table (headers from the form's groups and
questions, sums by the hierarchy rules, a calculation recomputed from the sums, texts and lists on
their own sheet) and a unit's sheet, through `baocao export` on real SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

import bot.cli.commands as cli
import tests.exports.test_printing as printing
from bot.app import build_app
from tests.campaigns.test_officer_walkthrough import open_sample
from tests.test_service import Chat, new_invite

ANSWERS = {  # unit -> the chat answers, in question order; then «nộp», «có» unless in progress
    "HU-NP": ["12", "30,5", "15/11/2026", "1", "3, hop", "Hội nghị tập huấn; 120\nMít tinh; 1.300"],
    "HU-NH": ["8", "9,5", "01/10/2026", "2", "loa", "Tọa đàm; 40"],
    "DU-PHUOCDAN": ["5", "2", "02/10/2026", "1", "hop", "4", "Họp thôn; 60"],  # beneath HU-NP
    "TU-PRTC": ["99", "99"],  # in progress: shown, never added
}


@pytest.fixture
def answered(service, database, clock, tmp_path):
    open_sample(database, clock, tmp_path)
    for unit, texts in ANSWERS.items():
        officer = Chat(service, f"officer-{unit}")
        officer.send(f"/start {new_invite(database, clock, unit)}")
        officer.send("có")
        officer.send("/dot dv-2026")  # CT37 is open too
        for text in texts:
            assert "Đã ghi" in officer.say(text), (unit, text)
        if unit != "TU-PRTC":
            officer.send("nộp")
            assert "Đã nộp báo cáo" in officer.say("có")
    return database


def export(database_url, clock, monkeypatch, *args: str) -> int:
    monkeypatch.setenv("BAOCAO_DATABASE_URL", database_url)
    monkeypatch.setattr(cli, "build_app", lambda settings: build_app(settings, clock=clock))
    return cli.main(["export", "--campaign", "dv-2026", *args])


def rows_of(sheet) -> list[tuple]:
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def test_the_consolidated_table_of_an_imported_form(
    answered, database_url, clock, monkeypatch, tmp_path
):
    target = tmp_path / "tong-hop.xlsx"
    assert export(database_url, clock, monkeypatch, "--output", str(target)) == 0
    workbook = load_workbook(target)
    assert workbook.sheetnames[:2] == ["Tổng hợp", "Nội dung"]
    rows = rows_of(workbook["Tổng hợp"])
    texts = [str(cell) for row in rows for cell in row if cell]
    assert "BÁO CÁO CÔNG TÁC DÂN VẬN 6 THÁNG CUỐI NĂM 2026" in texts
    assert "Thực hiện Công văn số 12-CV/BDVTU" in texts
    assert "Kỳ báo cáo: từ ngày 01/7/2026 đến ngày 31/12/2026" in texts
    assert "Hạn nộp: trước ngày 01/01/2027" in texts or any(t.startswith("Hạn nộp:") for t in texts)
    top = next(i for i, row in enumerate(rows) if row[0] == "STT")
    groups, headers = rows[top], rows[top + 1]
    assert groups[:5] == ("STT", "Đơn vị", "Cấp", "Trạng thái", "1. Tình hình chung")
    assert "2. Các hoạt động" in groups
    assert list(headers[4:]) == [
        "Số cuộc họp",
        "Kinh phí (triệu đồng)",
        "Đã có kế hoạch chưa?: Có",
        "Đã có kế hoạch chưa?: Không",
        "Hình thức tuyên truyền: Loa truyền thanh",
        "Hình thức tuyên truyền: Họp dân",
        "Hình thức tuyên truyền: Mạng xã hội",
        "Số thôn (thôn)",
        "Kinh phí bình quân một cuộc họp",
        "Các hoạt động đã tổ chức (số mục)",
    ]
    total = rows[top + 2]
    assert total[1] == "TỔNG CỘNG (từ 2/8 đơn vị đã nộp)"
    # HU-NP + HU-NH only: the commune is detail of HU-NP, TU-PRTC has not submitted
    assert total[4:] == (20, 40, 1, 1, 1, 1, 1, None, 2, 3)
    by_unit = {row[1].strip(): row for row in rows[top + 3 :]}
    assert by_unit["Ban Thường vụ Huyện ủy Ninh Phước"][3:] == (
        "Đã nộp", 12, 30.5, 1, 0, 0, 1, 1, None, 2.5417, 2
    )  # fmt: skip
    commune = next(row for row in rows[top + 3 :] if "Phước Dân" in row[1])
    assert commune[1].startswith("   ") and commune[4] == 5 and commune[11] == 4
    assert by_unit["Ban Thường vụ Thành ủy Phan Rang - Tháp Chàm"][3:6] == ("Đang điền", 99, 99)
    contents = rows_of(workbook["Nội dung"])
    assert (
        "Ban Thường vụ Huyện ủy Ninh Phước",
        "Ngày họp gần nhất",
        None,
        "15/11/2026",
    ) in contents
    assert (
        "Ban Thường vụ Huyện ủy Ninh Phước",
        "Các hoạt động đã tổ chức",
        2,
        "Mít tinh; 1.300",
    ) in contents


def test_a_unit_sheet_of_an_imported_form(answered, database_url, clock, monkeypatch, tmp_path):
    target = tmp_path / "hu-np.xlsx"
    assert export(database_url, clock, monkeypatch, "--unit", "HU-NP", "--output", str(target)) == 0
    rows = rows_of(load_workbook(target).active)
    assert ("1", "Tình hình chung", None) in rows
    assert (1, "Số cuộc họp", "12") in rows
    assert (2, "Kinh phí (triệu đồng)", "30,5") in rows
    assert (5, "Hình thức tuyên truyền", "Họp dân, Mạng xã hội") in rows
    assert (None, "Kinh phí bình quân một cuộc họp", 2.5417) in rows
    assert ("2", "Các hoạt động", None) in rows
    assert not any(row[1] in ("Số thôn", "Ý kiến của tỉnh") for row in rows)  # not for a district


def test_the_consolidated_table_of_an_imported_form_prints_readable_on_a4(
    answered, database_url, clock, monkeypatch, tmp_path
):
    """Ten figure columns do not fit one A4 width beside the unit columns: printed at 100 % on
    two pages across, the unit columns and header rows on each, never shrunk to small type."""
    target = tmp_path / "tong-hop.xlsx"
    assert export(database_url, clock, monkeypatch, "--output", str(target)) == 0
    sheet = load_workbook(target)["Tổng hợp"]
    setup = sheet.page_setup
    assert (int(setup.paperSize), setup.orientation, int(setup.scale)) == (9, "landscape", 100)
    assert not sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.print_title_cols == "$A:$D"
    assert [b.id for b in sheet.col_breaks.brk] == [9]  # 5 figure columns on the first page
    if not (printing.SOFFICE and printing.POPPLER):
        pytest.skip("LibreOffice or poppler-utils is not installed")
    pdf = printing.to_pdf(target.read_bytes(), tmp_path)
    sizes = printing.page_sizes(pdf)
    first = " ".join(printing.page_text(pdf, 1).split())
    assert "BÁO CÁO CÔNG TÁC DÂN VẬN 6 THÁNG CUỐI NĂM 2026" in first  # the heading on page 1
    table_pages = [
        page for page in range(1, len(sizes) + 1) if "TỔNG CỘNG" in printing.page_text(pdf, page)
    ]
    assert len(table_pages) == 2
    for page in table_pages:
        assert printing.is_size(sizes[page - 1], printing.A4_LANDSCAPE)
        assert min(printing.body_font_sizes(pdf, page)) >= 10, page
        assert not printing.overprinted(pdf, page), page
        text = " ".join(printing.page_text(pdf, page).split())
        assert "Ban Thường vụ Huyện ủy Ninh Phước" in text  # the unit columns on each page
        assert "1. Tình hình chung" in text  # a group's title over its columns on each page
