"""Inbound updates the service could not apply: which failures are worth waiting for, the
set-aside (dead-letter) table, and the once-an-hour alert log.

`is_transient` is the one place that tells a failure that will pass (the database unreachable,
locked or restarting: wait and try again, set nothing aside) from one that will not (bad data,
a bug: after a few tries the update is set aside so that the updates behind it go on). A set-aside
update keeps the platform's JSON and the `Inbound` it became, so `baocao inbound retry` can replay
it through the same service path once its cause is removed.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import psycopg
from sqlalchemy import delete, update
from sqlalchemy import exc as sa_exc
from sqlmodel import Session, select

from conversations.statuses import ContactRole
from storage.models import AlertLog, Contact, SetAsideInbound

# Raised by SQLAlchemy (ORM paths) or by the driver itself (the hot path runs on its cursor).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # no pooled connection came free in time
    sqlite3.OperationalError,  # locked, busy, disk I/O
    psycopg.OperationalError,  # server gone, restarting, connection refused
    psycopg.InterfaceError,  # connection closed under us
    ConnectionError,
    TimeoutError,
)
ERROR_TEXT_LIMIT = 500
SET_ASIDE_ALERT = "inbound_set_aside"


def is_transient(error: BaseException) -> bool:
    """True for a failure that passes by itself (wait); False for one that will recur."""
    return isinstance(error, TRANSIENT_ERRORS)


def describe(error: BaseException) -> tuple[str, str]:
    """The error's type and first line, short: what is stored and shown (never parameters,
    which SQLAlchemy appends on later lines and could carry what an officer typed)."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return type(error).__name__[:120], message[:ERROR_TEXT_LIMIT]


def set_aside(
    session: Session,
    *,
    channel: str,
    inbound_id: str,
    chat_id: str,
    payload: dict,
    inbound: dict,
    error: BaseException,
    attempts: int,
    now: datetime,
) -> bool:
    """Keep a failed update; True when it is new (an update set aside again only refreshes
    its error, so that its sender is not apologised to twice)."""
    error_type, message = describe(error)
    row = session.exec(
        select(SetAsideInbound).where(
            SetAsideInbound.channel == channel, SetAsideInbound.inbound_id == inbound_id
        )
    ).first()
    if row is not None:
        row.error_type, row.error, row.last_failed_at = error_type, message, now
        row.attempts += attempts
        session.add(row)
        return False
    try:
        with session.begin_nested():  # another process may be setting the same one aside
            session.add(
                SetAsideInbound(
                    channel=channel,
                    inbound_id=inbound_id,
                    chat_id=chat_id,
                    payload=payload,
                    inbound=inbound,
                    error_type=error_type,
                    error=message,
                    attempts=attempts,
                    set_aside_at=now,
                    last_failed_at=now,
                )
            )
    except sa_exc.IntegrityError:
        return False
    return True


def list_set_aside(session: Session) -> list[SetAsideInbound]:
    return list(session.exec(select(SetAsideInbound).order_by(SetAsideInbound.id)))


def find_set_aside(session: Session, row_id: int) -> SetAsideInbound | None:
    return session.get(SetAsideInbound, row_id)


def failed_again(session: Session, row_id: int, error: BaseException, now: datetime) -> None:
    """A replay failed: keep the update with its new error."""
    error_type, message = describe(error)
    session.execute(
        update(SetAsideInbound)
        .where(SetAsideInbound.id == row_id)
        .values(
            error_type=error_type,
            error=message,
            last_failed_at=now,
            attempts=SetAsideInbound.attempts + 1,
        )
    )


def remove_set_aside(session: Session, row_id: int) -> bool:
    result = session.execute(delete(SetAsideInbound).where(SetAsideInbound.id == row_id))
    return result.rowcount == 1


def claim_alert(session: Session, kind: str, now: datetime, every: timedelta) -> bool:
    """True for the one caller that may send this alert now (none sent within `every`).

    A conditional update (or the first insert) decides, so processes sharing the database agree:
    the loser's update matches no row, or its insert hits the primary key.
    """
    claimed = session.execute(
        update(AlertLog)
        .where(AlertLog.kind == kind, AlertLog.notified_at <= now - every)
        .values(notified_at=now)
    )
    if claimed.rowcount == 1:
        return True
    if session.get(AlertLog, kind) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(AlertLog(kind=kind, notified_at=now))
    except sa_exc.IntegrityError:
        return False
    return True


def secretariat_chats(session: Session) -> list[tuple[str, str, int]]:
    """(channel, chat id, contact id) of every active secretariat member, on every channel."""
    rows = session.exec(
        select(Contact.channel, Contact.chat_id, Contact.id)
        .where(Contact.role == ContactRole.SECRETARIAT, Contact.active)
        .order_by(Contact.id)
    )
    return [(channel, chat_id, contact_id) for channel, chat_id, contact_id in rows]
