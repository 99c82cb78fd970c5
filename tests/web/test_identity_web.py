"""Trust on the web (issue #19), through the real aiohttp application on SQLite and PostgreSQL:
single-use links pressed 20 times at once give exactly one session / one stored file; the sign-in
POST must come from our own page (login CSRF); the Server header names no version; the «Cán bộ»
page lists and removes members (CSRF, confirmation, Post/Redirect/Get, province only), and a
removed member's session and download links stop at once."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp.test_utils import TestServer
from sqlmodel import func, select

from bot.signed_intake import Uploads, upload_link
from bot.use_cases import download_link
from bot.web.server import build_web_app
from bot.web.upload_page import UploadDeps, add_upload_page
from conversations.uploads import UploadLimits
from storage.models import Contact, SignedReport, StaffAction, WebSession
from storage.repository import current_campaign, unit_by_code

PRESSES = 20
PDF = b"%PDF-1.7\n" + b"x" * 3000 + b"\n%%EOF\n"


def count(database, model, *conditions) -> int:
    with database.transaction() as session:
        query = select(func.count()).select_from(model)
        for condition in conditions:
            query = query.where(condition)
        return session.exec(query).one()


# --- single use under concurrent presses ---------------------------------------------------------


async def test_twenty_presses_of_one_sign_in_link_open_exactly_one_session(web, seeded, database):
    browser = await web()
    token = browser.link_for(seeded["province"])
    presses = await asyncio.gather(
        *(browser.client.post(f"/web/vao/{token}", allow_redirects=False) for _ in range(PRESSES))
    )
    statuses = sorted(response.status for response in presses)
    assert statuses == [303] + [403] * (PRESSES - 1)
    cookies = [r for r in presses if "Set-Cookie" in r.headers]
    assert len(cookies) == 1
    assert count(database, WebSession) == 1


async def test_twenty_posts_to_one_upload_link_store_exactly_one_file(
    database, clock, tmp_path, seeded
):
    uploads = Uploads(tmp_path / "data", UploadLimits(max_bytes=8 * 1024))
    web_app = build_web_app(database, clock)
    add_upload_page(web_app, UploadDeps(database, clock, uploads))
    with database.transaction() as session:
        path = upload_link(
            session,
            clock(),
            "",
            campaign_id=current_campaign(session).id,
            unit_id=unit_by_code(session, "HU-NP").id,
            contact_id=seeded["officer_np"],
        )

    async def press(client: aiohttp.ClientSession, server: TestServer, n: int) -> int:
        form = aiohttp.FormData()
        form.add_field("tep", PDF + str(n).encode(), filename=f"{n}.pdf")
        async with client.post(server.make_url(path), data=form) as response:
            await response.read()
            return response.status

    async with TestServer(web_app) as server, aiohttp.ClientSession() as client:
        statuses = await asyncio.gather(*(press(client, server, n) for n in range(PRESSES)))
    # One file is taken; the others find the link spent (404) or the uploads busy (503).
    assert sorted(statuses)[0] == 200 and set(sorted(statuses)[1:]) <= {404, 503}
    assert count(database, SignedReport) == 1


# --- the sign-in's origin and the Server header ---------------------------------------------------


async def test_a_cross_site_sign_in_post_is_refused_and_uses_nothing_up(web, seeded, database):
    browser = await web()
    token = browser.link_for(seeded["province"])
    here = str(browser.client.server.make_url("")).rstrip("/")
    refused = [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # a sandboxed frame or a no-referrer page elsewhere
        {"Origin": here.replace("127.0.0.1", "127.0.0.2")},
        {"Origin": "", "Referer": "https://evil.example/page"},
        {"Origin": ""},  # says nothing at all
    ]
    for headers in refused:
        response = await browser.client.post(
            f"/web/vao/{token}", headers=headers, allow_redirects=False
        )
        text = await response.text()
        assert response.status == 403, headers
        assert "không đến từ trang của Ban Dân vận" in text
        assert "Set-Cookie" not in response.headers
    assert count(database, WebSession) == 0
    # The link is still usable from our own page (the Referer is enough when Origin is null).
    response = await browser.client.post(
        f"/web/vao/{token}",
        headers={"Origin": "null", "Referer": f"{here}/web/vao/{token}"},
        allow_redirects=False,
    )
    assert response.status == 303 and count(database, WebSession) == 1


async def test_the_public_url_is_the_origin_when_it_is_set(database, clock, seeded):
    from aiohttp.test_utils import TestClient

    from bot.use_cases import Desk
    from bot.web.staff.routes import StaffWeb
    from tests.web.conftest import Browser

    public = "https://baocao.example.vn"
    staff = StaffWeb(database, clock, Desk(public_url=public), public_url=public + "/")
    async with TestClient(TestServer(build_web_app(database, clock, staff))) as client:
        browser = Browser(client, staff)
        for origin, status in (
            (str(client.server.make_url("")).rstrip("/"), 403),  # the host is not the public URL
            ("http://baocao.example.vn", 403),  # nor another scheme
            ("https://baocao.example.vn:443", 303),
        ):
            token = browser.link_for(seeded["province"])
            response = await client.post(
                f"/web/vao/{token}", headers={"Origin": origin}, allow_redirects=False
            )
            assert response.status == status, origin


async def test_the_server_header_names_no_version(web, seeded):
    browser = await web()
    await browser.sign_in(seeded["province"])
    for path in ("/healthz", "/web/", "/web/khong-co", "/tai-ve/xyz", "/khong-co"):
        response = await browser.get(path)
        assert response.headers["Server"] == "baocao", path
    response = await browser.client.post("/web/vao/xyz", headers={"Origin": "https://x.example"})
    assert response.headers["Server"] == "baocao"


# --- the Cán bộ page -----------------------------------------------------------------------------


async def test_the_province_lists_members_and_removes_one_after_confirming(web, seeded, database):
    browser = await web()
    await browser.sign_in(seeded["province"])
    page = await browser.get("/web/")
    assert 'href="/web/can-bo"' in await page.text()
    listing = await browser.get("/web/can-bo")
    text = await listing.text()
    assert listing.status == 200
    for name in ("Lan", "Hùng", "Anh", "Bình"):
        assert f"<td>{name}</td>" in text
    assert "cấp tỉnh" in text and "phạm vi Ban Thường vụ Huyện ủy Ninh Phước" in text
    target = seeded["officer_np"]
    assert f'href="/web/can-bo/{target}/go"' in text
    assert f'href="/web/can-bo/{seeded["province"]}/go"' not in text  # not oneself

    confirm = await browser.get(f"/web/can-bo/{target}/go")
    assert confirm.status == 200
    assert "Gỡ cán bộ Anh?" in await confirm.text()
    assert (
        count(database, Contact, Contact.id == target, Contact.active) == 1
    )  # GET changed nothing

    # Without the form's CSRF token: refused, nothing changes.
    forged = await browser.post(f"/web/can-bo/{target}/go", csrf="0" * 64)
    assert forged.status == 403
    assert count(database, Contact, Contact.id == target, Contact.active) == 1

    done = await browser.post(f"/web/can-bo/{target}/go")
    assert done.status == 303 and done.headers["Location"] == f"/web/can-bo?da-go={target}"
    after = await browser.get(done.headers["Location"])
    text = await after.text()
    assert f"Đã gỡ #{target} Anh (cán bộ đầu mối, telegram)." in text and "đã gỡ" in text
    assert f'href="/web/can-bo/{target}/go"' not in text
    assert count(database, Contact, Contact.id == target, Contact.removed_at.is_not(None)) == 1
    logged = count(database, StaffAction, StaffAction.action == "remove_member")
    assert logged == 1
    log_page = await (await browser.get("/web/nhat-ky?viec=remove_member")).text()
    assert "Gỡ cán bộ" in log_page and f"#{target} Anh" in log_page

    # Again (a second tab, a double click): a clear refusal, nothing more logged.
    again = await browser.post(f"/web/can-bo/{target}/go")
    assert again.status == 400 and "đã được gỡ trước đó" in await again.text()
    for bad in ("abc", "999999", "²", "9" * 5000):
        response = await browser.post(f"/web/can-bo/{bad}/go")
        assert response.status == 400, bad
        assert "Không thực hiện được" in await response.text()
    for bad in ("999999", "²", "9" * 5000, "-1"):
        assert (await browser.get(f"/web/can-bo/{bad}/go")).status == 404, bad
    assert (await browser.get("/web/can-bo?da-go=²")).status == 200
    assert count(database, StaffAction, StaffAction.action == "remove_member") == 1


async def test_a_district_secretariat_and_a_stranger_cannot_see_or_use_the_members_page(
    web, seeded, database
):
    district = await web()
    await district.sign_in(seeded["district"])
    assert 'href="/web/can-bo"' not in await (await district.get("/web/")).text()
    for path in ("/web/can-bo", f"/web/can-bo/{seeded['officer_np']}/go"):
        response = await district.get(path)
        assert response.status == 403
        text = await response.text()
        assert "Chỉ cán bộ tổng hợp cấp tỉnh" in text and "Anh" not in text
    response = await district.post(f"/web/can-bo/{seeded['officer_np']}/go")
    assert response.status == 403
    stranger = await web()
    assert (await stranger.get("/web/can-bo")).status == 403
    response = await stranger.post(f"/web/can-bo/{seeded['officer_np']}/go", csrf="0" * 64)
    assert response.status == 403
    assert count(database, Contact, Contact.removed_at.is_not(None)) == 0


async def test_a_removed_member_loses_the_web_session_and_download_links_at_once(
    web, seeded, database, clock
):
    district = await web()
    await district.sign_in(seeded["district"])
    assert (await district.get("/web/")).status == 200
    with database.transaction() as session:
        link = download_link(
            session,
            clock(),
            district.staff.desk,
            campaign_id=current_campaign(session).id,
            unit_id=unit_by_code(session, "HU-NP").id,
            contact_id=seeded["district"],
        )
    path = link.removeprefix(district.staff.desk.public_url)
    assert (await district.get(path)).status == 200
    unused = district.link_for(seeded["district"])  # a sign-in link not pressed yet

    province = await web()
    await province.sign_in(seeded["province"])
    await province.get(f"/web/can-bo/{seeded['district']}/go")
    assert (await province.post(f"/web/can-bo/{seeded['district']}/go")).status == 303

    assert (await district.get("/web/")).status == 403
    assert (await district.get(path)).status == 404
    # A sign-in link made before the removal does not bring the session back.
    response = await district.client.post(f"/web/vao/{unused}", allow_redirects=False)
    assert response.status == 403
    assert (await district.get("/web/")).status == 403
    assert (await province.get("/web/")).status == 200
