"""The web page over HTTP (the real aiohttp application, SQLite and PostgreSQL): sign-in by a
single-use link, the session cookie, CSRF, the security headers, a district's scope, and each
page and action against a seeded campaign."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from openpyxl import load_workbook
from sqlmodel import select

from bot.web.staff.guard import COOKIE
from storage.models import OutboxMessage, StaffAction, Unit, UnitDeadline
from tests.web.conftest import STATUSES, status_of

PAGES = [
    "/web/",
    "/web/don-vi",
    "/web/don-vi/HU-NP",
    "/web/tai-ve",
    "/web/tai-ve/tong-hop.xlsx",
    "/web/tai-ve/theo-don-vi.zip",
    "/web/tai-ve/bao-cao.docx",
    "/web/tai-ve/don-vi/HU-NP.xlsx",
    "/web/nhat-ky",
]
ACTIONS = ["duyet", "tra-lai", "gia-han", "nhac", "moi"]
CONFIRMED = {"xac-nhan": "co"}  # what Duyệt's confirmation page sends


async def test_a_stranger_gets_403_everywhere_and_learns_nothing(web, seeded, database):
    browser = await web()
    for path in PAGES:
        response = await browser.get(path)
        assert response.status == 403, path
        text = await response.text()
        assert "Ninh Phước" not in text and "Cần đăng nhập" in text
    for action in ACTIONS:
        response = await browser.post(f"/web/don-vi/HU-NP/{action}", {"ly_do": "x"}, csrf="0" * 64)
        assert response.status == 403
    browser.client.session.cookie_jar.update_cookies({COOKIE: "forged-token"})
    assert (await browser.get("/web/")).status == 403
    assert status_of(database, "HU-NP") == "submitted"


async def test_every_response_has_the_security_headers_and_no_script(web, seeded):
    browser = await web()
    await browser.sign_in(seeded["province"])
    for path in [*PAGES[:4], "/web/nhat-ky", "/web/vao/xyz", "/web/khong-co"]:
        response = await browser.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        assert "unsafe-inline" not in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        # The sign-in page lets the browser name its origin to us alone (the Origin check).
        policy = "same-origin" if path.startswith("/web/vao/") else "no-referrer"
        assert response.headers["Referrer-Policy"] == policy
        if response.content_type == "text/html":
            text = await response.text()
            assert "<script" not in text and " style=" not in text and "onclick" not in text


async def test_a_sign_in_link_works_once_and_sets_a_strict_cookie(web, seeded):
    browser = await web()
    token = browser.link_for(seeded["province"])
    page = await browser.get(f"/web/vao/{token}")  # a chat's link preview: nothing is used up
    assert page.status == 200 and "Đăng nhập" in await page.text()
    response = await browser.client.post(f"/web/vao/{token}", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/web/"
    cookie = response.headers["Set-Cookie"]
    assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/web" in cookie and "Secure" not in cookie
    assert (await browser.get("/web/")).status == 200
    other = await web()
    again = await other.client.post(f"/web/vao/{token}", allow_redirects=False)
    assert again.status == 403 and "đã được dùng hoặc đã hết hạn" in await again.text()


async def test_a_link_expires_after_ten_minutes_and_a_session_after_its_hours(web, seeded, clock):
    browser = await web()
    token = browser.link_for(seeded["province"])
    clock.advance(minutes=10, seconds=1)
    assert (await browser.client.post(f"/web/vao/{token}", allow_redirects=False)).status == 403
    await browser.sign_in(seeded["province"])
    clock.advance(hours=11, minutes=59)
    assert (await browser.get("/web/")).status == 200
    clock.advance(minutes=2)
    assert (await browser.get("/web/")).status == 403


async def test_the_cookie_is_secure_behind_https(database, clock, seeded):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.use_cases import Desk
    from bot.web.server import build_web_app
    from bot.web.staff.routes import StaffWeb
    from tests.web.conftest import Browser

    desk = Desk(public_url="https://baocao.test")
    staff = StaffWeb(database, clock, desk, secure_cookie=True, public_url="https://baocao.test")
    async with TestClient(TestServer(build_web_app(database, clock, staff))) as client:
        token = Browser(client, staff).link_for(seeded["province"])
        origin = {"Origin": "https://baocao.test"}  # the public URL, as the browser sees it
        response = await client.post(f"/web/vao/{token}", allow_redirects=False, headers=origin)
        assert "Secure" in response.headers["Set-Cookie"]


async def test_officers_have_no_web_access(web, seeded):
    browser = await web()
    try:
        browser.link_for(seeded["officer_np"])
    except Exception as error:
        assert "chỉ cán bộ tổng hợp" in str(error)
    else:
        raise AssertionError("an officer got a sign-in link")


async def test_signing_out_ends_the_session(web, seeded):
    browser = await web()
    await browser.sign_in(seeded["province"])
    cookie = browser.client.session.cookie_jar.filter_cookies(browser.client.make_url("/web/"))
    stolen = cookie[COOKIE].value
    assert (await browser.post("/web/thoat")).status == 200
    thief = await web()
    thief.client.session.cookie_jar.update_cookies({COOKIE: stolen})
    assert (await thief.get("/web/")).status == 403


async def test_the_overview_counts_match_the_seeded_campaign(web, seeded, clock):
    browser = await web()
    await browser.sign_in(seeded["province"])
    text = await (await browser.get("/web/")).text()
    assert re.search(r'id="so-da-nop">3<', text)  # two submitted, one approved
    assert re.search(r'id="so-dang-dien">2<', text)  # in progress, returned
    assert re.search(r'id="so-chua-bat-dau">8<', text)
    assert re.search(r'id="so-qua-han">0<', text)  # before the deadline nobody is late
    assert "<svg" in text and "<polyline" in text
    needing = text.split("Cần xử lý trước")[1]
    # Reports waiting for approval come first.
    assert needing.index("HU-NP") < needing.index("TU-PRTC")


async def test_the_unit_list_is_a_tree_with_filters(web, seeded):
    browser = await web()
    await browser.sign_in(seeded["province"])
    text = await (await browser.get("/web/don-vi")).text()
    assert "13 / 13 đơn vị" in text
    codes = re.findall(r'<span class="code">([^<]+)</span>', text)
    assert codes[codes.index("HU-NP") + 1] == "DU-PHUOCDAN"  # a commune beneath its district
    assert codes[codes.index("HU-NH") + 1] == "DU-TRIHAI"
    assert text.count('class="depth-1"') == 3
    submitted = await (await browser.get("/web/don-vi?trang-thai=submitted")).text()
    assert "2 / 13 đơn vị" in submitted and "DU-TRIHAI" in submitted
    found = await (await browser.get("/web/don-vi?tim=phước dân")).text()
    assert "1 / 13 đơn vị" in found and "DU-PHUOCDAN" in found
    communes = await (await browser.get("/web/don-vi?cap=xa")).text()
    assert "3 / 13 đơn vị" in communes
    self_check = await (await browser.get("/web/don-vi?nhom=tu_kiem_tra")).text()
    assert "4 / 13 đơn vị" in self_check


async def test_a_post_without_the_right_csrf_token_changes_nothing(web, seeded, database):
    browser = await web()
    await browser.sign_in(seeded["province"])
    await browser.get("/web/don-vi/HU-NP")
    for wrong in ("", "0" * 64):
        response = await browser.post("/web/don-vi/HU-NP/duyet", csrf=wrong)
        assert response.status == 403
    other = await web()
    await other.sign_in(seeded["province"])
    stale = other.csrf  # another session's token is no good here
    assert (await browser.post("/web/don-vi/HU-NP/duyet", csrf=stale)).status == 403
    assert status_of(database, "HU-NP") == "submitted"
    response = await browser.post("/web/don-vi/HU-NP/duyet", CONFIRMED)
    assert response.status == 303
    assert status_of(database, "HU-NP") == "approved"


async def test_approve_and_return_tell_the_officer_and_are_logged(web, seeded, database):
    browser = await web()
    await browser.sign_in(seeded["province"])
    await browser.get("/web/don-vi/HU-NH")
    refused = await browser.post("/web/don-vi/HU-NH/tra-lai", {"ly_do": "   "})
    assert refused.status == 400 and "cần ghi lý do trả lại" in await refused.text()
    assert status_of(database, "HU-NH") == "approved"
    response = await browser.post("/web/don-vi/HU-NH/tra-lai", {"ly_do": "Thiếu số liệu mục 4"})
    assert response.status == 303
    page = await (await browser.get(response.headers["Location"])).text()
    assert "Đã trả lại báo cáo" in page and "Thiếu số liệu mục 4" in page
    assert status_of(database, "HU-NH") == "returned"
    with database.transaction() as session:
        notice = session.exec(
            select(OutboxMessage).where(OutboxMessage.chat_id == "chat-Bình")
        ).one()
        assert "Thiếu số liệu mục 4" in notice.payload["text"]
        actions = session.exec(select(StaffAction)).all()
        assert [(a.action, a.surface, a.actor) for a in actions][-1] == ("return", "web", "Lan")
    again = await browser.post("/web/don-vi/HU-NH/duyet", CONFIRMED)
    assert again.status == 409 and "chưa nộp nên chưa duyệt được" in await again.text()
    log = await (await browser.get("/web/nhat-ky?kenh=web&viec=return")).text()
    assert "Thiếu số liệu mục 4" in log and "Trang web" in log


async def test_extend_gives_a_unit_its_own_deadline_that_the_late_flag_respects(
    web, seeded, database, clock
):
    browser = await web()
    await browser.sign_in(seeded["province"])
    await browser.get("/web/don-vi/DU-PHUOCDAN")
    bad = await browser.post("/web/don-vi/DU-PHUOCDAN/gia-han", {"ngay": "2022-06-01"})
    assert bad.status == 400 and "ngày gia hạn phải từ 05/7/2022 trở đi" in await bad.text()
    garbage = await browser.post("/web/don-vi/DU-PHUOCDAN/gia-han", {"ngay": "ngày mai"})
    assert garbage.status == 400 and "ngày gia hạn không hợp lệ" in await garbage.text()
    response = await browser.post("/web/don-vi/DU-PHUOCDAN/gia-han", {"ngay": "2022-07-15"})
    assert response.status == 303
    page = await (await browser.get(response.headers["Location"])).text()
    assert "đến hết ngày 15/7/2022 (đã gia hạn)" in page
    with database.transaction() as session:
        assert len(session.exec(select(UnitDeadline)).all()) == 1
    clock.advance(days=20)  # past the campaign's deadline, before the unit's own
    await browser.sign_in(seeded["province"])
    overview = await (await browser.get("/web/")).text()
    late = await (await browser.get("/web/don-vi?trang-thai=late")).text()
    assert "DU-PHUOCDAN" not in late and "TU-PRTC" in late
    assert re.search(r'id="so-qua-han">9<', overview)


async def test_remind_queues_one_reminder_and_says_when(web, seeded, database):
    browser = await web()
    await browser.sign_in(seeded["province"])
    await browser.get("/web/don-vi/DU-PHUOCDAN")
    from tests.web.conftest import add_contact

    add_contact(database, browser.staff.clock, "Chi", role="officer", unit="DU-PHUOCDAN")
    response = await browser.post("/web/don-vi/DU-PHUOCDAN/nhac")
    assert response.status == 303
    page = await (await browser.get(response.headers["Location"])).text()
    assert re.search(r"Đã xếp 1 tin nhắc cho cán bộ đầu mối; sẽ gửi lúc \d\d:\d\d\.", page)
    with database.transaction() as session:
        assert session.exec(select(OutboxMessage).where(OutboxMessage.chat_id == "chat-Chi")).all()


async def test_invite_shows_the_code_the_link_and_a_qr_code(web, seeded):
    browser = await web()
    await browser.sign_in(seeded["province"])
    await browser.get("/web/don-vi/HU-NP")
    response = await browser.post("/web/don-vi/HU-NP/moi")
    assert response.status == 303
    text = await (await browser.get(response.headers["Location"])).text()
    code = re.search(r'id="ma-moi">([^<]+)<', text).group(1)
    assert f"https://t.me/baocao_test_bot?start={code}" in text and "<svg" in text


async def test_the_unit_page_shows_answers_and_their_history(web, seeded, database, clock):
    from storage.hot_path import load_answers, write_answer
    from storage.repository import current_campaign, submission_for, unit_by_code

    with database.transaction() as session:
        submission = submission_for(
            session, current_campaign(session), unit_by_code(session, "DU-PHUOCDAN")
        )
        for value, na in (({"value": 3}, False), ({"value": 5}, False)):
            write_answer(
                session,
                submission,
                key="inspection_teams",
                value=value,
                not_applicable=na,
                raw=str(value),
                contact_id=seeded["officer_np"],
                channel="telegram",
                now=clock(),
                existing=load_answers(session, submission.id).get("inspection_teams"),
            )
        write_answer(
            session,
            submission,
            key="inspected_units",
            value=None,
            not_applicable=True,
            raw="kad",
            contact_id=None,
            channel="zalo",
            now=clock(),
            existing=None,
        )
    browser = await web()
    await browser.sign_in(seeded["province"])
    text = await (await browser.get("/web/don-vi/du-phuocdan")).text()
    assert "Không áp dụng" in text and "Chưa trả lời" in text
    assert "(chưa có) → 3 đoàn · Anh · 08:00 ngày 20/6/2022 · Telegram" in text
    assert "3 đoàn → 5 đoàn" in text and "(chưa có) → Không áp dụng · — ·" in text
    assert '<tr class="na">' in text and '<tr class="missing">' in text


async def test_downloads_open_and_a_workbook_is_a_workbook(web, seeded):
    browser = await web()
    await browser.sign_in(seeded["province"])
    response = await browser.get("/web/tai-ve/tong-hop.xlsx")
    assert response.status == 200
    assert "attachment" in response.headers["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(await response.read()))
    assert workbook.sheetnames[:3] == ["Biểu số 01", "Biểu số 02", "Biểu số 03"]
    unit = await browser.get("/web/tai-ve/don-vi/HU-NP.xlsx")
    assert unit.status == 200 and (await unit.read())[:2] == b"PK"
    per_unit = await browser.get("/web/tai-ve/theo-don-vi.zip")
    assert per_unit.status == 200 and per_unit.content_type == "application/zip"
    report = await browser.get("/web/tai-ve/bao-cao.docx")
    assert report.status == 200 and (await report.read())[:2] == b"PK"
    assert (await browser.get("/web/tai-ve/don-vi/KHONG-CO.xlsx")).status == 404
    log = await (await browser.get("/web/nhat-ky?viec=export")).text()
    assert log.count("<td>Tải về</td>") == 4 and "dự thảo báo cáo tổng hợp" in log


async def test_a_district_secretariat_sees_and_acts_only_within_its_district(web, seeded, database):
    browser = await web()
    await browser.sign_in(seeded["district"])
    overview = await (await browser.get("/web/")).text()
    assert re.search(r'id="so-da-nop">1<', overview) and "HU-NH" not in overview
    units = await (await browser.get("/web/don-vi")).text()
    assert "2 / 2 đơn vị" in units and "DU-PHUOCDAN" in units and "HU-NH" not in units
    unknown = await browser.get("/web/don-vi/KHONG-CO")
    other = await browser.get("/web/don-vi/HU-NH")
    assert other.status == unknown.status == 404
    assert await other.text() == await unknown.text()
    await browser.get("/web/don-vi/HU-NP")
    assert (await browser.post("/web/don-vi/HU-NH/duyet", CONFIRMED)).status == 404
    assert (await browser.post("/web/don-vi/HU-NH/tra-lai", {"ly_do": "x"})).status == 404
    assert status_of(database, "HU-NH") == STATUSES["HU-NH"]
    for path in ("/web/tai-ve/tong-hop.xlsx", "/web/tai-ve/don-vi/HU-NH.xlsx"):
        assert (await browser.get(path)).status == 404
    assert (await browser.get("/web/tai-ve/don-vi/DU-PHUOCDAN.xlsx")).status == 200
    assert (await browser.post("/web/don-vi/HU-NP/duyet", CONFIRMED)).status == 303
    assert status_of(database, "HU-NP") == "approved"


async def test_a_removed_secretariat_member_is_signed_out_at_once(web, seeded, database):
    from storage.models import Contact

    browser = await web()
    await browser.sign_in(seeded["province"])
    with database.transaction() as session:
        contact = session.get(Contact, seeded["province"])
        contact.active = False
        session.add(contact)
    assert (await browser.get("/web/")).status == 403


def test_the_log_keeps_a_district_to_its_units(database, clock, seeded):
    from bot import use_cases
    from bot.use_cases import Actor, Desk
    from conversations.errors import DomainError

    desk = Desk()
    with database.transaction() as session:
        use_cases.approve_report(session, clock(), desk, unit_code="DU-TRIHAI")
        district = Actor("chat", "Hùng", seeded["district"], _unit_id(session, "HU-NP"))
        use_cases.approve_report(session, clock(), desk, unit_code="HU-NP", actor=district)
        try:
            use_cases.approve_report(session, clock(), desk, unit_code="HU-NH", actor=district)
        except DomainError as error:
            assert str(error) == "không có đơn vị mã 'HU-NH'"
    with database.transaction() as session:
        from storage.staff_store import list_actions

        everything = list_actions(session)
        scoped = list_actions(session, unit_ids=use_cases.scope_unit_ids(session, district))
        assert [(a.action, a.surface) for a, _ in everything] == [
            ("approve", "chat"),
            ("approve", "cli"),
        ]
        assert [u.code for _, u in scoped] == ["HU-NP"]
    assert timedelta(minutes=10) == use_cases.SIGN_IN_VALID_FOR


def _unit_id(session, code):
    from storage.repository import unit_by_code

    return unit_by_code(session, code).id


def test_the_shared_progress_cache_sees_a_change_made_elsewhere_within_a_second(
    database, clock, seeded
):
    from bot.use_cases import OPERATOR
    from bot.web.staff.pages import standing
    from bot.web.staff.progress_cache import MAX_AGE, ProgressCache
    from tests.web.conftest import set_status

    moment = [100.0]
    cache = ProgressCache(monotonic=lambda: moment[0])

    def submitted() -> int:
        with database.transaction() as session:
            return standing(session, OPERATOR, clock(), cache).tally["submitted"]

    assert submitted() == 3
    set_status(database, clock, "HU-BACAI", "submitted")  # an officer submits, in the chat
    moment[0] += 0.5
    assert submitted() == 3  # the fingerprint is not read again within a second
    moment[0] += 0.6
    assert submitted() == 4
    with database.transaction() as session:
        unit = session.exec(select(Unit).where(Unit.code == "HU-BACAI")).one()
        unit.name = "Huyện ủy Bác Ái"  # a rename the fingerprint cannot see
        session.add(unit)
    moment[0] += 2
    with database.transaction() as session:
        rows = standing(session, OPERATOR, clock(), cache).rows
        assert "Huyện ủy Bác Ái" not in {row.unit.name for row in rows}
    moment[0] += MAX_AGE
    with database.transaction() as session:
        rows = standing(session, OPERATOR, clock(), cache).rows
        assert "Huyện ủy Bác Ái" in {row.unit.name for row in rows}
