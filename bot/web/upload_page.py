"""The upload page for Zalo officers (a Zalo bot cannot receive files): one file field on a
phone-sized page behind a single-use link (`bot.signed_intake.upload_link`).

GET shows the form; POST streams the one file to the data folder's tmp/ (`storage.staging`,
stopping past the cap, so no upload is held in memory), applies the same checks as a file sent
in Telegram (`conversations.uploads`), stores it with the unit's submission under the type its
content showed, spends the link and queues a confirmation to the officer's chat in the same
transaction: a refused file leaves the link usable. At most `UPLOADS_AT_ONCE` files stream at
once; beyond, a 503 with Retry-After. An approved report takes no more files. An expired,
unknown or used link
gets the same 404 page, which says how to ask for a new one and nothing about what exists.
"""

from __future__ import annotations

import asyncio
import html
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import unquote

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from sqlmodel import select

from bot.clock import Clock
from bot.messaging import Outbound
from bot.notify import Recipient, notify
from bot.signed_intake import UPLOAD_PATH, Uploads, confirmation, spend_upload, usable_upload
from conversations.statuses import SubmissionStatus
from conversations.uploads import (
    APPROVED_TEXT,
    BUSY_TEXT,
    head_refusal,
    refusal,
    safe_name,
    sniffed_type,
)
from storage.database import Database
from storage.hot_path import open_submission
from storage.models import Contact, Submission, Unit
from storage.signed_reports import (
    still_takes_signed_reports,
    store_staged_report,
)
from storage.staging import StagedFile, Stager, TooLarge

FIELD = "tep"
GONE_TEXT = (
    "Đường liên kết này không dùng được nữa (đã hết hạn hoặc đã gửi tệp). "
    "Đề nghị đồng chí gõ «gửi báo cáo» trong Zalo để nhận đường liên kết mới."
)
MALFORMED_TEXT = (
    "Không đọc được tệp gửi lên (tên tệp hoặc dữ liệu không hợp lệ). "
    "Đề nghị đồng chí đổi tên tệp cho đơn giản rồi gửi lại."
)
CHUNK = 64 * 1024
MAX_PARTS = 4


UPLOADS_AT_ONCE = 8  # files streamed to disk at the same time; more wait outside (503)
RETRY_AFTER = "60"  # seconds, for a busy answer


@dataclass(frozen=True)
class UploadDeps:
    database: Database
    clock: Clock
    uploads: Uploads
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(UPLOADS_AT_ONCE))


UPLOAD_KEY = web.AppKey("baocao_upload", UploadDeps)


def add_upload_page(web_app: web.Application, deps: UploadDeps) -> None:
    web_app[UPLOAD_KEY] = deps
    web_app.router.add_get(UPLOAD_PATH + "/{token}", show_form)
    web_app.router.add_post(UPLOAD_PATH + "/{token}", receive)


async def show_form(request: web.Request) -> web.Response:
    deps = request.app[UPLOAD_KEY]
    unit_name, approved = await asyncio.to_thread(_unit_for, deps, request.match_info["token"])
    if unit_name is None:
        return _page(GONE_TEXT, status=404)
    if approved:
        return _page(APPROVED_TEXT, status=409, unit_name=unit_name)
    return _page("", unit_name=unit_name, limits=deps.uploads.limits.describe())


async def receive(request: web.Request) -> web.Response:
    deps = request.app[UPLOAD_KEY]
    token = request.match_info["token"]
    unit_name, approved = await asyncio.to_thread(_unit_for, deps, token)
    if unit_name is None:
        return _page(GONE_TEXT, status=404)
    if approved:
        return _page(APPROVED_TEXT, status=409, unit_name=unit_name)
    if deps.slots.locked():  # never queue a body in memory: the officer tries again later
        return _page(BUSY_TEXT, 503, unit_name=unit_name, retry_after=RETRY_AFTER)
    async with deps.slots:
        return await _receive_file(request, deps, token, unit_name)


async def _receive_file(
    request: web.Request, deps: UploadDeps, token: str, unit_name: str
) -> web.Response:
    limits = deps.uploads.limits
    form = dict(unit_name=unit_name, limits=limits.describe())
    try:
        part = await _file_part(request)
    except Malformed:
        return _page(MALFORMED_TEXT, 400, **form)
    except ValueError:
        return _page("Chưa chọn tệp. Đề nghị đồng chí chọn tệp báo cáo rồi bấm «Gửi».", 400, **form)
    # Browsers send the name as UTF-8; some clients percent-encode it (aiohttp, older Android).
    name = safe_name(unquote(part.filename or ""), "bao-cao")
    problem = refusal(name, part.headers.get("Content-Type", ""), None, limits)
    if problem:
        return _page(problem, 400, **form)
    staged = await _stage(part, deps.uploads.data_dir, limits.max_bytes)
    if staged is None:
        return _page(refusal(name, None, limits.max_bytes + 1, limits), 413, **form)
    problem = head_refusal(name, staged.head, staged.size, limits)
    if problem:
        staged.discard()
        return _page(problem, 400, **form)
    try:
        outcome = await asyncio.to_thread(_store, deps, token, name, staged, deps.clock())
    except BaseException:
        staged.discard()
        raise
    if outcome is None or outcome == APPROVED_TEXT:
        staged.discard()  # not taken: the staged copy goes (a taken one was moved into place)
    if outcome is None:
        return _page(GONE_TEXT, status=404)
    if outcome == APPROVED_TEXT:
        return _page(APPROVED_TEXT, status=409, unit_name=unit_name)
    return _page(outcome, done=True, unit_name=unit_name)


class Malformed(ValueError):
    """The multipart body cannot be read (e.g. a NUL byte in a part's header)."""


async def _stage(part: BodyPartReader, data_dir, max_bytes: int) -> StagedFile | None:
    """The file written to the data folder's tmp/ as it arrives; None once past the cap."""
    stager = Stager(data_dir, max_bytes)
    try:
        while chunk := await part.read_chunk(CHUNK):
            stager.write(chunk)
        return stager.finish()
    except TooLarge:
        return None
    except BaseException:
        stager.discard()
        raise


async def _file_part(request: web.Request) -> BodyPartReader:
    if not request.content_type.startswith("multipart/"):
        raise ValueError("not multipart")
    try:
        reader = await request.multipart()
        for _ in range(MAX_PARTS):  # the form has one field; a few more are tolerated
            part = await reader.next()
            if part is None:
                break
            if isinstance(part, BodyPartReader) and part.name == FIELD and part.filename:
                return part
            if isinstance(part, BodyPartReader):
                await part.release()
    except (HttpProcessingError, AssertionError, LookupError, web.HTTPException) as malformed:
        raise Malformed("malformed multipart") from malformed
    raise ValueError("no file")


def _unit_for(deps: UploadDeps, token: str) -> tuple[str | None, bool]:
    """The unit's name behind a usable link (None when it is not), and whether its report is
    approved already (then no file is taken)."""
    with deps.database.transaction() as session:
        grant = usable_upload(session, token, deps.clock())
        unit = session.get(Unit, grant.unit_id) if grant and grant.unit_id else None
        if unit is None:
            return None, False
        submission = session.exec(
            select(Submission).where(
                Submission.campaign_id == grant.campaign_id, Submission.unit_id == unit.id
            )
        ).first()
        return unit.name, submission is not None and submission.status == SubmissionStatus.APPROVED


def _store(
    deps: UploadDeps, token: str, name: str, staged: StagedFile, now: datetime
) -> str | None:
    """Store the file and spend the link in one transaction: the link goes only with a file
    taken. None when the link is gone; APPROVED_TEXT when the report was approved meanwhile."""
    with deps.database.write_transaction() as session:
        grant = usable_upload(session, token, now)
        if grant is None:
            return None
        submission = open_submission(session, grant.campaign_id, grant.unit_id)
        if not still_takes_signed_reports(session, submission.id):
            return APPROVED_TEXT
        if not spend_upload(session, grant, now):
            return None
        contact = session.get(Contact, grant.contact_id) if grant.contact_id else None
        stored = store_staged_report(
            session,
            deps.uploads.data_dir,
            submission_id=submission.id,
            file_name=name,
            content_type=sniffed_type(name, staged.head),  # what the bytes are, not the label
            staged=staged,
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
    retry_after: str | None = None,
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
            **({"Retry-After": retry_after} if retry_after else {}),
        },
    )
