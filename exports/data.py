"""What an Excel export needs, as plain dataclasses loaded from storage in a few queries.

`load_reports` reads the campaign, every participating unit's progress (through
`storage.progress.campaign_progress`) and all answers of the campaign in one query, so an export
of 10,000 units × 24 answers costs a handful of round trips. The exporters only see these
dataclasses: they never touch a session, and a benchmark can build them in memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from conversations.campaigns import DocumentHeading
from conversations.forms import Form
from conversations.messages import format_day, format_deadline
from conversations.statuses import SubmissionStatus
from exports.consolidation import Deadlines
from exports.figures import AnswerData
from storage.models import Answer, Campaign, Submission
from storage.progress import campaign_progress
from storage.repository import StorageError, campaign_form, campaign_spec, unit_by_code
from storage.signed_reports import campaign_signed_reports
from storage.staff_store import unit_deadlines_by_code


@dataclass(frozen=True)
class CampaignInfo:
    code: str
    title: str
    issued_by: str
    receiver: str
    deadline: datetime
    timezone: str = "Asia/Ho_Chi_Minh"
    period_start: date | None = None
    period_end: date | None = None
    document: DocumentHeading = field(default_factory=DocumentHeading)
    own_deadlines: Mapping[str, datetime] = field(default_factory=dict, hash=False)

    @property
    def deadlines(self) -> Deadlines:
        """Who is late is judged against each unit's own deadline (Gia hạn), if it has one."""
        return Deadlines(self.deadline, self.own_deadlines)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def deadline_text(self) -> str:
        """The deadline in the plan's words: "trước ngày 05/7/2022"."""
        return self.document.deadline_text or format_deadline(self.deadline, self.zone)

    @property
    def period_text(self) -> str | None:
        """The reporting period: "từ ngày 11/5/2017 đến ngày 30/5/2022", or None."""
        if not self.period_start or not self.period_end:
            return None
        return f"từ ngày {format_day(self.period_start)} đến ngày {format_day(self.period_end)}"


@dataclass(frozen=True, slots=True)
class UnitHeading:
    """What the unit list says about the heading and signer of the unit's own Phụ lục."""

    superior: str | None = None
    heading_name: str | None = None
    place: str | None = None
    signer_for: str | None = None
    signer_title: str | None = None


@dataclass(slots=True)
class UnitReport:
    """One participating unit: who it is, how far it got, and what it answered."""

    code: str
    name: str
    level: str
    group: str | None = None
    parent_code: str | None = None
    status: str = SubmissionStatus.NOT_STARTED
    submitted_at: datetime | None = None
    submitted_by: str | None = None
    last_activity_at: datetime | None = None
    reminders_sent: int = 0
    answers: dict[str, AnswerData] = field(default_factory=dict)
    answered: int = 0
    total: int = 0
    heading: UnitHeading = UnitHeading()

    def answer(self, key: str) -> AnswerData | None:
        """The unit's answer to a question, or None when it has not been answered."""
        found = self.answers.get(key)
        return found if found is not None and found.answered else None


@dataclass(frozen=True)
class SignedFile:
    """A signed report file a unit sent back, as the exports list it."""

    file_name: str
    size: int
    received_at: datetime
    sender: str = ""
    path: str = ""  # relative to the data folder


def load_signed(session: Session, campaign: Campaign) -> dict[str, list[SignedFile]]:
    """{unit code: its signed report files, oldest first}."""
    found: dict[str, list[SignedFile]] = defaultdict(list)
    for item in campaign_signed_reports(session, campaign):
        report = item.report
        found[item.unit_code].append(
            SignedFile(report.file_name, report.size, report.received_at, item.sender, report.path)
        )
    return dict(found)


def campaign_deadlines(session: Session, campaign: Campaign) -> Deadlines:
    """The campaign's deadline and every unit's own, for whoever shows lateness."""
    return Deadlines(campaign.deadline, unit_deadlines_by_code(session, campaign.id))


def campaign_info(
    campaign: Campaign, own_deadlines: Mapping[str, datetime] | None = None
) -> CampaignInfo:
    spec = campaign_spec(campaign)
    return CampaignInfo(
        period_start=spec.period_start,
        period_end=spec.period_end,
        document=spec.document,
        code=campaign.code,
        title=campaign.title,
        issued_by=campaign.issued_by,
        receiver=campaign.receiver,
        deadline=campaign.deadline,
        timezone=campaign.timezone or "Asia/Ho_Chi_Minh",
        own_deadlines=own_deadlines or {},
    )


def load_reports(
    session: Session, campaign: Campaign, unit_code: str | None = None
) -> tuple[CampaignInfo, Form, list[UnitReport]]:
    """The campaign, its form and every participating unit's report (or only `unit_code`'s).

    Units come in the order they were imported (parents before children in a unit file), which
    is the order the plan lists them in. Raises `StorageError` for an unknown unit or a unit that
    does not take part in the campaign.
    """
    form = campaign_form(campaign)
    wanted_id = None
    if unit_code is not None:
        wanted_id = unit_by_code(session, unit_code).id
    progress = campaign_progress(session, campaign)
    if wanted_id is not None:
        progress = [item for item in progress if item.unit.id == wanted_id]
        if not progress:
            raise StorageError(f"đơn vị '{unit_code}' không tham gia đợt báo cáo {campaign.code}")
    progress.sort(key=lambda item: item.unit.id or 0)

    query = (
        select(
            Answer.submission_id,
            Answer.question_key,
            Answer.value,
            Answer.not_applicable,
            Answer.note,
        )
        .join(Submission, Submission.id == Answer.submission_id)
        .where(Submission.campaign_id == campaign.id)
        .execution_options(yield_per=2000)  # stream the rows instead of buffering them all
    )
    if wanted_id is not None:
        query = query.where(Submission.unit_id == wanted_id)
    keys = {question.key: question.key for question in form.questions}  # one string per key
    answers: dict[int, dict[str, AnswerData]] = defaultdict(dict)
    for submission_id, key, value, not_applicable, note in session.exec(query):
        answers[submission_id][keys.get(key, key)] = AnswerData(
            value if isinstance(value, dict) else None, bool(not_applicable), note or None
        )

    reports = [
        UnitReport(
            code=item.unit.code,
            name=item.unit.name,
            level=item.unit.level,
            group=item.unit.group,
            parent_code=item.parent.code if item.parent else None,
            status=item.status,
            submitted_at=item.submitted_at,
            submitted_by=item.submitted_by,
            last_activity_at=item.last_activity_at,
            reminders_sent=item.reminders_sent,
            answers=answers.get(item.submission_id, {}) if item.submission_id else {},
            answered=item.answered,
            total=item.total,
            heading=UnitHeading(
                superior=item.unit.superior,
                heading_name=item.unit.heading_name,
                place=item.unit.place,
                signer_for=item.unit.signer_for,
                signer_title=item.unit.signer_title,
            ),
        )
        for item in progress
    ]
    own = campaign_deadlines(session, campaign).own
    return campaign_info(campaign, own), form, reports
