"""The pages that make the web page a workspace rather than a viewer: Duyệt's confirmation
step, the invite page a reload cannot multiply, Nhắc for every unit of a filtered list (one
confirmation), and a district secretariat's own workbook and zip.

Every change is a POST that redirects to a page saying what happened (PRG); reading pages are
GET. The plumbing (session, CSRF, rendering) is `routes`'.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import segno
from aiohttp import web
from markupsafe import Markup

from bot.documents.district import district_workbook_bytes, district_zip_bytes
from bot.web.staff import actions, downloads, listing, pages, routes
from conversations.errors import DomainError
from conversations.messages import format_moment
from storage.models import Unit


def add_routes(add: web.UrlDispatcher) -> None:
    add.add_get("/web/don-vi/{code}/duyet", approve_confirm)
    add.add_get("/web/don-vi/{code}/moi", invite_page)
    add.add_get("/web/nhac", bulk_remind_confirm)
    add.add_post("/web/nhac", bulk_remind)
    add.add_get("/web/tai-ve/huyen/tong-hop.xlsx", district_workbook)
    add.add_get("/web/tai-ve/huyen/phu-luc.zip", district_zip)


async def approve_confirm(request: web.Request) -> web.Response:
    """Duyệt's own page: what approving means, what the review found, then the one button."""
    code = request.match_info["code"]

    def work(session, viewer, now):
        return pages.unit_page(
            session, viewer.actor, now, code, routes._cache(request), routes._code(request)
        )

    return await routes._page(request, "approve.j2", work)


async def invite_page(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    staff = request.app[routes.STAFF_KEY]
    token = request.cookies.get(routes.COOKIE)

    def work(session, viewer, now):
        context = pages.unit_page(
            session, viewer.actor, now, code, routes._cache(request), routes._code(request)
        )
        if context is None:
            return None
        unit = context["unit"]
        invite = actions.live_invite(session, unit, now)
        if invite is None:
            return {"unit": unit, "live": False}
        shown = staff.recent_invites.recall(token, unit.code, invite.id)
        context = {
            "unit": unit,
            "live": True,
            "code": shown,
            "created": format_moment(invite.created_at),
            "expires": format_moment(invite.expires_at),
            "made": request.query.get("moi") == "1",
            "existing": request.query.get("co-san") == "1",
        }
        if shown:
            link = routes.use_cases.telegram_link(staff.desk, shown)
            # segno writes the SVG itself (no user text in it): safe to insert as markup.
            qr = Markup(segno.make(link or shown).svg_inline(scale=4))
            context |= {"link": link, "qr": qr}
        return context

    return await routes._page(request, "invite.j2", work)


async def bulk_remind_confirm(request: web.Request) -> web.Response:
    """What Nhắc for the current filter would do: how many units, who is skipped and why."""
    wanted = listing.read_filter(request.query)

    def work(session, viewer, now):
        cache = routes._cache(request)
        state, rows = listing.matching_rows(
            session, viewer.actor, now, wanted, cache, routes._code(request)
        )
        plan = actions.bulk_plan(session, rows)
        names = {row.unit.code: row.unit.name for row in rows}
        return {
            "filter": wanted,
            "matching": len(rows),
            "plan": plan,
            "nobody": [(code, names[code]) for code in plan.nobody[:50]],
            "standing": state,
        }

    return await routes._page(request, "bulk_remind.j2", work)


async def bulk_remind(request: web.Request) -> web.Response:
    form = await routes._form(request)
    if isinstance(form, web.Response):
        return form
    wanted = listing.read_filter(form)
    campaign_code = routes._code(request)
    staff = request.app[routes.STAFF_KEY]
    token = request.cookies.get(routes.COOKIE)

    def run():
        now = staff.clock()
        with staff.database.transaction() as session:
            viewer = routes.viewer_for(session, token, now)
            if viewer is None:
                return None
            _state, rows = listing.matching_rows(
                session, viewer.actor, now, wanted, routes._cache(request), campaign_code
            )
            plan = actions.bulk_plan(session, rows)
            return actions.remind_many(
                session, now, staff.desk, viewer.actor, plan.to_remind, campaign_code
            )

    outcome = await asyncio.to_thread(run)
    routes._cache(request).invalidate()
    if outcome is None:
        return routes._refuse(request, 403, routes.NOT_SIGNED_IN)
    sent, units = outcome
    back = wanted.params() | {"xong": "nhac", "so": str(sent), "dv": str(units)}
    raise web.HTTPSeeOther(f"/web/don-vi?{urlencode(back)}")


async def _district_file(request: web.Request, *, what: str, build):
    """A district secretariat's file of its own subtree; the province has its own links."""

    def scope(session, viewer, _now):
        if viewer.actor.scope_unit_id is None:
            return None
        return session.get(Unit, viewer.actor.scope_unit_id).code

    viewer, code = await routes._read(request, scope)
    if viewer is None:
        return routes._refuse(request, 403, routes.NOT_SIGNED_IN)
    if code is None:
        return routes._refuse(request, 404, "Không tìm thấy.")

    def make(database, now, campaign_code):  # the campaign the page shows, as other downloads
        name, data = build(database, code, campaign_code=campaign_code, now=now)
        kind = downloads.XLSX if name.endswith(".xlsx") else "application/zip"
        return name, data, kind

    try:
        return await downloads._file(request, what=what, code=code, make=make)
    except DomainError:
        return routes._refuse(request, 404, "Không tìm thấy.")


async def district_workbook(request: web.Request) -> web.Response:
    return await _district_file(
        request, what="bảng tổng hợp của huyện", build=district_workbook_bytes
    )


async def district_zip(request: web.Request) -> web.Response:
    return await _district_file(
        request, what="Phụ lục các đơn vị của huyện (.zip)", build=district_zip_bytes
    )
