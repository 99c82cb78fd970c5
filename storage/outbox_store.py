"""The outbox's reads and writes off the hot path: claiming due rows for delivery (pending ones,
and ones whose claim went stale because a process died mid-send), recording failures and
marking a contact that blocked the bot."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, update
from sqlmodel import Session, select

from storage.models import Contact, OutboxMessage, OutboxStatus


def claim_due(
    session: Session,
    *,
    channels: list[str],
    now: datetime,
    stale_before: datetime,
    known: list[int],
) -> list[OutboxMessage]:
    """Claim due rows for `channels` (at most 1000, oldest first), except the `known` ones this
    process already holds, whose claims are refreshed instead."""
    table = OutboxMessage.__table__
    due = and_(
        table.c.channel.in_(channels),
        table.c.not_before <= now,
        or_(
            table.c.status == OutboxStatus.PENDING,
            and_(table.c.status == OutboxStatus.SENDING, table.c.claimed_at < stale_before),
        ),
    )
    for start in range(0, len(known), 500):
        session.execute(
            update(table)
            .where(
                table.c.id.in_(known[start : start + 500]), table.c.status == OutboxStatus.SENDING
            )
            .values(claimed_at=now)
        )
    held = set(known)
    candidates = session.execute(
        select(table.c.id).where(due).order_by(table.c.id).limit(1000)
    ).scalars()
    ids = [row_id for row_id in candidates if row_id not in held]
    if not ids:
        return []
    # The predicate is evaluated again by the UPDATE, so a row another process claimed in the
    # meantime is not returned here.
    claimed = session.execute(
        update(table)
        .where(table.c.id.in_(ids), due)
        .values(status=OutboxStatus.SENDING, claimed_at=now)
        .returning(table.c.id)
    ).scalars()
    claimed_ids = list(claimed)
    rows = session.exec(
        select(OutboxMessage).where(OutboxMessage.id.in_(claimed_ids)).order_by(OutboxMessage.id)
    )
    return list(rows)


def mark_failed(session: Session, row_id: int, error: str, attempts: int) -> None:
    """Given up on a row after `attempts` more tries."""
    table = OutboxMessage.__table__
    session.execute(
        update(table)
        .where(table.c.id == row_id)
        .values(status=OutboxStatus.FAILED, error=error, attempts=table.c.attempts + attempts)
    )


def mark_blocked(session: Session, contact_id: int) -> None:
    """The contact blocked the bot: no more messages until they write again."""
    session.execute(update(Contact).where(Contact.id == contact_id).values(active=False))
