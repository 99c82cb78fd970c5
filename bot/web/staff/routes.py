"""The web page's routes: read the request, check the session (and the CSRF token of a form),
run one transaction in a worker thread, render a template or redirect.

Reading pages are GET; every change is a POST with the form's CSRF token and answers with a
redirect (or the page again with the reason when the action is refused). The downloads are
`downloads`; `workspace` and `members_page` add their pages with the same plumbing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlmodel import Session

from bot import use_cases
from bot.clock import Clock
from bot.use_cases import Desk
from bot.web.inputs import BadInput, check_all, parse_day
from bot.web.staff import actions, campaigns, charts, listing, pages
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
from bot.web.staff.origin import from_our_page
from bot.web.staff.progress_cache import ProgressCache
from bot.web.staff.wording import until_text
from conversations import lifecycle
from conversations.errors import BadValue, DomainError, ErrorKind
from conversations.formatting import format_day
from conversations.reminder_plan import after_quiet
from conversations.statuses import SubmissionStatus
from storage.database import Database
from storage.repository import campaign_spec
from storage.staff_store import end_session

PACKAGE = Path(__file__).resolve().parents[2]
DONE_MESSAGES = {  # {when}: the time of the action, read back from the unit's log
    "duyet": ("Duyệt", "Đã duyệt báo cáo lúc {when}; cán bộ đầu mối đã được báo."),
    "tralai": (
        "Trả lại",
        "Đã trả lại báo cáo lúc {when}; cán bộ đầu mối nhận lý do trong cuộc trò chuyện.",
    ),
    "giahan": ("Gia hạn", "Đã gia hạn lúc {when}: hạn mới của đơn vị là {deadline}."),
}
# A refused action, by its kind: a unit outside the viewer's scope is as absent as an unknown one.
HTTP_STATUS = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.OUT_OF_SCOPE: 404,
    ErrorKind.STATE: 409,
    ErrorKind.BAD_VALUE: 400,
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
    # BAOCAO_PUBLIC_URL as configured (None: the sign-in checks the request's own host).
    public_url: str | None = None
    data_dir: Path = Path("data")  # where the signed reports units sent back are stored
    templates: Environment = field(init=False)
    progress: ProgressCache = field(init=False, default_factory=ProgressCache)
    recent_invites: actions.RecentInvites = field(init=False, default_factory=actions.RecentInvites)

    def __post_init__(self) -> None:
        self.templates = Environment(
            loader=FileSystemLoader(PACKAGE / "templates" / "web"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # The buttons a unit page offers are the moves the life-cycle table allows.
        self.templates.globals["allows"] = lifecycle.allows
        self.templates.globals.update(legend=charts.LEGEND, swatch=charts.legend_swatch)


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
    try:
        form = await request.post()
    except (UnicodeDecodeError, ValueError, HttpProcessingError):
        raise BadInput("Biểu mẫu gửi lên không đọc được. Tải lại trang rồi thử lại.") from None
    check_all((str(value) for value in form.values()), "nội dung biểu mẫu")
    token = request.cookies.get(COOKIE)
    if not token:
        return _refuse(request, 403, NOT_SIGNED_IN)
    if not csrf_matches(token, str(form.get(CSRF_FIELD, ""))):
        return _refuse(request, 403, "Biểu mẫu đã cũ hoặc không hợp lệ. Tải lại trang rồi thử lại.")
    return {key: str(value) for key, value in form.items()}


# --- signing in and out --------------------------------------------------------------------------


async def sign_in_page(request: web.Request) -> web.Response:
    """A button, not an automatic sign-in: a chat's link preview must not use the link up.
    Its referrer policy lets the browser name this page's origin when the button posts."""
    response = _render(request, "sign_in.j2", {"token": request.match_info["token"]})
    response.headers["Referrer-Policy"] = "same-origin"
    return response


async def sign_in(request: web.Request) -> web.Response:
    staff = request.app[STAFF_KEY]
    link_token = request.match_info["token"]
    if not from_our_page(request, staff.public_url):
        return _refuse(
            request,
            403,
            "Yêu cầu đăng nhập không đến từ trang của Ban Dân vận nên bị từ chối. Mở lại liên "
            "kết đăng nhập rồi bấm nút «Đăng nhập» trên trang đó.",
        )

    def run() -> str | None:
        now = staff.clock()
        with staff.database.write_transaction() as session:
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
    wanted = listing.read_filter(request.query)
    notice = None
    if request.query.get("xong") == "nhac":
        sent, units = request.query.get("so", ""), request.query.get("dv", "")
        if sent.isdigit() and units.isdigit():
            notice = f"Đã xếp {sent} tin nhắc cho {units} đơn vị (mỗi đơn vị một dòng nhật ký)."

    def work(session, viewer, now):
        template = request.app[STAFF_KEY].templates.get_template("unit_list.j2")
        context = listing.unit_list(
            session,
            viewer.actor,
            now,
            wanted,
            _cache(request),
            _code(request),
            lambda values: Markup(template.render(**values)),  # rendered by our own template
        )
        return context | {"notice": notice}

    return await _page(request, "units.j2", work)


async def unit_page(request: web.Request, *, error: str | None = None, status: int = 200):
    code = request.match_info["code"]
    done = request.query.get("xong", "")
    notice = None
    if done == "nhac":
        count, at = request.query.get("so", ""), request.query.get("luc", "")
        if count.isdigit() and re.fullmatch(r"\d{2}:\d{2}", at or ""):
            notice = f"Đã xếp {count} tin nhắc cho cán bộ đầu mối; sẽ gửi lúc {at}."

    def work(session, viewer, now):
        context = pages.unit_page(session, viewer.actor, now, code, _cache(request), _code(request))
        if context is None:
            return None
        message = notice
        if done in DONE_MESSAGES:
            title, text = DONE_MESSAGES[done]
            when = next((e["when"] for e in context["log"] if e["what"] == title), "")
            message = text.format(when=when, deadline=context["deadline_text"])
        return context | {"notice": message, "error": error}

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
            with staff.database.write_transaction() as session:
                viewer = viewer_for(session, token, now)
                if viewer is None:
                    return None, None
                code = request.match_info.get("code")
                if code is not None:
                    shown = form.get(actions.STATUS_FIELD)
                    shown_campaign = _campaign_code(session, request)
                    actions.check_not_stale(session, viewer.actor, code, shown, shown_campaign)
                return viewer, action(session, viewer, now, form)
        except DomainError as refused:
            return "refused", refused

    viewer, outcome = await asyncio.to_thread(run)
    _cache(request).invalidate()
    if viewer is None:
        return _refuse(request, 403, NOT_SIGNED_IN)
    if viewer == "refused":
        status = HTTP_STATUS[outcome.kind]
        if status == 404:
            return _refuse(request, 404, "Không tìm thấy.")
        # The unit page again, as it stands now, with the reason above it.
        lead = "Chưa làm gì" if isinstance(outcome, actions.StalePage) else "Không thực hiện được"
        return await unit_page(request, error=f"{lead}: {outcome}.", status=status)
    target = f"/web/don-vi/{quote(request.match_info['code'])}"
    if outcome is None:  # Duyệt without its confirmation: ask for it
        raise web.HTTPSeeOther(f"{target}/duyet")
    if outcome.startswith("/"):
        raise web.HTTPSeeOther(outcome)
    raise web.HTTPSeeOther(f"{target}?{outcome}")


async def approve(request: web.Request) -> web.Response:
    """Only from the confirmation page (`workspace.approve_confirm`): a Duyệt from elsewhere
    leads there first."""
    code = request.match_info["code"]

    def action(session, viewer, now, form):
        if form.get("xac-nhan") != "co":
            return None
        use_cases.approve_report(
            session,
            now,
            _desk(request),
            unit_code=code,
            actor=viewer.actor,
            expected=_seen(form),
            campaign_code=_campaign_code(session, request),
        )
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
            expected=_seen(form),
            campaign_code=_campaign_code(session, request),
        )
        return "xong=tralai"

    return await _act(request, action)


async def extend(request: web.Request) -> web.Response:
    code = request.match_info["code"]

    def action(session, viewer, now, form):
        campaign = campaigns.page_campaign(session, _code(request))
        zone = campaign_spec(campaign).zone
        try:
            day = parse_day(form.get("ngay", ""), "ngày gia hạn")
        except BadInput as bad:
            reason = bad.message.rstrip(".")
            raise BadValue(reason[:1].lower() + reason[1:]) from None
        unit = use_cases.scoped_unit(session, viewer.actor, code)
        current = use_cases.unit_deadline(session, campaign, unit)
        earliest = date.fromisoformat(pages.extend_min(current, now, zone))
        if day < earliest:
            raise BadValue(
                f"ngày gia hạn phải từ {format_day(earliest)} trở đi: không trước hôm nay và sau "
                f"hạn hiện tại của đơn vị ({until_text(current, zone)})"
            )
        deadline = datetime.combine(day + timedelta(days=1), time(0, 0), zone)
        use_cases.extend_deadline(
            session,
            now,
            unit_code=code,
            deadline=deadline,
            actor=viewer.actor,
            campaign_code=campaign.code,
        )
        return "xong=giahan"

    return await _act(request, action)


async def remind(request: web.Request) -> web.Response:
    code = request.match_info["code"]

    def action(session, viewer, now, _form):
        campaign = campaigns.page_campaign(session, _code(request))
        count = actions.remind_one(
            session, now, _desk(request), viewer.actor, code, campaign_code=campaign.code
        )
        spec = campaign_spec(campaign)
        when = after_quiet(now, spec.reminders, spec.zone).astimezone(spec.zone)
        return urlencode({"xong": "nhac", "so": count, "luc": f"{when:%H:%M}"})

    return await _act(request, action)


async def invite(request: web.Request) -> web.Response:
    """Mời: the unit's live code if it has one, else a new one; then the invite page (GET), so
    reloading it shows the same code and makes no other."""
    code = request.match_info["code"]

    def action(session, viewer, now, form):
        replace = form.get("thay") == "1"
        issued, unit, made = actions.invite_once(
            session, now, _desk(request), viewer.actor, code, replace=replace
        )
        if made:  # the code is shown to this session only: the database keeps its hash
            request.app[STAFF_KEY].recent_invites.remember(token, unit.code, issued)
        return f"/web/don-vi/{quote(unit.code)}/moi?{'moi=1' if made else 'co-san=1'}"

    token = request.cookies.get(COOKIE)

    return await _act(request, action)


def _seen(form: dict[str, str]) -> str | None:
    """The report's status as the page showed it when the button was pressed (None if the form
    did not say): an action on a report that moved since is refused, not applied."""
    seen = form.get(actions.STATUS_FIELD, "")
    return seen if seen in set(SubmissionStatus) else None


def _code(request: web.Request) -> str | None:
    return campaigns.requested_code(request)


def _campaign_code(session: Session, request: web.Request) -> str:
    """The code of the campaign the page showed (named in the URL or cookie, else the only or
    latest open one): every action applies to it."""
    return campaigns.page_campaign(session, _code(request)).code


def _cache(request: web.Request) -> ProgressCache:
    return request.app[STAFF_KEY].progress


def _desk(request: web.Request) -> Desk:
    return request.app[STAFF_KEY].desk
