"""The project's one web server (aiohttp): health check, Excel downloads by link, and the
webhook endpoints that channels add to it.

A download link carries a random single-purpose token that expires; a wrong or expired token
gets a plain 404 that says nothing about what exists.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from aiohttp import web

from bot.app import App
from storage.models import Campaign, Unit
from storage.repository import find_download

APP_KEY = web.AppKey("baocao_app", App)


def build_web_app(app: App) -> web.Application:
    web_app = web.Application(client_max_size=2 * 1024 * 1024)
    web_app[APP_KEY] = app
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/tai-ve/{token}", download)
    return web_app


async def healthz(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    try:
        await asyncio.to_thread(_ping, app)
    except Exception:
        return web.json_response({"ok": False, "database": "unreachable"}, status=503)
    return web.json_response({"ok": True})


def _ping(app: App) -> None:
    from sqlalchemy import text

    with app.database.transaction() as session:
        session.exec(text("SELECT 1"))


async def download(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    result = await asyncio.to_thread(_export_for_token, app, request.match_info["token"])
    if result is None:
        raise web.HTTPNotFound(text="Không tìm thấy.")
    filename, data = result
    return web.Response(
        body=data,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "no-store",
        },
    )


def _export_for_token(app: App, token: str) -> tuple[str, bytes] | None:
    from bot.exporting import export_bytes

    now = app.clock()
    with app.database.transaction() as session:
        grant = find_download(session, token, now)
        if grant is None:
            return None
        campaign = session.get(Campaign, grant.campaign_id)
        unit = session.get(Unit, grant.unit_id) if grant.unit_id else None
        campaign_code, unit_code = campaign.code, unit.code if unit else None
    return export_bytes(app.database, campaign_code=campaign_code, unit_code=unit_code, now=now)
