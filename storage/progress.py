"""How far every participating unit has got in a campaign: one query set, many readers
(`/status`, `baocao status`, the "Tiến độ" sheet, reminders' "còn 9/22 câu").
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from conversations.statuses import DONE, SubmissionStatus
from storage.models import Answer, Campaign, Contact, ReminderLog, Submission, Unit
from storage.repository import campaign_form, campaign_spec


@dataclass
class UnitProgress:
    unit: Unit
    parent: Unit | None
    status: str
    answered: int
    total: int
    submitted_at: datetime | None = None
    submitted_by: str | None = None
    last_activity_at: datetime | None = None
    reminders_sent: int = 0
    submission_id: int | None = None

    @property
    def open_count(self) -> int:
        return self.total - self.answered

    @property
    def done(self) -> bool:
        return self.status in DONE

    @property
    def code(self) -> str:
        return self.unit.code

    @property
    def parent_code(self) -> str | None:
        return self.parent.code if self.parent else None

    @property
    def group(self) -> str | None:
        return self.unit.group

    @property
    def level(self) -> str:
        return self.unit.level


def participating_units(session: Session, campaign: Campaign) -> list[Unit]:
    participants = campaign_spec(campaign).participants
    units = session.exec(select(Unit).order_by(Unit.code)).all()
    return [u for u in units if participants.includes(u.code, u.group, u.level)]


def campaign_progress(session: Session, campaign: Campaign) -> list[UnitProgress]:
    form = campaign_form(campaign)
    units = participating_units(session, campaign)
    by_id = {u.id: u for u in session.exec(select(Unit))}
    submissions = {
        s.unit_id: s
        for s in session.exec(select(Submission).where(Submission.campaign_id == campaign.id))
    }
    answered_keys: dict[int, set[str]] = defaultdict(set)
    rows = session.exec(
        select(Answer.submission_id, Answer.question_key)
        .join(Submission, Submission.id == Answer.submission_id)
        .where(
            Submission.campaign_id == campaign.id,
            (Answer.not_applicable) | (Answer.value.is_not(None)),  # type: ignore[union-attr]
        )
    )
    for submission_id, key in rows:
        answered_keys[submission_id].add(key)
    submitter_ids = {s.submitted_by for s in submissions.values() if s.submitted_by}
    submitters = dict(
        session.exec(
            select(Contact.id, Contact.display_name).where(Contact.id.in_(submitter_ids))
        ).all()
    )
    reminders = Counter(
        session.exec(
            select(Contact.unit_id)
            .join(ReminderLog, ReminderLog.contact_id == Contact.id)
            .where(ReminderLog.campaign_id == campaign.id, ReminderLog.status == "queued")
        )
    )
    progress = []
    for unit in units:
        keys = {q.key for q in form.questions_for(unit.level)}
        submission = submissions.get(unit.id)
        answered = len(answered_keys.get(submission.id, set()) & keys) if submission else 0
        progress.append(
            UnitProgress(
                unit=unit,
                parent=by_id.get(unit.parent_id) if unit.parent_id else None,
                status=submission.status if submission else SubmissionStatus.NOT_STARTED,
                answered=answered,
                total=len(keys),
                submitted_at=submission.submitted_at if submission else None,
                submitted_by=submitters.get(submission.submitted_by) if submission else None,
                last_activity_at=submission.last_activity_at if submission else None,
                reminders_sent=reminders.get(unit.id, 0),
                submission_id=submission.id if submission else None,
            )
        )
    return progress
