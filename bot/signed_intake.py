"""Taking a signed report back: from a chat file (Telegram) or the upload page (Zalo).

`receive_in_chat` judges and stores a file an officer sent (`conversations.uploads` says what may
come), `upload_link` makes the single-use link Zalo officers get, and `signed_summary` is the
one line that /status, the review and the submission use: "báo cáo: chưa gửi" or the files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session

from bot.campaign_choice import contact_campaign
from bot.message_context import Context
from bot.messaging import Outbound
from conversations.statuses import CampaignState
from conversations.uploads import (
    APPROVED_TEXT,
    UploadLimits,
    content_refusal,
    duplicate_text,
    format_size,
    received_text,
    refusal,
    safe_name,
    sniffed_type,
)
from storage.hot_path import SignedBrief, open_submission
from storage.models import DownloadToken, SignedReport
from storage.repository import create_download_token, find_download
from storage.signed_reports import (
    Stored,
    signed_reports,
    still_takes_signed_reports,
    store_signed_report,
)

UPLOAD_KIND = "upload"
UPLOAD_VALID_FOR = timedelta(hours=24)
UPLOAD_PATH = "/gui-bao-cao"


@dataclass(frozen=True)
class Uploads:
    """Where signed reports go and what they may be (from settings)."""

    data_dir: str | os.PathLike = "data"
    limits: UploadLimits = field(default_factory=UploadLimits)


def receive_in_chat(ctx: Context, uploads: Uploads) -> list[Outbound]:
    """An officer sent a file: refuse it clearly, or store it and confirm name and size."""
    file = ctx.inbound.file
    unit = ctx.contact.unit
    campaign = contact_campaign(ctx)
    if campaign is None or campaign.state != CampaignState.OPEN:
        return [Outbound(f"Hiện {unit.name} không có đợt báo cáo nào để gửi báo cáo.")]
    name = safe_name(file.name, f"bao-cao-{file.source_id[-8:] or 'tep'}")
    problem = refusal(name, file.content_type, file.size, uploads.limits)
    if problem is None and file.data is None:
        problem = f"Chưa tải được tệp «{name}». Đề nghị đồng chí gửi lại."
    if problem is None:
        problem = content_refusal(name, file.data, uploads.limits)
    if problem:
        return [Outbound(problem)]
    submission = open_submission(ctx.tx, campaign.id, ctx.contact.unit_id)
    if not still_takes_signed_reports(ctx.session, submission.id):
        return [Outbound(APPROVED_TEXT)]
    stored = store_signed_report(
        ctx.session,
        uploads.data_dir,
        submission_id=submission.id,
        file_name=name,
        content_type=sniffed_type(name, file.data),  # what the bytes are, not the label
        data=file.data,
        contact_id=ctx.contact.id,
        channel=ctx.inbound.channel,
        now=ctx.now,
    )
    return [Outbound(confirmation(stored))]


def confirmation(stored: Stored) -> str:
    if stored.duplicate:
        return duplicate_text(stored.report.file_name)
    return received_text(stored.report.file_name, stored.report.size, stored.count)


def signed_summary(reports: Sequence[SignedBrief | SignedReport]) -> str:
    """ "báo cáo: chưa gửi" or "báo cáo: đã gửi «Báo cáo.pdf» (1,2 MB)" (several: how many)."""
    if not reports:
        return "báo cáo: chưa gửi"
    if len(reports) == 1:
        only = reports[0]
        return f"báo cáo: đã gửi «{only.file_name}» ({format_size(only.size)})"
    return f"báo cáo: đã gửi {len(reports)} tệp"


def signed_lines(reports: Sequence[SignedBrief | SignedReport]) -> list[str]:
    """One line per file, for the review."""
    return [f"«{report.file_name}» ({format_size(report.size)})" for report in reports]


def submission_signed_reports(session: Session, submission_id: int) -> list[SignedReport]:
    return signed_reports(session, submission_id)


def upload_link(
    session: Session,
    now: datetime,
    public_url: str,
    *,
    campaign_id: int,
    unit_id: int,
    contact_id: int | None,
) -> str:
    """A single-use link to the upload page, valid for 24 hours."""
    token = create_download_token(
        session,
        campaign_id=campaign_id,
        unit_id=unit_id,
        contact_id=contact_id,
        now=now,
        valid_for=UPLOAD_VALID_FOR,
        kind=UPLOAD_KIND,
    )
    return f"{public_url}{UPLOAD_PATH}/{token}"


def usable_upload(session: Session, token: str, now: datetime) -> DownloadToken | None:
    grant = find_download(session, token, now)
    if grant is None or grant.kind != UPLOAD_KIND or grant.used_at is not None:
        return None
    return grant


def spend_upload(session: Session, grant: DownloadToken, now: datetime) -> bool:
    """Mark the link used; False when another request used it first (it works once), or it
    expired or was revoked (its holder removed) meanwhile: one conditional UPDATE."""
    table = DownloadToken.__table__
    spent = session.execute(
        update(table)
        .where(table.c.id == grant.id, table.c.used_at.is_(None), table.c.expires_at > now)
        .values(used_at=now)
        .returning(table.c.id)
    ).first()
    return spent is not None
