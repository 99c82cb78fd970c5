"""What the web page checks around the shared use cases (`bot.use_cases`) so that its feedback
is honest: a stale page's action is refused with the current state, Nhắc is refused when the
unit has nobody to receive it, Mời shows the unit's live code instead of making another, and
Nhắc for a whole filter reminds each unit that can be reached (one log row per unit).

Each function takes the request's session and raises a `DomainError` with a Vietnamese reason;
the routes turn that into the page again with the reason and nothing changed.

Invite codes are stored only as hashes, so a code is shown once, to the session that made it
(`RecentInvites`, in memory, ten minutes); a reload of the invite page shows the same code
there, and anyone else sees that a live code exists and may replace it (the old one ends).
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select, update

from bot import use_cases
from bot.use_cases import Actor, Desk
from conversations.errors import NotAllowedNow
from conversations.labels import status_title
from conversations.statuses import ContactRole, SubmissionStatus
from exports.consolidation import counts
from storage.models import Contact, Invite, Submission, Unit
from storage.reminder_store import SILENT_CHANNELS
from storage.repository import IssuedInvite, current_campaign

STATUS_FIELD = "trang-thai"  # the hidden field: the status the page showed when it was drawn


class StalePage(NotAllowedNow):
    """The report changed since the page was drawn; the action was not done."""


def current_status(session: Session, unit: Unit, campaign_code: str | None = None) -> str:
    campaign = current_campaign(session, campaign_code)
    status = session.exec(
        select(Submission.status).where(
            Submission.campaign_id == campaign.id, Submission.unit_id == unit.id
        )
    ).first()
    return status or SubmissionStatus.NOT_STARTED


def check_not_stale(
    session: Session, actor: Actor, code: str, shown: str | None, campaign_code: str | None = None
) -> Unit:
    """Refuse when the page showed another status than the report has now."""
    unit = use_cases.scoped_unit(session, actor, code)
    if shown:
        now_status = current_status(session, unit, campaign_code)
        if now_status != shown:
            moved = use_cases.moved_meanwhile(session, unit, now_status)
            raise StalePage(
                f"trang đang mở đã cũ (trang hiển thị «{status_title(shown)}»). {moved}",
                status=now_status,
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


def remind_one(
    session: Session,
    now: datetime,
    desk: Desk,
    actor: Actor,
    code: str,
    campaign_code: str | None = None,
) -> int:
    """Nhắc one unit, refused (nothing logged) when nobody would receive it."""
    unit = use_cases.scoped_unit(session, actor, code)
    if not reachable_officers(session, unit.id):
        raise NotAllowedNow(NOBODY_TO_REMIND)
    return use_cases.remind(
        session, now, desk, unit_code=unit.code, actor=actor, campaign_code=campaign_code
    )


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
    session: Session,
    now: datetime,
    desk: Desk,
    actor: Actor,
    codes: list[str],
    campaign_code: str | None = None,
) -> tuple[int, int]:
    """Nhắc each unit in turn (each logged as its own row): (messages queued, units)."""
    queued = 0
    for code in codes:
        queued += use_cases.remind(
            session, now, desk, unit_code=code, actor=actor, campaign_code=campaign_code
        )
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
    session: Session, now: datetime, desk: Desk, actor: Actor, code: str, *, replace: bool = False
) -> tuple[Invite | IssuedInvite, Unit, bool]:
    """The unit's live officer invite, or a new one when none is live: (invite, unit, made).
    With `replace`, the live ones end now and a new one is made.

    The unit's row is written first (a no-op update), so two requests at once take turns on
    SQLite and PostgreSQL alike and the second finds the first one's code."""
    unit = use_cases.scoped_unit(session, actor, code)
    session.exec(update(Unit).where(Unit.id == unit.id).values(id=Unit.id))
    found = live_invite(session, unit, now)
    if found is not None and replace:
        session.exec(
            update(Invite)
            .where(
                Invite.unit_id == unit.id,
                Invite.role == ContactRole.OFFICER,
                col(Invite.used_at).is_(None),
                Invite.expires_at > now,
            )
            .values(expires_at=now)
        )
    elif found is not None:
        return found, unit, False
    created, _unit = use_cases.invite(
        session, now, desk, role=ContactRole.OFFICER, unit_code=unit.code, actor=actor
    )
    return created, unit, True


SHOWN_FOR = 600.0  # seconds a new code stays visible to the session that made it


@dataclass
class RecentInvites:
    """Codes this server made in the last minutes, by (session, unit), for the invite page of the
    session that made them; in memory only (the database holds hashes), so a restart forgets."""

    _codes: dict[tuple[str, str], tuple[float, IssuedInvite]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def remember(self, session_token: str | None, unit_code: str, issued: IssuedInvite) -> None:
        with self._lock:
            moment = time.monotonic()
            self._codes = {k: v for k, v in self._codes.items() if moment - v[0] < SHOWN_FOR}
            self._codes[(_key(session_token), unit_code)] = (moment, issued)

    def recall(self, session_token: str | None, unit_code: str, invite_id: int) -> str | None:
        """The code of invite `invite_id` if this session made it within `SHOWN_FOR`."""
        with self._lock:
            found = self._codes.get((_key(session_token), unit_code))
        if found is None or time.monotonic() - found[0] >= SHOWN_FOR:
            return None
        return found[1].code if found[1].id == invite_id else None


def _key(session_token: str | None) -> str:
    return hashlib.sha256((session_token or "").encode()).hexdigest()
