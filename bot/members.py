"""Managing the people linked to the bot: who they are (`members`) and removing one (`remove`),
the same for the command line (`baocao members`) and the web page's «Cán bộ».

Only the province's secretariat (or the operator at the terminal) manages members; a district
secretariat is refused here, once, whatever the surface. Removing is logged in the staff action
log with the member's unit, and ends every session and link the member holds
(`storage.members.remove_member`).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Session

from bot.use_cases import Actor
from conversations.errors import BadValue, NotAllowedNow, NotFound, OutOfScope
from storage.members import Member, Removal, find_member, list_members, remove_member
from storage.staff_store import log_action

REMOVE_ACTION = "remove_member"
PROVINCE_ONLY = "chỉ cán bộ tổng hợp cấp tỉnh mới quản lý được danh sách cán bộ"
ROLE_NAMES = {"secretariat": "cán bộ tổng hợp", "officer": "cán bộ đầu mối"}


def members(session: Session, actor: Actor) -> list[Member]:
    _check_province(actor)
    return list_members(session)


def remove(session: Session, now: datetime, actor: Actor, contact_id: int) -> Removal:
    """Remove the member with this id; a clear reason when there is none, they were removed
    already, or the actor would remove themselves."""
    _check_province(actor)
    if actor.contact_id is not None and actor.contact_id == contact_id:
        raise NotAllowedNow("không tự gỡ chính mình được; nhờ một cán bộ tổng hợp khác")
    removal = remove_member(session, contact_id, now)
    if removal is None:
        if find_member(session, contact_id) is None:
            raise NotFound(f"không có cán bộ mã số {contact_id}")
        raise NotAllowedNow(f"cán bộ mã số {contact_id} đã được gỡ trước đó")
    member = removal.member
    log_action(
        session,
        now,
        surface=actor.surface,
        action=REMOVE_ACTION,
        contact_id=actor.contact_id,
        actor=actor.name,
        unit_id=member.unit_id,
        detail=describe(member),
    )
    return removal


def describe(member: Member) -> str:
    """«#7 Nguyễn Văn A (cán bộ đầu mối, telegram)»: a member in one line."""
    role = ROLE_NAMES.get(member.role, member.role)
    name = member.name or "(không tên)"
    return f"#{member.id} {name} ({role}, {member.channel})"


def state(member: Member) -> str:
    if member.removed_at is not None:
        return "đã gỡ"
    return "đang hoạt động" if member.active else "đã chặn trợ lý"


def parse_member_id(text: str) -> int:
    """A member id as typed (CLI argument or form field); a Vietnamese reason otherwise."""
    cleaned = (text or "").strip().lstrip("#")
    if not re.fullmatch(r"[0-9]{1,12}", cleaned):
        raise BadValue(f"mã số cán bộ phải là một số, ví dụ 7 (nhận được: {text!r})")
    return int(cleaned)


def _check_province(actor: Actor) -> None:
    if actor.scope_unit_id is not None:
        raise OutOfScope(PROVINCE_ONLY)
