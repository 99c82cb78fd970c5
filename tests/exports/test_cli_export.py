"""`baocao export` end to end through `bot.cli.commands.main`, on a temporary SQLite database."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from openpyxl import load_workbook

import bot.documents.workbooks
from bot.cli.commands import main
from tests.exports.conftest import NOW


@pytest.fixture
def cli(database, tmp_path, monkeypatch):
    """Run `baocao …` against the test database; returns the exit code."""
    monkeypatch.setenv("BAOCAO_DATABASE_URL", str(database.engine.url))
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    return lambda *argv: main(list(argv))


def _leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_export_consolidated(cli, store, tmp_path, capsys):
    store.answer("HU-NP", "inspection_teams", {"value": 7})
    output = tmp_path / "tong-hop.xlsx"
    assert cli("export", "--output", str(output)) == 0
    out = capsys.readouterr().out
    assert f"Đã xuất bảng tổng hợp 13 đơn vị vào {output}" in out
    workbook = load_workbook(output)
    assert workbook.sheetnames == [
        "Biểu số 01", "Biểu số 02", "Biểu số 03", "Kiểm tra số liệu", "Văn bản", "Tiến độ",
        "Báo cáo", "HU-NP",
    ]  # fmt: skip
    assert _leftovers(tmp_path) == []


def test_export_one_unit(cli, store, tmp_path, capsys):
    store.answer("HU-NP", "inspection_teams", {"value": 7})
    output = tmp_path / "hu-np.xlsx"
    assert cli("export", "-o", str(output), "--unit", "hu-np", "--campaign", "ct37-2022") == 0
    assert "Đã xuất Phụ lục của Ban Thường vụ Huyện ủy Ninh Phước vào" in capsys.readouterr().out
    assert load_workbook(output).sheetnames == ["HU-NP"]


def test_export_without_unit_sheets(cli, tmp_path):
    output = tmp_path / "nho.XLSX"
    assert cli("export", "--output", str(output), "--no-unit-sheets") == 0
    assert load_workbook(output).sheetnames == [
        "Biểu số 01",
        "Biểu số 02",
        "Biểu số 03",
        "Kiểm tra số liệu",
        "Văn bản",
        "Tiến độ",
        "Báo cáo",
    ]


def test_export_replaces_an_existing_file(cli, tmp_path):
    output = tmp_path / "cu.xlsx"
    output.write_bytes(b"not a workbook")
    assert cli("export", "--output", str(output), "--no-unit-sheets") == 0
    assert load_workbook(output).sheetnames[0] == "Biểu số 01"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("khong-co/thu-muc/x.xlsx", "không có thư mục"),
        ("bang.csv", "đuôi .xlsx"),
        ("bang", "đuôi .xlsx"),
        ("la-thu-muc.xlsx", "là một thư mục"),
    ],
)
def test_bad_output_path(cli, tmp_path, capsys, name, message):
    (tmp_path / "la-thu-muc.xlsx").mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert cli("export", "--output", str(tmp_path / name)) == 1
    err = capsys.readouterr().err
    assert err.startswith("baocao: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_unknown_unit_or_campaign_writes_nothing(cli, tmp_path, capsys):
    output = tmp_path / "x.xlsx"
    assert cli("export", "--output", str(output), "--unit", "KHONG-CO") == 1
    assert "không có đơn vị mã 'KHONG-CO'" in capsys.readouterr().err
    assert cli("export", "--output", str(output), "--campaign", "khong-co") == 1
    assert "không có đợt báo cáo 'khong-co'" in capsys.readouterr().err
    assert not output.exists() and _leftovers(tmp_path) == []


def test_failed_write_leaves_no_half_file(cli, tmp_path, capsys, monkeypatch):
    def broken(output, *args, **kwargs):
        output.write(b"PK half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bot.documents.workbooks, "write_consolidated_workbook", broken)
    output = tmp_path / "x.xlsx"
    output.write_bytes(b"old")
    assert cli("export", "--output", str(output)) == 1
    assert "không ghi được" in capsys.readouterr().err
    assert output.read_bytes() == b"old"  # the previous file is untouched
    assert _leftovers(tmp_path) == []


def test_progress_lines_for_large_exports(cli, store, tmp_path, capsys, monkeypatch):
    for code in ("HU-NP", "HU-NH", "HU-BACAI", "DU-TRIHAI", "CB-TTT"):
        store.answer(code, "inspection_teams", {"value": 1})
    monkeypatch.setattr(bot.documents.workbooks, "LARGE_EXPORT", 5)
    monkeypatch.setattr(bot.documents.workbooks, "PROGRESS_EVERY", 5)
    assert cli("export", "--output", str(tmp_path / "x.xlsx")) == 0
    err = capsys.readouterr().err.splitlines()
    assert "Đang xuất 5/39 dòng các biểu tổng hợp…" in err  # 13 units on each of 3 biểu
    assert "Đang xuất 39/39 dòng các biểu tổng hợp…" in err
    assert "Đang xuất 5/5 sheet đơn vị…" in err  # units with nothing to show get no sheet
    assert err[-1] == "Đang ghi tệp…"


def test_no_progress_lines_for_small_exports(cli, tmp_path, capsys):
    assert cli("export", "--output", str(tmp_path / "x.xlsx")) == 0
    assert capsys.readouterr().err == ""


def test_file_name_uses_the_campaign_time_zone():
    from exports.data import CampaignInfo

    info = CampaignInfo("ct37-2022", "t", "", "", NOW)
    assert (
        bot.documents.workbooks.export_filename(info, "HU-NP", NOW)
        == "CT37-2022_HU-NP_20220704-0830.xlsx"
    )


def test_export_per_unit_to_a_folder_and_a_zip(cli, store, tmp_path, capsys):
    store.answer("HU-NP", "inspection_teams", {"value": 7})
    store.answer("DU-PHUOCDAN", "inspection_teams", {"value": 2})
    folder = tmp_path / "phu-luc"
    assert cli("export", "--per-unit", str(folder)) == 0
    out = capsys.readouterr().out
    assert f"Đã xuất Phụ lục của 2 đơn vị (mỗi đơn vị một tệp) vào {folder}" in out
    assert "11 đơn vị chưa có số liệu nên không có tệp" in out
    names = sorted(p.name for p in folder.iterdir())
    assert [re.sub(r"_\d{8}-\d{4}\.xlsx$", "", name) for name in names] == [
        "CT37-2022_DU-PHUOCDAN",
        "CT37-2022_HU-NP",
    ]
    assert load_workbook(folder / names[1]).sheetnames == ["HU-NP"]

    archive = tmp_path / "phu-luc.zip"
    assert cli("export", "--per-unit", str(archive)) == 0
    with zipfile.ZipFile(archive) as opened:
        assert sorted(opened.namelist()) == names
        workbook = load_workbook(io.BytesIO(opened.read(names[0])))
    assert workbook.sheetnames == ["DU-PHUOCDAN"]
    assert _leftovers(tmp_path) == []
    assert {"phu-luc", "phu-luc.zip"} <= {p.name for p in tmp_path.iterdir()}
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".phu-luc")]


def test_export_per_unit_refuses_a_bad_target(cli, tmp_path, capsys):
    blocker = tmp_path / "tep.txt"
    blocker.write_text("x")
    assert cli("export", "--per-unit", str(blocker)) == 1
    assert "không phải thư mục" in capsys.readouterr().err
    assert cli("export", "--per-unit", str(tmp_path / "khong-co" / "a.zip")) == 1
    assert "không có thư mục" in capsys.readouterr().err


def test_status_json_says_who_is_late_and_who_the_total_is_built_from(cli, store, capsys):
    store.answers("HU-NP", {"inspection_teams": {"value": 1}})
    store.submit("HU-NP")
    store.answers("DU-PHUOCDAN", {"inspection_teams": {"value": 1}})
    store.submit("DU-PHUOCDAN")
    store.answers("HU-NH", {"inspection_teams": {"value": 1}})
    assert cli("status", "--json") == 0  # the command's clock is today: long past 05/7/2022
    (record,) = json.loads(capsys.readouterr().out)
    assert (record["submitted"], record["in_progress"], record["not_started"]) == (2, 1, 10)
    assert record["counted_in_totals"] == ["HU-NP"]  # its commune is inside its report
    assert record["province_total"] == "Tổng hợp từ 1/10 đơn vị đã nộp"
    assert len(record["late"]) == 11 and "HU-NH" in record["late"]
    assert "HU-NP" not in record["late"] and "DU-PHUOCDAN" not in record["late"]
    units = {unit["code"]: unit for unit in record["units"]}
    assert units["DU-PHUOCDAN"]["parent_code"] == "HU-NP"
    assert units["HU-NH"]["late"] and not units["HU-NP"]["late"]
