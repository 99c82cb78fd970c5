"""Queries and writes through the models: campaigns, units, invites, submissions and downloads,
for the CLI, the exports, the reminders and the service's rarer paths (the per-message path is
`storage.hot_path`).

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

import yaml
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from conversations.campaigns import (
    BUNDLED_CAMPAIGN,
    BUNDLED_UNITS,
    CampaignSpec,
    LoadedCampaign,
    Participants,
    load_campaign,
)
from conversations.errors import DomainError, ErrorKind
from conversations.forms import Form, parse_form
from conversations.statuses import CampaignState, ContactRole
from storage.hot_path import Tx, campaign_versions
from storage.models import (
    Answer,
    Campaign,
    Contact,
    DownloadToken,
    Invite,
    Submission,
    Unit,
)
from storage.tokens import invite_code_hash

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed on Zalo
INVITE_LENGTH = 8


class StorageError(DomainError):
    """A request the data cannot satisfy, with a one-line Vietnamese reason (a `DomainError`, so
    each surface maps it by its kind like any other refusal)."""


# --- campaigns ---------------------------------------------------------------------------


def campaign_form(campaign: Campaign) -> Form:
    """The campaign's form, parsed once per distinct stored text."""
    form = _FORMS.get(campaign.form_yaml)
    if form is None:
        form = parse_form(yaml.safe_load(campaign.form_yaml), source="(biểu mẫu đã lưu)")
        _FORMS[campaign.form_yaml] = form
    return form


_FORMS: dict[str, Form] = {}
_CAMPAIGNS: dict[tuple, Campaign] = {}


def list_campaigns(session: Session) -> list[Campaign]:
    return list(session.exec(select(Campaign).order_by(Campaign.deadline.desc(), Campaign.id)))


class SeveralOpen(StorageError):
    """No campaign was named and several are open: the caller must say which (`codes`)."""

    def __init__(self, codes: list[str]) -> None:
        self.codes = codes
        super().__init__("đang mở nhiều đợt báo cáo (" + ", ".join(codes) + "); cần chọn một đợt")


def campaign_by_code(session: Session, code: str) -> Campaign:
    """The campaign with this code (any state: a closed one is still exported)."""
    campaign = session.exec(select(Campaign).where(Campaign.code == code.strip())).first()
    if campaign is None:
        raise StorageError(f"không có đợt báo cáo '{code.strip()}'", ErrorKind.NOT_FOUND)
    return campaign


def campaign_by_id(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise StorageError(f"không có đợt báo cáo số {campaign_id}", ErrorKind.NOT_FOUND)
    return campaign


def known_campaigns(db: Session | Tx) -> list[Campaign]:
    """Every campaign, latest deadline first, as `list_campaigns` orders them (cached rows,
    detached and read-only): for a page header that lists them on every request."""
    return [_cached_campaign(db, version) for version in campaign_versions(db)]


def open_campaigns(db: Session | Tx) -> list[Campaign]:
    """The open campaigns, latest deadline first (cached rows, detached and read-only)."""
    return [
        _cached_campaign(db, version)
        for version in campaign_versions(db)
        if version[2] == CampaignState.OPEN
    ]


def current_campaign(session: Session, code: str | None = None) -> Campaign:
    """The campaign named by `code`; without one, the only open campaign.

    Several open: `SeveralOpen` (each surface asks which, in its own words). None open: the
    latest-deadline campaign of any state, so that a closed round can still be exported.
    Without a code, only ids, versions and states are read; the full row is cached per version.
    """
    if code:
        return campaign_by_code(session, code)
    versions = campaign_versions(session)
    opened = [version for version in versions if version[2] == CampaignState.OPEN]
    if len(opened) > 1:
        raise SeveralOpen([_cached_campaign(session, version).code for version in opened])
    chosen = opened or versions[:1]
    if not chosen:
        raise StorageError(
            "chưa có đợt báo cáo nào; chạy: baocao campaign load TỆP", ErrorKind.NOT_FOUND
        )
    return _cached_campaign(session, chosen[0])


def unit_campaigns(
    db: Session | Tx, unit_code: str, unit_group: str | None, unit_level: str | None = None
) -> tuple[list[Campaign], Campaign | None]:
    """The open campaigns the unit takes part in (latest deadline first), and the latest closed
    one it took part in (None if none): drafts and archived campaigns are not the officer's."""
    opened: list[Campaign] = []
    closed: Campaign | None = None
    for version in campaign_versions(db):
        if version[2] not in (CampaignState.OPEN, CampaignState.CLOSED):
            continue
        if version[2] == CampaignState.CLOSED and closed is not None:
            continue
        campaign = _cached_campaign(db, version)
        if campaign_spec(campaign).participants.includes(unit_code, unit_group, unit_level):
            if version[2] == CampaignState.OPEN:
                opened.append(campaign)
            else:
                closed = campaign
    return opened, closed


def campaign_for_unit(
    db: Session | Tx, unit_code: str, unit_group: str | None, unit_level: str | None = None
) -> Campaign | None:
    """The latest-deadline open campaign the unit takes part in; None when it takes part in none
    (a draft is not reachable yet, a closed or archived campaign no longer takes answers)."""
    opened, _ = unit_campaigns(db, unit_code, unit_group, unit_level)
    return opened[0] if opened else None


def _cached_campaign(db: Session | Tx, version) -> Campaign:
    """The full campaign row, cached per stored version, detached and read-only."""
    tx = Tx.of(db)
    key = (tx.connection.engine.url, *version)
    cached = _CAMPAIGNS.get(key)
    if cached is None:
        cached = _CAMPAIGNS[key] = tx.session.get(Campaign, version[0])
        tx.session.expunge(cached)
    return cached


def save_campaign(session: Session, loaded: LoadedCampaign, now: datetime) -> Campaign:
    """Create or update a campaign from its file; refuse a form that would orphan answers and
    participants (groups, units) that no stored unit matches: such a campaign would reach nobody."""
    spec = loaded.spec
    unknown = unknown_participants(session, spec.participants)
    if unknown:
        raise StorageError(
            "đợt báo cáo nêu " + "; ".join(unknown) + " — chưa có trong danh sách đơn vị "
            "(nhập danh sách trước: baocao units import TỆP, hoặc sửa tệp đợt báo cáo)"
        )
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


def unknown_participants(session: Session, participants: Participants) -> list[str]:
    """The groups and unit codes a campaign names that no stored unit has, as phrases."""
    codes = set(session.exec(select(Unit.code)).all())
    groups = set(session.exec(select(Unit.group).where(Unit.group.is_not(None))).all())
    problems = []
    missing_groups = [g for g in participants.groups if g not in groups]
    missing_units = [c for c in participants.units if c not in codes]
    if missing_groups:
        problems.append("nhóm " + ", ".join(missing_groups))
    if missing_units:
        problems.append("đơn vị " + ", ".join(missing_units))
    return problems


def campaign_spec(campaign: Campaign) -> CampaignSpec:
    return _parsed_spec(campaign.spec_yaml)


@lru_cache(maxsize=32)
def _parsed_spec(spec_yaml: str) -> CampaignSpec:
    return CampaignSpec.model_validate(yaml.safe_load(spec_yaml))


def seed_if_empty(session: Session, now: datetime) -> bool:
    """On a fresh database, load the bundled CT37 campaign and the units the plan names."""
    if session.exec(select(func.count()).select_from(Campaign)).one():
        return False
    if not session.exec(select(func.count()).select_from(Unit)).one():
        with BUNDLED_UNITS.open(encoding="utf-8") as handle:
            replace_units(session, [UnitRow(**row) for row in csv.DictReader(handle)])
    save_campaign(session, load_campaign(BUNDLED_CAMPAIGN), now)
    return True


# --- units ----------------------------------------------------------------------------------


UNIT_DOCUMENT_FIELDS = (
    "superior",
    "heading_name",
    "place",
    "signer_for",
    "signer_title",
    "symbol",
)


@dataclass(frozen=True)
class UnitRow:
    code: str
    name: str
    level: str
    parent_code: str = ""
    group: str = ""
    superior: str = ""
    heading_name: str = ""
    place: str = ""
    signer_for: str = ""
    signer_title: str = ""
    symbol: str = ""


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
        for name in UNIT_DOCUMENT_FIELDS:
            setattr(unit, name, getattr(row, name) or None)
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
        raise StorageError(f"không có đơn vị mã '{code}'", ErrorKind.NOT_FOUND)
    return unit


# --- contacts and invites ------------------------------------------------------------------


def find_contact(session: Session, channel: str, external_id: str) -> Contact | None:
    return session.exec(
        select(Contact).where(Contact.channel == channel, Contact.external_id == external_id)
    ).first()


def secretariat_chat_ids(session: Session, channel: str) -> list[str]:
    """The chats of the secretariat members linked on one channel."""
    rows = session.exec(
        select(Contact.chat_id).where(
            Contact.channel == channel, Contact.role == ContactRole.SECRETARIAT
        )
    )
    return sorted(set(rows))


def question_contexts(session: Session) -> set[str]:
    """The button context of every question of every loaded form («q:<key>»)."""
    return {
        f"q:{question.key}"
        for campaign in list_campaigns(session)
        for question in campaign_form(campaign).questions
    }


def new_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))


@dataclass(frozen=True)
class IssuedInvite:
    """A new invite as made: its code is here, shown once, and never stored (only its hash)."""

    id: int
    code: str
    role: str
    unit_id: int | None
    created_at: datetime
    expires_at: datetime


def create_invite(
    session: Session, *, role: str, unit: Unit | None, now: datetime, valid_for: timedelta
) -> IssuedInvite:
    if role == "officer" and unit is None:
        raise StorageError("mã mời cho cán bộ cần mã đơn vị")
    code = new_invite_code()
    invite = Invite(
        code_hash=invite_code_hash(code),
        role=role,
        unit_id=unit.id if unit else None,
        created_at=now,
        expires_at=now + valid_for,
    )
    session.add(invite)
    session.flush()
    return IssuedInvite(invite.id, code, role, invite.unit_id, now, invite.expires_at)


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
    kind: str = "export",
) -> str:
    """A random single-purpose token for one export or draft; only its hash is stored."""
    token = secrets.token_urlsafe(24)
    session.add(
        DownloadToken(
            token_hash=_token_hash(token),
            campaign_id=campaign_id,
            unit_id=unit_id,
            contact_id=contact_id,
            created_at=now,
            expires_at=now + valid_for,
            kind=kind,
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
