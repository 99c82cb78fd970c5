"""Retention: what a years-long installation may forget (`BAOCAO_RETENTION_DAYS`, default 400).

Only two things go, in small batches, each batch its own short transaction (so the bot goes on
answering between them):
- the payload (the text and buttons) of messages delivered longer ago than that: the outbox row
  itself stays, since the reminder log points at it and its status and times are history;
- the ids of inbound updates processed longer ago than that (they only guard against a platform
  delivering the same update twice, which it does within days, never months).

Answers, their history, submissions, signed reports, the staff action log, invites, contacts,
reminder log, set-aside updates and undelivered messages are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, cast, delete, select, tuple_, update

from storage.database import Database
from storage.models import OutboxMessage, OutboxStatus, ProcessedInbound

BATCH = 500
PRUNED: dict = {}


@dataclass(frozen=True)
class Pruned:
    payloads: int
    updates: int


def prune(database: Database, now: datetime, days: int, *, batch: int = BATCH) -> Pruned:
    cutoff = now - timedelta(days=days)
    payloads = _repeat(lambda: _prune_payloads(database, cutoff, batch))
    updates = _repeat(lambda: _prune_updates(database, cutoff, batch))
    return Pruned(payloads, updates)


def _repeat(step) -> int:
    total = 0
    while True:
        done = step()
        total += done
        if done == 0:
            return total


def _prune_payloads(database: Database, cutoff: datetime, batch: int) -> int:
    old = (OutboxMessage.status == OutboxStatus.SENT) & (OutboxMessage.sent_at < cutoff)
    with database.transaction() as session:
        ids = (
            session.execute(
                select(OutboxMessage.id)
                .where(old, cast(OutboxMessage.payload, String) != "{}")
                .order_by(OutboxMessage.id)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not ids:
            return 0
        # The condition again in the write: a row re-queued meanwhile is left alone.
        result = session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids), old).values(payload=PRUNED)
        )
        return result.rowcount or 0


def _prune_updates(database: Database, cutoff: datetime, batch: int) -> int:
    with database.transaction() as session:
        keys = session.execute(
            select(ProcessedInbound.channel, ProcessedInbound.inbound_id)
            .where(ProcessedInbound.at < cutoff)
            .limit(batch)
        ).all()
        if not keys:
            return 0
        result = session.execute(
            delete(ProcessedInbound).where(
                tuple_(ProcessedInbound.channel, ProcessedInbound.inbound_id).in_(
                    [tuple(key) for key in keys]
                ),
                ProcessedInbound.at < cutoff,
            )
        )
        return result.rowcount or 0
