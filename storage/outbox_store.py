"""The outbox's reads and writes off the hot path: claiming due rows for delivery (pending ones,
and ones whose lease ran out because their process died), renewing this process's leases,
recording failures, marking a contact that blocked the bot, and the operator's view of failed
rows (list, count, re-queue)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, select

from storage.models import Contact, OutboxMessage, OutboxStatus


def claim_due(
    session: Session,
    *,
    channels: list[str],
    now: datetime,
    lease_expired_before: datetime,
    claimant: str,
    dead: list[str] | None = None,
    limit: int = 1000,
) -> list[OutboxMessage]:
    """Claim due rows for `channels` (at most `limit`, oldest first) for `claimant`: pending
    rows, rows claimed by another process whose lease was last renewed before
    `lease_expired_before`, and rows claimed by `dead` processes (known to be gone)."""
    table = OutboxMessage.__table__
    taken_over = and_(
        table.c.claimed_at < lease_expired_before,
        or_(table.c.claimed_by.is_(None), table.c.claimed_by != claimant),
    )
    if dead:
        taken_over = or_(taken_over, table.c.claimed_by.in_(list(dead)))
    due = and_(
        table.c.channel.in_(channels),
        table.c.not_before <= now,
        or_(
            table.c.status == OutboxStatus.PENDING,
            and_(table.c.status == OutboxStatus.SENDING, taken_over),
        ),
    )
    ids = list(
        session.execute(select(table.c.id).where(due).order_by(table.c.id).limit(limit)).scalars()
    )
    if not ids:
        return []
    # The predicate is evaluated again by the UPDATE, so a row another process claimed in the
    # meantime is not returned here.
    claimed = session.execute(
        update(table)
        .where(table.c.id.in_(ids), due)
        .values(status=OutboxStatus.SENDING, claimed_at=now, claimed_by=claimant)
        .returning(table.c.id)
    ).scalars()
    claimed_ids = list(claimed)
    rows = session.exec(
        select(OutboxMessage).where(OutboxMessage.id.in_(claimed_ids)).order_by(OutboxMessage.id)
    )
    return list(rows)


def renew_leases(session: Session, *, claimant: str, held: list[int], now: datetime) -> None:
    """Renew the lease of every row `claimant` is still delivering (`held`, which also adopts
    rows written claimed without a claimant)."""
    table = OutboxMessage.__table__
    for start in range(0, len(held), 500):
        session.execute(
            update(table)
            .where(
                table.c.id.in_(held[start : start + 500]),
                table.c.status == OutboxStatus.SENDING,
                or_(table.c.claimed_by.is_(None), table.c.claimed_by == claimant),
            )
            .values(claimed_at=now, claimed_by=claimant)
        )


def claimants_holding(session: Session, *, channels: list[str], exclude: str) -> list[str]:
    """The processes that hold claims on rows of `channels` being sent, other than `exclude`."""
    table = OutboxMessage.__table__
    statement = (
        select(table.c.claimed_by)
        .where(table.c.channel.in_(channels), table.c.status == OutboxStatus.SENDING)
        .where(table.c.claimed_by.is_not(None))
        .where(table.c.claimed_by != exclude)
        .distinct()
    )
    return list(session.execute(statement).scalars())


def release_claims(session: Session, *, claimant: str, held: list[int]) -> None:
    """A process stopping hands back what it did not deliver: pending again at once."""
    table = OutboxMessage.__table__
    session.execute(
        update(table)
        .where(table.c.status == OutboxStatus.SENDING, table.c.claimed_by == claimant)
        .values(status=OutboxStatus.PENDING, claimed_at=None, claimed_by=None)
    )
    for start in range(0, len(held), 500):
        session.execute(
            update(table)
            .where(
                table.c.id.in_(held[start : start + 500]),
                table.c.status == OutboxStatus.SENDING,
                table.c.claimed_by.is_(None),
            )
            .values(status=OutboxStatus.PENDING, claimed_at=None)
        )


def mark_failed(session: Session, row_id: int, error: str, attempts: int) -> None:
    """Given up on a row after `attempts` more tries."""
    table = OutboxMessage.__table__
    session.execute(
        update(table)
        .where(table.c.id == row_id)
        .values(
            status=OutboxStatus.FAILED,
            error=error,
            attempts=table.c.attempts + attempts,
            claimed_by=None,
        )
    )


def redact_sent(session: Session, row_id: int, payload: dict) -> None:
    """Replace a delivered row's payload by its redacted form (no live link or code at rest)."""
    table = OutboxMessage.__table__
    session.execute(
        update(table)
        .where(table.c.id == row_id, table.c.status == OutboxStatus.SENT)
        .values(payload=payload)
    )


def mark_blocked(session: Session, contact_id: int) -> None:
    """The contact blocked the bot: no more messages until they write again."""
    session.execute(update(Contact).where(Contact.id == contact_id).values(active=False))


def undelivered_rows(
    session: Session, *, failed_only: bool = False, limit: int = 500
) -> list[OutboxMessage]:
    """Rows not (yet) delivered, newest first: given up on, and unless `failed_only` also the
    ones waiting or being sent."""
    wanted = [OutboxStatus.FAILED]
    if not failed_only:
        wanted += [OutboxStatus.PENDING, OutboxStatus.SENDING]
    statement = (
        select(OutboxMessage)
        .where(OutboxMessage.status.in_(wanted))
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    return list(session.exec(statement))


def count_failed(session: Session) -> int:
    table = OutboxMessage.__table__
    statement = select(func.count()).select_from(table).where(table.c.status == OutboxStatus.FAILED)
    return session.execute(statement).scalar_one()


def requeue_failed(session: Session, now: datetime, row_ids: list[int] | None = None) -> list[int]:
    """Queue failed rows again (all of them when `row_ids` is None); return the ids re-queued.
    A row that is not failed (sent, or being sent) is left alone."""
    table = OutboxMessage.__table__
    condition = table.c.status == OutboxStatus.FAILED
    if row_ids is not None:
        condition = and_(condition, table.c.id.in_(row_ids))
    requeued = session.execute(
        update(table)
        .where(condition)
        .values(
            status=OutboxStatus.PENDING,
            not_before=now,  # its useful life counts from here again
            claimed_at=None,
            claimed_by=None,
            error=None,
        )
        .returning(table.c.id)
    ).scalars()
    return sorted(requeued)
