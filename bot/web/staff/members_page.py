"""«Cán bộ»: the province secretariat's list of the people linked to the bot, and removing one
(a confirmation page, then a POST with the form's CSRF token, then a redirect back to the list).

A district secretariat gets 403 here (members are the province's to manage; `bot.members`
refuses it whatever the surface). Removing ends the member's web sessions and links at once.
"""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from bot import members
from bot.web.staff.guard import COOKIE, viewer_for
from bot.web.staff.routes import NOT_SIGNED_IN, STAFF_KEY, _form, _read, _refuse, _render
from conversations.errors import DomainError
from conversations.messages import format_moment
from storage.members import Member, find_member

LIST_PATH = "/web/can-bo"


def add_member_pages(web_app: web.Application) -> None:
    web_app.router.add_get(LIST_PATH, member_list)
    web_app.router.add_get(LIST_PATH + "/{id}/go", confirm_removal)
    web_app.router.add_post(LIST_PATH + "/{id}/go", remove)


def _row(member: Member) -> dict:
    if member.role == "secretariat":
        where = f"phạm vi {member.unit_name}" if member.unit_name else "cấp tỉnh"
    else:
        where = member.unit_name or "chưa có đơn vị"
    return {
        "id": member.id,
        "name": member.name or "(không tên)",
        "role": members.ROLE_NAMES.get(member.role, member.role),
        "where": where,
        "channel": member.channel,
        "seen": format_moment(member.last_seen_at) if member.last_seen_at else "chưa",
        "state": members.state(member),
        "removable": member.removed_at is None,
    }


async def member_list(request: web.Request) -> web.Response:
    done = request.query.get("da-go", "")

    def work(session, viewer, _now):
        try:
            found = members.members(session, viewer.actor)
        except DomainError as refused:
            return {"refused": str(refused)}
        removed = find_member(session, _number(done)) if _number(done) else None
        return {
            "rows": [_row(m) for m in found],
            "own_id": viewer.actor.contact_id,
            "notice": f"Đã gỡ {members.describe(removed)}." if removed else "",
        }

    viewer, context = await _read(request, work)
    if viewer is None:
        return _refuse(request, 403, NOT_SIGNED_IN)
    if "refused" in context:
        return _refuse(request, 403, _sentence(context["refused"]))
    return _render(request, "members.j2", context, viewer=viewer)


async def confirm_removal(request: web.Request) -> web.Response:
    member_id = request.match_info["id"]

    def work(session, viewer, _now):
        try:
            members.members(session, viewer.actor)  # the province only
        except DomainError as refused:
            return {"refused": str(refused)}
        member = find_member(session, _number(member_id)) if _number(member_id) else None
        if member is None:
            return None
        return {"member": _row(member), "line": members.describe(member)}

    viewer, context = await _read(request, work)
    if viewer is None:
        return _refuse(request, 403, NOT_SIGNED_IN)
    if context is None:
        return _refuse(request, 404, "Không tìm thấy.")
    if "refused" in context:
        return _refuse(request, 403, _sentence(context["refused"]))
    return _render(request, "member_remove.j2", context, viewer=viewer)


async def remove(request: web.Request) -> web.Response:
    form = await _form(request)
    if isinstance(form, web.Response):
        return form
    staff = request.app[STAFF_KEY]
    token = request.cookies.get(COOKIE)
    member_id = request.match_info["id"]

    def run():
        now = staff.clock()
        try:
            contact_id = members.parse_member_id(member_id)
            with staff.database.write_transaction() as session:
                viewer = viewer_for(session, token, now)
                if viewer is None:
                    return None, None
                members.remove(session, now, viewer.actor, contact_id)
                return viewer, contact_id
        except DomainError as refused:
            return "refused", str(refused)

    viewer, outcome = await asyncio.to_thread(run)
    if viewer is None:
        return _refuse(request, 403, NOT_SIGNED_IN)
    if viewer == "refused":
        status = 403 if outcome == members.PROVINCE_ONLY else 400
        return _refuse(request, status, f"Không thực hiện được: {outcome}.")
    raise web.HTTPSeeOther(f"{LIST_PATH}?da-go={outcome}")


def _number(text: str) -> int | None:
    """A member id from the address (ASCII digits, at most 12), else None."""
    return int(text) if re.fullmatch(r"[0-9]{1,12}", text) else None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."
