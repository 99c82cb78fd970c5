"""The signed reports units send back: files on disk, their rows in the database.

A file is written under the data folder as `signed/<campaign id>/<unit code>/<sha256>.<ext>`,
atomically (staged in the data folder's `tmp/` by `storage.staging`, then renamed), before its
row is added in the caller's transaction. The name is its checksum, so a delivery retried after
a failed commit writes the same file again and a file sent twice is stored once (the row is
unique per submission and checksum). Files rather than database blobs: a 20 MB scan would swell
every database backup and the SQLite file, while the folder is copied and served as it is.
An approved submission is locked: `still_takes_signed_reports` says so in one conditional write.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, select

from conversations.statuses import SubmissionStatus
from storage.models import Campaign, Contact, SignedReport, Submission, Unit
from storage.staging import StagedFile, stage_bytes

SIGNED_FOLDER = "signed"


@dataclass(frozen=True)
class Stored:
    report: SignedReport
    duplicate: bool  # the same content was already stored for this submission
    count: int  # how many files the submission now has


def store_signed_report(
    session: Session,
    data_dir: str | os.PathLike,
    *,
    submission_id: int,
    file_name: str,
    content_type: str,
    data: bytes,
    contact_id: int | None,
    channel: str,
    now: datetime,
) -> Stored:
    """A file already in memory (a chat download, bounded by its cap)."""
    return store_staged_report(
        session,
        data_dir,
        submission_id=submission_id,
        file_name=file_name,
        content_type=content_type,
        staged=stage_bytes(data_dir, data),
        contact_id=contact_id,
        channel=channel,
        now=now,
    )


def store_staged_report(
    session: Session,
    data_dir: str | os.PathLike,
    *,
    submission_id: int,
    file_name: str,
    content_type: str,
    staged: StagedFile,
    contact_id: int | None,
    channel: str,
    now: datetime,
) -> Stored:
    """Move a staged file into place and add its row; a duplicate's staged copy is removed."""
    checksum = staged.sha256
    existing = session.exec(
        select(SignedReport).where(
            SignedReport.submission_id == submission_id, SignedReport.sha256 == checksum
        )
    ).first()
    if existing is not None:
        staged.discard()
        return Stored(existing, True, _count(session, submission_id))
    submission = session.get(Submission, submission_id)
    unit = session.get(Unit, submission.unit_id)
    extension = file_name.rsplit(".", 1)[1].lower() if "." in file_name else "bin"
    folder = Path(SIGNED_FOLDER) / str(submission.campaign_id) / _folder_name(unit.code)
    relative = folder / f"{checksum}.{extension}"
    _move(staged, Path(data_dir) / relative)
    report = SignedReport(
        submission_id=submission_id,
        file_name=file_name,
        content_type=content_type,
        size=staged.size,
        sha256=checksum,
        path=relative.as_posix(),
        contact_id=contact_id,
        channel=channel,
        received_at=now,
    )
    session.add(report)
    session.flush()
    return Stored(report, False, _count(session, submission_id))


def still_takes_signed_reports(session: Session, submission_id: int) -> bool:
    """One conditional write: True unless the submission is approved (then it is locked). The
    row stays locked until the caller's commit, so an approval cannot slip in between."""
    result = session.execute(
        update(Submission)
        .where(Submission.id == submission_id, Submission.status != SubmissionStatus.APPROVED)
        .values(status=Submission.status)
    )
    return result.rowcount == 1


def signed_reports(session: Session, submission_id: int) -> list[SignedReport]:
    return list(
        session.exec(
            select(SignedReport)
            .where(SignedReport.submission_id == submission_id)
            .order_by(SignedReport.received_at, SignedReport.id)
        )
    )


@dataclass(frozen=True)
class UnitSignedReport:
    unit_code: str
    unit_name: str
    report: SignedReport
    sender: str  # the contact's display name, "" when unknown


def campaign_signed_reports(session: Session, campaign: Campaign) -> list[UnitSignedReport]:
    """Every signed report of the campaign, by unit (in import order), oldest first."""
    rows = session.exec(
        select(Unit.code, Unit.name, SignedReport, Contact.display_name)
        .join(Submission, Submission.id == SignedReport.submission_id)
        .join(Unit, Unit.id == Submission.unit_id)
        .outerjoin(Contact, Contact.id == SignedReport.contact_id)
        .where(Submission.campaign_id == campaign.id)
        .order_by(Unit.id, SignedReport.received_at, SignedReport.id)
    ).all()
    return [
        UnitSignedReport(code, name, report, sender or "") for code, name, report, sender in rows
    ]


def unit_signed_report(
    session: Session, campaign: Campaign, unit_id: int, report_id: int
) -> SignedReport | None:
    """The report `report_id` when it belongs to that unit's submission in the campaign."""
    return session.exec(
        select(SignedReport)
        .join(Submission, Submission.id == SignedReport.submission_id)
        .where(
            SignedReport.id == report_id,
            Submission.campaign_id == campaign.id,
            Submission.unit_id == unit_id,
        )
    ).first()


def unit_signed_reports(
    session: Session, campaign: Campaign, unit_id: int
) -> list[tuple[SignedReport, str]]:
    """(report, sender's name or "") for one unit in the campaign, oldest first."""
    rows = session.exec(
        select(SignedReport, Contact.display_name)
        .join(Submission, Submission.id == SignedReport.submission_id)
        .outerjoin(Contact, Contact.id == SignedReport.contact_id)
        .where(Submission.campaign_id == campaign.id, Submission.unit_id == unit_id)
        .order_by(SignedReport.received_at, SignedReport.id)
    ).all()
    return [(report, sender or "") for report, sender in rows]


def signed_report_path(data_dir: str | os.PathLike, report: SignedReport) -> Path:
    return Path(data_dir) / report.path


def _count(session: Session, submission_id: int) -> int:
    return len(signed_reports(session, submission_id))


def _folder_name(code: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", code).strip("-.") or "unit"


def _move(staged: StagedFile, path: Path) -> None:
    """Rename the staged file into place (same file system: atomic). A retried delivery after
    a failed commit finds the same checksum already there and keeps it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size == staged.size:
        staged.discard()
        return
    os.replace(staged.path, path)
