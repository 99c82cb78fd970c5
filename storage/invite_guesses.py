"""Wrong invite codes counted per (channel, chat), with a cool-down after a few misses.

Kept in the database so that every process (and a restart) sees the same count. The rule is
here; the service asks `refused_until` before it looks at a code and reports each miss.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from storage.models import InviteGuesses

MISSES_ALLOWED = 5  # wrong codes within WINDOW before the cool-down
WINDOW = timedelta(minutes=15)
COOL_DOWN = timedelta(minutes=15)


def refused_until(session: Session, channel: str, chat_id: str, now: datetime) -> datetime | None:
    """The end of this chat's cool-down, or None when it may try a code now."""
    row = session.get(InviteGuesses, (channel, chat_id))
    if row is None or row.refused_until is None or row.refused_until <= now:
        return None
    return row.refused_until


def record_miss(session: Session, channel: str, chat_id: str, now: datetime) -> datetime | None:
    """Count one wrong code; returns the end of the cool-down it starts, if it starts one."""
    row = session.get(InviteGuesses, (channel, chat_id))
    if row is None:
        row = InviteGuesses(channel=channel, chat_id=chat_id, misses=0, window_started_at=now)
    if now - row.window_started_at >= WINDOW:
        row.misses, row.window_started_at = 0, now
    row.misses += 1
    started = None
    if row.misses >= MISSES_ALLOWED:
        row.refused_until = started = now + COOL_DOWN
        row.misses, row.window_started_at = 0, now
    session.add(row)
    return started


def forget_misses(session: Session, channel: str, chat_id: str) -> None:
    """A right code ends the count."""
    row = session.get(InviteGuesses, (channel, chat_id))
    if row is not None:
        session.delete(row)
