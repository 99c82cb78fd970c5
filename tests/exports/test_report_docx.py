"""The Word drafts (exports/report_docx.py through bot/documents/word_reports.py), read back with
python-docx: the Party heading, every section of the Đề cương in order, figure sentences in
Vietnamese number formats, "Không áp dụng" and unanswered written as such, the Phụ lục table,
"DỰ THẢO" until the unit submits, and the consolidated draft with its totals and list of units."""

from __future__ import annotations

import io

import pytest
from docx import Document
from docx.shared import Pt

from bot.documents.word_reports import consolidated_totals, report_bytes
from conversations.forms import load_form
from conversations.outline import load_outline
from exports.data import AnswerData, CampaignInfo, UnitReport
from exports.letterhead import unit_letterhead
from exports.report_docx import build_unit_report
from storage.database import open_database
from storage.repository import seed_if_empty
from tests.conversations.test_outline import PLAN_SECTIONS
from tests.exports.conftest import NOW, Store

DOCUMENT = {
    "raw": "12-KH/HU, ngày 05/6/2017, Kế hoạch triển khai Chỉ thị 37-CT/TU",
    "number": "12-KH/HU",
    "date": "2017-06-05",
    "summary": "Kế hoạch triển khai Chỉ thị 37-CT/TU",
}
NINH_PHUOC = {
    "docs_party": {"items": [DOCUMENT]},
    "inspection_teams": {"value": 12},
    "inspected_units": {"value": 1234},
    "online_services_l34": "N/A",
    "satisfaction_pct": {"value": 85.5},
    "reception_local_regular": {"times": 24, "people": 1350},
    "complaints": {"done": 45, "total": 50},
    "supervisions": {"value": 8},
}


def open_docx(data: bytes):
    return Document(io.BytesIO(data))


def body_texts(document) -> list[str]:
    return [p.text for p in document.paragraphs if p.text.strip()]


def cell_texts(table) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in table.rows]


def _mm(*lengths) -> tuple[float, ...]:
    return tuple(round(length.mm, 1) for length in lengths)


def unit_draft(database, code: str = "HU-NP") -> object:
    _, data = report_bytes(database, unit_code=code, now=NOW)
    return open_docx(data)


def test_heading_in_the_partys_format(database, store):
    store.answers("HU-NP", NINH_PHUOC)
    document = unit_draft(database)
    section = document.sections[0]
    assert _mm(section.page_width, section.page_height) == (210, 297)  # A4
    assert _mm(section.top_margin, section.bottom_margin) == (20, 20)
    assert _mm(section.left_margin, section.right_margin) == (30, 15)
    normal = document.styles["Normal"]
    assert (normal.font.name, normal.font.size) == ("Times New Roman", Pt(14))

    heading = document.tables[0]
    left, right = (cell.paragraphs for cell in heading.rows[0].cells)
    assert [p.text for p in left] == [
        "ĐẢNG BỘ TỈNH NINH THUẬN",
        "HUYỆN ỦY NINH PHƯỚC",
        "*",
        "Số …-BC/HU",  # the ký hiệu of a Huyện ủy, derived from its kind
    ]
    assert left[1].runs[0].bold
    assert right[0].text == "ĐẢNG CỘNG SẢN VIỆT NAM"
    assert right[0].runs[0].bold and right[0].runs[0].underline
    assert right[1].text == "Ninh Phước, ngày    tháng    năm 2022"  # the unit list's place
    assert right[1].runs[0].italic

    texts = body_texts(document)
    assert texts[0] == "BÁO CÁO"
    assert texts[1].startswith("Kết quả thực hiện Chỉ thị số 37-CT/TU, ngày 11/5/2017")
    # the period the report covers is stated under its title
    assert texts[2] == "(Thời gian báo cáo từ ngày 11/5/2017 đến ngày 30/5/2022)"
    assert texts[4] == (
        "Thực hiện Kế hoạch số 131-KH/TU, ngày 11/5/2022 của Ban Thường vụ Tỉnh ủy về kiểm tra"
        " việc thực hiện Chỉ thị 37-CT/TU, ngày 11/5/2017 của Ban Thường vụ Tỉnh ủy, Ban Thường"
        " vụ Huyện ủy Ninh Phước báo cáo kết quả thực hiện như sau:"
    )


def test_sections_in_order_with_figures_as_sentences(database, store):
    store.answers("HU-NP", NINH_PHUOC)
    texts = body_texts(unit_draft(database))
    headings = [text for text in texts if text in PLAN_SECTIONS]
    assert headings == PLAN_SECTIONS
    order = [texts.index(title) for title in PLAN_SECTIONS]
    assert order == sorted(order)

    assert (
        "Tổng số đoàn kiểm tra: 12 đoàn; tổng số đơn vị cơ sở được kiểm tra: 1.234 đơn vị." in texts
    )
    # under II.3, after the point's own words
    point = texts.index("3. Công tác kiểm tra, giám sát việc thực hiện Chỉ thị 37-CT/TU.")
    assert texts[point + 1].startswith("Tổng số đoàn kiểm tra: 12 đoàn")
    assert (
        "Tổng số dịch vụ công trực tuyến mức độ 3, 4: Không áp dụng; trong đó mức độ 4: (chưa"
        " trả lời)." in texts
    )
    # the one-stop rates are the province's figures: a district's draft has no such sentence
    assert not any(text.startswith("Tỷ lệ địa phương cấp huyện") for text in texts)
    assert "Chỉ số hài lòng của người dân về dịch vụ hành chính công: 85,5%." in texts
    assert (
        "Kết quả giải quyết đơn thư khiếu nại: 45/50 đơn, đạt 90%; kết quả giải quyết đơn thư"
        " tố cáo: (chưa trả lời)." in texts
    )
    assert (
        "Chủ tịch UBND huyện, Giám đốc sở, ngành: số lần tiếp định kỳ (lượt/lượt người): 24 lượt"
        " / 1.350 lượt người; số lần tiếp đột xuất (lượt/lượt người): (chưa trả lời)." in texts
    )
    # documents: counted in the sentence, listed beneath it
    assert (
        "Văn bản của cấp ủy Đảng: 1 văn bản; văn bản của cơ quan nhà nước, chính quyền:"
        " (chưa trả lời)." in texts
    )
    assert "+ 12-KH/HU, ngày 05/06/2017, Kế hoạch triển khai Chỉ thị 37-CT/TU" in texts
    # a district is not asked the province's receptions: no clause, no sentence, no 0
    assert not any(text.startswith("Chủ tịch UBND tỉnh") for text in texts)
    assert not any(": 0 " in text for text in texts)


def test_phu_luc_table_at_the_end(database, store):
    store.answers("HU-NP", NINH_PHUOC)
    document = unit_draft(database)
    table = cell_texts(document.tables[-1])
    assert table[0] == ["Mục", "Nội dung", "Số liệu"]
    rows = {row[1]: row[2] for row in table[1:] if row[0] == ""}
    assert rows["Tổng số đoàn kiểm tra"] == "12 đoàn"
    assert rows["Tổng số đơn vị cơ sở được kiểm tra"] == "1.234 đơn vị"
    assert rows["Văn bản của cấp ủy Đảng"] == (
        "1 văn bản:\n- 12-KH/HU, ngày 05/06/2017, Kế hoạch triển khai Chỉ thị 37-CT/TU"
    )
    assert rows["Văn bản của cơ quan nhà nước, chính quyền"] == "(chưa trả lời)"
    assert rows["Tổng số dịch vụ công trực tuyến mức độ 3, 4"] == "Không áp dụng"
    assert rows["Chỉ số hài lòng của người dân về dịch vụ hành chính công"] == "85,5%"
    # only the questions of the unit's level
    assert not any("Chủ tịch UBND tỉnh" in label for label in rows)
    sections = [row[0] for row in table[1:] if row[0]]
    assert sections == ["1", "2", "3", "4", "4.1", "4.2", "4.3", "4.4", "4.5", "5"]
    section_row = next(row for row in table if row[0] == "2")
    assert section_row[1] == section_row[2] == "Công tác kiểm tra"  # one cell spanning two
    texts = body_texts(document)
    assert texts[texts.index("PHỤ LỤC") + 3] == "Ban Thường vụ Huyện ủy Ninh Phước"


def test_draft_mark_until_submitted_and_the_date_of_submission(database, store):
    store.answers("HU-NP", NINH_PHUOC)
    draft = unit_draft(database)
    assert draft.sections[0].header.paragraphs[0].text == "DỰ THẢO"
    store.submit("HU-NP")
    final = unit_draft(database)
    header = "".join(p.text for p in final.sections[0].header.paragraphs)
    assert "DỰ THẢO" not in header
    assert "DỰ THẢO" not in "\n".join(body_texts(final))
    date_line = final.tables[0].rows[0].cells[1].paragraphs[1].text
    assert date_line == "Ninh Phước, ngày 04 tháng 7 năm 2022"


def test_recipients_and_signer(database):
    document = unit_draft(database, "DU-TRIHAI")
    left, right = document.tables[0].rows[0].cells
    assert [p.text for p in left.paragraphs][:3] == [
        "ĐẢNG BỘ HUYỆN NINH HẢI",
        "ĐẢNG ỦY XÃ TRI HẢI",
        "*",
    ]
    signature = cell_texts(document.tables[1])[0]
    assert signature[0].splitlines() == [
        "Nơi nhận:",
        "- Ban Dân vận Tỉnh ủy (b/c),",
        "- Lưu.",
    ]  # the campaign file's unit_recipients
    assert signature[1].splitlines()[:2] == ["T/M ĐẢNG ỦY", "BÍ THƯ"]


def test_unanswered_unit_gets_a_whole_draft(database):
    texts = body_texts(unit_draft(database, "HU-BACAI"))
    assert (
        "Tổng số đoàn kiểm tra: (chưa trả lời); tổng số đơn vị cơ sở được kiểm tra: (chưa trả lời)."
        in texts
    )
    assert texts.count("(Đơn vị bổ sung nội dung.)") >= 20


def test_user_text_with_control_characters_is_kept_readable(database, store):
    store.answer(
        "HU-NP", "docs_party", {"items": [{"raw": "x", "summary": "Kế\x07 hoạch\x00 số 1"}]}
    )
    texts = body_texts(unit_draft(database))
    assert "+ Kế hoạch số 1" in texts


def test_the_inspection_report(database, store):
    store.answers("HU-NP", NINH_PHUOC)
    store.answers("HU-NH", {"inspection_teams": {"value": 5}, "inspected_units": {"value": 40}})
    store.answers("DU-TRIHAI", {"inspection_teams": {"value": 2}})  # in Ninh Hải's figures
    store.answers("HU-BACAI", {"inspection_teams": {"value": 100}})  # a sample, not submitted
    store.answer("HU-NP", "dc:I.1", {"text": "Ninh Phước có 9 xã, thị trấn."})
    store.answer("HU-NH", "dc:I.1", {"text": "Ninh Hải ven biển."})
    store.answer("HU-NH", "dc:II.1", {"text": "Đã quán triệt đến chi bộ."})
    for code in ("HU-NP", "HU-NH", "DU-TRIHAI"):
        store.submit(code)
    store.submit("DU-PHUOCDAN", at=NOW.replace(day=6))  # after the deadline of 05/7
    name, data = report_bytes(database, now=NOW.replace(day=7))
    assert name == "CT37-2022_bao-cao_tong-hop_20220707-0830.docx"
    document = open_docx(data)
    assert document.sections[0].header.paragraphs[0].text == "DỰ THẢO"
    left = [p.text for p in document.tables[0].rows[0].cells[0].paragraphs]
    assert left == ["TỈNH ỦY NINH THUẬN", "BAN DÂN VẬN", "*", "Số      -BC/BDVTU"]  # campaign file
    texts = body_texts(document)
    whole = "\n".join(texts)
    assert texts[0] == "BÁO CÁO"
    assert texts[1] == (
        "Kết quả kiểm tra việc thực hiện Chỉ thị 37-CT/TU, ngày 11/5/2017 của Ban Thường vụ Tỉnh ủy"
    )
    assert "báo cáo Ban Thường vụ Tỉnh ủy kết quả kiểm tra như sau:" in texts[4]
    # how the inspection was run: the plan's two groups, on time / late / missing by name
    headings = [t for t in texts if t[:2] in ("I-", "II", "II", "IV") and t.isupper()]
    assert headings == [
        "I- CÔNG TÁC TỔ CHỨC KIỂM TRA",
        "II- KẾT QUẢ KIỂM TRA",
        "III- ĐÁNH GIÁ CHUNG",
        "IV- KIẾN NGHỊ",
    ]
    assert any(t.startswith("1. Đoàn kiểm tra làm việc trực tiếp tại 9 đơn vị:") for t in texts)
    assert "- Gửi muộn: Đảng ủy thị trấn Phước Dân (ngày 06/07/2022)." in texts
    on_time = next(t for t in texts if t.startswith("- Gửi đúng hạn:"))
    assert "Ban Thường vụ Huyện ủy Ninh Phước" in on_time and "Đảng ủy xã Tri Hải" in on_time
    missing = next(t for t in texts if t.startswith("- Chưa gửi báo cáo:"))
    assert "Chi bộ Thanh tra tỉnh" in missing
    assert "(mẫu)" not in whole and "Bác Ái" not in whole  # samples never appear
    for part in ("1. Ưu điểm", "2. Hạn chế", "3. Nguyên nhân"):
        assert part in texts
    # the results under the Đề cương's points with the consolidated figures
    assert "1- ĐẶC ĐIỂM, TÌNH HÌNH" in texts
    assert (
        "Tổng số đoàn kiểm tra: 17 đoàn; tổng số đơn vị cơ sở được kiểm tra: 1.274 đơn vị." in texts
    )
    assert "Chỉ số hài lòng của người dân về dịch vụ hành chính công: bình quân 85,5%." in texts
    # Phụ lục 1: each unit's own text under each point, with its name
    annex = texts.index("NỘI DUNG BÁO CÁO CỦA CÁC ĐƠN VỊ THEO ĐỀ CƯƠNG")
    after = texts[annex:]
    assert "- Ban Thường vụ Huyện ủy Ninh Phước: Ninh Phước có 9 xã, thị trấn." in after
    assert "- Ban Thường vụ Huyện ủy Ninh Hải: Ninh Hải ven biển." in after
    assert "- Ban Thường vụ Huyện ủy Ninh Hải: Đã quán triệt đến chi bộ." in after
    # Phụ lục 2: only the units that sent a report
    units = cell_texts(document.tables[2])
    assert units[0] == ["STT", "Đơn vị", "Ngày gửi"]
    assert [row[1] for row in units[1:]] == [
        "Ban Thường vụ Huyện ủy Ninh Phước",
        "Đảng ủy thị trấn Phước Dân",
        "Ban Thường vụ Huyện ủy Ninh Hải",
        "Đảng ủy xã Tri Hải",
    ]

    figures = {row[1]: row[2] for row in cell_texts(document.tables[-1])[1:] if row[0] == ""}
    assert figures["Tổng số đoàn kiểm tra"] == "17 đoàn"
    assert figures["Kết quả giải quyết đơn thư khiếu nại (số đơn đã giải quyết / tổng số đơn)"] == (
        "45/50 đơn, đạt 90%"
    )
    # the totals table follows the workbook's Biểu số 01–03 (one report's annexes) and points
    # to them for each unit's figures
    totals = texts.index("Biểu số 04")
    assert "Biểu số 01" not in texts
    assert texts[totals + 5] == "(Số liệu của từng đơn vị: Biểu số 01 đến Biểu số 03 kèm theo.)"


def _unit(code, level, status, answers, parent=None) -> UnitReport:
    return UnitReport(
        code=code,
        name=code,
        level=level,
        parent_code=parent,
        status=status,
        answers={key: AnswerData(*value) for key, value in answers.items()},
    )


def test_consolidated_totals_follow_the_consolidation_rules():
    form = load_form("ct37_phuluc.yaml")
    units = [
        _unit(
            "A",
            "huyen",
            "submitted",
            {
                "complaints": ({"done": 1, "total": 3},),
                "satisfaction_pct": ({"value": 80},),
                "inspection_teams": (None, True),
                "docs_party": ({"items": [{"raw": "a"}]},),
            },
        ),
        _unit(
            "B",
            "huyen",
            "approved",
            {
                "complaints": ({"done": 2, "total": 3},),
                "satisfaction_pct": ({"value": 90},),
                "docs_party": ({"items": []},),
            },
        ),
        _unit("A1", "xa", "submitted", {"complaints": ({"done": 50, "total": 50},)}, parent="A"),
        _unit("C", "huyen", "in_progress", {"complaints": ({"done": 9, "total": 9},)}),
        _unit(
            "D", "huyen", "submitted", {"reception_province_regular": ({"times": 1, "people": 1},)}
        ),
    ]
    totals, counted = consolidated_totals(form, units)
    assert counted == 3  # A, B, D: not the commune under A, not the unit still filling in
    assert totals["complaints"] == {"done": 3, "total": 6}
    assert totals["satisfaction_pct"] == {"value": 85, "average": True}
    assert totals["docs_party"] == {"count": 1}
    assert totals["inspection_teams"] is None  # "Không áp dụng" is not 0
    assert totals["reception_province_regular"] is None  # not asked of a district


@pytest.fixture
def both_databases(database_url, clock):
    database = open_database(database_url)
    with database.transaction() as session:
        seed_if_empty(session, NOW)
    yield database
    database.dispose()


def test_report_from_sqlite_and_postgresql(both_databases):
    store = Store(both_databases)
    store.answers("HU-NP", NINH_PHUOC)
    store.submit("HU-NP")
    name, data = report_bytes(both_databases, unit_code="hu-np", now=NOW)
    assert name == "CT37-2022_bao-cao_HU-NP_20220704-0830.docx"
    texts = body_texts(open_docx(data))
    assert "Số cuộc giám sát: 8 cuộc; số Hội nghị phản biện: (chưa trả lời)." in texts
    _, data = report_bytes(both_databases, now=NOW)
    assert "Số cuộc giám sát: 8 cuộc; số Hội nghị phản biện: (chưa có số liệu)." in body_texts(
        open_docx(data)
    )


def test_the_units_own_texts_go_under_their_points():
    form = load_form("ct37_phuluc.yaml")
    outline = load_outline("ct37_decuong.yaml", form)
    info = CampaignInfo("ct37-2022", "t", "Kế hoạch số 131-KH/TU", "Ban Dân vận Tỉnh ủy", NOW)
    unit = UnitReport(code="HU-NP", name="Ban Thường vụ Huyện ủy Ninh Phước", level="huyen")
    narratives = {
        "I.1": "Huyện có 9 xã, thị trấn.\n\nDân số khoảng 140.000 người.",
        "VI": "Đề nghị Tỉnh ủy tổ chức tập huấn.",
    }
    data = build_unit_report(
        info,
        outline,
        form,
        unit,
        letterhead=unit_letterhead(info, unit),
        narratives=narratives,
        now=NOW,
    )
    texts = body_texts(open_docx(data))
    # the Đề cương's prompt is not printed where the unit wrote its text: the text replaces it
    assert "- Khái quát đặc điểm, tình hình chung của cơ quan, đơn vị, địa phương." not in texts
    point = texts.index("I- ĐẶC ĐIỂM, TÌNH HÌNH")
    assert texts[point + 1 : point + 3] == [
        "Huyện có 9 xã, thị trấn.",
        "Dân số khoảng 140.000 người.",
    ]
    assert texts[point + 3].startswith("- Những thuận lợi")  # no placeholder where there is text
    assert texts[texts.index("VI- ĐỀ XUẤT, KIẾN NGHỊ") + 1] == "Đề nghị Tỉnh ủy tổ chức tập huấn."
    assert texts[texts.index("V- NHIỆM VỤ TRỌNG TÂM THỜI GIAN TỚI") + 1] == (
        "(Đơn vị bổ sung nội dung.)"
    )
