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
- officers: active officer contacts of participating units that have not submitted (a returned
  report counts as not submitted), on every channel but the console; the text says the campaign, the
  deadline, the days left and how much of the Phụ lục is still open, with the «tiếp» choice;
- secretariat: a digest at the same moments — counts, the units at risk (or overdue), units no one
  can be reached at and contacts that blocked the bot (inactive contacts);
- `/remind` and `baocao remind`: a manual slot, now (or at the end of the quiet hours).

Officers' reminders are staggered (`not_before`, 24 a second, never inside quiet hours) so that the
outbox, which paces at 25/s, only ever holds a few seconds of them in memory.

`bot.reminders.runner` runs the ticks in `baocao run`; the reads and writes are in
`storage.reminder_store`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlmodel import Session

from bot.deadlines import campaign_deadlines
from bot.messaging import Outbound
from conversations.choices import CHOICES
from conversations.reminder_plan import (
    Decision,
    Slot,
    UnitStanding,
    after_quiet,
    decide,
    digest_text,
    manual_key,
    officer_text,
    plan_slots,
)
from conversations.statuses import CampaignState
from exports.consolidation import Deadlines
from storage.database import Database
from storage.models import Campaign
from storage.reminder_store import (
    Audience,
    Recipient,
    decided_slots,
    load_audience,
    log_skipped,
    queue_messages,
    reminded_counts,
    unit_standings,
)
from storage.repository import campaign_spec, list_campaigns

__all__ = [
    "SPREAD_RATE",
    "Spread",
    "TickResult",
    "load_audience",
    "remind_now",
    "tick",
    "unit_standings",
]

log = logging.getLogger(__name__)

KIND_REMINDER = "reminder"
KIND_DIGEST = "digest"
# Reminders become due at most this many per second (a little under the outbox's 25/s): the outbox
# then claims each sweep only what it can send before the next one, so no claim goes stale while
# thousands wait in memory, and an officer's reply is not queued behind a whole slot.
SPREAD_RATE = 24.0


# --- who: one audience per campaign and tick ------------------------------------------------


# --- writing: staggered moments, payloads --------------------------------------------------


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
    with database.transaction() as session:  # only open campaigns are reminded
        campaigns = [c for c in list_campaigns(session) if c.state == CampaignState.OPEN]
    failure: Exception | None = None
    took: dict[str, float] = {}
    for campaign in campaigns:
        started = time.perf_counter()
        try:  # one campaign's trouble must not hold back the others' reminders
            outcomes = _tick_campaign(database, campaign, now, memo, spread)
            took[campaign.code] = round(time.perf_counter() - started, 4)
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
            extra={"campaign": outcome.campaign, "duration": took.get(outcome.campaign)},
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
    own = campaign_deadlines(session, campaign)
    if now >= campaign.deadline:  # an extended unit is not overdue before its own deadline
        people = [p for p in people if own.of(p.unit.code) <= now]
    return queue_messages(
        session,
        campaign_id=campaign.id,
        slot=key,
        messages=_officer_messages(campaign, people, now, zone, own),
        kind=KIND_REMINDER,
        now=now,
        due=spread.take(len(people)),
    )


def _officer_messages(
    campaign: Campaign, people: list[Recipient], now: datetime, zone, own: Deadlines
) -> list[tuple[Recipient, dict]]:
    """One payload per unit, shared by its contacts (the text is about the unit and names its
    own deadline when it was extended)."""
    payloads: dict[UnitStanding, dict] = {}
    messages = []
    for person in people:
        payload = payloads.get(person.unit)  # type: ignore[arg-type]
        if payload is None:
            deadline = own.of(person.unit.code)
            payload = reminder_payload(_officer_text(campaign, person, now, zone, deadline))
            payloads[person.unit] = payload  # type: ignore[index]
        messages.append((person, payload))
    return messages


def _officer_text(
    campaign: Campaign, person: Recipient, now: datetime, zone, deadline: datetime
) -> str:
    assert person.unit is not None
    return officer_text(
        title=campaign.title, deadline=deadline, now=now, zone=zone, unit=person.unit
    )


def _digest_for(
    session: Session, campaign: Campaign, slot: Slot, audience: Audience, now: datetime
) -> str:
    reminded = reminded_counts(session, campaign.id, slot.key)
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
    own = campaign_deadlines(session, campaign)
    messages = _officer_messages(campaign, audience.officers, not_before, spec.zone, own)
    count = queue_messages(
        session,
        campaign_id=campaign.id,
        slot=manual_key(now, spec.zone),
        messages=messages,
        kind=KIND_REMINDER,
        now=now,
        due=Spread(
            not_before, rate, partial(after_quiet, schedule=spec.reminders, zone=spec.zone)
        ).take(len(messages)),
    )
    return count
