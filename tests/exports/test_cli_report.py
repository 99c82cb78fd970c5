"""`baocao report` end to end through `bot.cli.commands.main`, on a temporary SQLite database: the
unit's draft and the consolidated draft written atomically, and every mistake as one Vietnamese line
with exit 1 and nothing written.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from docx import Document

from bot.cli.commands import main
from storage.models import Campaign
from storage.repository import current_campaign
from tests.exports.conftest import NOW


@pytest.fixture
def cli(database, tmp_path, monkeypatch):
    """Run `baocao …` against the test database; returns the exit code."""
    monkeypatch.setenv("BAOCAO_DATABASE_URL", str(database.engine.url))
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    return lambda *argv: main(list(argv))


def _files(directory) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.name != "baocao.db")


def test_report_for_a_unit(cli, store, tmp_path, capsys):
    store.answer("HU-NP", "inspection_teams", {"value": 7})
    output = tmp_path / "bao-cao.docx"
    assert cli("report", "--unit", "hu-np", "--output", str(output)) == 0
    assert capsys.readouterr().out == (
        f"Đã tạo dự thảo báo cáo của Ban Thường vụ Huyện ủy Ninh Phước vào {output}\n"
    )
    texts = [p.text for p in Document(output).paragraphs]
    assert any(text.startswith("Tổng số đoàn kiểm tra: 7 đoàn;") for text in texts)
    assert not [name for name in _files(tmp_path) if name.endswith(".tmp")]


def test_report_after_submission_and_over_an_old_file(cli, store, tmp_path, capsys):
    store.submit("HU-NP")
    output = tmp_path / "cu.DOCX"
    output.write_bytes(b"not a document")
    assert cli("report", "--unit", "HU-NP", "-o", str(output), "--campaign", "ct37-2022") == 0
    assert "Đã tạo báo cáo của Ban Thường vụ Huyện ủy Ninh Phước" in capsys.readouterr().out
    assert Document(output).paragraphs[0].text == "BÁO CÁO"


def test_consolidated_report(cli, store, tmp_path, capsys):
    store.submit("HU-NP")
    output = tmp_path / "tong-hop.docx"
    assert cli("report", "--consolidated", "--output", str(output)) == 0
    assert capsys.readouterr().out == (
        f"Đã tạo dự thảo báo cáo tổng hợp (1/13 đơn vị đã báo cáo) vào {output}\n"
    )
    assert Document(output).sections[0].header.paragraphs[0].text == "DỰ THẢO"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("khong-co/thu-muc/x.docx", "không có thư mục"),
        ("bao-cao.pdf", "đuôi .docx"),
        ("bao-cao", "đuôi .docx"),
        ("la-thu-muc.docx", "là một thư mục"),
    ],
)
def test_bad_output_path(cli, tmp_path, capsys, name, message):
    (tmp_path / "la-thu-muc.docx").mkdir()
    before = _files(tmp_path)
    assert cli("report", "--unit", "HU-NP", "--output", str(tmp_path / name)) == 1
    err = capsys.readouterr().err
    assert err.startswith("baocao: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert _files(tmp_path) == before


def test_unknown_unit_or_campaign(cli, tmp_path, capsys):
    output = tmp_path / "x.docx"
    assert cli("report", "--unit", "KHONG-CO", "--output", str(output)) == 1
    assert capsys.readouterr().err == "baocao: không có đơn vị mã 'KHONG-CO'\n"
    assert cli("report", "--consolidated", "-o", str(output), "--campaign", "dot-khac") == 1
    assert capsys.readouterr().err == "baocao: không có đợt báo cáo 'dot-khac'\n"
    assert not output.exists()


def test_unit_or_consolidated_is_required(cli, tmp_path, capsys):
    output = str(tmp_path / "x.docx")
    assert cli("report", "--output", output) == 2
    assert cli("report", "--unit", "HU-NP", "--consolidated", "--output", output) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("baocao: ") for line in err)


def test_campaign_without_an_outline(cli, database, tmp_path, capsys):
    with database.transaction() as session:
        campaign = session.get(Campaign, current_campaign(session).id)
        spec = yaml.safe_load(campaign.spec_yaml)
        del spec["outline"]  # a campaign loaded before the Đề cương existed
        campaign.spec_yaml = yaml.safe_dump(spec, allow_unicode=True)
        campaign.updated_at = NOW + timedelta(hours=1)  # as `baocao campaign load` sets it
        session.add(campaign)
    assert cli("report", "--unit", "HU-NP", "--output", str(tmp_path / "x.docx")) == 1
    err = capsys.readouterr().err
    assert err == (
        "baocao: đợt báo cáo ct37-2022 chưa có đề cương báo cáo: thêm dòng «outline:"
        " ct37_decuong.yaml» vào tệp đợt báo cáo rồi chạy: baocao campaign load TỆP\n"
    )
