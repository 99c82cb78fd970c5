"""The web page as the secretariat's workspace, over HTTP on SQLite and PostgreSQL: search that
ignores diacritics and the Unicode form, filters and sorting kept in the URL, the review shown
before Duyệt and Duyệt's own confirmation step, a stale page refused with the current state, a
Mời that a reload cannot multiply, a Nhắc refused when nobody would receive it, Gia hạn in the
plan's words, Nhắc for a whole filter, a district's own files, and the Vietnamese error pages
and compressed answers."""

from __future__ import annotations

import gzip
import io
import re
import unicodedata
import zipfile
from datetime import timedelta

from openpyxl import load_workbook
from sqlmodel import select

from storage.hot_path import load_answers, write_answer
from storage.models import Invite, OutboxMessage, StaffAction, Submission
from storage.repository import current_campaign, submission_for, unit_by_code
from tests.web.conftest import add_contact, set_status, status_of

CONFIRMED = {"xac-nhan": "co"}


def codes_in(page: str) -> list[str]:
    return re.findall(r'<span class="code">([^<]+)</span>', page)


async def signed_in(web, contact_id):
    browser = await web()
    await browser.sign_in(contact_id)
    return browser


def answer(database, clock, code, key, value, *, note=None, contact_id=None):
    with database.transaction() as session:
        submission = submission_for(session, current_campaign(session), unit_by_code(session, code))
        write_answer(
            session,
            submission,
            key=key,
            value=value,
            not_applicable=False,
            raw=str(value),
            contact_id=contact_id,
            channel="zalo",
            now=clock(),
            existing=load_answers(session, submission.id).get(key),
            note=note,
        )


def submitted_at(database, code, moment):
    with database.transaction() as session:
        submission = submission_for(session, current_campaign(session), unit_by_code(session, code))
        submission.submitted_at = moment
        session.add(submission)


# --- find --------------------------------------------------------------------------------------


async def test_search_ignores_diacritics_case_and_the_unicode_form(web, seeded):
    browser = await signed_in(web, seeded["province"])
    plain = await (await browser.get("/web/don-vi", params={"tim": "ninh phuoc"})).text()
    assert codes_in(plain) == ["HU-NP"] and "1 / 13 đơn vị" in plain
    decomposed = unicodedata.normalize("NFD", "Phước")
    assert decomposed != "Phước"
    nfd = await (await browser.get("/web/don-vi", params={"tim": decomposed})).text()
    assert codes_in(nfd) == ["HU-NP", "DU-PHUOCDAN"]
    upper = await (await browser.get("/web/don-vi", params={"tim": "ĐẢNG ỦY XÃ"})).text()
    assert codes_in(upper) == ["DU-TRIHAI"]
    dang = await (await browser.get("/web/don-vi", params={"tim": "dang uy xa"})).text()
    assert codes_in(dang) == ["DU-TRIHAI"]  # đ typed as d
    by_code = await (await browser.get("/web/don-vi", params={"tim": "hu-n"})).text()
    assert set(codes_in(by_code)) == {"HU-NP", "HU-NH", "HU-NINHSON"}


async def test_an_empty_result_says_what_was_searched(web, seeded):
    browser = await signed_in(web, seeded["province"])
    page = await (
        await browser.get("/web/don-vi", params={"tim": "Cà Mau", "trang-thai": "approved"})
    ).text()
    assert codes_in(page) == []
    assert 'id="khong-thay"' in page
    message = re.search(r'id="khong-thay"[^>]*>(.*?)</p>', page, re.S).group(1)
    assert "«Cà Mau»" in message and "«đã duyệt»" in message and "Xem tất cả đơn vị" in message


async def test_filters_by_district_and_lateness_and_sorts_both_ways(web, seeded, database, clock):
    with database.transaction() as session:
        deadline = current_campaign(session).deadline
    submitted_at(database, "DU-TRIHAI", deadline + timedelta(days=1, hours=3))
    browser = await signed_in(web, seeded["province"])
    district = await (await browser.get("/web/don-vi?huyen=HU-NP")).text()
    assert codes_in(district) == ["HU-NP", "DU-PHUOCDAN"]
    late = await (await browser.get("/web/don-vi?han=nop-muon")).text()
    assert codes_in(late) == ["DU-TRIHAI"]
    ascending = codes_in(await (await browser.get("/web/don-vi?xep=ten")).text())
    descending = codes_in(await (await browser.get("/web/don-vi?xep=ten&giam=1")).text())
    assert ascending == list(reversed(descending)) and ascending[0] == "BCSD-UBND"  # "Ban cán…"
    page = await (await browser.get("/web/don-vi?xep=ten&tim=ninh")).text()
    # The filter stays in the URL of the sort links and is kept by the search form.
    assert 'href="/web/don-vi?tim=ninh&amp;xep=ten&amp;giam=1"' in page
    assert '<input type="hidden" name="xep" value="ten">' in page
    assert 'aria-sort="ascending"' in page


async def test_the_overview_tiles_open_the_units_behind_them(web, seeded):
    browser = await signed_in(web, seeded["province"])
    overview = await (await browser.get("/web/")).text()
    for href, count in re.findall(
        r'<a class="tile \w+" href="([^"]+)"><span class="n"[^>]*>(\d+)<', overview
    ):
        listed = await (await browser.get(href.replace("&amp;", "&"))).text()
        assert f"{count} / 13 đơn vị" in listed, href


async def test_needing_action_is_ordered_by_how_long_each_has_waited(web, seeded, database, clock):
    set_status(database, clock, "DU-TRIHAI", "submitted")  # submitted now
    submitted_at(database, "HU-NP", clock() - timedelta(days=3))  # waiting three days
    browser = await signed_in(web, seeded["province"])
    needing = (await (await browser.get("/web/")).text()).split("Cần xử lý trước")[1]
    assert needing.index("HU-NP") < needing.index("DU-TRIHAI")
    assert "chờ 3 ngày" in needing


# --- review before approving -------------------------------------------------------------------


async def test_the_unit_page_shows_the_review_above_the_actions(web, seeded, database, clock):
    answer(database, clock, "HU-NP", "inspection_teams", {"value": 3}, note="số liệu ước tính")
    answer(database, clock, "DU-PHUOCDAN", "inspection_teams", {"value": 60})  # above 50: unusual
    set_status(database, clock, "DU-PHUOCDAN", "submitted")
    with database.transaction() as session:
        deadline = current_campaign(session).deadline
    submitted_at(database, "HU-NP", deadline + timedelta(days=1, hours=2))
    browser = await signed_in(web, seeded["province"])
    page = await (await browser.get("/web/don-vi/HU-NP")).text()
    review, actions = page.index('id="kiem-tra"'), page.index('aria-label="Thao tác"')
    assert review < actions
    assert re.search(r'id="tre-han">nộp muộn 2 ngày<', page)
    assert "chưa lần nào bị trả lại" in page
    finding = re.search(r'id="phat-hien">(.*?)</ul>', page, re.S).group(1)
    assert "Mục 2 · Tổng số đoàn kiểm tra" in finding
    assert "<strong>60</strong>" in finding and "<strong>3</strong>" in finding
    assert "Ghi chú của đơn vị" in page and "số liệu ước tính" in page
    assert 'href="/web/don-vi/DU-PHUOCDAN"' in page.split('id="don-vi-truc-thuoc"')[1]
    assert "Mục 2. Công tác kiểm tra" in page
    child = await (await browser.get("/web/don-vi/DU-PHUOCDAN")).text()
    assert 'id="don-vi-cap-tren"' in child and "đơn vị này ghi 60" in child
    warning = re.search(r'id="canh-bao">(.*?)</ul>', child, re.S).group(1)
    assert "cao hơn nhiều so với mức thường gặp" in warning


async def test_approving_needs_its_own_confirmation_step(web, seeded, database):
    browser = await signed_in(web, seeded["province"])
    page = await (await browser.get("/web/don-vi/HU-NP")).text()
    assert 'href="/web/don-vi/HU-NP/duyet" id="nut-duyet"' in page
    assert 'action="/web/don-vi/HU-NP/duyet"' not in page  # no one-click Duyệt here
    blind = await browser.post("/web/don-vi/HU-NP/duyet", {"trang-thai": "submitted"})
    assert blind.status == 303 and blind.headers["Location"] == "/web/don-vi/HU-NP/duyet"
    assert status_of(database, "HU-NP") == "submitted"
    confirm = await (await browser.get("/web/don-vi/HU-NP/duyet")).text()
    assert "Duyệt báo cáo của Ban Thường vụ Huyện ủy Ninh Phước?" in confirm
    assert 'name="xac-nhan" value="co"' in confirm
    done = await browser.post("/web/don-vi/HU-NP/duyet", {**CONFIRMED, "trang-thai": "submitted"})
    assert done.status == 303 and status_of(database, "HU-NP") == "approved"
    shown = await (await browser.get(done.headers["Location"])).text()
    assert re.search(r"Đã duyệt báo cáo lúc \d\d:\d\d ngày 20/6/2022", shown)
    again = await (await browser.get("/web/don-vi/HU-NP/duyet")).text()
    assert "chỉ duyệt được báo cáo đã nộp" in again and "nut-xac-nhan-duyet" not in again


async def test_a_stale_page_is_refused_with_the_current_state(web, seeded, database):
    browser = await signed_in(web, seeded["province"])
    await browser.get("/web/don-vi/HU-NP/duyet")
    first = await browser.post("/web/don-vi/HU-NP/duyet", {**CONFIRMED, "trang-thai": "submitted"})
    assert first.status == 303
    # The back button shows the confirmation page drawn before: its form is stale now.
    second = await browser.post("/web/don-vi/HU-NP/duyet", {**CONFIRMED, "trang-thai": "submitted"})
    text = await second.text()
    assert second.status == 409
    assert "trang đang mở đã cũ (trang hiển thị «đã nộp»). Báo cáo đã được" in text
    assert 'id="tinh-trang">đã duyệt<' in text
    returned = await browser.post(
        "/web/don-vi/HU-NP/tra-lai", {"ly_do": "Sai số", "trang-thai": "submitted"}
    )
    assert returned.status == 409 and status_of(database, "HU-NP") == "approved"
    with database.transaction() as session:
        assert (
            len(session.exec(select(StaffAction).where(StaffAction.action == "approve")).all()) == 1
        )


# --- honest actions ----------------------------------------------------------------------------


async def test_invite_shows_the_live_code_rather_than_making_another(web, seeded, database, clock):
    browser = await signed_in(web, seeded["province"])
    await browser.get("/web/don-vi/HU-NH")
    first = await browser.post("/web/don-vi/HU-NH/moi")
    assert first.status == 303 and first.headers["Location"] == "/web/don-vi/HU-NH/moi?moi=1"
    page = await (await browser.get(first.headers["Location"])).text()
    code = re.search(r'id="ma-moi">([^<]+)<', page).group(1)
    reloaded = await (await browser.get(first.headers["Location"])).text()
    assert re.search(r'id="ma-moi">([^<]+)<', reloaded).group(1) == code
    second = await browser.post("/web/don-vi/HU-NH/moi")
    assert second.headers["Location"] == "/web/don-vi/HU-NH/moi?co-san=1"
    again = await (await browser.get(second.headers["Location"])).text()
    assert code in again and "không tạo thêm mã khác" in again
    with database.transaction() as session:
        assert len(session.exec(select(Invite).where(Invite.role == "officer")).all()) == 1
    unit = await (await browser.get("/web/don-vi/HU-NH")).text()
    assert "Mã mời của đơn vị" in unit

    # The database keeps only the code's hash: another member sees that a live code exists,
    # not the code, and may replace it (the old code ends at once; one code stays live).
    other = await signed_in(web, seeded["province"])
    elsewhere = await (await other.get("/web/don-vi/HU-NH/moi")).text()
    assert code not in elsewhere and "Đơn vị đã có mã mời còn hiệu lực" in elsewhere
    await other.get("/web/don-vi/HU-NH")
    replaced = await other.post("/web/don-vi/HU-NH/moi", {"thay": "1"})
    assert replaced.headers["Location"] == "/web/don-vi/HU-NH/moi?moi=1"
    new_page = await (await other.get(replaced.headers["Location"])).text()
    new_code = re.search(r'id="ma-moi">([^<]+)<', new_page).group(1)
    assert new_code != code
    with database.transaction() as session:
        officer_invites = session.exec(select(Invite).where(Invite.role == "officer")).all()
        live = [i for i in officer_invites if i.expires_at > clock()]
    assert len(officer_invites) == 2 and len(live) == 1


async def test_remind_is_refused_when_nobody_would_receive_it(web, seeded, database):
    browser = await signed_in(web, seeded["province"])
    await browser.get("/web/don-vi/DU-VANHAI")
    response = await browser.post("/web/don-vi/DU-VANHAI/nhac")
    text = await response.text()
    assert response.status == 409
    assert "không có ai để nhắc" in text and "Đã xếp" not in text
    with database.transaction() as session:
        assert not session.exec(select(StaffAction).where(StaffAction.action == "remind")).all()
        assert not session.exec(select(OutboxMessage)).all()


async def test_extend_takes_a_day_and_says_the_deadline_in_the_plans_words(web, seeded, database):
    browser = await signed_in(web, seeded["province"])
    page = await (await browser.get("/web/don-vi/DU-PHUOCDAN")).text()
    assert 'min="2022-07-05"' in page  # the campaign runs to the end of 04/7
    response = await browser.post("/web/don-vi/DU-PHUOCDAN/gia-han", {"ngay": "2022-07-10"})
    assert response.status == 303
    shown = await (await browser.get(response.headers["Location"])).text()
    assert re.search(
        r"Đã gia hạn lúc 08:00 ngày 20/6/2022: hạn mới của đơn vị là đến hết ngày 10/7/2022\.",
        shown,
    )
    assert 'id="han-nop">đến hết ngày 10/7/2022 (đã gia hạn)' in shown
    assert 'min="2022-07-11"' in shown  # a later Gia hạn must go beyond it
    earlier = await browser.post("/web/don-vi/DU-PHUOCDAN/gia-han", {"ngay": "2022-07-08"})
    assert earlier.status == 400 and "phải từ 11/7/2022 trở đi" in await earlier.text()


# --- act on many -------------------------------------------------------------------------------


async def test_remind_a_whole_filter_after_one_confirmation(web, seeded, database, clock):
    add_contact(database, clock, "Dũng", role="officer", unit="DU-PHUOCDAN")
    add_contact(database, clock, "Em", role="officer", unit="TU-PRTC")
    browser = await signed_in(web, seeded["province"])
    listing = await (await browser.get("/web/don-vi?nhom=kiem_tra_truc_tiep")).text()
    link = re.search(r'href="(/web/nhac\?[^"]+)"', listing).group(1).replace("&amp;", "&")
    confirm = await (await browser.get(link)).text()
    assert re.search(r'id="se-nhac">2 đơn vị<', confirm)
    assert re.search(r'id="khong-ai">4 đơn vị', confirm)  # no officer linked
    response = await browser.post("/web/nhac", {"nhom": "kiem_tra_truc_tiep"})
    assert response.status == 303
    assert "nhom=kiem_tra_truc_tiep" in response.headers["Location"]
    page = await (await browser.get(response.headers["Location"])).text()
    assert "Đã xếp 2 tin nhắc cho 2 đơn vị" in page
    with database.transaction() as session:
        rows = session.exec(select(StaffAction).where(StaffAction.action == "remind")).all()
        assert len(rows) == 2 and all(row.surface == "web" for row in rows)
        assert len(session.exec(select(OutboxMessage)).all()) == 2


async def test_a_district_secretariat_downloads_its_own_district(web, seeded, database, clock):
    answer(database, clock, "DU-PHUOCDAN", "inspection_teams", {"value": 2})
    browser = await signed_in(web, seeded["district"])
    page = await (await browser.get("/web/tai-ve")).text()
    assert "/web/tai-ve/huyen/tong-hop.xlsx" in page
    response = await browser.get("/web/tai-ve/huyen/tong-hop.xlsx")
    assert response.status == 200
    workbook = load_workbook(io.BytesIO(await response.read()))
    assert workbook.sheetnames[0] == "Biểu số 01"
    for sheet in workbook.sheetnames[:3]:  # every biểu: the district's communes only
        text = " ".join(
            str(cell.value) for row in workbook[sheet].iter_rows() for cell in row if cell.value
        )
        assert "Phước Dân" in text and "Ninh Hải" not in text, sheet
    archive = await browser.get("/web/tai-ve/huyen/phu-luc.zip")
    assert archive.status == 200
    names = zipfile.ZipFile(io.BytesIO(await archive.read())).namelist()
    assert names and all("HU-NP" in n or "DU-PHUOCDAN" in n for n in names)
    province = await signed_in(web, seeded["province"])
    assert (await province.get("/web/tai-ve/huyen/tong-hop.xlsx")).status == 404


# --- readable by everyone ----------------------------------------------------------------------


async def test_errors_are_vietnamese_pages_and_pages_are_compressed(web, seeded):
    browser = await signed_in(web, seeded["province"])
    missing = await browser.get("/web/khong-co-trang-nay")
    text = await missing.text()
    assert missing.status == 404 and "Không có trang này" in text and 'lang="vi"' in text
    assert "Not Found" not in text
    assert missing.headers["X-Content-Type-Options"] == "nosniff"
    raw = await browser.client.get(
        "/web/don-vi", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
    )
    assert raw.headers["Content-Encoding"] == "gzip"
    body = gzip.decompress(await raw.read()).decode()
    assert "Bỏ qua thanh điều hướng" in body and 'id="noi-dung"' in body


async def test_roles_and_channels_are_written_in_vietnamese(web, seeded, database, clock):
    answer(
        database, clock, "HU-NP", "inspection_teams", {"value": 3}, contact_id=seeded["officer_np"]
    )
    answer(
        database,
        clock,
        "HU-NP",
        "inspection_teams",
        {"value": 3},
        note="ước tính",
        contact_id=seeded["officer_np"],
    )
    browser = await signed_in(web, seeded["province"])
    await browser.get("/web/don-vi/HU-NP")
    await browser.post("/web/don-vi/HU-NP/moi")
    page = await (await browser.get("/web/don-vi/HU-NP")).text()
    assert "sửa ghi chú: ước tính" in page and "3 đoàn → 3 đoàn" not in page
    assert "· Zalo" in page and "· zalo" not in page
    log = await (await browser.get("/web/nhat-ky")).text()
    assert "cán bộ đầu mối" in log and "officer" not in log
    with database.transaction() as session:
        assert session.exec(select(Submission)).first() is not None


def test_two_invites_at_once_make_one_code(database, clock, seeded):
    """The second request waits for the first one's write and then finds its code."""
    import threading

    from bot.use_cases import OPERATOR, Desk
    from bot.web.staff.actions import invite_once

    desk, started, outcome = Desk(), threading.Event(), {}

    def second() -> None:
        started.set()
        with database.transaction() as session:
            invite, _unit, made = invite_once(session, clock(), desk, OPERATOR, "HU-NH")
            outcome.update(id=invite.id, made=made)

    with database.transaction() as session:
        first, _unit, made = invite_once(session, clock(), desk, OPERATOR, "HU-NH")
        assert made
        thread = threading.Thread(target=second)
        thread.start()
        started.wait(10)
    thread.join(30)
    assert outcome == {"id": first.id, "made": False}
    with database.transaction() as session:
        assert len(session.exec(select(Invite)).all()) == 1


def test_the_charts_stop_at_today_and_read_without_colour():
    from datetime import date

    from bot.web.staff.charts import GroupBar, group_bars, submissions_line

    days = [date(2022, 6, 20) + timedelta(days=n) for n in range(16)]
    line = submissions_line(days, list(range(16)), 20, date(2022, 7, 5), date(2022, 6, 23))
    points = re.search(r'<polyline points="([^"]+)"', line).group(1).split()
    assert len(points) == 4  # 20/6 to 23/6, nothing drawn in the future
    assert "3 đơn vị" in line and "hạn nộp" in line and ">20/6<" in line and ">20/06<" not in line
    bars = group_bars([GroupBar("Kiểm tra trực tiếp", 5, 3, 2)])
    assert 'fill="url(#p-dang-dien)"' in bars and 'fill="url(#p-chua)"' in bars
    assert all(f">{n}</text>" in bars for n in (5, 3, 2)) and ">5/10</text>" in bars
    # 15 units on a 400-wide canvas stay 12 px or more in the 334 px a phone gives the chart.
    assert 'viewBox="0 0 400 ' in bars and 'font-size="15"' in bars and 15 * 334 / 400 >= 12
