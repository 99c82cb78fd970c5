"""What the web page checks around the shared use cases (`bot.use_cases`) so that its feedback
is honest: a stale page's action is refused with the current state, Nhắc is refused when the
unit has nobody to receive it, Mời shows the unit's live code instead of making another, and
Nhắc for a whole filter reminds each unit that can be reached (one log row per unit).

Each function takes the request's session and raises `StorageError` with a Vietnamese reason;
the routes turn that into the page again with the reason and nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select, update

from bot import use_cases
from bot.use_cases import Actor, Desk
from conversations.labels import status_title
from conversations.statuses import ContactRole
from exports.consolidation import counts
from storage.models import Contact, Invite, Submission, Unit
from storage.reminder_store import SILENT_CHANNELS
from storage.repository import StorageError, current_campaign

STATUS_FIELD = "trang-thai"  # the hidden field: the status the page showed when it was drawn


class StalePage(StorageError):
    """The report changed since the page was drawn; the action was not done."""


def current_status(session: Session, unit: Unit) -> str:
    campaign = current_campaign(session)
    status = session.exec(
        select(Submission.status).where(
            Submission.campaign_id == campaign.id, Submission.unit_id == unit.id
        )
    ).first()
    return status or "not_started"


def check_not_stale(session: Session, actor: Actor, code: str, shown: str | None) -> Unit:
    """Refuse when the page showed another status than the report has now."""
    unit = use_cases.scoped_unit(session, actor, code)
    if shown:
        now_status = current_status(session, unit)
        if now_status != shown:
            raise StalePage(
                f"trang đang mở đã cũ: báo cáo hiện «{status_title(now_status)}», trang hiển thị "
                f"«{status_title(shown)}». Xem lại tình trạng mới dưới đây rồi làm tiếp"
            )
    return unit


def reachable_officers(session: Session, unit_id: int) -> int:
    """Officers of the unit who can receive a message (linked, not blocked, on a chat)."""
    return len(
        session.exec(
            select(Contact.id).where(
                Contact.unit_id == unit_id,
                Contact.role == ContactRole.OFFICER,
                Contact.active,
                col(Contact.channel).not_in(SILENT_CHANNELS),
            )
        ).all()
    )


NOBODY_TO_REMIND = (
    "đơn vị chưa có cán bộ đầu mối nào nhận được tin (chưa ai liên kết với trợ lý, hoặc đã chặn "
    "trợ lý), nên không có ai để nhắc. Bấm «Mời cán bộ đầu mối» để gửi mã mời cho đơn vị"
)


def remind_one(session: Session, now: datetime, desk: Desk, actor: Actor, code: str) -> int:
    """Nhắc one unit, refused (nothing logged) when nobody would receive it."""
    unit = use_cases.scoped_unit(session, actor, code)
    if not reachable_officers(session, unit.id):
        raise StorageError(NOBODY_TO_REMIND)
    return use_cases.remind(session, now, desk, unit_code=unit.code, actor=actor)


@dataclass(frozen=True)
class BulkPlan:
    """Who Nhắc for a filter reaches: units to remind, and those skipped with the reason."""

    to_remind: list[str]
    done: int  # submitted or approved: nothing to remind
    nobody: list[str]  # no officer to receive it


def bulk_plan(session: Session, rows) -> BulkPlan:
    reachable = set(
        session.exec(
            select(Contact.unit_id).where(
                Contact.role == ContactRole.OFFICER,
                Contact.active,
                col(Contact.channel).not_in(SILENT_CHANNELS),
            )
        ).all()
    )
    to_remind, nobody, done = [], [], 0
    for row in rows:
        if counts(row.progress.status):
            done += 1
        elif row.unit.id in reachable:
            to_remind.append(row.unit.code)
        else:
            nobody.append(row.unit.code)
    return BulkPlan(to_remind, done, nobody)


def remind_many(
    session: Session, now: datetime, desk: Desk, actor: Actor, codes: list[str]
) -> tuple[int, int]:
    """Nhắc each unit in turn (each logged as its own row): (messages queued, units)."""
    queued = 0
    for code in codes:
        queued += use_cases.remind(session, now, desk, unit_code=code, actor=actor)
    return queued, len(codes)


def live_invite(session: Session, unit: Unit, now: datetime) -> Invite | None:
    return session.exec(
        select(Invite)
        .where(
            Invite.unit_id == unit.id,
            Invite.role == ContactRole.OFFICER,
            col(Invite.used_at).is_(None),
            Invite.expires_at > now,
        )
        .order_by(col(Invite.created_at).desc(), col(Invite.id).desc())
    ).first()


def invite_once(
    session: Session, now: datetime, desk: Desk, actor: Actor, code: str
) -> tuple[Invite, Unit, bool]:
    """The unit's live officer invite, or a new one when none is live: (invite, unit, made).

    The unit's row is written first (a no-op update), so two requests at once take turns on
    SQLite and PostgreSQL alike and the second finds the first one's code."""
    unit = use_cases.scoped_unit(session, actor, code)
    session.exec(update(Unit).where(Unit.id == unit.id).values(id=Unit.id))
    found = live_invite(session, unit, now)
    if found is not None:
        return found, unit, False
    created, _unit = use_cases.invite(
        session, now, desk, role=ContactRole.OFFICER, unit_code=unit.code, actor=actor
    )
    return created, unit, True
