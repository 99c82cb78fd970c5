"""Deadline reminders: the right units, at the right time, exactly once.

The schedule comes from each campaign file (`reminders:`) and is turned into slots by the pure
`conversations.reminder_plan`. `tick(database, now)` is the whole decision: for every campaign it
finds the slots due at `now`, works out who has not submitted (one set-based progress read per
campaign and tick, `unit_standings`), and writes, in ONE transaction per campaign, a
`reminder_log` row and an unclaimed outbox row per contact (bulk inserts). The log is unique per
(campaign, contact, slot) and rows are inserted with ON CONFLICT DO NOTHING, so a restart, a second
tick or a second process never queues a reminder twice, and a crash between "decided" and "sent"
loses nothing: the outbox delivers unclaimed rows and re-claims stale ones. A slot counts as
decided once any log row exists for it (all rows of a slot are written together), so contacts
linked or units returned after a slot was handled wait for the next slot.

Who gets what:
- officers: active officer contacts of participating units that have not submitted ("returned"
  counts as not submitted), on every channel but the console; the text says the campaign, the
  deadline, the days left and how much of the Phụ lục is still open, with the «tiếp» choice;
- secretariat: a digest at the same moments — counts, the units at risk (or overdue), units no one
  can be reached at and contacts that blocked the bot (inactive contacts);
- `/remind` and `baocao remind`: a manual slot, now (or at the end of the quiet hours).

Officers' reminders are staggered (`not_before`, 24 a second, never inside quiet hours) so that the
outbox, which paces at 25/s, only ever holds a few seconds of them in memory.

`bot.reminder_runner` runs the ticks in `baocao run`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import delete, event, func, insert, select
from sqlmodel import Session

from bot import secretariat
from bot.messaging import Outbound
from conversations.engine import CHOICES
from conversations.reminder_plan import (
    BlockedContact,
    Decision,
    Slot,
    UnitStanding,
    after_quiet,
    decide,
    digest_text,
    manual_key,
    officer_summary,
    officer_text,
    plan_slots,
)
from storage.database import Database
from storage.models import Answer, Campaign, Contact, OutboxMessage, ReminderLog, Submission, Unit
from storage.progress import participating_units
from storage.repository import (
    StorageError,
    campaign_form,
    campaign_spec,
    current_campaign,
    list_campaigns,
    unit_by_code,
)

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

# The console is not a channel one can push to: nobody reads it between sessions.
SILENT_CHANNELS = frozenset({"console"})
DONE = ("submitted", "approved")
KIND_REMINDER = "reminder"
KIND_DIGEST = "digest"
# Reminders become due at most this many per second (a little under the outbox's 25/s): the outbox
# then claims each sweep only what it can send before the next one, so no claim goes stale while
# thousands wait in memory, and an officer's reply is not queued behind a whole slot.
SPREAD_RATE = 24.0


# --- who: one audience per campaign and tick ------------------------------------------------


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
    but column queries only, and answers only of the units still open: 10,000 units in ~0.3 s.
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
        if participants.includes(code, group) and (wanted is None or code.upper() == wanted):
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
                Submission.status.not_in(DONE),
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
        status = statuses.get(unit_id, "not_started")
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
        if role == "secretariat":
            if active and unit_code is None:
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


# --- writing: the log row and the outbox row together -----------------------------------------


@dataclass
class Spread:
    """Hands out `not_before` moments `rate` per second from `start` (None: all at `start`).

    `defer` moves a moment out of the campaign's quiet hours: a big slot just before them
    finishes the next morning rather than at night.
    """

    start: datetime
    rate: float | None = SPREAD_RATE
    defer: Callable[[datetime], datetime] | None = None

    def take(self, count: int) -> list[datetime]:
        if not self.rate:
            moments = [self.start] * count
        else:
            moments = [self.start + timedelta(seconds=i / self.rate) for i in range(count)]
            self.start += timedelta(seconds=count / self.rate)
        if self.defer is not None:
            moments = [self.defer(moment) for moment in moments]
        return moments


def _insert_ignore(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
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
    spread: Spread | None = None,
) -> int:
    """Queue one message per recipient for `slot`, once: returns how many were new.

    Outbox rows and log rows are bulk-inserted in the caller's transaction; a log row that
    already exists (another tick or process got there first) makes its outbox row go away.
    `spread` staggers the rows' `not_before` (default: all due `now`).
    """
    messages = sorted(messages, key=lambda pair: pair[0].contact_id)  # one lock order for all
    if not messages:
        return 0
    due = (spread or Spread(now, None)).take(len(messages))
    outbox_rows = [
        {
            "channel": recipient.channel,
            "chat_id": recipient.chat_id,
            "contact_id": recipient.contact_id,
            "kind": kind,
            "payload": payload,
            "status": "pending",
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


def reminder_payload(text_: str) -> dict:
    """`Outbound(text, («tiếp»,), context="").to_payload()`, without the per-call dataclass work.

    context "" is never stale: the «tiếp» press works whatever the officer did since.
    """
    return {"text": text_, "choices": _CONTINUE, "context": "", "numbered": False}


_CONTINUE = Outbound("", (CHOICES["continue"],)).to_payload()["choices"]


# --- the tick --------------------------------------------------------------------------------


@dataclass
class SlotOutcome:
    campaign: str
    slot: str
    action: str  # send | skip
    count: int


@dataclass
class TickResult:
    queued: int = 0
    skipped: int = 0
    outcomes: list[SlotOutcome] = field(default_factory=list)
    due_until: datetime | None = None  # when the last staggered reminder becomes due


def tick(
    database: Database, now: datetime, *, memo: set | None = None, rate: float = SPREAD_RATE
) -> TickResult:
    """Queue every reminder and digest due at `now` (and log the ones that are too late).

    `memo` (kept by a long-running caller) remembers decided slots so that the minutes after a
    slot cost no query; without it the reminder log answers the same question. Officers'
    reminders are staggered `rate` per second from `now`; digests are due at once.
    """
    memo = memo if memo is not None else set()
    result = TickResult()
    spread = Spread(now, rate)
    with database.transaction() as session:
        campaigns = list_campaigns(session)
    failure: Exception | None = None
    for campaign in campaigns:
        try:  # one campaign's trouble must not hold back the others' reminders
            outcomes = _tick_campaign(database, campaign, now, memo, spread)
        except Exception as error:
            log.exception("nhắc hạn %s: lỗi, sẽ thử lại ở lượt sau", campaign.code)
            failure = failure or error
            continue
        for outcome in outcomes:
            result.outcomes.append(outcome)
            if outcome.action == "send":
                result.queued += outcome.count
            else:
                result.skipped += outcome.count
    if result.queued:
        result.due_until = spread.start
    for outcome in result.outcomes:
        log.info(
            "nhắc hạn %s %s: %s %d",
            outcome.campaign,
            outcome.slot,
            "đã xếp" if outcome.action == "send" else "bỏ qua (quá giờ)",
            outcome.count,
        )
    if failure is not None:
        raise failure
    return result


def _tick_campaign(
    database: Database, campaign: Campaign, now: datetime, memo: set, spread: Spread
) -> list[SlotOutcome]:
    """Decide one campaign's due slots in one transaction (all its rows, or none)."""
    spec = campaign_spec(campaign)
    zone = spec.zone
    decisions = decide(
        plan_slots(spec.reminders, campaign.deadline, zone), now, spec.reminders, zone
    )
    pending = [
        (decision, key)
        for decision in decisions
        for key in (decision.slot.key, decision.slot.digest_key)
        if (campaign.id, key) not in memo
    ]
    if not pending:
        return []
    outcomes = []
    with database.transaction() as session:
        done = decided_slots(session, campaign.id, [key for _, key in pending])
        memo.update((campaign.id, key) for key in done)
        pending = [(decision, key) for decision, key in pending if key not in done]
        if not pending:
            return []
        audience = load_audience(session, campaign)
        spread.defer = partial(after_quiet, schedule=spec.reminders, zone=zone)
        for decision, key in pending:
            count = _act(session, campaign, decision, key, audience, now, spread)
            outcomes.append(SlotOutcome(campaign.code, key, decision.action, count))
    memo.update((campaign.id, key) for _, key in pending)
    return outcomes


def _act(
    session: Session,
    campaign: Campaign,
    decision: Decision,
    key: str,
    audience: Audience,
    now: datetime,
    spread: Spread,
) -> int:
    is_digest = key.startswith("digest:")
    people = audience.secretariat if is_digest else audience.officers
    if is_digest and not audience.missing and not audience.blocked:
        people = []  # nothing to report
    if decision.action == "skip":
        return log_skipped(
            session,
            campaign_id=campaign.id,
            slot=key,
            contact_ids=[p.contact_id for p in people],
            now=now,
        )
    zone = campaign_spec(campaign).zone
    if is_digest:
        body = _digest_for(session, campaign, decision.slot, audience, now)
        payload = Outbound(body).to_payload()
        return queue_messages(
            session,
            campaign_id=campaign.id,
            slot=key,
            messages=[(person, payload) for person in people],
            kind=KIND_DIGEST,
            now=now,
        )
    return queue_messages(
        session,
        campaign_id=campaign.id,
        slot=key,
        messages=_officer_messages(campaign, people, now, zone),
        kind=KIND_REMINDER,
        now=now,
        spread=spread,
    )


def _officer_messages(
    campaign: Campaign, people: list[Recipient], now: datetime, zone
) -> list[tuple[Recipient, dict]]:
    """One payload per unit, shared by its contacts (the text is about the unit)."""
    payloads: dict[UnitStanding, dict] = {}
    messages = []
    for person in people:
        payload = payloads.get(person.unit)  # type: ignore[arg-type]
        if payload is None:
            payload = reminder_payload(_officer_text(campaign, person, now, zone))
            payloads[person.unit] = payload  # type: ignore[index]
        messages.append((person, payload))
    return messages


def _officer_text(campaign: Campaign, person: Recipient, now: datetime, zone) -> str:
    assert person.unit is not None
    return officer_text(
        title=campaign.title, deadline=campaign.deadline, now=now, zone=zone, unit=person.unit
    )


def _digest_for(
    session: Session, campaign: Campaign, slot: Slot, audience: Audience, now: datetime
) -> str:
    reminded = session.execute(
        select(func.count(), func.count(func.distinct(Contact.unit_id)))
        .select_from(ReminderLog)
        .join(Contact, Contact.id == ReminderLog.contact_id)
        .where(
            ReminderLog.campaign_id == campaign.id,
            ReminderLog.slot == slot.key,
            ReminderLog.status == "queued",
        )
    ).one()
    return digest_text(
        title=campaign.title,
        deadline=campaign.deadline,
        now=now,
        zone=campaign_spec(campaign).zone,
        total_units=audience.total_units,
        submitted=audience.submitted,
        missing=audience.missing,
        reminded_contacts=reminded[0],
        reminded_units=reminded[1],
        blocked=audience.blocked,
    )


# --- by hand: /remind and `baocao remind` ------------------------------------------------------


def remind_now(
    session: Session,
    campaign: Campaign,
    now: datetime,
    *,
    unit_code: str | None = None,
    rate: float = SPREAD_RATE,
) -> int:
    """Queue a reminder now to every reachable officer of the units that have not submitted.

    Inside quiet hours the messages wait (not_before) for the end of the quiet period. The slot is
    "manual:<minute>", so a second /remind within the same minute queues nothing more.
    """
    spec = campaign_spec(campaign)
    audience = load_audience(session, campaign, unit_code)
    not_before = after_quiet(now, spec.reminders, spec.zone)
    messages = _officer_messages(campaign, audience.officers, not_before, spec.zone)
    count = queue_messages(
        session,
        campaign_id=campaign.id,
        slot=manual_key(now, spec.zone),
        messages=messages,
        kind=KIND_REMINDER,
        now=now,
        spread=Spread(
            not_before, rate, partial(after_quiet, schedule=spec.reminders, zone=spec.zone)
        ),
    )
    if count:
        from bot.reminder_runner import wake_after_commit  # the runner module imports this one

        event.listen(session, "after_commit", wake_after_commit, once=True)
    return count


def remind_command(app: App, *, dry_run: bool = False, unit_code: str | None = None) -> int:
    """`baocao remind [--dry-run] [--unit CODE]`: queue now, or list what would be queued."""
    now = app.clock()
    with app.database.transaction() as session:
        campaign = current_campaign(session)
        spec = campaign_spec(campaign)
        if unit_code is not None and not _participates(session, campaign, unit_code):
            raise StorageError(f"đơn vị '{unit_code}' không có trong đợt báo cáo {campaign.code}")
        if dry_run:
            audience = load_audience(session, campaign, unit_code)
            for person in audience.officers:
                unit = person.unit
                assert unit is not None
                summary = officer_summary(unit, campaign.deadline, now, spec.zone)
                name = person.name or f"#{person.contact_id}"
                print(f"{unit.code} | {name} | {person.channel} | {summary}")
            print(
                f"(thử) {len(audience.officers)} tin nhắc sẽ được gửi "
                f"cho đợt {campaign.code}; chưa gửi gì, không thay đổi gì."
            )
            session.rollback()
            return 0
        count = remind_now(session, campaign, now, unit_code=unit_code)
    when = after_quiet(now, spec.reminders, spec.zone)
    later = "" if when == now else f" (giờ yên tĩnh: gửi từ {when.astimezone(spec.zone):%H:%M})"
    print(
        f"Đã xếp lịch gửi {count} tin nhắc tới các đơn vị chưa nộp{later}. "
        "Tiến trình `baocao run` sẽ gửi đi."
    )
    return 0


def _participates(session: Session, campaign: Campaign, unit_code: str) -> bool:
    unit = unit_by_code(session, unit_code)
    return any(u.id == unit.id for u in participating_units(session, campaign))


secretariat.remind_now = remind_now
