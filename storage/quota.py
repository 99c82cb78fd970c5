"""Monthly message counters per channel account (the Zalo bot plan allows only so many messages).

One row per (channel, account, calendar month) counts the messages sent. `take` books one message
before it is sent and says whether it may go, and whether this booking is the one that crossed the
warning threshold or reached the cap (each reported once a month, so a notice is sent once);
`give_back` returns a booking whose message the platform refused. The counter lives in the
database, so a restart keeps it, and the booking is a single guarded UPDATE, so two processes
never both take the last message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, select

from storage.models import utc_field

WARN_FRACTION = 0.8


class MonthlyQuota(SQLModel, table=True):
    __tablename__ = "monthly_quota"
    channel: str = Field(primary_key=True, max_length=20)
    account: str = Field(primary_key=True, max_length=80)
    month: str = Field(primary_key=True, max_length=7)  # YYYY-MM, in the channel's local time
    sent: int = 0
    warned_at: datetime | None = utc_field()
    capped_at: datetime | None = utc_field()
    updated_at: datetime = utc_field(nullable=False)


@dataclass(frozen=True)
class QuotaTake:
    """The outcome of booking one message."""

    allowed: bool
    sent: int  # messages counted this month, including this one when allowed
    cap: int
    warn: bool = False  # this booking crossed the warning threshold (first time this month)
    capped: bool = False  # this booking reached the cap, or was the first one refused


def warn_threshold(cap: int) -> int:
    return max(1, math.ceil(cap * WARN_FRACTION))


def take(
    session: Session,
    *,
    channel: str,
    account: str,
    month: str,
    cap: int,
    now: datetime,
    force: bool = False,
) -> QuotaTake:
    """Book one message; refused at the cap unless `force` (it is still counted then)."""
    keys = (
        MonthlyQuota.channel == channel,
        MonthlyQuota.account == account,
        MonthlyQuota.month == month,
    )
    _ensure_row(session, channel, account, month, now)
    booking = update(MonthlyQuota).where(*keys).values(sent=MonthlyQuota.sent + 1, updated_at=now)
    if not force:
        booking = booking.where(MonthlyQuota.sent < cap)
    allowed = session.exec(booking).rowcount == 1
    row = session.exec(
        select(MonthlyQuota).where(*keys).execution_options(populate_existing=True)
    ).one()
    warn = capped = False
    if row.sent >= cap and row.capped_at is None:
        row.capped_at = now
        row.warned_at = row.warned_at or now  # past the cap, a late warning says nothing new
        capped = True
    elif allowed and row.sent >= warn_threshold(cap) and row.warned_at is None:
        row.warned_at = now
        warn = True
    if warn or capped:
        session.add(row)
        session.flush()
    return QuotaTake(allowed, row.sent, cap, warn, capped)


def give_back(session: Session, *, channel: str, account: str, month: str) -> None:
    """Undo one booking (the platform refused the message, so it did not count)."""
    session.exec(
        update(MonthlyQuota)
        .where(
            MonthlyQuota.channel == channel,
            MonthlyQuota.account == account,
            MonthlyQuota.month == month,
            MonthlyQuota.sent > 0,
        )
        .values(sent=MonthlyQuota.sent - 1)
    )


def usage(session: Session, *, channel: str, account: str, month: str) -> int:
    """Messages counted so far in `month`."""
    row = session.get(MonthlyQuota, (channel, account, month))
    return row.sent if row else 0


def _ensure_row(session: Session, channel: str, account: str, month: str, now: datetime) -> None:
    exists = session.exec(
        select(MonthlyQuota.sent).where(
            MonthlyQuota.channel == channel,
            MonthlyQuota.account == account,
            MonthlyQuota.month == month,
        )
    ).first()
    if exists is not None:
        return
    try:
        with session.begin_nested():
            session.add(
                MonthlyQuota(channel=channel, account=account, month=month, sent=0, updated_at=now)
            )
            session.flush()
    except IntegrityError:  # another process created it first
        pass
