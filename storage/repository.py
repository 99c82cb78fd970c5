"""Queries and writes used by the service layer, the CLI and the exports.

Plain functions taking a `Session`; the caller owns the transaction. Nothing here commits.
"""

from __future__ import annotations

import csv
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import yaml
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from conversations.campaigns import (
    BUNDLED_CAMPAIGN,
    BUNDLED_UNITS,
    CampaignSpec,
    LoadedCampaign,
    load_campaign,
)
from conversations.engine import Answer as EngineAnswer
from conversations.engine import Dialogue
from conversations.forms import Form, parse_form
from storage.models import (
    Answer,
    AnswerHistory,
    Campaign,
    Contact,
    ConversationState,
    DownloadToken,
    Invite,
    OutboxMessage,
    ProcessedInbound,
    Submission,
    Unit,
)

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed on Zalo
INVITE_LENGTH = 8
STATUSES = ("not_started", "in_progress", "submitted", "returned", "approved")


class StorageError(ValueError):
    """A request the data cannot satisfy, with a one-line Vietnamese reason."""


# --- campaigns ---------------------------------------------------------------------------


def campaign_form(campaign: Campaign) -> Form:
    return _form_cache(campaign.form_yaml)


_FORMS: dict[str, Form] = {}


def _form_cache(form_yaml: str) -> Form:
    form = _FORMS.get(form_yaml)
    if form is None:
        form = parse_form(yaml.safe_load(form_yaml), source="(biểu mẫu đã lưu)")
        _FORMS[form_yaml] = form
    return form


def list_campaigns(session: Session) -> list[Campaign]:
    return list(session.exec(select(Campaign).order_by(Campaign.deadline.desc(), Campaign.id)))


def current_campaign(session: Session, code: str | None = None) -> Campaign:
    """The campaign named by `code`, or the one with the latest deadline."""
    if code is not None:
        query = select(Campaign).where(Campaign.code == code)
        if code.isdigit():
            query = select(Campaign).where((Campaign.code == code) | (Campaign.id == int(code)))
        campaign = session.exec(query).first()
        if campaign is None:
            raise StorageError(f"không có đợt báo cáo '{code}'")
        return campaign
    campaigns = list_campaigns(session)
    if not campaigns:
        raise StorageError("chưa có đợt báo cáo nào; chạy: baocao campaign load TỆP")
    return campaigns[0]


def save_campaign(session: Session, loaded: LoadedCampaign, now: datetime) -> Campaign:
    """Create or update a campaign from its file; refuse a form that would orphan answers."""
    spec = loaded.spec
    campaign = session.exec(select(Campaign).where(Campaign.code == spec.code)).first()
    if campaign is not None:
        keys = {q.key for q in loaded.form.questions}
        answered = session.exec(
            select(Answer.question_key)
            .join(Submission, Submission.id == Answer.submission_id)
            .where(Submission.campaign_id == campaign.id)
            .distinct()
        ).all()
        orphaned = sorted(set(answered) - keys)
        if orphaned:
            raise StorageError(
                "biểu mẫu mới bỏ mất câu đã có trả lời: "
                + ", ".join(orphaned)
                + " — giữ lại các câu này hoặc tạo đợt báo cáo mới (đổi code)"
            )
    else:
        campaign = Campaign(code=spec.code, created_at=now, form_key="", form_yaml="", spec_yaml="")
    campaign.title = spec.title
    campaign.issued_by = spec.issued_by
    campaign.receiver = spec.receiver
    campaign.form_key = loaded.form.key
    campaign.form_yaml = loaded.form_text
    campaign.spec_yaml = loaded.spec_text
    campaign.deadline = spec.deadline
    campaign.timezone = spec.timezone
    campaign.updated_at = now
    session.add(campaign)
    session.flush()
    return campaign


def campaign_spec(campaign: Campaign) -> CampaignSpec:
    return CampaignSpec.model_validate(yaml.safe_load(campaign.spec_yaml))


def seed_if_empty(session: Session, now: datetime) -> bool:
    """On a fresh database, load the bundled CT37 campaign and the units the plan names."""
    if session.exec(select(func.count()).select_from(Campaign)).one():
        return False
    save_campaign(session, load_campaign(BUNDLED_CAMPAIGN), now)
    if not session.exec(select(func.count()).select_from(Unit)).one():
        with BUNDLED_UNITS.open(encoding="utf-8") as handle:
            replace_units(session, [UnitRow(**row) for row in csv.DictReader(handle)])
    return True


# --- units ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitRow:
    code: str
    name: str
    level: str
    parent_code: str = ""
    group: str = ""


def replace_units(session: Session, rows: Iterable[UnitRow]) -> tuple[int, int]:
    """Insert or update units by code (parents first); returns (created, updated)."""
    rows = list(rows)
    existing = {u.code: u for u in session.exec(select(Unit))}
    created = updated = 0
    for row in rows:
        unit = existing.get(row.code)
        if unit is None:
            unit = Unit(code=row.code, name=row.name, level=row.level)
            existing[row.code] = unit
            created += 1
        else:
            updated += 1
        unit.name, unit.level, unit.group = row.name, row.level, row.group or None
        session.add(unit)
    session.flush()
    for row in rows:
        parent = existing.get(row.parent_code) if row.parent_code else None
        existing[row.code].parent_id = parent.id if parent else None
    session.flush()
    return created, updated


def list_units(session: Session) -> list[Unit]:
    return list(session.exec(select(Unit).order_by(Unit.code)))


def unit_by_code(session: Session, code: str) -> Unit:
    unit = session.exec(select(Unit).where(func.upper(Unit.code) == code.strip().upper())).first()
    if unit is None:
        raise StorageError(f"không có đơn vị mã '{code}'")
    return unit


# --- contacts and invites ------------------------------------------------------------------


def find_contact(session: Session, channel: str, external_id: str) -> Contact | None:
    return session.exec(
        select(Contact).where(Contact.channel == channel, Contact.external_id == external_id)
    ).first()


def new_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))


def create_invite(
    session: Session, *, role: str, unit: Unit | None, now: datetime, valid_for: timedelta
) -> Invite:
    if role == "officer" and unit is None:
        raise StorageError("mã mời cho cán bộ cần mã đơn vị")
    invite = Invite(
        code=new_invite_code(),
        role=role,
        unit_id=unit.id if unit else None,
        created_at=now,
        expires_at=now + valid_for,
    )
    session.add(invite)
    session.flush()
    return invite


def usable_invite(session: Session, code: str, now: datetime) -> Invite | None:
    """The invite behind a typed code, if it exists, is unused and has not expired."""
    cleaned = "".join(ch for ch in code.strip().upper() if ch.isalnum())
    if not cleaned or len(cleaned) > 64:
        return None
    invite = session.exec(select(Invite).where(Invite.code == cleaned)).first()
    if invite is None or invite.used_at is not None or invite.expires_at <= now:
        return None
    return invite


# --- submissions and answers ----------------------------------------------------------------


def submission_for(session: Session, campaign: Campaign, unit: Unit, *, lock: bool = False):
    query = select(Submission).where(
        Submission.campaign_id == campaign.id, Submission.unit_id == unit.id
    )
    if lock:
        query = query.with_for_update()
    submission = session.exec(query).first()
    if submission is None:
        submission = Submission(campaign_id=campaign.id, unit_id=unit.id)
        session.add(submission)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            submission = session.exec(query).one()
    return submission


def load_answers(session: Session, submission_id: int) -> dict[str, Answer]:
    rows = session.exec(select(Answer).where(Answer.submission_id == submission_id))
    return {row.question_key: row for row in rows}


def engine_answers(rows: dict[str, Answer]) -> dict[str, EngineAnswer]:
    return {key: EngineAnswer(row.value, row.not_applicable) for key, row in rows.items()}


def write_answer(
    session: Session,
    submission: Submission,
    *,
    key: str,
    value: dict | None,
    not_applicable: bool,
    raw: str,
    contact_id: int | None,
    channel: str,
    now: datetime,
    existing: Answer | None,
) -> Answer:
    """Store one answer and its history line (who, when, old, new, channel)."""
    session.add(
        AnswerHistory(
            submission_id=submission.id,
            question_key=key,
            old_value=existing.value if existing else None,
            old_not_applicable=existing.not_applicable if existing else None,
            new_value=value,
            new_not_applicable=not_applicable,
            raw_text=raw,
            contact_id=contact_id,
            channel=channel,
            at=now,
        )
    )
    answer = existing or Answer(submission_id=submission.id, question_key=key, updated_at=now)
    answer.value = value
    answer.not_applicable = not_applicable
    answer.raw_text = raw
    answer.updated_at = now
    answer.updated_by = contact_id
    answer.channel = channel
    session.add(answer)
    return answer


def return_submission(session: Session, submission: Submission, reason: str, now: datetime):
    """Unlock a submitted report so the unit can correct it."""
    if submission.status not in ("submitted", "approved"):
        raise StorageError("báo cáo chưa nộp nên không cần trả lại")
    submission.status = "returned"
    submission.returned_at = now
    submission.return_reason = reason or None
    session.add(submission)


# --- conversation state ---------------------------------------------------------------------


def load_dialogue(
    session: Session, contact: Contact, campaign: Campaign, submission: Submission, now: datetime
) -> tuple[ConversationState, Dialogue]:
    """This contact's place in the form; a new contact of the unit starts where the unit is."""
    row = session.exec(
        select(ConversationState).where(
            ConversationState.contact_id == contact.id,
            ConversationState.campaign_id == campaign.id,
        )
    ).first()
    if row is not None:
        return row, Dialogue.from_json(row.state)
    latest = session.exec(
        select(ConversationState)
        .where(ConversationState.submission_id == submission.id)
        .order_by(ConversationState.updated_at.desc())
    ).first()
    row = ConversationState(
        contact_id=contact.id,
        campaign_id=campaign.id,
        submission_id=submission.id,
        state=None,
        updated_at=now,
    )
    dialogue = Dialogue.from_json(latest.state) if latest else Dialogue()
    return row, dialogue


# --- inbound de-duplication and outbox -------------------------------------------------------


def claim_inbound(session: Session, channel: str, inbound_id: str, now: datetime) -> bool:
    """Record an inbound id; False when it was processed before (a replayed delivery)."""
    session.add(ProcessedInbound(channel=channel, inbound_id=inbound_id, at=now))
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        return False
    return True


def enqueue(
    session: Session,
    *,
    channel: str,
    chat_id: str,
    payload: dict,
    now: datetime,
    contact_id: int | None = None,
    kind: str = "reply",
    claimed: bool = True,
) -> OutboxMessage:
    """Add a message to the outbox; `claimed` ones are delivered by this process right away."""
    message = OutboxMessage(
        channel=channel,
        chat_id=chat_id,
        contact_id=contact_id,
        kind=kind,
        payload=payload,
        status="sending" if claimed else "pending",
        claimed_at=now if claimed else None,
        not_before=now,
        created_at=now,
    )
    session.add(message)
    session.flush()
    return message


# --- download links -------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_download_token(
    session: Session,
    *,
    campaign_id: int,
    unit_id: int | None,
    contact_id: int | None,
    now: datetime,
    valid_for: timedelta,
) -> str:
    """A random single-purpose token for one export; only its hash is stored."""
    token = secrets.token_urlsafe(24)
    session.add(
        DownloadToken(
            token_hash=_token_hash(token),
            campaign_id=campaign_id,
            unit_id=unit_id,
            contact_id=contact_id,
            created_at=now,
            expires_at=now + valid_for,
        )
    )
    session.flush()
    return token


def find_download(session: Session, token: str, now: datetime) -> DownloadToken | None:
    if not token or len(token) > 100:
        return None
    row = session.exec(
        select(DownloadToken).where(DownloadToken.token_hash == _token_hash(token))
    ).first()
    if row is None or row.expires_at <= now:
        return None
    return row
