"""The web page's downloads: the list of files, and each file built when it is asked for.

Every download checks the viewer's scope and writes the action log in one transaction (`_file`),
then builds the file in a worker thread: the consolidated workbook, one unit's Phụ lục, the
per-unit zip, the draft report (Word), and the signed reports units sent back (read from the
data folder, never outside it). The plumbing (session, rendering, refusals) is `routes`'.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from aiohttp import web

from bot import use_cases
from bot.documents.report_files import read_stored_file, signed_reports_zip_bytes
from bot.documents.word_reports import report_bytes
from bot.documents.workbooks import export_bytes, per_unit_zip_bytes
from bot.web.inputs import parse_id
from bot.web.staff import campaigns, pages
from bot.web.staff.routes import NOT_SIGNED_IN, STAFF_KEY, _cache, _code, _page, _read, _refuse
from conversations.errors import DomainError, NotFound
from conversations.uploads import served_type
from storage.repository import unit_by_code
from storage.signed_reports import unit_signed_report

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def add_routes(add: web.UrlDispatcher) -> None:
    add.add_get("/web/tai-ve", downloads)
    add.add_get("/web/tai-ve/tong-hop.xlsx", download_consolidated)
    add.add_get("/web/tai-ve/theo-don-vi.zip", download_per_unit)
    add.add_get("/web/tai-ve/bao-cao.docx", download_report)
    add.add_get("/web/tai-ve/don-vi/{code}.xlsx", download_unit)
    add.add_get("/web/tai-ve/bao-cao-co-chu-ky.zip", download_signed_zip)
    add.add_get("/web/tai-ve/don-vi/{code}/bao-cao-ky/{report_id:[0-9]+}", download_signed)


async def downloads(request: web.Request) -> web.Response:
    def work(session, viewer, now):
        state = pages.standing(session, viewer.actor, now, _cache(request), _code(request))
        return {"standing": state, "province": viewer.actor.scope_unit_id is None}

    return await _page(request, "downloads.j2", work)


async def _file(request, *, what: str, code: str | None, make):
    """Check the scope and log the download in one transaction, then build the file."""

    def allow(session, viewer, now) -> str | None:
        """The code of the campaign shown, once the download is allowed and logged."""
        try:
            use_cases.record_export(session, now, viewer.actor, what=what, unit_code=code)
        except DomainError:
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
    except DomainError:
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
    report_id = parse_id(request.match_info["report_id"], "mã tệp")
    data_dir = request.app[STAFF_KEY].data_dir

    def make(database, _now, campaign_code):
        with database.transaction() as session:
            unit = unit_by_code(session, code)
            campaign = campaigns.page_campaign(session, campaign_code)
            report = unit_signed_report(session, campaign, unit.id, report_id)
        data = read_stored_file(data_dir, report.path) if report else None
        if data is None:
            raise NotFound("không tìm thấy tệp")
        return report.file_name, data, served_type(report.file_name)

    return await _file(request, what="báo cáo có chữ ký", code=code, make=make)
