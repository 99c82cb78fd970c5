"""The upload page for Zalo officers (a Zalo bot cannot receive files): one file field on a
phone-sized page behind a single-use link (`bot.signed_intake.upload_link`).

GET shows the form; POST reads the one file as a stream (never more than the cap plus one byte),
applies the same checks as a file sent in Telegram (`conversations.uploads`), stores it with the
unit's submission, spends the link and queues a confirmation to the officer's chat in the same
transaction. An expired, unknown or used link
gets the same 404 page, which says how to ask for a new one and nothing about what exists.
"""

from __future__ import annotations

import asyncio
import html
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

from bot.clock import Clock
from bot.messaging import Outbound
from bot.notify import Recipient, notify
from bot.signed_intake import UPLOAD_PATH, Uploads, confirmation, spend_upload, usable_upload
from conversations.uploads import content_refusal, refusal, safe_name
from storage.database import Database
from storage.hot_path import open_submission
from storage.models import Contact, Unit
from storage.signed_reports import store_signed_report

FIELD = "tep"
GONE_TEXT = (
    "Đường liên kết này không dùng được nữa (đã hết hạn hoặc đã gửi tệp). "
    "Đề nghị đồng chí gõ «gửi báo cáo» trong Zalo để nhận đường liên kết mới."
)
CHUNK = 64 * 1024
MAX_PARTS = 4


@dataclass(frozen=True)
class UploadDeps:
    database: Database
    clock: Clock
    uploads: Uploads


UPLOAD_KEY = web.AppKey("baocao_upload", UploadDeps)


def add_upload_page(web_app: web.Application, deps: UploadDeps) -> None:
    web_app[UPLOAD_KEY] = deps
    web_app.router.add_get(UPLOAD_PATH + "/{token}", show_form)
    web_app.router.add_post(UPLOAD_PATH + "/{token}", receive)


async def show_form(request: web.Request) -> web.Response:
    deps = request.app[UPLOAD_KEY]
    unit_name = await asyncio.to_thread(_unit_for, deps, request.match_info["token"])
    if unit_name is None:
        return _page(GONE_TEXT, status=404)
    return _page("", unit_name=unit_name, limits=deps.uploads.limits.describe())


async def receive(request: web.Request) -> web.Response:
    deps = request.app[UPLOAD_KEY]
    token = request.match_info["token"]
    unit_name = await asyncio.to_thread(_unit_for, deps, token)
    if unit_name is None:
        return _page(GONE_TEXT, status=404)
    limits = deps.uploads.limits
    form = dict(unit_name=unit_name, limits=limits.describe())
    try:
        part = await _file_part(request)
    except ValueError:
        return _page("Chưa chọn tệp. Đề nghị đồng chí chọn tệp báo cáo rồi bấm «Gửi».", 400, **form)
    # Browsers send the name as UTF-8; some clients percent-encode it (aiohttp, older Android).
    name = safe_name(unquote(part.filename or ""), "bao-cao")
    content_type = part.headers.get("Content-Type", "")
    problem = refusal(name, content_type, None, limits)
    if problem:
        return _page(problem, 400, **form)
    data = bytearray()
    while chunk := await part.read_chunk(CHUNK):
        data += chunk
        if len(data) > limits.max_bytes:
            return _page(refusal(name, content_type, len(data), limits), 413, **form)
    problem = content_refusal(name, bytes(data), limits)
    if problem:
        return _page(problem, 400, **form)
    now = deps.clock()
    message = await asyncio.to_thread(_store, deps, token, name, content_type, bytes(data), now)
    if message is None:
        return _page(GONE_TEXT, status=404)
    return _page(message, done=True, unit_name=unit_name)


async def _file_part(request: web.Request) -> BodyPartReader:
    if not request.content_type.startswith("multipart/"):
        raise ValueError("not multipart")
    reader = await request.multipart()
    for _ in range(MAX_PARTS):  # the form has one field; a few more are tolerated, not more
        part = await reader.next()
        if part is None:
            break
        if isinstance(part, BodyPartReader) and part.name == FIELD and part.filename:
            return part
    raise ValueError("no file")


def _unit_for(deps: UploadDeps, token: str) -> str | None:
    with deps.database.transaction() as session:
        grant = usable_upload(session, token, deps.clock())
        unit = session.get(Unit, grant.unit_id) if grant and grant.unit_id else None
        return unit.name if unit else None


def _store(
    deps: UploadDeps, token: str, name: str, content_type: str, data: bytes, now: datetime
) -> str | None:
    with deps.database.write_transaction() as session:
        grant = usable_upload(session, token, now)
        if grant is None or not spend_upload(session, grant, now):
            return None
        contact = session.get(Contact, grant.contact_id) if grant.contact_id else None
        submission = open_submission(session, grant.campaign_id, grant.unit_id)
        stored = store_signed_report(
            session,
            deps.uploads.data_dir,
            submission_id=submission.id,
            file_name=name,
            content_type=content_type or "application/octet-stream",
            data=data,
            contact_id=contact.id if contact else None,
            channel=contact.channel if contact else "web",
            now=now,
        )
        message = confirmation(stored)
        if contact is not None and contact.active:
            # The officer also finds it in the chat (the outbox's sweep delivers it).
            sender = Recipient(contact.id, contact.channel, contact.chat_id)
            notice = Outbound(f"{message} (gửi qua trang tải tệp)")
            notify(session, [sender], notice, now, kind="reply")
        return message


def _page(
    message: str,
    status: int = 200,
    *,
    unit_name: str = "",
    limits: str = "",
    done: bool = False,
) -> web.Response:
    parts = [
        "<!doctype html><html lang='vi'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>Gửi báo cáo có chữ ký</title>",
        "<style>body{font-family:sans-serif;max-width:32em;margin:1em auto;padding:0 1em;"
        "line-height:1.5}input,button{font-size:1.1em;margin:.5em 0;width:100%}"
        ".note{padding:.6em;border-radius:.3em;background:#fff4e5}"
        ".ok{background:#e8f5e9}</style></head><body>",
        "<h1>Gửi báo cáo có chữ ký</h1>",
    ]
    if unit_name:
        parts.append(f"<p>Đơn vị: <b>{html.escape(unit_name)}</b></p>")
    if message:
        css = "note ok" if done else "note"
        parts.append(f"<p class='{css}'>{html.escape(message)}</p>")
    if limits and not done:
        parts += [
            "<form method='post' enctype='multipart/form-data'>",
            f"<input type='file' name='{FIELD}' required "
            "accept='.pdf,.doc,.docx,.jpg,.jpeg,.png,image/*'>",
            f"<p>Nhận tệp {html.escape(limits)}. Đường liên kết dùng được một lần.</p>",
            "<button type='submit'>Gửi</button></form>",
        ]
    parts.append("</body></html>")
    return web.Response(
        text="".join(parts),
        status=status,
        content_type="text/html",
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "form-action 'self'",
            "Referrer-Policy": "no-referrer",
        },
    )
