"""The report's life cycle applied in the database: one conditional write per move.

`move(session, submission_id, expected, event, values)` asks `conversations.lifecycle` for the new
status and writes it with `UPDATE submission SET status = :new … WHERE id = :id AND status =
:expected`; it is True only when that row count is one. Two staff acting at once therefore cannot
both succeed, whatever each of them read before: the loser's update matches no row. On SQLite the
caller's transaction also starts with `BEGIN IMMEDIATE` (`Database.write_transaction`), so the
loser waits for the winner's commit and then reads the new status.

`last_move` finds who moved a unit's report last and when (from the staff action log), for the
loser's «Báo cáo đã được … lúc …».
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import update
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, select

from conversations.lifecycle import Event, after
from storage.models import StaffAction, Submission

SUBMISSION = Submission.__table__


def move(
    session: Session,
    submission_id: int,
    expected: str,
    event: Event,
    values: dict[str, Any] | None = None,
) -> bool:
    """Apply `event` to a submission found in `expected`; False when someone moved it first.

    Raises `NotAllowedNow` when the table refuses the event in `expected` (nothing written)."""
    new = after(expected, event)
    result = session.connection().execute(
        update(SUBMISSION)
        .where(SUBMISSION.c.id == submission_id, SUBMISSION.c.status == str(expected))
        .values(status=str(new), **(values or {}))
    )
    moved = result.rowcount == 1
    if moved:
        stored = session.identity_map.get(identity_key(Submission, submission_id))
        if stored is not None:
            session.expire(stored)
    return moved


def current_status(session: Session, submission_id: int) -> str:
    """The submission's status as stored now (not as the session's objects remember it)."""
    return (
        session.connection()
        .execute(select(SUBMISSION.c.status).where(SUBMISSION.c.id == submission_id))
        .scalar_one()
    )


class LastMove(NamedTuple):
    actor: str
    action: str
    at: datetime


def last_move(session: Session, unit_id: int, actions: tuple[str, ...]) -> LastMove | None:
    """The latest of `actions` (approve, return) logged for the unit, if any."""
    row = session.exec(
        select(StaffAction.actor, StaffAction.action, StaffAction.at)
        .where(StaffAction.unit_id == unit_id, StaffAction.action.in_(actions))  # type: ignore[attr-defined]
        .order_by(StaffAction.at.desc(), StaffAction.id.desc())  # type: ignore[union-attr]
    ).first()
    return LastMove(*row) if row else None
