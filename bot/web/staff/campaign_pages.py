"""«Đợt báo cáo»: the province secretariat's campaigns on the web page (issue #22).

The list shows every campaign with its state, deadline and size; an XLSForm uploaded here
becomes a draft (read by `exports.xlsform_read`, stored by `storage.campaign_life.create_draft`,
the same as `baocao campaign import`); a campaign's page shows its settings and a preview of
every question as an officer of each level will see it in the chat; open and close ask for a
confirmation first, archive and copy do not. Each transition is the storage's conditional
update, so two people acting at once cannot both win; a refused one shows the state as it is.

A district secretariat gets 403 and no menu link: campaigns are the province's to manage.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path
from urllib.parse import quote

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from sqlmodel import Session

from bot.web.inputs import parse_day
from bot.web.staff.campaign_preview import preview
from bot.web.staff.campaign_settings import changes_from, settings_form
from bot.web.staff.guard import COOKIE, CSRF_FIELD, Viewer, csrf_matches, viewer_for
from bot.web.staff.routes import (
    HTTP_STATUS,
    NOT_SIGNED_IN,
    STAFF_KEY,
    _form,
    _read,
    _refuse,
    _render,
)
from bot.web.staff.wording import until_text
from conversations.errors import DomainError, ErrorKind
from conversations.formatting import format_day
from conversations.labels import GROUP_TITLES, LEVEL_TITLES
from conversations.statuses import CampaignState
from exports.xlsform_read import read_xlsform
from exports.xlsform_rows import XLSFormError
from exports.xlsform_settings import parse_moment
from storage.campaign_life import (
    STATE_NAMES,
    TRANSITIONS,
    campaign_facts,
    change_state,
    copy_campaign,
    create_draft,
    update_draft,
)
from storage.models import Campaign
from storage.repository import campaign_by_code, campaign_form, campaign_spec, list_campaigns

LIST_PATH = "/web/dot"
FILE_FIELD = "bieu-mau"
MAX_FORM_BYTES = 2 * 1024 * 1024
MAX_PARTS = 4
CONFIRMED = "xac-nhan"
# The address's word for each transition, and whether it asks for a confirmation first.
ACTIONS = {"mo": ("open", True), "dong": ("close", True), "luu-tru": ("archive", False)}
SLUGS = {action: slug for slug, (action, _) in ACTIONS.items()}
MEANING = {
    "open": "Mở đợt: cán bộ đầu mối của các đơn vị tham gia chọn được đợt này trong cuộc trò "
    "chuyện và trả lời; trợ lý bắt đầu nhắc theo lịch nhắc của đợt.",
    "close": "Đóng đợt: không nhận thêm câu trả lời và thôi nhắc; số liệu đã có vẫn xem và tải "
    "về được.",
    "archive": "Lưu trữ: đợt đã đóng được cất đi, không còn trong danh sách chọn đợt.",
}
PROVINCE_ONLY = "Chỉ Văn phòng cấp tỉnh quản lý các đợt báo cáo."
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


def add_campaign_pages(web_app: web.Application) -> None:
    add = web_app.router
    add.add_get(LIST_PATH, campaign_list)
    add.add_post(LIST_PATH + "/tai-len", upload)
    add.add_get(LIST_PATH + "/{code}", campaign_page)
    add.add_post(LIST_PATH + "/{code}/sao-chep", copy)
    add.add_post(LIST_PATH + "/{code}/cai-dat", change_settings)
    for slug, (_action, confirmed_first) in ACTIONS.items():
        if confirmed_first:
            add.add_get(f"{LIST_PATH}/{{code}}/{slug}", confirm)
        add.add_post(f"{LIST_PATH}/{{code}}/{slug}", transition)


def _province(viewer: Viewer) -> bool:
    return viewer.actor.scope_unit_id is None


def _path(code: str) -> str:
    return f"{LIST_PATH}/{quote(code)}"


def _find(session: Session, code: str) -> Campaign | None:
    if not _CODE.fullmatch(code):
        return None
    try:
        return campaign_by_code(session, code)
    except DomainError:
        return None


def _row(session: Session, campaign: Campaign) -> dict:
    spec = campaign_spec(campaign)
    facts = campaign_facts(session, campaign)
    return {
        "code": campaign.code,
        "path": _path(campaign.code),
        "title": campaign.title,
        "state": campaign.state,
        "state_name": STATE_NAMES[campaign.state],
        "deadline": until_text(spec.deadline, spec.zone),
        "questions": facts["questions"],
        "participants": facts["participants"],
    }


def _participants_text(spec) -> list[str]:
    chosen = spec.participants
    lines = []
    if chosen.levels:
        lines.append("Cấp: " + ", ".join(LEVEL_TITLES.get(lv, lv) for lv in chosen.levels))
    if chosen.groups:
        lines.append("Khối: " + ", ".join(GROUP_TITLES.get(g, g) for g in chosen.groups))
    if chosen.units:
        lines.append("Đơn vị: " + ", ".join(chosen.units))
    return lines or ["Mọi đơn vị"]


def _details(session: Session, campaign: Campaign, now) -> dict:
    spec, form = campaign_spec(campaign), campaign_form(campaign)
    period = ""
    if spec.period_start and spec.period_end:
        period = f"từ {format_day(spec.period_start)} đến {format_day(spec.period_end)}"
    reminders = spec.reminders
    days = ", ".join(str(d) for d in sorted(reminders.days_before, reverse=True))
    return {
        "campaign": _row(session, campaign),
        "issued_by": spec.issued_by,
        "receiver": spec.receiver,
        "period": period,
        "participants": _participants_text(spec),
        "reminders": f"{days} ngày trước hạn, lúc {reminders.hour}" if days else "không nhắc",
        "actions": [
            {"slug": SLUGS[action], "verb": verb, "confirm": ACTIONS[SLUGS[action]][1]}
            for action, (start, _target, verb) in TRANSITIONS.items()
            if start == campaign.state
        ],
        "levels": preview(form, spec, now),
        "settings": settings_form(session, form, spec)
        if campaign.state == CampaignState.DRAFT
        else None,
    }


# --- pages ---------------------------------------------------------------------------------------


async def _province_page(request, template, work, *, status=200, extra=None):
    """`work` for a province viewer; 403 for anyone else, 404 when it finds nothing."""

    def run(session, viewer, now):
        return work(session, now) if _province(viewer) else "district"

    viewer, context = await _read(request, run)
    if viewer is None:
        return _refuse(request, 403, NOT_SIGNED_IN)
    if context == "district":
        return _refuse(request, 403, PROVINCE_ONLY)
    if context is None:
        return _refuse(request, 404, "Không tìm thấy.")
    return _render(request, template, {**context, **(extra or {})}, status=status, viewer=viewer)


async def campaign_list(request: web.Request, *, error: str = "", status: int = 200):
    def work(session, _now):
        return {"rows": [_row(session, c) for c in list_campaigns(session)]}

    extra = {"error": error, "max_mb": MAX_FORM_BYTES // (1024 * 1024)}
    return await _province_page(request, "campaigns.j2", work, status=status, extra=extra)


async def campaign_page(request: web.Request, *, error: str = "", status: int = 200):
    code = request.match_info["code"]

    def work(session, now):
        campaign = _find(session, code)
        return _details(session, campaign, now) if campaign else None

    notice = _NOTICES.get(request.query.get("da", ""), "")
    extra = {"error": error, "notice": notice}
    return await _province_page(request, "campaign.j2", work, status=status, extra=extra)


_NOTICES = {
    "nhap": "Đã tạo đợt báo cáo (bản nháp). Xem lại các câu hỏi bên dưới rồi mở đợt.",
    "mo": "Đã mở đợt báo cáo.",
    "dong": "Đã đóng đợt báo cáo.",
    "luu-tru": "Đã lưu trữ đợt báo cáo.",
    "sao-chep": "Đã sao chép thành đợt mới (bản nháp).",
    "cai-dat": "Đã lưu cài đặt của đợt; phần xem trước bên dưới theo cài đặt mới.",
}


async def confirm(request: web.Request) -> web.Response:
    code, slug = request.match_info["code"], request.path.rsplit("/", 1)[1]
    action = ACTIONS[slug][0]

    def work(session, _now):
        campaign = _find(session, code)
        if campaign is None:
            return None
        return {
            "campaign": _row(session, campaign),
            "slug": slug,
            "verb": TRANSITIONS[action][2],
            "meaning": MEANING[action],
            "allowed": campaign.state == TRANSITIONS[action][0],
        }

    return await _province_page(request, "campaign_confirm.j2", work)


# --- changes -------------------------------------------------------------------------------------


async def _change(request: web.Request, change) -> tuple[str, object]:
    """Run `change(session, now)` for a province viewer in one write transaction."""
    staff = request.app[STAFF_KEY]
    token = request.cookies.get(COOKIE)

    def run():
        now = staff.clock()
        try:
            with staff.database.write_transaction() as session:
                viewer = viewer_for(session, token, now)
                if viewer is None:
                    return "signed-out", None
                if not _province(viewer):
                    return "district", None
                return "done", change(session, now)
        except DomainError as refused:
            return "refused", refused

    return await asyncio.to_thread(run)


def _refusal(request: web.Request, outcome: str, detail) -> web.Response | None:
    if outcome == "signed-out":
        return _refuse(request, 403, NOT_SIGNED_IN)
    if outcome == "district":
        return _refuse(request, 403, PROVINCE_ONLY)
    if outcome == "refused" and detail.kind in (ErrorKind.NOT_FOUND, ErrorKind.OUT_OF_SCOPE):
        return _refuse(request, 404, "Không tìm thấy.")
    return None


async def _apply(request: web.Request, change, failure: str, then) -> web.Response:
    """Run `change` in one write: a refusal shows the campaign page saying `failure` and why,
    success goes (POST, then GET) to the page `then(result)` names."""
    outcome, detail = await _change(request, change)
    if (page := _refusal(request, outcome, detail)) is not None:
        return page
    if outcome == "refused":
        reason = f"{failure}: {detail}."
        return await campaign_page(request, error=reason, status=HTTP_STATUS[detail.kind])
    raise web.HTTPSeeOther(then(detail))


async def _posted(request: web.Request) -> tuple[dict[str, str], str] | web.Response:
    """The posted form and the campaign code of the address, or the page refusing them."""
    form = await _form(request)
    if isinstance(form, web.Response):
        return form
    code = request.match_info["code"]
    if not _CODE.fullmatch(code):
        return _refuse(request, 404, "Không tìm thấy.")
    return form, code


async def transition(request: web.Request) -> web.Response:
    posted = await _posted(request)
    if isinstance(posted, web.Response):
        return posted
    (form, code), slug = posted, request.path.rsplit("/", 1)[1]
    action, confirmed_first = ACTIONS[slug]
    if confirmed_first and form.get(CONFIRMED) != "1":
        raise web.HTTPSeeOther(f"{_path(code)}/{slug}")
    return await _apply(
        request,
        lambda session, now: change_state(session, code, action, now),
        "Không thực hiện được",
        lambda _: f"{_path(code)}?da={slug}",
    )


async def copy(request: web.Request) -> web.Response:
    posted = await _posted(request)
    if isinstance(posted, web.Response):
        return posted
    form, code = posted
    new_code = form.get("ma-moi", "").strip()
    day = parse_day(form.get("han", ""), "hạn nộp")
    deadline = parse_moment(day.isoformat(), end_of_day=True)
    return await _apply(
        request,
        lambda session, now: copy_campaign(session, code, new_code, deadline, now).code,
        "Chưa sao chép được",
        lambda copied: f"{_path(copied)}?da=sao-chep",
    )


async def change_settings(request: web.Request) -> web.Response:
    posted = await _posted(request)
    if isinstance(posted, web.Response):
        return posted
    form, code = posted
    changes = changes_from(form)
    return await _apply(
        request,
        lambda session, now: update_draft(session, code, changes, now),
        "Chưa lưu được",
        lambda _: f"{_path(code)}?da=cai-dat",
    )


# --- upload --------------------------------------------------------------------------------------


class _Malformed(ValueError):
    """The multipart body cannot be read."""


async def _upload_parts(request: web.Request) -> tuple[dict[str, str], str, bytes | None]:
    """The text fields, the file's name and its bytes (None past the cap) of the upload form."""
    if not request.content_type.startswith("multipart/"):
        raise _Malformed("not multipart")
    fields: dict[str, str] = {}
    filename, data = "", b""
    try:
        reader = await request.multipart()
        for _ in range(MAX_PARTS):
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == FILE_FIELD and part.filename:
                filename, data = part.filename, await _capped(part)
            elif part.name == CSRF_FIELD:
                fields[CSRF_FIELD] = (await part.read_chunk(256)).decode("ascii", "replace")
                await part.release()
            else:
                await part.release()
    except (HttpProcessingError, AssertionError, LookupError, web.HTTPException) as broken:
        raise _Malformed("malformed multipart") from broken
    return fields, filename, data


async def _capped(part: BodyPartReader) -> bytes | None:
    chunks, size = [], 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            await part.release()
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_form(filename: str, data: bytes):
    """The campaign the uploaded workbook describes; refusals name the file as it was sent."""
    shown = Path(filename).name[:80] or "biểu mẫu"
    with tempfile.TemporaryDirectory(prefix="baocao-form-") as folder:
        path = Path(folder) / "bieu-mau.xlsx"
        path.write_bytes(data)
        try:
            return read_xlsform(path)
        except XLSFormError as error:
            raise XLSFormError(str(error).replace(str(path), shown)) from None


async def upload(request: web.Request) -> web.Response:
    token = request.cookies.get(COOKIE)
    if not token:  # before reading the body: nobody signed in sends a file for nothing
        return _refuse(request, 403, NOT_SIGNED_IN)
    try:
        fields, filename, data = await _upload_parts(request)
    except _Malformed:
        return await campaign_list(request, error=_UNREADABLE, status=400)
    if not csrf_matches(token, fields.get(CSRF_FIELD, "")):
        return _refuse(request, 403, "Biểu mẫu đã cũ hoặc không hợp lệ. Tải lại trang rồi thử lại.")
    viewer, _ = await _read(request, lambda *_: None)
    if viewer is None:
        return _refuse(request, 403, NOT_SIGNED_IN)
    if not _province(viewer):
        return _refuse(request, 403, PROVINCE_ONLY)
    if not filename:
        return await campaign_list(request, error="Chưa chọn tệp biểu mẫu (.xlsx).", status=400)
    if data is None:
        too_big = f"Tệp lớn quá {MAX_FORM_BYTES // (1024 * 1024)} MB; biểu mẫu không cần lớn thế."
        return await campaign_list(request, error=too_big, status=400)
    try:
        loaded = await asyncio.to_thread(_parse_form, filename, data)
    except XLSFormError as refused:
        return await campaign_list(request, error=f"Chưa nhập được: {refused}.", status=400)
    outcome, detail = await _change(
        request, lambda session, now: create_draft(session, loaded, now).code
    )
    if (page := _refusal(request, outcome, detail)) is not None:
        return page
    if outcome == "refused":
        return await campaign_list(request, error=f"Chưa nhập được: {detail}.", status=400)
    raise web.HTTPSeeOther(f"{_path(detail)}?da=nhap")


_UNREADABLE = "Biểu mẫu gửi lên không đọc được. Tải lại trang rồi thử lại."
