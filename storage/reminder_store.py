"""Who is reminded, and writing reminders: the reminder audience (set-based reads of units,
submissions, answers and contacts) and the outbox and reminder-log rows a slot writes together.

The log is unique per (campaign, contact, slot) and rows are inserted with ON CONFLICT DO
NOTHING, so a second tick or process never queues a reminder twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from conversations.reminder_plan import BlockedContact, UnitStanding
from conversations.statuses import DONE, ContactRole, SubmissionStatus
from storage.audiences import serves
from storage.models import (
    Answer,
    Campaign,
    Contact,
    OutboxMessage,
    OutboxStatus,
    ReminderLog,
    Submission,
    Unit,
)
from storage.repository import campaign_form, campaign_spec

# The console is not a channel one can push to: nobody reads it between sessions.
SILENT_CHANNELS = frozenset({"console"})


@dataclass(frozen=True)
class Recipient:
    contact_id: int
    channel: str
    chat_id: str
    name: str
    unit: UnitStanding | None = None


@dataclass
class Audience:
    """Everything a tick needs to know about one campaign's people, loaded with a few queries."""

    total_units: int
    submitted: int
    missing: list[UnitStanding]
    officers: list[Recipient]
    secretariat: list[Recipient]
    blocked: list[BlockedContact]


def unit_standings(
    session: Session, campaign: Campaign, unit_code: str | None = None
) -> tuple[int, int, dict[int, UnitStanding], dict[int, str]]:
    """`campaign_progress`, reduced to what reminders need and read as plain rows.

    Same rules (participants, questions for the unit's level, an answer counts when it has a
    value or is "Không áp dụng", submitted/approved are done) — a test holds the two together —
    but column queries only, and answers only of the units still open.
    Returns (participating units, submitted units, open units by id, codes of all by id).
    """
    participants = campaign_spec(campaign).participants
    form = campaign_form(campaign)
    keys_of: dict[str, frozenset[str]] = {}
    wanted = unit_code.strip().upper() if unit_code is not None else None
    units = {}
    for unit_id, code, name, level, group in session.execute(
        select(Unit.id, Unit.code, Unit.name, Unit.level, Unit.group)
    ):
        if participants.includes(code, group, level) and (wanted is None or code.upper() == wanted):
            units[unit_id] = (code, name, level)
            if level not in keys_of:
                keys_of[level] = frozenset(q.key for q in form.questions_for(level))
    statuses = {}
    open_submissions = {}
    for submission_id, unit_id, status in session.execute(
        select(Submission.id, Submission.unit_id, Submission.status).where(
            Submission.campaign_id == campaign.id
        )
    ):
        if unit_id in units:
            statuses[unit_id] = status
            if status not in DONE:
                open_submissions[submission_id] = unit_id
    answered: dict[int, int] = dict.fromkeys(units, 0)
    if open_submissions:
        rows = session.execute(
            select(Answer.submission_id, Answer.question_key)
            .join(Submission, Submission.id == Answer.submission_id)
            .where(
                Submission.campaign_id == campaign.id,
                Submission.status.not_in(sorted(DONE)),
                (Answer.not_applicable) | (Answer.value.is_not(None)),  # type: ignore[union-attr]
            )
        )
        for submission_id, key in rows:
            unit_id = open_submissions.get(submission_id)
            if unit_id is not None and key in keys_of[units[unit_id][2]]:
                answered[unit_id] += 1
    standings = {}
    submitted = 0
    for unit_id, (code, name, level) in units.items():
        status = statuses.get(unit_id, SubmissionStatus.NOT_STARTED)
        if status in DONE:
            submitted += 1
            continue
        standings[unit_id] = UnitStanding(
            code, name, status, answered[unit_id], len(keys_of[level])
        )
    codes = {unit_id: code for unit_id, (code, _, _) in units.items()}
    return len(units), submitted, standings, codes


def load_audience(session: Session, campaign: Campaign, unit_code: str | None = None) -> Audience:
    total, submitted, by_unit, codes = unit_standings(session, campaign, unit_code)
    rows = session.execute(
        select(
            Contact.id,
            Contact.channel,
            Contact.chat_id,
            Contact.display_name,
            Contact.role,
            Contact.unit_id,
            Contact.active,
        ).order_by(Contact.id)
    ).all()
    officers, desk, blocked = [], [], []
    reachable: set[int] = set()
    for contact_id, channel, chat_id, name, role, unit_id, active in rows:
        if channel in SILENT_CHANNELS:
            continue
        if role == ContactRole.SECRETARIAT:
            # The digest covers the whole province, no one unit: the secretariat of no unit is
            # the province's (`storage.audiences`); a district asks /status for its own units.
            if active and unit_code is None and serves(unit_id, set()):
                desk.append(Recipient(contact_id, channel, chat_id, name))
            continue
        if unit_id not in codes:
            continue
        if not active:
            blocked.append(BlockedContact(name or f"#{contact_id}", codes[unit_id], channel))
            continue
        standing = by_unit.get(unit_id)
        if standing is not None:
            officers.append(Recipient(contact_id, channel, chat_id, name, standing))
            reachable.add(unit_id)
    missing = [
        standing if unit_id in reachable else _unreachable(standing)
        for unit_id, standing in by_unit.items()
    ]
    return Audience(total, submitted, missing, officers, desk, blocked)


def _unreachable(standing: UnitStanding) -> UnitStanding:
    return UnitStanding(
        standing.code, standing.name, standing.status, standing.answered, standing.total, False
    )


def _insert_ignore(session: Session):
    postgresql = session.get_bind().dialect.name == "postgresql"
    dialect_insert = postgresql_insert if postgresql else sqlite_insert
    return dialect_insert(ReminderLog.__table__).on_conflict_do_nothing(
        index_elements=["campaign_id", "contact_id", "slot"]
    )


def queue_messages(
    session: Session,
    *,
    campaign_id: int,
    slot: str,
    messages: Iterable[tuple[Recipient, dict]],
    kind: str,
    now: datetime,
    due: list[datetime] | None = None,
) -> int:
    """Queue one message per recipient for `slot`, once: returns how many were new.

    Outbox rows and log rows are bulk-inserted in the caller's transaction; a log row that
    already exists (another tick or process got there first) makes its outbox row go away.
    `due` gives each row's `not_before`, in the order of the recipients' contact ids (default:
    all due `now`).
    """
    messages = sorted(messages, key=lambda pair: pair[0].contact_id)  # one lock order for all
    if not messages:
        return 0
    due = due or [now] * len(messages)
    outbox_rows = [
        {
            "channel": recipient.channel,
            "chat_id": recipient.chat_id,
            "contact_id": recipient.contact_id,
            "kind": kind,
            "payload": payload,
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "not_before": not_before,
            "created_at": now,
        }
        for (recipient, payload), not_before in zip(messages, due, strict=True)
    ]
    table = OutboxMessage.__table__
    created = session.execute(
        insert(table).returning(table.c.id, table.c.contact_id), outbox_rows
    ).all()
    outbox_of = {contact_id: outbox_id for outbox_id, contact_id in created}
    log_rows = [
        {
            "campaign_id": campaign_id,
            "contact_id": recipient.contact_id,
            "slot": slot,
            "outbox_id": outbox_of[recipient.contact_id],
            "status": "queued",
            "at": now,
        }
        for recipient, _ in messages
    ]
    stmt = _insert_ignore(session).returning(ReminderLog.__table__.c.contact_id)
    won = {contact_id for (contact_id,) in session.execute(stmt, log_rows).all()}
    lost = [outbox_id for contact_id, outbox_id in outbox_of.items() if contact_id not in won]
    if lost:
        session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(lost)))
    return len(won)


def log_skipped(
    session: Session, *, campaign_id: int, slot: str, contact_ids: Iterable[int], now: datetime
) -> int:
    rows = [
        {
            "campaign_id": campaign_id,
            "contact_id": contact_id,
            "slot": slot,
            "outbox_id": None,
            "status": "skipped",
            "at": now,
        }
        for contact_id in sorted(set(contact_ids))
    ]
    if not rows:
        return 0
    stmt = _insert_ignore(session).returning(ReminderLog.__table__.c.contact_id)
    return len(session.execute(stmt, rows).all())


def decided_slots(session: Session, campaign_id: int, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    return set(
        session.execute(
            select(ReminderLog.slot)
            .where(ReminderLog.campaign_id == campaign_id, ReminderLog.slot.in_(keys))
            .distinct()
        ).scalars()
    )


def reminded_counts(session: Session, campaign_id: int, slot: str) -> tuple[int, int]:
    """(contacts, units) queued a reminder for `slot`."""
    counted = session.execute(
        select(func.count(), func.count(func.distinct(Contact.unit_id)))
        .select_from(ReminderLog)
        .join(Contact, Contact.id == ReminderLog.contact_id)
        .where(
            ReminderLog.campaign_id == campaign_id,
            ReminderLog.slot == slot,
            ReminderLog.status == "queued",
        )
    ).one()
    return counted[0], counted[1]
