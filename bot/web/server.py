"""The project's one web server (aiohttp): health check, downloads by link (Excel exports and
Word draft reports), the Ban Dân vận's web page (`bot.web.staff`, under /web) and the webhook
endpoints that channels add to it.

A download link carries a random single-purpose token that expires; a wrong or expired token
gets a plain 404 that says nothing about what exists.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import text

from bot.clock import Clock
from bot.documents.word_reports import DOCX_TYPE, REPORT_KIND, report_bytes
from bot.documents.workbooks import export_bytes
from bot.web.errors import error_pages, quiet_bad_requests, vietnamese_errors
from bot.web.staff.campaign_pages import add_campaign_pages
from bot.web.staff.downloads import add_routes as add_download_pages
from bot.web.staff.members_page import add_member_pages
from bot.web.staff.routes import StaffWeb, add_staff_pages
from bot.web.staff.workspace import add_routes as add_workspace_pages
from storage.database import Database
from storage.models import Unit
from storage.repository import find_download

EXPORT_KIND = "export"
SERVER_NAME = "baocao"


@dataclass(frozen=True)
class WebDeps:
    database: Database
    clock: Clock


DEPS_KEY = web.AppKey("baocao_web", WebDeps)


def build_web_app(
    database: Database, clock: Clock, staff: StaffWeb | None = None
) -> web.Application:
    quiet_bad_requests()
    web_app = web.Application(
        client_max_size=2 * 1024 * 1024, middlewares=[error_pages, compressed]
    )
    web_app.on_response_prepare.append(_server_header)
    web_app[DEPS_KEY] = WebDeps(database, clock)
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/tai-ve/{token}", download)
    if staff is not None:
        add_staff_pages(web_app, staff)
        add_download_pages(web_app.router)  # the list of files and each download
        add_member_pages(web_app)
        add_campaign_pages(web_app)  # «Đợt báo cáo», the province's
        add_workspace_pages(web_app.router)  # Duyệt's confirmation, Nhắc for a filter, …
    web_app.middlewares.append(vietnamese_errors)  # innermost: the headers apply to its pages
    return web_app


async def _server_header(_request: web.Request, response: web.StreamResponse) -> None:
    """Every answer names the server without a version (aiohttp would give its own)."""
    response.headers["Server"] = SERVER_NAME


COMPRESSIBLE = ("text/", "application/json", "image/svg+xml")


@web.middleware
async def compressed(request: web.Request, handler):
    """Pages, the stylesheet and JSON leave gzip-compressed when the browser accepts it (a
    page of 200 units shrinks about tenfold); downloads (already zipped) are left alone."""
    response = await handler(request)
    if (
        isinstance(response, web.Response)
        and response.content_type.startswith(COMPRESSIBLE)
        and "gzip" in request.headers.get("Accept-Encoding", "")
    ):
        response.enable_compression(web.ContentCoding.gzip)
    return response


async def healthz(request: web.Request) -> web.Response:
    deps = request.app[DEPS_KEY]
    try:
        await asyncio.to_thread(_ping, deps.database)
    except Exception:
        return web.json_response({"ok": False, "database": "unreachable"}, status=503)
    return web.json_response({"ok": True})


def _ping(database: Database) -> None:
    with database.transaction() as session:
        session.exec(text("SELECT 1"))


async def download(request: web.Request) -> web.Response:
    deps = request.app[DEPS_KEY]
    result = await asyncio.to_thread(_export_for_token, deps, request.match_info["token"])
    if result is None:
        raise web.HTTPNotFound(text="Không tìm thấy.")
    filename, data = result
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return web.Response(
        body=data,
        content_type=DOCX_TYPE if filename.endswith(".docx") else xlsx,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "no-store",
        },
    )


def _export_for_token(deps: WebDeps, token: str) -> tuple[str, bytes] | None:
    now = deps.clock()
    with deps.database.transaction() as session:
        grant = find_download(session, token, now)
        if grant is None or grant.kind not in (EXPORT_KIND, REPORT_KIND):
            return None  # an upload link opens the upload page, never a download
        unit = session.get(Unit, grant.unit_id) if grant.unit_id else None
        campaign_id, unit_code = grant.campaign_id, unit.code if unit else None
        build = report_bytes if grant.kind == REPORT_KIND and unit_code else export_bytes
    return build(deps.database, campaign_id=campaign_id, unit_code=unit_code, now=now)
