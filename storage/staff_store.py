"""The web page's sign-in links and sessions, the staff action log, and units' own deadlines.

Tokens are random and shown once; only their SHA-256 is stored, so a copy of the database signs
no one in. A sign-in link is used once; a session ends at its expiry or on sign-out.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from storage.hot_path import Tx
from storage.models import (
    ReminderLog,
    StaffAction,
    Submission,
    Unit,
    UnitDeadline,
    WebSession,
    WebSignIn,
)

MAX_TOKEN_LENGTH = 100


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(
    session: Session, model: type, contact_id: int, now: datetime, valid_for: timedelta
) -> str:
    """A fresh random token for `contact_id`; only its hash is stored (a `model` row)."""
    token = secrets.token_urlsafe(32)
    session.add(
        model(
            token_hash=token_hash(token),
            contact_id=contact_id,
            created_at=now,
            expires_at=now + valid_for,
        )
    )
    session.flush()
    return token


def create_sign_in(session: Session, contact_id: int, now: datetime, valid_for: timedelta) -> str:
    return _new_token(session, WebSignIn, contact_id, now, valid_for)


def redeem_sign_in(session: Session, token: str, now: datetime) -> int | None:
    """The contact id of a valid, unused link, marking it used; None otherwise.

    One conditional UPDATE: of two requests pressing the same link at once, exactly one gets a
    row back (on PostgreSQL the second waits for the first's row lock and then finds it used; on
    SQLite writers take turns)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    table = WebSignIn.__table__
    row = session.execute(
        update(table)
        .where(
            table.c.token_hash == token_hash(token),
            table.c.used_at.is_(None),
            table.c.expires_at > now,
        )
        .values(used_at=now)
        .returning(table.c.contact_id)
    ).first()
    return row[0] if row is not None else None


def create_session(session: Session, contact_id: int, now: datetime, valid_for: timedelta) -> str:
    return _new_token(session, WebSession, contact_id, now, valid_for)


class SignedIn(NamedTuple):
    """The secretariat member behind a live session, with the name of their scope's unit."""

    id: int
    display_name: str
    unit_id: int | None
    unit_name: str | None


def session_contact(db: Session | Tx, token: str, now: datetime) -> SignedIn | None:
    """The active secretariat member behind a live session token, or None. One statement: the
    web page asks this on every request."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    tx = Tx.of(db)
    row = tx.run("web_session", {"token_hash": token_hash(token)}).fetchone()
    if row is None:
        return None
    ended_at, expires_at, contact_id, name, role, active, unit_id, unit_name = row
    if ended_at is not None or tx.read_moment(expires_at) <= now:
        return None
    if not active or role != "secretariat":
        return None
    return SignedIn(contact_id, name, unit_id, unit_name)


def end_session(session: Session, token: str, now: datetime) -> None:
    row = session.exec(select(WebSession).where(WebSession.token_hash == token_hash(token))).first()
    if row is not None and row.ended_at is None:
        row.ended_at = now
        session.add(row)


def log_action(
    session: Session,
    now: datetime,
    *,
    surface: str,
    action: str,
    contact_id: int | None,
    actor: str,
    unit_id: int | None = None,
    detail: str | None = None,
) -> None:
    session.add(
        StaffAction(
            at=now,
            contact_id=contact_id,
            actor=actor[:120],
            surface=surface,
            action=action,
            unit_id=unit_id,
            detail=detail,
        )
    )


def list_actions(
    session: Session,
    *,
    unit_ids: set[int] | None = None,
    surface: str | None = None,
    action: str | None = None,
    limit: int = 500,
) -> list[tuple[StaffAction, Unit | None]]:
    """Newest first; `unit_ids` limits the log to actions on those units (a district's view)."""
    query = (
        select(StaffAction, Unit)
        .join(Unit, col(Unit.id) == StaffAction.unit_id, isouter=True)
        .order_by(col(StaffAction.at).desc(), col(StaffAction.id).desc())
        .limit(limit)
    )
    if unit_ids is not None:
        query = query.where(col(StaffAction.unit_id).in_(unit_ids))
    if surface:
        query = query.where(StaffAction.surface == surface)
    if action:
        query = query.where(StaffAction.action == action)
    return list(session.exec(query).all())


def set_unit_deadline(
    session: Session, campaign_id: int, unit_id: int, deadline: datetime, now: datetime
) -> None:
    row = session.exec(
        select(UnitDeadline).where(
            UnitDeadline.campaign_id == campaign_id, UnitDeadline.unit_id == unit_id
        )
    ).first()
    if row is None:
        row = UnitDeadline(campaign_id=campaign_id, unit_id=unit_id, deadline=deadline, set_at=now)
    row.deadline, row.set_at = deadline, now
    session.add(row)
    session.flush()


def unit_deadlines(session: Session, campaign_id: int) -> dict[int, datetime]:
    """Unit id → its own deadline, for the units that have one in this campaign."""
    rows = session.exec(
        select(UnitDeadline.unit_id, UnitDeadline.deadline).where(
            UnitDeadline.campaign_id == campaign_id
        )
    )
    return dict(rows.all())


def progress_fingerprint(session: Session, campaign_id: int) -> tuple:
    """A cheap summary that changes whenever a campaign's progress can have changed: submissions
    (every officer message stamps its submission's last activity; submit, return, approve),
    reminders, units' own deadlines, the unit list."""
    submissions = session.exec(
        select(
            func.count(),
            func.max(Submission.last_activity_at),
            func.max(Submission.returned_at),
            func.max(Submission.submitted_at),
        ).where(Submission.campaign_id == campaign_id)
    ).one()
    statuses = session.exec(
        select(Submission.status, func.count())
        .where(Submission.campaign_id == campaign_id)
        .group_by(Submission.status)
        .order_by(Submission.status)
    ).all()
    reminders = session.exec(
        select(func.count()).select_from(ReminderLog).where(ReminderLog.campaign_id == campaign_id)
    ).one()
    deadlines = session.exec(
        select(func.count(), func.max(UnitDeadline.set_at)).where(
            UnitDeadline.campaign_id == campaign_id
        )
    ).one()
    units = session.exec(select(func.count(), func.max(Unit.id))).one()
    return (
        tuple(submissions),
        tuple(map(tuple, statuses)),
        reminders,
        tuple(deadlines),
        tuple(units),
    )


def unit_deadlines_by_code(session: Session, campaign_id: int) -> dict[str, datetime]:
    """Unit code → its own deadline, for the reminders (which know units by code)."""
    rows = session.exec(
        select(Unit.code, UnitDeadline.deadline)
        .join(UnitDeadline, col(UnitDeadline.unit_id) == Unit.id)
        .where(UnitDeadline.campaign_id == campaign_id)
    )
    return dict(rows.all())
