"""Everything one set of documents is built from, read once, in one transaction.

`load_snapshot` finds the campaign (by id, or by the code the command line names, or the
current one) and reads, inside a single transaction, the campaign, every participating unit's
progress and answers (all answers of the campaign in one query, so 10,000 units × 24 answers
cost a handful of round trips), the names of the units above them, the units' own deadlines,
the signed files and the Đề cương. The workbooks, the Word drafts and the per-unit files are
then built from this `Snapshot` by the pure builders in `exports/`, which never see a session:
a workbook and a Word draft made together can never disagree about a unit's status or figures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from bot.deadlines import campaign_deadlines
from conversations.forms import Form, memo
from conversations.outline import Outline, load_outline, resolve_outline_path
from exports.data import CampaignInfo, SignedFile, UnitHeading, UnitReport
from exports.figures import AnswerData
from storage.database import Database
from storage.models import Answer, Campaign, Submission, Unit
from storage.progress import campaign_progress
from storage.repository import (
    StorageError,
    campaign_form,
    campaign_spec,
    current_campaign,
    unit_by_code,
)
from storage.signed_reports import campaign_signed_reports


@dataclass(frozen=True)
class Snapshot:
    """A campaign's documents' data at one moment."""

    campaign_id: int
    info: CampaignInfo
    form: Form
    units: list[UnitReport]
    signed: dict[str, list[SignedFile]] = field(default_factory=dict)
    outline: Outline | None = None

    def unit(self, code: str) -> UnitReport:
        wanted = code.upper()
        for unit in self.units:
            if unit.code.upper() == wanted:
                return unit
        raise StorageError(f"không có đơn vị '{code}'")


def load_snapshot(
    database: Database,
    *,
    campaign_id: int | None = None,
    campaign_code: str | None = None,
    unit_code: str | None = None,
    signed: bool = False,
    outline: bool = False,
) -> Snapshot:
    """The snapshot of one campaign (by `campaign_id`, else `campaign_code`, else the current
    one), for every participating unit or only `unit_code`. Raises `StorageError` for an unknown
    campaign or unit, or (with `outline`) a campaign without a Đề cương."""
    with database.transaction() as session:
        campaign = find_campaign(session, campaign_id, campaign_code)
        info, form, units = load_reports(session, campaign, unit_code)
        return Snapshot(
            campaign_id=campaign.id,
            info=info,
            form=form,
            units=units,
            signed=load_signed(session, campaign) if signed else {},
            outline=campaign_outline(campaign, form) if outline else None,
        )


def find_campaign(session: Session, campaign_id: int | None, code: str | None) -> Campaign:
    if campaign_id is not None:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            raise StorageError(f"không có đợt báo cáo số {campaign_id}")
        return campaign
    return current_campaign(session, code)


def campaign_outline(campaign: Campaign, form: Form) -> Outline:
    """The campaign's Đề cương, read once per form object and outline name (the chat asks often).

    Raises `StorageError` when the campaign names none."""
    spec = campaign_spec(campaign)
    if not spec.outline:
        raise StorageError(
            f"đợt báo cáo {campaign.code} chưa có đề cương báo cáo: thêm dòng "
            f"«outline: ct37_decuong.yaml» vào tệp đợt báo cáo rồi chạy: baocao campaign load TỆP"
        )
    cache = memo(form)
    outline = cache.get((Outline, spec.outline))
    if outline is None:
        outline = load_outline(resolve_outline_path(spec.outline), form)
        cache[(Outline, spec.outline)] = outline
    return outline


def load_signed(session: Session, campaign: Campaign) -> dict[str, list[SignedFile]]:
    """{unit code: its signed report files, oldest first}."""
    found: dict[str, list[SignedFile]] = defaultdict(list)
    for item in campaign_signed_reports(session, campaign):
        report = item.report
        found[item.unit_code].append(
            SignedFile(report.file_name, report.size, report.received_at, item.sender, report.path)
        )
    return dict(found)


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
        .join(Submission, col(Submission.id) == Answer.submission_id)
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
            parent_name=item.parent.name if item.parent else None,
            status=item.status,
            submitted_at=item.submitted_at,
            submitted_by=item.submitted_by,
            last_activity_at=item.last_activity_at,
            reminders_sent=item.reminders_sent,
            answers=answers.get(item.submission_id, {}) if item.submission_id else {},
            answered=item.answered,
            total=item.total,
            heading=_heading(item.unit),
        )
        for item in progress
    ]
    own = campaign_deadlines(session, campaign).own
    return campaign_info(campaign, own), form, reports


def _heading(unit: Unit) -> UnitHeading:
    return UnitHeading(
        superior=unit.superior,
        heading_name=unit.heading_name,
        place=unit.place,
        signer_for=unit.signer_for,
        signer_title=unit.signer_title,
        symbol=getattr(unit, "symbol", None),
    )
