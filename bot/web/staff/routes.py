"""The web page's routes: read the request, check the session (and the CSRF token of a form),
run one transaction in a worker thread, render a template or redirect.

Reading pages are GET; every change is a POST with the form's CSRF token and answers with a
redirect (or the page again with the reason when the action is refused).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import segno
from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlmodel import Session

from bot import use_cases
from bot.clock import Clock
from bot.documents.report_files import read_stored_file, signed_reports_zip_bytes
from bot.documents.word_reports import report_bytes
from bot.documents.workbooks import export_bytes, per_unit_zip_bytes
from bot.use_cases import Desk
from bot.web.staff import campaigns, pages
from bot.web.staff.guard import (
    COOKIE,
    CSRF_FIELD,
    Viewer,
    clear_session_cookie,
    csrf_matches,
    security_headers,
    set_session_cookie,
    viewer_for,
)
from conversations.messages import format_moment
from conversations.reminder_plan import after_quiet
from storage.database import Database
from storage.repository import StorageError, campaign_spec, unit_by_code
from storage.signed_reports import unit_signed_report
from storage.staff_store import end_session

PACKAGE = Path(__file__).resolve().parents[2]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DONE_MESSAGES = {
    "duyet": "Đã duyệt báo cáo; cán bộ đầu mối đã được báo.",
    "tralai": "Đã trả lại báo cáo; cán bộ đầu mối nhận lý do trong cuộc trò chuyện.",
    "giahan": "Đã gia hạn cho đơn vị.",
}
NOT_SIGNED_IN = (
    "Cần đăng nhập. Cán bộ tổng hợp gửi /web cho trợ lý trên Telegram hoặc Zalo để nhận "
    "liên kết đăng nhập (dùng một lần, trong 10 phút)."
)


@dataclass
class StaffWeb:
    database: Database
    clock: Clock
    desk: Desk
    session_valid_for: timedelta = timedelta(hours=12)
    secure_cookie: bool = False
    data_dir: Path = Path("data")  # where the signed reports units sent back are stored
    templates: Environment = field(init=False)
    progress: pages.ProgressCache = field(init=False, default_factory=pages.ProgressCache)

    def __post_init__(self) -> None:
        self.templates = Environment(
            loader=FileSystemLoader(PACKAGE / "templates" / "web"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )


STAFF_KEY = web.AppKey("baocao_staff", StaffWeb)


def add_staff_pages(web_app: web.Application, staff: StaffWeb) -> None:
    web_app[STAFF_KEY] = staff
    web_app.middlewares.append(security_headers)
    add = web_app.router
    add.add_get("/web", to_overview)
    add.add_get("/web/", overview)
    add.add_get("/web/tinh/web.css", stylesheet)
    add.add_get("/web/vao/{token}", sign_in_page)
    add.add_post("/web/vao/{token}", sign_in)
    add.add_post("/web/thoat", sign_out)
    add.add_get("/web/don-vi", unit_list)
    add.add_get("/web/don-vi/{code}", unit_page)
    add.add_post("/web/don-vi/{code}/duyet", approve)
    add.add_post("/web/don-vi/{code}/tra-lai", return_report)
    add.add_post("/web/don-vi/{code}/gia-han", extend)
    add.add_post("/web/don-vi/{code}/nhac", remind)
    add.add_post("/web/don-vi/{code}/moi", invite)
    add.add_get("/web/tai-ve", downloads)
    add.add_get("/web/tai-ve/tong-hop.xlsx", download_consolidated)
    add.add_get("/web/tai-ve/theo-don-vi.zip", download_per_unit)
    add.add_get("/web/tai-ve/bao-cao.docx", download_report)
    add.add_get("/web/tai-ve/don-vi/{code}.xlsx", download_unit)
    add.add_get("/web/tai-ve/bao-cao-co-chu-ky.zip", download_signed_zip)
    add.add_get("/web/tai-ve/don-vi/{code}/bao-cao-ky/{report_id:[0-9]+}", download_signed)
    add.add_get("/web/nhat-ky", action_log)


# --- plumbing ------------------------------------------------------------------------------------


async def to_overview(_request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/web/")


def _render(
    request: web.Request, name: str, context: dict, *, status: int = 200, viewer=None
) -> web.Response:
    staff = request.app[STAFF_KEY]
    html = staff.templates.get_template(name).render(viewer=viewer, **context)
    response = web.Response(text=html, content_type="text/html", charset="utf-8", status=status)
    campaigns.remember(request, response)
    return response


def _refuse(request: web.Request, status: int, text: str) -> web.Response:
    return _render(
        request, "message.j2", {"title": "Không truy cập được", "text": text}, status=status
    )


async def _read(
    request: web.Request, work: Callable[[Session, Viewer, datetime], Any]
) -> tuple[Viewer | None, Any]:
    """Check the session and run `work` in one transaction, in a worker thread."""
    staff = request.app[STAFF_KEY]
    token = request.cookies.get(COOKIE)

    def run():
        now = staff.clock()
        with staff.database.transaction() as session:
            viewer = viewer_for(session, token, now)
            if viewer is None:
                return None, None
            return viewer, work(session, viewer, now)

    return await asyncio.to_thread(run)


def _with_switcher(request: web.Request, work):
    """`work`, with the header's campaign switcher added to the page's context."""

    def run(session, viewer, now):
        context = work(session, viewer, now)
        if isinstance(context, dict):
            code = campaigns.requested_code(request)
            context["switcher"] = campaigns.switcher(session, code, request.path)
        return context

    return run


async def _page(request, name, work) -> web.Response:
    viewer, context = await _read(request, _with_switcher(request, work))
    if viewer is None:
        return _refuse(request, 403, NOT_SIGNED_IN)
    if context is None:
        return _refuse(request, 404, "Không tìm thấy.")
    return _render(request, name, context, viewer=viewer)


async def _form(request: web.Request) -> dict[str, str] | web.Response:
    """The posted fields when the session cookie and the CSRF token agree; else a 403 page."""
    form = await request.post()
    token = request.cookies.get(COOKIE)
    if not token:
        return _refuse(request, 403, NOT_SIGNED_IN)
    if not csrf_matches(token, str(form.get(CSRF_FIELD, ""))):
        return _refuse(request, 403, "Biểu mẫu đã cũ hoặc không hợp lệ. Tải lại trang rồi thử lại.")
    return {key: str(value) for key, value in form.items()}


# --- signing in and out --------------------------------------------------------------------------


async def sign_in_page(request: web.Request) -> web.Response:
    """A button, not an automatic sign-in: a chat's link preview must not use the link up."""
    return _render(request, "sign_in.j2", {"token": request.match_info["token"]})


async def sign_in(request: web.Request) -> web.Response:
    staff = request.app[STAFF_KEY]
    link_token = request.match_info["token"]

    def run() -> str | None:
        now = staff.clock()
        with staff.database.transaction() as session:
            return use_cases.open_web_session(session, now, link_token, staff.session_valid_for)

    token = await asyncio.to_thread(run)
    if token is None:
        return _refuse(
            request,
            403,
            "Liên kết đăng nhập đã được dùng hoặc đã hết hạn. Gửi /web cho trợ lý để nhận "
            "liên kết mới.",
        )
    response = web.HTTPSeeOther("/web/")
    set_session_cookie(
        response,
        token,
        max_age=int(staff.session_valid_for.total_seconds()),
        secure=staff.secure_cookie,
    )
    raise response


async def sign_out(request: web.Request) -> web.Response:
    form = await _form(request)
    if isinstance(form, web.Response):
        return form
    staff = request.app[STAFF_KEY]
    token = request.cookies.get(COOKIE, "")

    def run() -> None:
        with staff.database.transaction() as session:
            end_session(session, token, staff.clock())

    await asyncio.to_thread(run)
    response = _render(
        request, "message.j2", {"title": "Đã thoát", "text": "Đã thoát khỏi trang web."}
    )
    clear_session_cookie(response)
    return response


async def stylesheet(_request: web.Request) -> web.Response:
    css = (PACKAGE / "static" / "web.css").read_text(encoding="utf-8")
    return web.Response(
        text=css, content_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
    )


# --- reading pages -------------------------------------------------------------------------------


async def overview(request: web.Request) -> web.Response:
    return await _page(
        request,
        "overview.j2",
        lambda s, v, now: pages.overview(s, v.actor, now, _cache(request), _code(request)),
    )


async def unit_list(request: web.Request) -> web.Response:
    query = request.query
    wanted = pages.ListFilter(
        group=query.get("nhom", "")[:40],
        level=query.get("cap", "")[:20],
        status=query.get("trang-thai", "")[:20],
        query=query.get("tim", "").strip()[:100],
        page=int(query["trang"]) if query.get("trang", "").isdigit() else 1,
    )
    return await _page(
        request,
        "units.j2",
        lambda s, v, now: pages.unit_list(s, v.actor, now, wanted, _cache(request), _code(request)),
    )


async def unit_page(request: web.Request, *, error: str | None = None, status: int = 200):
    code = request.match_info["code"]
    notice = DONE_MESSAGES.get(request.query.get("xong", ""))
    if request.query.get("xong") == "nhac":
        count, at = request.query.get("so", ""), request.query.get("luc", "")
        if count.isdigit() and re.fullmatch(r"\d{2}:\d{2}", at or ""):
            notice = f"Đã xếp {count} tin nhắc; sẽ gửi lúc {at}."

    def work(session, viewer, now):
        context = pages.unit_page(session, viewer.actor, now, code, _cache(request), _code(request))
        if context is not None:
            context.update(notice=notice, error=error)
        return context

    viewer, context = await _read(request, _with_switcher(request, work))
    if viewer is None:
        return _refuse(request, 403, NOT_SIGNED_IN)
    if context is None:
        return _refuse(request, 404, "Không tìm thấy.")
    return _render(request, "unit.j2", context, viewer=viewer, status=status)


async def action_log(request: web.Request) -> web.Response:
    surface = request.query.get("kenh", "")[:10]
    action = request.query.get("viec", "")[:20]
    return await _page(
        request,
        "log.j2",
        lambda s, v, now: pages.action_log(s, v.actor, now, surface=surface, action=action),
    )


async def downloads(request: web.Request) -> web.Response:
    def work(session, viewer, now):
        state = pages.standing(session, viewer.actor, now, _cache(request), _code(request))
        return {"standing": state, "province": viewer.actor.scope_unit_id is None}

    return await _page(request, "downloads.j2", work)


# --- actions -------------------------------------------------------------------------------------


async def _act(request: web.Request, action: Callable[[Session, Viewer, datetime, dict], str]):
    """Run a use case for the signed-in viewer; redirect to the unit page, or show why not."""
    form = await _form(request)
    if isinstance(form, web.Response):
        return form
    staff = request.app[STAFF_KEY]
    token = request.cookies.get(COOKIE)

    def run():
        now = staff.clock()
        try:
            with staff.database.transaction() as session:
                viewer = viewer_for(session, token, now)
                if viewer is None:
                    return None, None
                return viewer, action(session, viewer, now, form)
        except StorageError as refused:
            return "refused", str(refused)

    viewer, outcome = await asyncio.to_thread(run)
    _cache(request).invalidate()
    if viewer is None:
        return _refuse(request, 403, NOT_SIGNED_IN)
    if viewer == "refused":
        if outcome.startswith("không có đơn vị mã"):
            return _refuse(request, 404, "Không tìm thấy.")
        return await unit_page(request, error=f"Không thực hiện được: {outcome}.", status=400)
    raise web.HTTPSeeOther(f"/web/don-vi/{quote(request.match_info['code'])}?{outcome}")


async def approve(request: web.Request) -> web.Response:
    code = request.match_info["code"]

    def action(session, viewer, now, _form):
        use_cases.approve_report(session, now, _desk(request), unit_code=code, actor=viewer.actor)
        return "xong=duyet"

    return await _act(request, action)


async def return_report(request: web.Request) -> web.Response:
    code = request.match_info["code"]

    def action(session, viewer, now, form):
        use_cases.return_report(
            session,
            now,
            _desk(request),
            unit_code=code,
            reason=form.get("ly_do", "")[:1000],
            actor=viewer.actor,
            reason_required=True,
        )
        return "xong=tralai"

    return await _act(request, action)


async def extend(request: web.Request) -> web.Response:
    code = request.match_info["code"]

    def action(session, viewer, now, form):
        zone = campaign_spec(campaigns.page_campaign(session, _code(request))).zone
        try:
            day = datetime.strptime(form.get("ngay", ""), "%Y-%m-%d").date()
        except ValueError:
            raise StorageError("ngày gia hạn không hợp lệ (chọn một ngày)") from None
        deadline = datetime.combine(day + timedelta(days=1), time(0, 0), zone)
        use_cases.extend_deadline(
            session, now, unit_code=code, deadline=deadline, actor=viewer.actor
        )
        return "xong=giahan"

    return await _act(request, action)


async def remind(request: web.Request) -> web.Response:
    code = request.match_info["code"]

    def action(session, viewer, now, _form):
        campaign = campaigns.page_campaign(session, _code(request))
        count = use_cases.remind(
            session,
            now,
            _desk(request),
            unit_code=code,
            actor=viewer.actor,
            campaign_code=campaign.code,
        )
        spec = campaign_spec(campaign)
        when = after_quiet(now, spec.reminders, spec.zone).astimezone(spec.zone)
        return urlencode({"xong": "nhac", "so": count, "luc": f"{when:%H:%M}"})

    return await _act(request, action)


async def invite(request: web.Request) -> web.Response:
    form = await _form(request)
    if isinstance(form, web.Response):
        return form
    code = request.match_info["code"]
    staff = request.app[STAFF_KEY]

    def work(session, viewer, now):
        try:
            created, unit = use_cases.invite(
                session, now, staff.desk, role="officer", unit_code=code, actor=viewer.actor
            )
        except StorageError:
            return None
        link = use_cases.telegram_link(staff.desk, created.code)
        return {
            "unit": unit,
            "code": created.code,
            "link": link,
            # segno writes the SVG itself (no user text in it): safe to insert as markup.
            "qr": Markup(segno.make(link or created.code).svg_inline(scale=4)),
            "expires": format_moment(created.expires_at),
        }

    viewer, context = await _read(request, work)
    if viewer is None:
        return _refuse(request, 403, NOT_SIGNED_IN)
    if context is None:
        return _refuse(request, 404, "Không tìm thấy.")
    return _render(request, "invite.j2", context, viewer=viewer)


def _code(request: web.Request) -> str | None:
    return campaigns.requested_code(request)


def _cache(request: web.Request) -> pages.ProgressCache:
    return request.app[STAFF_KEY].progress


def _desk(request: web.Request) -> Desk:
    return request.app[STAFF_KEY].desk


# --- downloads -----------------------------------------------------------------------------------


async def _file(request, *, what: str, code: str | None, make):
    """Check the scope and log the download in one transaction, then build the file."""

    def allow(session, viewer, now) -> str | None:
        """The code of the campaign shown, once the download is allowed and logged."""
        try:
            use_cases.record_export(session, now, viewer.actor, what=what, unit_code=code)
        except StorageError:
            return None
        return campaigns.page_campaign(session, _code(request)).code

    viewer, campaign_code = await _read(request, allow)
    if viewer is None:
        return _refuse(request, 403, NOT_SIGNED_IN)
    if campaign_code is None:
        return _refuse(request, 404, "Không tìm thấy.")
    staff = request.app[STAFF_KEY]
    try:
        name, data, kind = await asyncio.to_thread(
            make, staff.database, staff.clock(), campaign_code
        )
    except StorageError:
        return _refuse(request, 404, "Không tìm thấy.")
    return web.Response(
        body=data,
        content_type=kind,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


async def download_consolidated(request: web.Request) -> web.Response:
    def make(database, now, campaign_code):
        return (*export_bytes(database, campaign_code=campaign_code, now=now), XLSX)

    return await _file(request, what="bảng tổng hợp", code=None, make=make)


async def download_unit(request: web.Request) -> web.Response:
    code = request.match_info["code"]

    def make(database, now, campaign_code):
        data = export_bytes(database, campaign_code=campaign_code, unit_code=code, now=now)
        return (*data, XLSX)

    return await _file(request, what="Phụ lục", code=code, make=make)


async def download_per_unit(request: web.Request) -> web.Response:
    def make(database, now, _campaign_code):  # the only or latest open campaign
        return (*per_unit_zip_bytes(database, now=now), "application/zip")

    return await _file(request, what="Phụ lục từng đơn vị (.zip)", code=None, make=make)


async def download_report(request: web.Request) -> web.Response:
    def make(database, now, campaign_code):
        return (*report_bytes(database, campaign_code=campaign_code, now=now), DOCX)

    return await _file(request, what="dự thảo báo cáo tổng hợp", code=None, make=make)


async def download_signed_zip(request: web.Request) -> web.Response:
    data_dir = request.app[STAFF_KEY].data_dir

    def make(database, now, _campaign_code):  # the only or latest open campaign
        return (*signed_reports_zip_bytes(database, data_dir, now=now), "application/zip")

    return await _file(request, what="báo cáo có chữ ký (.zip)", code=None, make=make)


async def download_signed(request: web.Request) -> web.Response:
    """One signed report a unit sent back, read from the data folder (never outside it)."""
    code = request.match_info["code"]
    report_id = int(request.match_info["report_id"])
    data_dir = request.app[STAFF_KEY].data_dir

    def make(database, _now, campaign_code):
        with database.transaction() as session:
            unit = unit_by_code(session, code)
            campaign = campaigns.page_campaign(session, campaign_code)
            report = unit_signed_report(session, campaign, unit.id, report_id)
        data = read_stored_file(data_dir, report.path) if report else None
        if data is None:
            raise StorageError("không tìm thấy tệp")
        return report.file_name, data, report.content_type or "application/octet-stream"

    return await _file(request, what="báo cáo có chữ ký", code=code, make=make)
