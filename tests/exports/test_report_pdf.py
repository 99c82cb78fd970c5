"""A unit's Word draft as LibreOffice prints it: converted headless to PDF, the pages are A4 and
page 1 carries the Party heading and the title. Skipped where LibreOffice or poppler's
pdfinfo/pdftotext are not installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from bot.documents.word_reports import report_bytes
from tests.exports.conftest import NOW
from tests.exports.test_report_docx import NINH_PHUOC

TOOLS = ("soffice", "pdfinfo", "pdftotext")
missing = [tool for tool in TOOLS if shutil.which(tool) is None]
pytestmark = pytest.mark.skipif(
    bool(missing), reason=f"cần LibreOffice và poppler-utils; thiếu: {', '.join(missing)}"
)


def _run(*command: str, cwd) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_draft_prints_on_a4_with_the_title_on_page_one(database, store, tmp_path):
    store.answers("HU-NP", NINH_PHUOC)
    _, data = report_bytes(database, unit_code="HU-NP", now=NOW)
    (tmp_path / "bao-cao.docx").write_bytes(data)
    profile = (tmp_path / "lo-profile").as_uri()  # its own profile: runs beside another soffice
    _run(
        "soffice",
        f"-env:UserInstallation={profile}",
        "--headless",
        "--convert-to",
        "pdf",
        "bao-cao.docx",
        cwd=tmp_path,
    )
    info = _run("pdfinfo", "bao-cao.pdf", cwd=tmp_path)
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert size and (round(float(size[1])), round(float(size[2]))) == (595, 842)  # A4
    pages = int(re.search(r"Pages:\s+(\d+)", info)[1])
    assert pages >= 3
    first = _run("pdftotext", "-f", "1", "-l", "1", "-layout", "bao-cao.pdf", "-", cwd=tmp_path)
    assert "ĐẢNG CỘNG SẢN VIỆT NAM" in first
    assert "HUYỆN ỦY NINH PHƯỚC" in first
    assert "BÁO CÁO" in first
    assert "DỰ THẢO" in first
    assert "I- ĐẶC ĐIỂM, TÌNH HÌNH" in first
    last = _run("pdftotext", "-f", str(pages), "-l", str(pages), "bao-cao.pdf", "-", cwd=tmp_path)
    assert "Giám sát, phản biện của MTTQ" in last  # the Phụ lục table closes the draft
