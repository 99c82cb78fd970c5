"""The workbooks as staff print them: converted to PDF by LibreOffice headless, then read back with
poppler's pdfinfo and pdftotext (page count, paper and orientation, what text is on which page).

Skipped, saying why, only where LibreOffice or poppler-utils is not installed (`.ci/run`
installs both).
"""

from __future__ import annotations

import os
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

A4_LANDSCAPE = (841.89, 595.3)
A4_PORTRAIT = (595.3, 841.89)
FOOTER = 40  # points at the foot of a page where the footer (9 pt) is printed
_WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
)


def to_pdf(workbook: bytes, folder: Path, lang: str = "C") -> Path:
    """The workbook as LibreOffice prints it, run under the locale `lang` (the machine's
    locale must not change a printed number)."""
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
        env={**os.environ, "LANG": lang, "LC_ALL": lang},
    )
    return folder / "bang.pdf"


def words(pdf: Path, page: int) -> list[tuple[float, float, float, float, str]]:
    """(x0, y0, x1, y1, text) of every word on `page`, from pdftotext -bbox."""
    html = subprocess.run(
        ["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [
        (float(x0), float(y0), float(x1), float(y1), text)
        for x0, y0, x1, y1, text in _WORD.findall(html)
    ]


def body_font_sizes(pdf: Path, page: int) -> list[float]:
    """The height of every word's box above the footer: about 1.15 × its font size."""
    height = page_sizes(pdf)[page - 1][1]
    return [(y1 - y0) / 1.15 for _, y0, _, y1, _ in words(pdf, page) if y1 < height - FOOTER]


def overprinted(pdf: Path, page: int) -> list[tuple[str, str]]:
    """Pairs of words printed over each other (a row too low for its text, a cut cell)."""
    boxes = words(pdf, page)
    found = []
    for index, (ax0, ay0, ax1, ay1, a) in enumerate(boxes):
        for bx0, by0, bx1, by1, b in boxes[index + 1 :]:
            width = min(ax1, bx1) - max(ax0, bx0)
            height = min(ay1, by1) - max(ay0, by0)
            smaller = min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0))
            if width > 0 and height > 0 and width * height > 0.3 * smaller:
                found.append((a, b))
    return found


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


def page_text(pdf: Path, page: int, mode: str = "-layout") -> str:
    """The page's text as laid out, or with `mode="-raw"` in the order it was drawn: cell by
    cell, so a cell's wrapped lines stay together whatever the fonts make its line breaks."""
    return subprocess.run(
        ["pdftotext", mode, "-f", str(page), "-l", str(page), str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def is_size(size: tuple[float, float], expected: tuple[float, float]) -> bool:
    return all(abs(a - b) < 2 for a, b in zip(size, expected, strict=True))


def bieu_pages(texts: list[str]) -> dict[str, list[int]]:
    """{"Biểu số 01": [page index, …], …}: each biểu's pages, by the footer it prints."""
    pages: dict[str, list[int]] = {}
    for index, text in enumerate(texts):
        found = re.search(r"(Biểu số \d\d) — Bảng tổng hợp", text)
        if found:
            pages.setdefault(found.group(1), []).append(index)
    return pages


def test_consolidated_workbook_prints_as_the_ban_dan_van_would_file_it(store, tmp_path):
    store.answers(
        "HU-NP",
        {
            "inspection_teams": {"value": 1234},
            "complaints": {"done": 45, "total": 50},
            "satisfaction_pct": {"value": 88.95},
            "supervisions": {"value": 2345},
        },
    )
    store.submit("HU-NP")
    store.answers("DU-STNMT", {"inspection_teams": {"value": 4}})
    # a commune submits, typed in on the server, while its district has not
    store.answers("DU-TRIHAI", {"inspection_teams": {"value": 2}})
    store.submit("DU-TRIHAI", by="root (dòng lệnh)")
    _, data = export_bytes(store.database, now=NOW)
    pdf = to_pdf(data, tmp_path, lang="en_US.UTF-8")  # not a Vietnamese machine
    sizes = page_sizes(pdf)
    texts = [page_text(pdf, page) for page in range(1, len(sizes) + 1)]
    assert all(text.strip() for text in texts)  # no blank page
    flat = [" ".join(text.split()) for text in texts]
    bieu = bieu_pages(flat)
    assert list(bieu) == ["Biểu số 01", "Biểu số 02", "Biểu số 03"]
    assert bieu["Biểu số 01"][0] == 0  # the workbook opens on the first biểu
    assert len(bieu["Biểu số 02"]) >= 3  # Mục 4 is cut into A4 pages after whole questions
    for label, pages in bieu.items():
        first = flat[pages[0]]
        for words in (
            "TỈNH ỦY NINH THUẬN",
            "BAN DÂN VẬN",
            "ĐẢNG CỘNG SẢN VIỆT NAM",
            label,
            "BẢNG TỔNG HỢP",
            "-BC/BDVTU",
            "Kèm theo Báo cáo số",
            "11/5/2017",
            "30/5/2022",
        ):
            assert words in first, (label, words)
        assert "Trang 1" in first  # each biểu numbers its own pages
        every_page = " ".join(flat[index] for index in pages)
        assert "Chưa tính vào tổng" in every_page and "Tri Hải" in every_page, label
        assert "Toàn tỉnh" in every_page and "Số đơn vị có số liệu" in every_page, label
        assert ("Nơi nhận" in every_page) == (label == "Biểu số 03"), label  # signed once
        for index in pages:
            assert is_size(sizes[index], A4_LANDSCAPE), (label, index)
            # readable on A4: never below 10 pt, on any page of any biểu
            assert min(body_font_sizes(pdf, index + 1)) >= 10, (label, index)
            assert not overprinted(pdf, index + 1), (label, index)
            assert not outside_the_page(pdf, index + 1), (label, index)
            assert "STT" in flat[index] and "Tên đơn vị" in flat[index], (label, index)
            assert "###" not in flat[index], (label, index)
    closing = [index for index in bieu["Biểu số 03"] if "Nơi nhận" in flat[index]]
    assert len(closing) == 1  # "Nơi nhận" and the signer on one page, never cut by its end
    assert "Lưu Văn phòng" in flat[closing[0]] and "K/T TRƯỞNG BAN" in flat[closing[0]]
    every_page = " ".join(flat[index] for pages in bieu.values() for index in pages)
    assert "1.234" in every_page and "2.345" in every_page  # the thousands dot of the plan
    assert "89,0%" in every_page  # 88,95 rounded half up, with a decimal comma
    assert "90,0%" in every_page
    assert "1,234" not in every_page and "89.0" not in every_page and "90.0" not in every_page
    folded = " ".join(flat).casefold()
    for word in ("sheet", "ct37", "root", "dòng lệnh", "console", "telegram", "kad", " tb "):
        assert word not in folded, word
    # the units' Phụ lục: A4 portrait, their own heading
    unit_pages = [index for index, text in enumerate(flat) if "PHỤ LỤC" in text]
    assert unit_pages and all(is_size(sizes[index], A4_PORTRAIT) for index in unit_pages)
    units_text = " ".join(flat[index] for index in unit_pages)
    assert "HUYỆN ỦY NINH PHƯỚC" in units_text and "T/M BAN THƯỜNG VỤ" in units_text
    assert "-BC/HU" in units_text  # the unit's own report number


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
    assert all(text.strip() for text in texts)  # no blank page anywhere
    bieu = bieu_pages(texts)
    assert list(bieu) == ["Biểu số 01", "Biểu số 02", "Biểu số 03"]
    for label, pages in bieu.items():
        assert len(pages) >= 3, label  # 133 units: more than one page on every biểu
        assert "BẢNG TỔNG HỢP" in texts[pages[0]]
        assert all("BẢNG TỔNG HỢP" not in texts[index] for index in pages[1:]), label
        for index in pages:
            assert is_size(sizes[index], A4_LANDSCAPE)
            assert "STT" in texts[index], (label, index)  # header rows repeated on every page
            assert min(body_font_sizes(pdf, index + 1)) >= 10, (label, index)
        # STT runs 1..N over the whole biểu: the last unit is number 133
        assert "133 Đảng ủy xã Số 120" in " ".join(texts[index] for index in pages), label
    closing = [index for index in bieu["Biểu số 03"] if "Nơi nhận" in texts[index]]
    assert len(closing) == 1 and "Lưu Văn phòng" in texts[closing[0]]  # never cut by a page end
    assert any("4.3. Khiếu nại" in texts[index] for index in bieu["Biểu số 02"][1:])
    assert all("4.3. Khiếu nại" not in texts[index] for index in bieu["Biểu số 01"])


LIST_FOOTERS = {
    "Văn bản": "Văn bản do các đơn vị báo cáo",
    "Tiến độ": "Tiến độ nộp báo cáo",
    "Kiểm tra số liệu": "Kiểm tra số liệu",
    "Báo cáo": "Báo cáo có chữ ký",
}
LONG_RAW = (
    "Kế hoạch số 12-KH/HU ngày 05/6/2017 của Ban Thường vụ Huyện ủy về triển khai thực hiện "
    "Chỉ thị số 37-CT/TU ngày 11/5/2017 của Ban Thường vụ Tỉnh ủy về tăng cường sự lãnh đạo "
    "của Đảng đối với công tác dân vận của chính quyền các cấp trong tình hình mới"
)


def outside_the_page(pdf: Path, page: int) -> list[str]:
    """Words printed past the page's edge (a table wider than the paper)."""
    width, height = page_sizes(pdf)[page - 1]
    return [text for x0, y0, x1, y1, text in words(pdf, page) if x0 < 0 or x1 > width]


def test_every_list_sheet_prints_on_a4_readable_and_uncut(store, tmp_path):
    """ "Văn bản", "Tiến độ", "Kiểm tra số liệu" and "Báo cáo" as printed: A4 landscape at a
    body size of at least 10 pt, long texts wrapped in rows high enough (no line over another,
    no word outside its cell), the header row on every page, page numbers in the footer."""
    item = {"raw": LONG_RAW, "number": "12-KH/HU", "date": "2017-06-05", "summary": LONG_RAW}
    for code in ("HU-NP", "DU-PHUOCDAN", "TU-PRTC", "DU-STNMT"):
        store.answers(
            code,
            {"docs_party": {"items": [item] * 6}, "docs_state": {"items": [item] * 4}},
        )
    store.answers("HU-NP", {"inspection_teams": {"value": 1}})
    store.submit("HU-NP")
    store.answers("DU-PHUOCDAN", {"inspection_teams": {"value": 3}})  # more than its district
    store.submit("DU-PHUOCDAN")
    store.answers("DU-TRIHAI", {"inspection_teams": {"value": 2}})
    store.submit("DU-TRIHAI")  # its district has not submitted: named on the check sheet
    _, data = export_bytes(store.database, now=NOW, unit_sheets=False)
    pdf = to_pdf(data, tmp_path, lang="en_US.UTF-8")
    sizes = page_sizes(pdf)
    texts = [" ".join(page_text(pdf, page).split()) for page in range(1, len(sizes) + 1)]
    for sheet, footer in LIST_FOOTERS.items():
        pages = [index for index, text in enumerate(texts) if footer in text]
        assert pages, sheet
        for index in pages:
            page = index + 1
            assert is_size(sizes[index], A4_LANDSCAPE), sheet
            assert min(body_font_sizes(pdf, page)) >= 10, (sheet, page)
            assert not overprinted(pdf, page), (sheet, page, overprinted(pdf, page)[:5])
            assert not outside_the_page(pdf, page), sheet
            assert "STT" in texts[index] and "Trang " in texts[index], sheet
            assert "###" not in texts[index], sheet  # a date or number too wide for its cell
    documents = " ".join(
        texts[index] for index in range(len(texts)) if "Văn bản do" in texts[index]
    )
    assert "05/06/2017" in documents or "5/6/2017" in documents  # dd/mm/yyyy on any machine
    drawn = " ".join(
        " ".join(page_text(pdf, index + 1, "-raw").split())
        for index in range(len(texts))
        if "Văn bản do" in texts[index]
    )
    assert drawn.count("tình hình mới") >= 2 * 40  # every long text printed to its end
    check = " ".join(
        texts[index] for index in range(len(texts)) if "Kiểm tra số liệu" in texts[index]
    )
    assert "Tri Hải" in check and "Ban Thường vụ Huyện ủy Ninh Hải chưa nộp" in check
