"""One way to tell people something outside a conversation: queue one notice per recipient in
the caller's transaction (delivered by the outbox after commit).

Who: `officers_of(unit)` or `secretariat_of(unit)` (`storage.audiences`, one rule for who
counts as the secretariat of a unit). Used for returns and approvals (the unit's officers), a
signed report received through the upload page (the officer who sent it), the Zalo quota alerts
and the alert about updates set aside (the province's secretariat); the reminder digest follows
the same rule (`storage.reminder_store`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlmodel import Session

from bot.messaging import Outbound
from storage.audiences import Recipient, officers_of, secretariat_of
from storage.hot_path import QueuedMessage, Tx, enqueue

__all__ = ["Recipient", "notify", "officers_of", "secretariat_of"]


def notify(
    db: Session | Tx,
    recipients: Iterable[Recipient],
    outbound: Outbound | Callable[[Recipient], Outbound],
    now: datetime,
    *,
    claimed: bool = False,
    kind: str = "notice",
) -> list[QueuedMessage]:
    """Queue the notice to each recipient; `outbound` may depend on the recipient (a channel's
    own context). Unclaimed by default: the outbox's sweep delivers them."""
    queued = []
    for person in recipients:
        message = outbound(person) if callable(outbound) else outbound
        queued.append(
            enqueue(
                db,
                channel=person.channel,
                chat_id=person.chat_id,
                payload=message.to_payload(),
                now=now,
                contact_id=person.contact_id,
                kind=kind,
                claimed=claimed,
            )
        )
    return queued
