"""What the Ban Dân vận gets of the signed reports: the "Báo cáo" sheet of the consolidated
workbook, and `baocao export --reports` (a folder or a zip named `<code> - <unit name>.<ext>`,
with drafts for the units that sent none), on a temporary SQLite database.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

import docx
import pytest

from bot.cli.commands import main
from bot.documents.workbooks import export_bytes
from storage.models import Contact
from storage.repository import current_campaign, submission_for, unit_by_code
from storage.signed_reports import store_signed_report
from tests.exports.conftest import NOW, find_row, open_workbook

PDF = b"%PDF-1.4\nsigned\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0page"


def send_back(database, data_dir, code: str, name: str, data: bytes, at: datetime = NOW):
    with database.transaction() as session:
        unit = unit_by_code(session, code)
        contact = Contact(
            channel="telegram",
            external_id=f"o-{code}-{name}",
            chat_id="c",
            display_name="Lê Thị Hoa",
            unit_id=unit.id,
            created_at=NOW,
        )
        session.add(contact)
        session.flush()
        submission = submission_for(session, current_campaign(session), unit)
        if submission.id is None:
            session.add(submission)
            session.flush()
        store_signed_report(
            session,
            data_dir,
            submission_id=submission.id,
            file_name=name,
            content_type="application/pdf",
            data=data,
            contact_id=contact.id,
            channel="telegram",
            now=at,
        )


@pytest.fixture
def cli(database, tmp_path, monkeypatch):
    monkeypatch.setenv("BAOCAO_DATABASE_URL", str(database.engine.url))
    monkeypatch.setenv("BAOCAO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return lambda *argv: main(list(argv))


def test_the_bao_cao_sheet_lists_who_sent_and_when(database, tmp_path):
    send_back(database, tmp_path / "data", "HU-NP", "Báo cáo NP.pdf", PDF)
    send_back(database, tmp_path / "data", "HU-NP", "trang 2.jpg", JPEG)
    _, data = export_bytes(database, now=NOW, unit_sheets=False)
    ws = open_workbook(data)["Báo cáo"]
    header = [cell.value for cell in ws[find_row(ws, 1, "STT")]]
    row = dict(zip(header, [c.value for c in ws[find_row(ws, 2, "HU-NP")]], strict=True))
    assert row["Báo cáo có chữ ký"] == "Đã gửi" and row["Số tệp"] == 2
    assert row["Gửi lúc"] == datetime(2022, 7, 4, 8, 30)  # Vietnam time
    assert row["Tên tệp"] == f"Báo cáo NP.pdf ({len(PDF)} byte)\ntrang 2.jpg ({len(JPEG)} byte)"
    assert row["Người gửi"] == "Lê Thị Hoa"
    other = dict(zip(header, [c.value for c in ws[find_row(ws, 2, "HU-BACAI")]], strict=True))
    assert other["Báo cáo có chữ ký"] == "Chưa gửi" and other["Số tệp"] == 0


def test_export_reports_zip_names_and_drafts(cli, database, tmp_path, capsys):
    send_back(database, tmp_path / "data", "HU-NP", "Báo cáo NP.pdf", PDF)
    send_back(database, tmp_path / "data", "HU-NP", "trang 2.jpg", JPEG)
    output = tmp_path / "bao-cao.zip"
    assert cli("export", "--reports", str(output)) == 0
    assert "Đã xuất 2 tệp báo cáo có chữ ký và 12 dự thảo" in capsys.readouterr().out
    with zipfile.ZipFile(output) as archive:
        names = archive.namelist()
        assert archive.read("HU-NP - Ban Thường vụ Huyện ủy Ninh Phước.pdf") == PDF
        assert archive.read("HU-NP - Ban Thường vụ Huyện ủy Ninh Phước (2).jpg") == JPEG
        draft = archive.read("HU-BACAI - Ban Thường vụ Huyện ủy Bác Ái (mẫu) (dự thảo).docx")
    assert len(names) == 14 and all(" - " in name for name in names)
    assert not any(name.startswith("HU-NP") and "dự thảo" in name for name in names)
    document = docx.Document(io.BytesIO(draft))
    assert document.sections[0].header.paragraphs[0].text == "DỰ THẢO"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_export_reports_to_a_folder_and_a_missing_file(cli, database, tmp_path, capsys):
    send_back(database, tmp_path / "data", "HU-NP", "Báo cáo NP.pdf", PDF)
    for stored in (tmp_path / "data").rglob("*.pdf"):
        stored.unlink()  # lost from the disk (a restore without the data folder)
    assert cli("export", "--reports", str(tmp_path / "out")) == 1
    assert "không tìm thấy tệp đã lưu: HU-NP: Báo cáo NP.pdf" in capsys.readouterr().err
    assert (
        tmp_path / "out" / "HU-BACAI - Ban Thường vụ Huyện ủy Bác Ái (mẫu) (dự thảo).docx"
    ).exists()
    assert cli("export", "--reports", str(tmp_path / "bao-cao.zip" / "x")) == 1
