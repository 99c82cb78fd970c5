"""The workbooks as staff print them: converted to PDF by LibreOffice headless, then read back with
poppler's pdfinfo and pdftotext (page count, paper and orientation, what text is on which page).

Skipped, saying why, only where LibreOffice or poppler-utils is not installed (`.ci/run`
installs both).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.documents.workbooks import export_bytes
from storage.repository import UnitRow
from tests.exports.conftest import NOW

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
POPPLER = shutil.which("pdfinfo") and shutil.which("pdftotext")
pytestmark = pytest.mark.skipif(
    not (SOFFICE and POPPLER),
    reason="LibreOffice (soffice) or poppler-utils (pdfinfo, pdftotext) is not installed: "
    "apt-get install -y libreoffice-calc poppler-utils",
)

A3_LANDSCAPE = (1190.55, 841.89)
A4_PORTRAIT = (595.3, 841.89)


def to_pdf(workbook: bytes, folder: Path) -> Path:
    source = folder / "bang.xlsx"
    source.write_bytes(workbook)
    profile = folder / "lo-profile"  # own profile: other LibreOffice runs may be going on
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(folder),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return folder / "bang.pdf"


def page_sizes(pdf: Path) -> list[tuple[float, float]]:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True)
    pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))
    info = subprocess.run(
        ["pdfinfo", "-f", "1", "-l", str(pages), str(pdf)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    sizes = re.findall(r"^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", info, re.M)
    return [(float(width), float(height)) for width, height in sizes]


def page_text(pdf: Path, page: int) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def is_size(size: tuple[float, float], expected: tuple[float, float]) -> bool:
    return all(abs(a - b) < 2 for a, b in zip(size, expected, strict=True))


def test_consolidated_workbook_prints_as_the_ban_dan_van_would_file_it(store, tmp_path):
    store.answers(
        "HU-NP", {"inspection_teams": {"value": 12}, "complaints": {"done": 45, "total": 50}}
    )
    store.submit("HU-NP")
    store.answers("DU-STNMT", {"inspection_teams": {"value": 4}})
    _, data = export_bytes(store.database, now=NOW)
    pdf = to_pdf(data, tmp_path)
    sizes = page_sizes(pdf)
    # Tổng hợp, Kiểm tra số liệu, Văn bản, Tiến độ, Báo cáo, and the two units that answered
    # something: one page each, none blank
    assert len(sizes) == 7
    texts = [page_text(pdf, page) for page in range(1, len(sizes) + 1)]
    assert all(text.strip() for text in texts)
    assert is_size(sizes[0], A3_LANDSCAPE)  # the consolidated table: A3 landscape
    first = texts[0]
    for words in (
        "TỈNH ỦY NINH THUẬN",
        "BAN DÂN VẬN",
        "ĐẢNG CỘNG SẢN VIỆT NAM",
        "Ninh Thuận, ngày",
        "BẢNG TỔNG HỢP",
        "Kèm theo Báo cáo số …-BC/BDVTU",
        "trước ngày 05/7/2022",
        "Toàn tỉnh",
        "Tổng hợp từ",  # "… 1/10 đơn vị đã nộp", wrapped in its cell
        "1/10",
        "Nơi nhận:",
        "PHÓ TRƯỞNG BAN",
    ):
        assert words in " ".join(first.split()), words
    # the whole title on one line: never cut by a page edge
    assert "Kết quả triển khai thực hiện Chỉ thị 37-CT/TU, ngày 11/5/2017 của Ban Thường vụ " in (
        " ".join(first.split())
    )
    # the units' Phụ lục: A4 portrait, their own heading
    assert "BÁO CÁO CÓ CHỮ KÝ CỦA CÁC ĐƠN VỊ" in " ".join(texts[4].split())
    assert is_size(sizes[5], A4_PORTRAIT) and is_size(sizes[6], A4_PORTRAIT)
    unit_pages = " ".join(" ".join(text.split()) for text in texts[5:])
    assert "HUYỆN ỦY NINH PHƯỚC" in unit_pages and "T/M BAN THƯỜNG VỤ" in unit_pages


def test_a_long_table_repeats_its_header_rows_and_has_no_blank_page(store, tmp_path):
    store.add_units(
        *(
            UnitRow(f"XA-{n:03}", f"Đảng ủy xã Số {n}", "xa", "", "tu_kiem_tra")
            for n in range(1, 121)
        )
    )
    _, data = export_bytes(store.database, now=NOW, unit_sheets=False)
    pdf = to_pdf(data, tmp_path)
    sizes = page_sizes(pdf)
    texts = [" ".join(page_text(pdf, page).split()) for page in range(1, len(sizes) + 1)]
    summary = [index for index, text in enumerate(texts) if "Đảng ủy xã Số" in text]
    summary = [index for index in summary if "Tiến độ" not in texts[index]]
    tong_hop = [i for i in range(len(texts)) if "Tên đơn vị Tình trạng" in texts[i]]
    assert tong_hop[0] == 0 and len(tong_hop) >= 2  # 133 units: more than one page
    for index in tong_hop:
        assert is_size(sizes[index], A3_LANDSCAPE)
        assert "4.3. Khiếu nại" in texts[index]  # header rows repeated
    assert "BẢNG TỔNG HỢP" in texts[0]
    assert all("BẢNG TỔNG HỢP" not in texts[index] for index in tong_hop[1:])
    assert "Toàn tỉnh" in texts[tong_hop[-1]]
    assert all(text.strip() for text in texts)  # no blank page anywhere
    assert summary  # the units are there
