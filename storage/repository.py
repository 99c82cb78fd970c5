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
from functools import lru_cache
from typing import NamedTuple

import yaml
from sqlalchemy import bindparam, func, insert, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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
    """The campaign's form, parsed once per distinct stored text."""
    form = _FORMS.get(campaign.form_yaml)
    if form is None:
        form = parse_form(yaml.safe_load(campaign.form_yaml), source="(biểu mẫu đã lưu)")
        _FORMS[campaign.form_yaml] = form
    return form


_FORMS: dict[str, Form] = {}
_CAMPAIGNS: dict[tuple[str, int, datetime], Campaign] = {}


def list_campaigns(session: Session) -> list[Campaign]:
    return list(session.exec(select(Campaign).order_by(Campaign.deadline.desc(), Campaign.id)))


def current_campaign(session: Session, code: str | None = None) -> Campaign:
    """The campaign named by `code`, or the one with the latest deadline.

    Without a code (every inbound message asks), only the id and version are read; the full
    row is cached per version, detached and read-only.
    """
    if code is None:
        versions = _campaign_versions(session, limit=1)
        if not versions:
            raise StorageError("chưa có đợt báo cáo nào; chạy: baocao campaign load TỆP")
        return _cached_campaign(session, versions[0])
    query = select(Campaign).where(Campaign.code == code)
    if code.isdigit():
        query = select(Campaign).where((Campaign.code == code) | (Campaign.id == int(code)))
    campaign = session.exec(query).first()
    if campaign is None:
        raise StorageError(f"không có đợt báo cáo '{code}'")
    return campaign


def campaign_for_unit(session: Session, unit_code: str, unit_group: str | None) -> Campaign | None:
    """The latest-deadline campaign the unit takes part in; None when it takes part in none."""
    for version in _campaign_versions(session):
        campaign = _cached_campaign(session, version)
        if campaign_spec(campaign).participants.includes(unit_code, unit_group):
            return campaign
    return None


def _campaign_versions(session: Session, limit: int | None = None) -> list:
    """(id, updated_at) of the campaigns, latest deadline first: cheap to read every message."""
    query = select(Campaign.id, Campaign.updated_at).order_by(Campaign.deadline.desc(), Campaign.id)
    return session.exec(query.limit(limit) if limit else query).all()


def _cached_campaign(session: Session, version) -> Campaign:
    """The full campaign row, cached per stored version, detached and read-only."""
    key = (str(session.get_bind().url), *version)
    cached = _CAMPAIGNS.get(key)
    if cached is None:
        cached = _CAMPAIGNS[key] = session.get(Campaign, version[0])
        session.expunge(cached)
    return cached


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
    _CAMPAIGNS.clear()
    session.flush()
    return campaign


def campaign_spec(campaign: Campaign) -> CampaignSpec:
    return _parsed_spec(campaign.spec_yaml)


@lru_cache(maxsize=32)
def _parsed_spec(spec_yaml: str) -> CampaignSpec:
    return CampaignSpec.model_validate(yaml.safe_load(spec_yaml))


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
    """Insert or update units by code (parents first); returns (created, updated).

    Codes match whatever their case ("hu-np" is HU-NP), as `unit_by_code` and the file check do.
    """
    rows = list(rows)
    existing = {u.code.upper(): u for u in session.exec(select(Unit))}
    created = updated = 0
    for row in rows:
        unit = existing.get(row.code.upper())
        if unit is None:
            unit = Unit(code=row.code, name=row.name, level=row.level)
            existing[row.code.upper()] = unit
            created += 1
        else:
            updated += 1
        unit.name, unit.level, unit.group = row.name, row.level, row.group or None
        session.add(unit)
    session.flush()
    for row in rows:
        parent = existing.get(row.parent_code.upper()) if row.parent_code else None
        existing[row.code.upper()].parent_id = parent.id if parent else None
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


class StoredAnswer(NamedTuple):
    """A read-only snapshot of one stored answer (cheaper than an ORM object on the hot path)."""

    value: dict | None
    not_applicable: bool
    raw_text: str | None = None


def load_answers(session: Session, submission_id: int) -> dict[str, StoredAnswer]:
    """The submission's answers by question key."""
    table = Answer.__table__
    columns = (table.c.question_key, table.c.value, table.c.not_applicable, table.c.raw_text)
    rows = session.execute(select(*columns).where(table.c.submission_id == submission_id))
    return {key: StoredAnswer(value, na, raw) for key, value, na, raw in rows}


def engine_answers(rows: dict[str, StoredAnswer]) -> dict[str, EngineAnswer]:
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
    existing: StoredAnswer | None,
) -> StoredAnswer:
    """Store one answer and its history line (who, when, old, new, channel)."""
    session.execute(
        _statements(session)["history"],
        {
            "submission_id": submission.id,
            "question_key": key,
            "old_value": existing.value if existing else None,
            "old_not_applicable": existing.not_applicable if existing else None,
            "new_value": value,
            "new_not_applicable": not_applicable,
            "raw_text": raw,
            "contact_id": contact_id,
            "channel": channel,
            "at": now,
        },
    )
    values = {
        "submission_id": submission.id,
        "question_key": key,
        "value": value,
        "not_applicable": not_applicable,
        "raw_text": raw,
        "updated_at": now,
        "updated_by": contact_id,
        "channel": channel,
    }
    session.execute(_statements(session)["upsert_answer"], values)
    return StoredAnswer(value, not_applicable, raw)


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
    session: Session, contact_id: int, campaign_id: int, submission_id: int
) -> tuple[int | None, Dialogue]:
    """This contact's place in the form (and its row id, None when it has none yet).

    A new contact of the unit starts where the unit is; so does a contact re-linked to another
    unit, since its old place belongs to the old unit's form.
    """
    prepared = _statements(session)
    row = session.execute(
        prepared["contact_state"], {"contact_id": contact_id, "campaign_id": campaign_id}
    ).first()
    if row is not None and row.submission_id == submission_id:
        return row.id, Dialogue.from_json(row.state)
    latest = session.execute(prepared["unit_state"], {"submission_id": submission_id}).first()
    return (row.id if row else None), Dialogue.from_json(latest.state if latest else None)


def save_dialogue(
    session: Session,
    state_id: int | None,
    *,
    contact_id: int,
    campaign_id: int,
    submission_id: int,
    dialogue: Dialogue,
    now: datetime,
) -> None:
    values = {
        "contact_id": contact_id,
        "campaign_id": campaign_id,
        "submission_id": submission_id,
        "state": dialogue.to_json(),
        "updated_at": now,
    }
    if state_id is None:
        session.execute(_statements(session)["insert_state"], values)
    else:
        session.execute(_statements(session)["update_state"], {"state_id": state_id, **values})


class SubmissionSnapshot(NamedTuple):
    id: int
    status: str
    started_at: datetime | None
    submitted_at: datetime | None


def open_submission(session: Session, campaign_id: int, unit_id: int) -> SubmissionSnapshot:
    """The unit's submission, locked until commit (PostgreSQL), created on first use."""
    prepared = _statements(session)
    params = {"campaign_id": campaign_id, "unit_id": unit_id}
    row = session.execute(prepared["lock_submission"], params).first()
    if row is None:
        session.execute(prepared["create_submission"], {**params, "status": "not_started"})
        row = session.execute(prepared["lock_submission"], params).one()
    return SubmissionSnapshot(*row)


def record_submission(
    session: Session,
    submission: SubmissionSnapshot,
    *,
    status: str,
    now: datetime,
    submitted_by: int | None = None,
) -> None:
    """Store the submission's new status and last activity (and who submitted, when)."""
    values = {
        "submission_id": submission.id,
        "status": status,
        "last_activity_at": now,
        "started_at": submission.started_at or (now if status != "not_started" else None),
    }
    if submitted_by is not None:
        values |= {"submitted_at": now, "submitted_by": submitted_by}
        session.execute(_statements(session)["submit"], values)
    else:
        session.execute(_statements(session)["record_activity"], values)


class UnitBrief(NamedTuple):
    code: str
    name: str
    level: str
    group: str | None


def unit_brief(session: Session, unit_id: int) -> UnitBrief:
    """What the hot path needs of a unit, read without building an ORM object."""
    row = session.execute(_statements(session)["unit_brief"], {"unit_id": unit_id}).one()
    return UnitBrief(*row)


# --- prepared statements for the per-message hot path ----------------------------------------

_PREPARED: dict[str, dict] = {}


def _statements(session: Session) -> dict:
    """Insert statements built once per dialect; parameters are bound at execution (cheap)."""
    dialect = session.get_bind().dialect.name
    prepared = _PREPARED.get(dialect)
    if prepared is None:
        insert_into = postgresql_insert if dialect == "postgresql" else sqlite_insert
        states = ConversationState.__table__
        submissions = Submission.__table__
        units = Unit.__table__
        answers = insert_into(Answer.__table__)
        kept = ("submission_id", "question_key", "id")
        outbox = OutboxMessage.__table__
        prepared = _PREPARED[dialect] = {
            "contact_state": select(states.c.id, states.c.state, states.c.submission_id).where(
                states.c.contact_id == bindparam("contact_id"),
                states.c.campaign_id == bindparam("campaign_id"),
            ),
            "unit_state": select(states.c.state)
            .where(states.c.submission_id == bindparam("submission_id"))
            .order_by(states.c.updated_at.desc())
            .limit(1),
            "insert_state": insert(states),
            "update_state": update(states)
            .where(states.c.id == bindparam("state_id"))
            .values(
                submission_id=bindparam("submission_id"),
                state=bindparam("state"),
                updated_at=bindparam("updated_at"),
            ),
            "lock_submission": select(
                submissions.c.id,
                submissions.c.status,
                submissions.c.started_at,
                submissions.c.submitted_at,
            )
            .where(
                submissions.c.campaign_id == bindparam("campaign_id"),
                submissions.c.unit_id == bindparam("unit_id"),
            )
            .with_for_update(),
            "create_submission": insert_into(submissions).on_conflict_do_nothing(),
            "record_activity": update(submissions)
            .where(submissions.c.id == bindparam("submission_id"))
            .values(
                status=bindparam("status"),
                started_at=bindparam("started_at"),
                last_activity_at=bindparam("last_activity_at"),
            ),
            "submit": update(submissions)
            .where(submissions.c.id == bindparam("submission_id"))
            .values(
                status=bindparam("status"),
                started_at=bindparam("started_at"),
                last_activity_at=bindparam("last_activity_at"),
                submitted_at=bindparam("submitted_at"),
                submitted_by=bindparam("submitted_by"),
            ),
            "unit_brief": select(units.c.code, units.c.name, units.c.level, units.c.group).where(
                units.c.id == bindparam("unit_id")
            ),
            # RETURNING, not rowcount: psycopg reports -1 for INSERT … ON CONFLICT DO NOTHING.
            "claim_inbound": insert_into(ProcessedInbound.__table__)
            .on_conflict_do_nothing()
            .returning(ProcessedInbound.__table__.c.inbound_id),
            "upsert_answer": answers.on_conflict_do_update(
                index_elements=["submission_id", "question_key"],
                set_={
                    c.name: answers.excluded[c.name] for c in answers.table.c if c.name not in kept
                },
            ),
            "history": insert(AnswerHistory.__table__),
            "enqueue": insert(outbox).returning(outbox.c.id),
        }
    return prepared


# --- inbound de-duplication and outbox -------------------------------------------------------


def claim_inbound(session: Session, channel: str, inbound_id: str, now: datetime) -> bool:
    """Record an inbound id; False when it was processed before (a replayed delivery)."""
    statement = _statements(session)["claim_inbound"]
    result = session.execute(statement, {"channel": channel, "inbound_id": inbound_id, "at": now})
    return result.first() is not None


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
    values = {
        "channel": channel,
        "chat_id": chat_id,
        "contact_id": contact_id,
        "kind": kind,
        "payload": payload,
        "status": "sending" if claimed else "pending",
        "attempts": 0,
        "claimed_at": now if claimed else None,
        "not_before": now,
        "created_at": now,
    }
    row_id = session.execute(_statements(session)["enqueue"], values).scalar_one()
    return OutboxMessage.model_construct(id=row_id, **values)


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
