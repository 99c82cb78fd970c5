"""Issue #20 "Ready to sign" and #18's document rules: one letterhead and one ký hiệu for a
unit's Phụ lục and Word draft, numbers printed the same under any locale (decimal comma, half up),
submitted units left out of the totals named, the district's own table and draft, and documents
built from one snapshot found by campaign id (on SQLite and PostgreSQL).
"""

from __future__ import annotations

import io
import locale

import pytest
from docx import Document
from openpyxl import load_workbook

from bot.cli.commands import main
from bot.documents.snapshot import load_snapshot
from bot.documents.word_reports import report_bytes
from bot.documents.workbooks import export_bytes
from bot.unit_import import check_rows
from conversations.formatting import decimal_text, format_percent, half_up
from exports.cells import percent_text
from exports.letterhead import default_symbol
from storage.repository import (
    StorageError,
    UnitRow,
    current_campaign,
    replace_units,
    seed_if_empty,
)
from tests.exports.conftest import NOW, Store, Summary, bieu_sheets, find_row, summary_columns


def _texts(data: bytes) -> list[str]:
    document = Document(io.BytesIO(data))
    texts = [p.text for p in document.paragraphs]
    for table in document.tables:
        texts += [p.text for row in table.rows for cell in row.cells for p in cell.paragraphs]
    return texts


def _cells(workbook, title: str) -> list[str]:
    ws = workbook[title]
    return [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]


# --- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["C", "C.UTF-8", "en_US.UTF-8"])
def test_half_up_and_the_decimal_comma_whatever_the_locale(name):
    try:
        previous = locale.setlocale(locale.LC_ALL, name)
    except locale.Error:
        pytest.skip(f"locale {name} is not installed")
    try:
        assert str(half_up(88.95)) == "89.0"  # round(88.95, 1) might give 88.9
        assert decimal_text(88.95) == "89,0"
        assert decimal_text(88.94) == "88,9"
        assert decimal_text(1234.25, 1) == "1.234,3"
        assert percent_text(88.95) == "89,0%"
        assert percent_text(200 / 3) == "66,7%"
        assert format_percent(0.05) == "0,1%"
    finally:
        locale.setlocale(locale.LC_ALL, previous)


# --- one letterhead ----------------------------------------------------------------------------


def test_the_ky_hieu_follows_the_kind_of_body():
    assert default_symbol("Ban Thường vụ Huyện ủy Ninh Phước", "huyen") == "HU"
    assert default_symbol("Ban Thường vụ Thành ủy Phan Rang - Tháp Chàm", "huyen") == "TU"
    assert default_symbol("Đảng ủy xã Tri Hải", "xa") == "ĐU"
    assert default_symbol("Ban cán sự đảng UBND tỉnh", "tinh") == "BCSĐ"
    assert default_symbol("Chi bộ Thanh tra tỉnh", "so_nganh") == "CB"
    assert default_symbol("Ủy ban Mặt trận xã", "xa") == "ĐU"  # by level when the name says none


def test_the_unit_list_symbol_column_is_read_and_checked():
    header = ["code", "name", "level", "parent_code", "group", "symbol"]
    rows = check_rows([header, ["HU-A", "Huyện ủy A", "huyen", "", "", "HU"]])
    assert rows[0].symbol == "HU"
    with pytest.raises(ValueError, match="symbol"):
        check_rows([header, ["HU-A", "Huyện ủy A", "huyen", "", "", "X" * 21]])


def test_the_phu_luc_and_the_word_draft_carry_the_same_heading(database, store):
    store.answer("HU-NP", "inspection_teams", {"value": 5})
    _, workbook_data = export_bytes(database, unit_code="HU-NP", now=NOW)
    _, word_data = report_bytes(database, unit_code="HU-NP", now=NOW)
    sheet = _cells(load_workbook(io.BytesIO(workbook_data)), "HU-NP")
    word = _texts(word_data)
    for line in ("ĐẢNG BỘ TỈNH NINH THUẬN", "HUYỆN ỦY NINH PHƯỚC", "T/M BAN THƯỜNG VỤ"):
        assert line in sheet and line in word, line
    attached = "(Kèm theo Báo cáo số …-BC/HU, ngày … tháng … năm 2022 của Huyện ủy Ninh Phước)"
    assert attached in sheet and attached in word
    assert "Số …-BC/HU" in word  # the report the Phụ lục is attached to
    assert "Biểu số 01" in sheet and "Biểu số 01" in word


def test_a_symbol_from_the_unit_list_is_used_everywhere(database, store):
    with database.transaction() as session:
        replace_units(
            session,
            [
                UnitRow(
                    "HU-NP",
                    "Ban Thường vụ Huyện ủy Ninh Phước",
                    "huyen",
                    group="kiem_tra_truc_tiep",
                    symbol="HUNP",
                )
            ],
        )
    _, word_data = report_bytes(database, unit_code="HU-NP", now=NOW)
    _, workbook_data = export_bytes(database, unit_code="HU-NP", now=NOW)
    assert "Số …-BC/HUNP" in _texts(word_data)
    sheet = _cells(load_workbook(io.BytesIO(workbook_data)), "HU-NP")
    assert any("-BC/HUNP" in text for text in sheet)


def test_the_unit_draft_prints_notes_and_the_plans_labels(database, store):
    store.answer("HU-NP", "inspection_teams", {"value": 5}, note="Gồm 2 đoàn liên ngành")
    _, word_data = report_bytes(database, unit_code="HU-NP", now=NOW)
    texts = _texts(word_data)
    # under its figure sentence in the body, and under its value in the attached table
    assert texts.count("(Ghi chú: Gồm 2 đoàn liên ngành)") == 2
    assert "* Cấp huyện:" in texts  # a heading line, as the printed Phụ lục has it
    assert not any("— Cấp huyện —" in text for text in texts)  # never the chat's long label


# --- totals: who is left out, and why ----------------------------------------------------------


def test_a_commune_whose_district_has_not_submitted_is_named_not_dropped(database, store):
    store.answer("HU-NP", "inspection_teams", {"value": 5})
    store.submit("HU-NP")
    store.answer("DU-TRIHAI", "inspection_teams", {"value": 2})
    store.submit("DU-TRIHAI")  # HU-NH, above it, has not submitted
    why = "Đảng ủy xã Tri Hải (vì Ban Thường vụ Huyện ủy Ninh Hải chưa nộp)"
    _, data = export_bytes(database, now=NOW, unit_sheets=False)
    workbook = load_workbook(io.BytesIO(data))
    for sheet in bieu_sheets(workbook):  # every biểu's totals leave it out, and say so
        assert any(why in text for text in _cells(workbook, sheet.title)), sheet.title
    assert any(why in text for text in _cells(workbook, "Kiểm tra số liệu"))
    _, word = report_bytes(database, now=NOW)
    assert any(f"Chưa tính vào tổng: {why}." in text for text in _texts(word))


def test_a_unit_draft_says_truly_whether_its_figures_are_in_a_total(database, store):
    store.answer("HU-NP", "inspection_teams", {"value": 5})
    store.submit("HU-NP")
    store.answer("DU-PHUOCDAN", "inspection_teams", {"value": 1})
    store.submit("DU-PHUOCDAN")  # its district HU-NP has submitted
    store.answer("DU-TRIHAI", "inspection_teams", {"value": 2})
    store.submit("DU-TRIHAI")  # its district HU-NH has not

    def sentence(code: str) -> list[str]:
        _, data = report_bytes(database, unit_code=code, now=NOW)
        return [text for text in _texts(data) if "tổng hợp" in text and "Số liệu" in text
                or "chưa nộp báo cáo nên" in text]  # fmt: skip

    assert sentence("HU-NP") == ["Số liệu của đơn vị được tính vào tổng hợp toàn tỉnh."]
    assert sentence("DU-PHUOCDAN") == [
        "Số liệu của đơn vị đã có trong báo cáo của Ban Thường vụ Huyện ủy Ninh Phước "
        "nên không cộng thêm lần nữa vào tổng hợp toàn tỉnh."
    ]
    assert sentence("DU-TRIHAI") == [
        "Số liệu của đơn vị chưa được tính vào tổng hợp vì Ban Thường vụ Huyện ủy Ninh Hải "
        "chưa nộp báo cáo."
    ]
    assert sentence("HU-NH") == [
        "Đơn vị chưa nộp báo cáo nên số liệu chưa được tính vào tổng hợp của Ban Dân vận Tỉnh ủy."
    ]
    with pytest.raises(StorageError):
        report_bytes(database, unit_code="KHONG-CO", now=NOW)


def test_each_total_says_how_many_units_it_comes_from(database, store):
    store.answer("HU-NP", "inspection_teams", {"value": 5})
    store.submit("HU-NP")
    store.answer("DU-STNMT", "documents_party", {"items": []})  # no figure for the teams
    store.submit("DU-STNMT")
    _, data = export_bytes(database, now=NOW, unit_sheets=False)
    ws = Summary(load_workbook(io.BytesIO(data)))
    _, columns = summary_columns(ws)
    behind = find_row(ws, 2, "Số đơn vị có số liệu")
    assert behind > find_row(ws, 2, "Toàn tỉnh")
    assert (
        ws.cell(find_row(ws, 2, "Toàn tỉnh"), columns[("Số đoàn kiểm tra", "Số đoàn")]).value == 5
    )
    assert ws.cell(behind, columns[("Số đoàn kiểm tra", "Số đoàn")]).value == "1/2"


# --- the district's own documents --------------------------------------------------------------


@pytest.fixture
def cli(database, tmp_path, monkeypatch):
    monkeypatch.setenv("BAOCAO_DATABASE_URL", str(database.engine.url))
    monkeypatch.chdir(tmp_path)
    return lambda *argv: main(list(argv))


def test_the_district_table_and_draft(cli, store, tmp_path, capsys):
    store.answer("HU-NP", "inspection_teams", {"value": 5})
    store.submit("HU-NP")
    store.answer("DU-PHUOCDAN", "inspection_teams", {"value": 2})
    store.submit("DU-PHUOCDAN")
    store.answer("HU-NH", "inspection_teams", {"value": 9})  # another district: not in it
    output = tmp_path / "huyen.xlsx"
    assert cli("export", "--scope", "hu-np", "--output", str(output)) == 0
    assert "HU-NP" in capsys.readouterr().out
    workbook = load_workbook(output)
    for other in ("Kiểm tra số liệu", "Văn bản", "Tiến độ"):  # one heading on every sheet
        heading = [workbook[other].cell(row, 1).value for row in range(1, 5)]
        assert heading[1] == "HUYỆN ỦY NINH PHƯỚC", other
        assert "BAN DÂN VẬN" not in heading, other
    for sheet in bieu_sheets(workbook):  # the district's own heading on every biểu
        assert sheet["A2"].value == "HUYỆN ỦY NINH PHƯỚC", sheet.title
    ws = Summary(workbook)
    names = [ws.cell(row, 2).value for row in range(1, ws.max_row + 1)]
    assert "Ban Thường vụ Huyện ủy Ninh Hải" not in names
    assert "– Đảng ủy thị trấn Phước Dân" in names
    _, columns = summary_columns(ws)
    teams = columns[("Số đoàn kiểm tra", "Số đoàn")]
    total = find_row(ws, 2, "Số liệu của Huyện ủy Ninh Phước")
    beside = find_row(ws, 2, "Cộng các đơn vị trực thuộc")
    assert ws.cell(total, teams).value == 5  # the district's own figures
    assert ws.cell(beside, teams).value == 2  # beside the sum of its communes
    assert ws.cell(beside, 3).value == "Cộng từ 1/1 đơn vị trực thuộc đã nộp"

    draft = tmp_path / "huyen.docx"
    assert cli("report", "--scope", "HU-NP", "--output", str(draft)) == 0
    document = Document(draft)
    left = [p.text for p in document.tables[0].rows[0].cells[0].paragraphs]
    assert left[1] == "HUYỆN ỦY NINH PHƯỚC" and left[3] == "Số …-BC/HU"

    assert cli("export", "--scope", "KHONG-CO", "--output", str(output)) == 1
    assert "không có đơn vị 'KHONG-CO'" in capsys.readouterr().err


# --- one snapshot, by campaign id --------------------------------------------------------------


def test_a_snapshot_is_found_by_campaign_id_and_a_code_is_only_a_code(database_url, clock):
    from storage.database import open_database

    database = open_database(database_url)
    try:
        with database.transaction() as session:
            seed_if_empty(session, clock())
            campaign_id = current_campaign(session).id
        Store(database).answer("HU-NP", "inspection_teams", {"value": 3})
        snapshot = load_snapshot(database, campaign_id=campaign_id, signed=True, outline=True)
        assert snapshot.campaign_id == campaign_id and snapshot.outline is not None
        unit = snapshot.unit("hu-np")
        assert unit.answer("inspection_teams").value == {"value": 3}
        commune = snapshot.unit("DU-PHUOCDAN")
        assert commune.parent_name == "Ban Thường vụ Huyện ủy Ninh Phước"
        with pytest.raises(StorageError):
            load_snapshot(database, campaign_id=campaign_id + 1000)
        with database.transaction() as session, pytest.raises(StorageError):
            current_campaign(session, str(campaign_id))  # an id is not a code
    finally:
        database.dispose()
