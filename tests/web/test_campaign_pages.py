"""«Đợt báo cáo» on the web page (issue #22), over HTTP on SQLite and PostgreSQL: the province's
list, an XLSForm uploaded (good, broken, not Excel, too large), the preview of every question
per level in the chat's words, open and close with their confirmation, archive, copy, refused
transitions (409 with the state as it is), CSRF, and a district secretariat kept out."""

from __future__ import annotations

import re

from aiohttp import FormData
from sqlalchemy import func
from sqlmodel import select

from bot.web.staff import campaign_pages
from storage.models import Campaign
from tests.campaigns.sample_form import write_form
from tests.campaigns.test_xlsform_refusals import _survey

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _count(database) -> int:
    with database.transaction() as session:
        return session.exec(select(func.count()).select_from(Campaign)).one()


def _state(database, code: str) -> str:
    with database.transaction() as session:
        return session.exec(select(Campaign.state).where(Campaign.code == code)).one()


async def _province(web, seeded):
    browser = await web()
    await browser.sign_in(seeded["province"])
    await browser.get("/web/dot")  # the page's CSRF token
    return browser


async def _upload(browser, data: bytes, *, name="bieu-mau.xlsx", csrf=None):
    form = FormData()
    form.add_field("csrf", browser.csrf if csrf is None else csrf)
    form.add_field("bieu-mau", data, filename=name, content_type=XLSX)
    return await browser.client.post("/web/dot/tai-len", data=form, allow_redirects=False)


def _section(page: str, level: str) -> str:
    start = page.index(f'id="cap-{level}"')
    end = page.find("</section>", start)
    return page[start:end]


async def test_the_list_shows_each_campaign_with_its_state(web, seeded):
    browser = await web()
    await browser.sign_in(seeded["province"])
    home = await (await browser.get("/web/")).text()
    assert '<a href="/web/dot">Đợt báo cáo</a>' in home
    response = await browser.get("/web/dot")
    page = await response.text()
    assert response.status == 200
    assert '<a href="/web/dot/ct37-2022">' in page
    assert "đang mở" in page and "đến hết ngày" in page
    assert 'enctype="multipart/form-data"' in page


async def test_a_good_form_becomes_a_draft_with_its_preview(web, seeded, database, tmp_path):
    browser = await _province(web, seeded)
    data = write_form(tmp_path / "dv.xlsx").read_bytes()
    response = await _upload(browser, data)
    assert response.status == 303
    assert response.headers["Location"] == "/web/dot/dv-2026?da=nhap"
    assert _state(database, "dv-2026") == "draft"

    page = await (await browser.get("/web/dot/dv-2026?da=nhap")).text()
    assert "Đã tạo đợt báo cáo (bản nháp)" in page
    assert "Báo cáo công tác dân vận 6 tháng cuối năm 2026" in page
    assert "bản nháp" in page and "đến hết ngày 31/12/2026" in page
    assert "từ 01/7/2026 đến 31/12/2026" in page
    # One section per level, each question as the chat asks it.
    province, district, commune = (_section(page, lv) for lv in ("tinh", "huyen", "xa"))
    assert "Cấp Tỉnh: 7 câu" in province and "Câu 7/7" in province
    assert "Câu 1/7 — Mục 1. Tình hình chung" in province
    assert "Số cuộc họp" in province and "Đếm cả họp trực tuyến" in province
    assert "Trả lời bằng một số, ví dụ: 12" in province
    assert "Ý kiến của tỉnh" in province and "Ý kiến của tỉnh" not in district
    assert "Số thôn" in commune and "Số thôn" not in province
    assert "Cấp Huyện: 6 câu" in district
    assert "<span>Bỏ qua</span>" in province  # the buttons under a question
    # A draft offers «Mở», not «Đóng».
    assert 'id="nut-mo"' in page and 'id="nut-dong"' not in page

    listing = await (await browser.get("/web/dot")).text()
    assert '<a href="/web/dot/dv-2026">' in listing and "bản nháp" in listing


async def test_a_broken_form_is_refused_with_sheet_row_and_column(web, seeded, database, tmp_path):
    browser = await _province(web, seeded)
    before = _count(database)
    data = write_form(tmp_path / "dv.xlsx", survey=_survey(5, 0, "geopoint")).read_bytes()
    response = await _upload(browser, data)
    page = await response.text()
    assert response.status == 400
    assert "trang «survey», dòng 5, cột «type»: loại «geopoint» chưa được hỗ trợ" in page
    assert _count(database) == before

    response = await _upload(browser, b"not a workbook", name="ghi-chu.xlsx")
    page = await response.text()
    assert response.status == 400
    assert "ghi-chu.xlsx: không đọc được tệp Excel (.xlsx)" in page
    assert "baocao-form-" not in page  # the server's temporary folder is not shown
    assert _count(database) == before


async def test_an_upload_past_the_cap_or_without_csrf_is_refused(
    web, seeded, database, tmp_path, monkeypatch
):
    browser = await _province(web, seeded)
    before = _count(database)
    data = write_form(tmp_path / "dv.xlsx").read_bytes()
    assert (await _upload(browser, data, csrf="0" * 64)).status == 403
    stranger = await web()
    assert (await _upload(stranger, data, csrf="0" * 64)).status == 403
    not_multipart = await browser.post("/web/dot/tai-len")
    assert not_multipart.status == 400 and "không đọc được" in await not_multipart.text()
    monkeypatch.setattr(campaign_pages, "MAX_FORM_BYTES", len(data) - 1)
    response = await _upload(browser, data)
    assert response.status == 400 and "Tệp lớn quá" in await response.text()
    assert _count(database) == before


async def test_a_taken_code_is_refused(web, seeded, database, tmp_path):
    browser = await _province(web, seeded)
    data = write_form(tmp_path / "dv.xlsx").read_bytes()
    assert (await _upload(browser, data)).status == 303
    response = await _upload(browser, data)
    assert response.status == 400
    assert "đã có đợt báo cáo mã &#39;dv-2026&#39;" in await response.text()


async def test_open_close_archive_with_confirmation(web, seeded, database, tmp_path):
    browser = await _province(web, seeded)
    await _upload(browser, write_form(tmp_path / "dv.xlsx").read_bytes())

    # Without the confirmation, «Mở» asks for it first and changes nothing.
    response = await browser.post("/web/dot/dv-2026/mo")
    assert response.status == 303 and response.headers["Location"] == "/web/dot/dv-2026/mo"
    assert _state(database, "dv-2026") == "draft"
    page = await (await browser.get("/web/dot/dv-2026/mo")).text()
    assert "trợ lý bắt đầu nhắc" in page and 'name="xac-nhan" value="1"' in page
    response = await browser.post("/web/dot/dv-2026/mo", {"xac-nhan": "1"})
    assert response.status == 303 and response.headers["Location"] == "/web/dot/dv-2026?da=mo"
    assert _state(database, "dv-2026") == "open"

    page = await (await browser.get("/web/dot/dv-2026/dong")).text()
    assert "không nhận thêm câu trả lời và thôi nhắc" in page
    response = await browser.post("/web/dot/dv-2026/dong", {"xac-nhan": "1"})
    assert response.status == 303 and _state(database, "dv-2026") == "closed"

    response = await browser.post("/web/dot/dv-2026/luu-tru")
    assert response.status == 303 and _state(database, "dv-2026") == "archived"

    # A refused transition: 409, the state as it is now, nothing changed.
    response = await browser.post("/web/dot/dv-2026/mo", {"xac-nhan": "1"})
    page = await response.text()
    assert response.status == 409
    assert "đợt đang ở trạng thái «đã lưu trữ»" in page
    assert re.search(r'id="trang-thai">đã lưu trữ<', page)
    assert _state(database, "dv-2026") == "archived"


async def test_closing_an_open_campaign_twice_says_it_is_closed(web, seeded, database):
    browser = await _province(web, seeded)
    await browser.get("/web/dot/ct37-2022")
    assert (await browser.post("/web/dot/ct37-2022/dong", {"xac-nhan": "1"})).status == 303
    response = await browser.post("/web/dot/ct37-2022/dong", {"xac-nhan": "1"})
    assert response.status == 409
    assert re.search(r'id="trang-thai">đã đóng<', await response.text())
    assert _state(database, "ct37-2022") == "closed"


async def test_actions_need_the_csrf_token(web, seeded, database):
    browser = await _province(web, seeded)
    response = await browser.post("/web/dot/ct37-2022/dong", {"xac-nhan": "1"}, csrf="x")
    assert response.status == 403 and _state(database, "ct37-2022") == "open"


async def test_copy_makes_a_draft_for_a_new_period(web, seeded, database):
    browser = await _province(web, seeded)
    await browser.get("/web/dot/ct37-2022")
    response = await browser.post(
        "/web/dot/ct37-2022/sao-chep", {"ma-moi": "ct37-2027", "han": "2027-07-10"}
    )
    assert response.status == 303
    assert response.headers["Location"] == "/web/dot/ct37-2027?da=sao-chep"
    assert _state(database, "ct37-2027") == "draft"
    page = await (await browser.get("/web/dot/ct37-2027")).text()
    assert "đến hết ngày 10/7/2027" in page and "bản nháp" in page

    before = _count(database)
    again = await browser.post(
        "/web/dot/ct37-2022/sao-chep", {"ma-moi": "ct37-2027", "han": "2027-07-10"}
    )
    assert again.status == 400 and "đã có đợt báo cáo mã" in await again.text()
    bad_day = await browser.post(
        "/web/dot/ct37-2022/sao-chep", {"ma-moi": "ct37-2028", "han": "10/7/2028"}
    )
    assert bad_day.status == 400
    assert _count(database) == before


async def test_a_district_secretariat_is_kept_out(web, seeded, database):
    province = await _province(web, seeded)
    browser = await web()
    await browser.sign_in(seeded["district"])
    home = await (await browser.get("/web/")).text()
    assert 'href="/web/dot"' not in home
    for path in ("/web/dot", "/web/dot/ct37-2022", "/web/dot/ct37-2022/dong"):
        assert (await browser.get(path)).status == 403, path
    response = await browser.post("/web/dot/ct37-2022/dong", {"xac-nhan": "1"})
    assert response.status == 403 and _state(database, "ct37-2022") == "open"
    assert (await province.get("/web/dot/khong-co")).status == 404


async def test_a_drafts_settings_change_its_preview(web, seeded, database, tmp_path):
    browser = await _province(web, seeded)
    await _upload(browser, write_form(tmp_path / "dv.xlsx").read_bytes())
    page = await (await browser.get("/web/dot/dv-2026")).text()
    assert 'id="nut-cai-dat"' in page and 'value="2026-12-31"' in page
    settings = {"cap-0": "huyen", "han": "2027-01-15", "nhac": "5, 2", "don-vi": ""}
    response = await browser.post("/web/dot/dv-2026/cai-dat", settings)
    assert response.status == 303
    assert response.headers["Location"] == "/web/dot/dv-2026?da=cai-dat"
    page = await (await browser.get("/web/dot/dv-2026?da=cai-dat")).text()
    assert "Đã lưu cài đặt" in page and "Cấp: Huyện" in page
    assert "đến hết ngày 15/1/2027" in page and "5, 2 ngày trước hạn" in page
    assert 'id="cap-huyen"' in page and 'id="cap-tinh"' not in page

    unknown = await browser.post("/web/dot/dv-2026/cai-dat", {**settings, "don-vi": "KHONG-CO"})
    assert unknown.status == 400 and "đơn vị KHONG-CO" in await unknown.text()
    bad_days = await browser.post("/web/dot/dv-2026/cai-dat", {**settings, "nhac": "hai"})
    assert bad_days.status == 400
    bad_level = await browser.post("/web/dot/dv-2026/cai-dat", {**settings, "cap-0": "thon"})
    assert bad_level.status == 400 and "cấp thon" in await bad_level.text()


async def test_an_open_campaigns_settings_are_not_changed(web, seeded, database):
    browser = await _province(web, seeded)
    page = await (await browser.get("/web/dot/ct37-2022")).text()
    assert 'id="nut-cai-dat"' not in page
    response = await browser.post(
        "/web/dot/ct37-2022/cai-dat", {"han": "2030-01-01", "nhac": "1", "don-vi": ""}
    )
    assert response.status == 409 and "chỉ sửa cài đặt được khi đợt" in await response.text()
