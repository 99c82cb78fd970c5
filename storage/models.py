"""The tables: campaigns, units, contacts, invites, submissions, answers and their history,
conversation state, processed inbound ids, inbound updates set aside, wrong invite guesses, the
outbox, the reminder log, download tokens and the signed reports units send back.

Every timestamp is stored as UTC and comes back timezone-aware, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel

from conversations.statuses import SubmissionStatus


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_field(**kwargs: Any) -> Any:
    nullable = kwargs.pop("nullable", True)
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, **kwargs))


def json_field(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=nullable))


def text_field(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(Text, nullable=nullable))


class Campaign(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=40)
    title: str
    issued_by: str = ""
    receiver: str = ""
    form_key: str
    form_yaml: str = text_field(nullable=False)
    spec_yaml: str = text_field(nullable=False)
    deadline: datetime = utc_field(nullable=False)
    timezone: str = "Asia/Ho_Chi_Minh"
    # conversations.statuses.CampaignState: only open campaigns are answered and reminded.
    state: str = Field(default="open", max_length=20)
    created_at: datetime = utc_field(nullable=False)
    updated_at: datetime = utc_field(nullable=False)


class Unit(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=40)
    name: str
    level: str = Field(max_length=20)
    parent_id: int | None = Field(default=None, foreign_key="unit.id")
    group: str | None = Field(default=None, max_length=40)
    # The heading and signer of the unit's printed Phụ lục (optional columns of the unit list).
    superior: str | None = Field(default=None, max_length=200)
    heading_name: str | None = Field(default=None, max_length=200)
    place: str | None = Field(default=None, max_length=100)
    signer_for: str | None = Field(default=None, max_length=100)
    signer_title: str | None = Field(default=None, max_length=100)
    symbol: str | None = Field(default=None, max_length=20)  # ký hiệu: "HU" in "Số …-BC/HU"


class Contact(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("channel", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    external_id: str = Field(max_length=80)
    chat_id: str = Field(max_length=80)
    display_name: str = ""
    role: str = Field(default="officer", max_length=20)  # officer | secretariat
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    active: bool = True
    pending_invite_id: int | None = Field(default=None, foreign_key="invite.id")
    created_at: datetime = utc_field(nullable=False)
    last_seen_at: datetime | None = utc_field()
    # Set when the secretariat removed the member (`baocao members remove`, the Cán bộ page):
    # unlike `active = false` (blocked the bot), writing again does not bring them back; only a
    # new invite does.
    removed_at: datetime | None = utc_field()
    # The campaign an officer chose to fill in while several are open (None: the only open one).
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id")


class Invite(SQLModel, table=True):
    """A single-use invite; only the SHA-256 of its code is kept (the code is shown once)."""

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(index=True, unique=True, max_length=64)
    role: str = Field(default="officer", max_length=20)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    created_at: datetime = utc_field(nullable=False)
    expires_at: datetime = utc_field(nullable=False)
    used_at: datetime | None = utc_field()
    used_by: int | None = None  # contact id (no foreign key: contact also points here)


class Submission(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("campaign_id", "unit_id"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    status: str = Field(default=SubmissionStatus.NOT_STARTED.value, max_length=20)
    started_at: datetime | None = utc_field()
    submitted_at: datetime | None = utc_field()
    submitted_by: int | None = Field(default=None, foreign_key="contact.id")
    returned_at: datetime | None = utc_field()
    return_reason: str | None = None
    last_activity_at: datetime | None = utc_field()


class Answer(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("submission_id", "question_key"),)
    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    question_key: str = Field(max_length=40)
    value: dict | None = json_field()
    not_applicable: bool = False
    raw_text: str | None = text_field()
    note: str | None = text_field()  # the officer's «ghi chú: …» on this answer
    updated_at: datetime = utc_field(nullable=False)
    updated_by: int | None = Field(default=None, foreign_key="contact.id")
    channel: str | None = Field(default=None, max_length=20)


class AnswerHistory(SQLModel, table=True):
    __tablename__ = "answer_history"
    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    question_key: str = Field(max_length=40)
    old_value: dict | None = json_field()
    old_not_applicable: bool | None = None
    new_value: dict | None = json_field()
    new_not_applicable: bool = False
    raw_text: str | None = text_field()
    note: str | None = text_field()  # the answer's note after this change
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    channel: str | None = Field(default=None, max_length=20)
    at: datetime = utc_field(nullable=False)


class ConversationState(SQLModel, table=True):
    __tablename__ = "conversation_state"
    __table_args__ = (UniqueConstraint("contact_id", "campaign_id"),)
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id")
    campaign_id: int = Field(foreign_key="campaign.id")
    submission_id: int = Field(foreign_key="submission.id", index=True)
    state: dict | None = json_field()
    updated_at: datetime = utc_field(nullable=False)


class ProcessedInbound(SQLModel, table=True):
    __tablename__ = "processed_inbound"
    channel: str = Field(primary_key=True, max_length=20)
    inbound_id: str = Field(primary_key=True, max_length=80)
    at: datetime = utc_field(nullable=False)


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting to be claimed
    SENDING = "sending"  # claimed by a process at claimed_at
    SENT = "sent"
    FAILED = "failed"  # given up


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "channel", "status", "not_before"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    chat_id: str = Field(max_length=80)
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    kind: str = Field(default="reply", max_length=20)
    payload: dict | None = json_field(nullable=False)
    # pending: waiting; sending: claimed by process `claimed_by`, whose lease was last renewed
    # at claimed_at; sent; failed (given up, until re-queued by `baocao outbox retry`)
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    claimed_at: datetime | None = utc_field()
    claimed_by: str | None = Field(default=None, max_length=40)
    not_before: datetime = utc_field(nullable=False)
    created_at: datetime = utc_field(nullable=False)
    sent_at: datetime | None = utc_field()
    error: str | None = None


class ReminderLog(SQLModel, table=True):
    __tablename__ = "reminder_log"
    __table_args__ = (UniqueConstraint("campaign_id", "contact_id", "slot"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id")
    contact_id: int = Field(foreign_key="contact.id")
    slot: str = Field(max_length=60)
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id")
    status: str = Field(default="queued", max_length=20)  # queued | skipped
    at: datetime = utc_field(nullable=False)


class DownloadToken(SQLModel, table=True):
    __tablename__ = "download_token"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    campaign_id: int = Field(foreign_key="campaign.id")
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    created_at: datetime = utc_field(nullable=False)
    expires_at: datetime = utc_field(nullable=False)
    kind: str = Field(default="export", max_length=20)  # export | report (draft) | upload
    used_at: datetime | None = utc_field()  # an upload link works once


class SetAsideInbound(SQLModel, table=True):
    """An inbound update the service kept failing on, kept so that it can be replayed."""

    __tablename__ = "set_aside_inbound"
    __table_args__ = (UniqueConstraint("channel", "inbound_id"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    inbound_id: str = Field(max_length=80)
    chat_id: str = Field(max_length=80)
    payload: dict | None = json_field(nullable=False)  # the platform's JSON, as received
    inbound: dict | None = json_field(nullable=False)  # the `Inbound` the service was given
    error_type: str = Field(max_length=120)
    error: str = text_field(nullable=False)
    attempts: int = 0
    set_aside_at: datetime = utc_field(nullable=False)
    last_failed_at: datetime = utc_field(nullable=False)


class AlertLog(SQLModel, table=True):
    """When the secretariat was last told about something (one row per kind of alert), so
    that several processes agree on «at most once an hour»."""

    __tablename__ = "alert_log"
    kind: str = Field(primary_key=True, max_length=40)
    notified_at: datetime = utc_field(nullable=False)


class InviteGuesses(SQLModel, table=True):
    """Wrong invite codes typed in one chat: counted in a window, then a cool-down."""

    __tablename__ = "invite_guesses"
    channel: str = Field(primary_key=True, max_length=20)
    chat_id: str = Field(primary_key=True, max_length=80)
    misses: int = 0
    window_started_at: datetime = utc_field(nullable=False)
    refused_until: datetime | None = utc_field()


class SignedReport(SQLModel, table=True):
    """A signed report a unit sent back: the file is on disk (named by its checksum under the
    data folder), the row says what it is, who sent it and when."""

    __tablename__ = "signed_report"
    __table_args__ = (UniqueConstraint("submission_id", "sha256"),)
    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    file_name: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    path: str = Field(max_length=300)  # relative to the data folder
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    channel: str = Field(max_length=20)
    received_at: datetime = utc_field(nullable=False)


class WebSignIn(SQLModel, table=True):
    """A single-use sign-in link for the web page (only the token's hash is kept)."""

    __tablename__ = "web_sign_in"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    contact_id: int = Field(foreign_key="contact.id")
    created_at: datetime = utc_field(nullable=False)
    expires_at: datetime = utc_field(nullable=False)
    used_at: datetime | None = utc_field()


class WebSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds the token, the table only its hash."""

    __tablename__ = "web_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    contact_id: int = Field(foreign_key="contact.id")
    created_at: datetime = utc_field(nullable=False)
    expires_at: datetime = utc_field(nullable=False)
    ended_at: datetime | None = utc_field()


class StaffAction(SQLModel, table=True):
    """One staff action (approve, return, extend, remind, invite, sign-in link) and its surface."""

    __tablename__ = "staff_action"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_field(nullable=False, index=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    actor: str = Field(default="", max_length=120)
    surface: str = Field(max_length=10)  # chat | cli | web
    action: str = Field(max_length=20)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    detail: str | None = text_field()


class UnitDeadline(SQLModel, table=True):
    """A unit's own deadline in a campaign (Gia hạn), later than the campaign's."""

    __tablename__ = "unit_deadline"
    __table_args__ = (UniqueConstraint("campaign_id", "unit_id"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id")
    unit_id: int = Field(foreign_key="unit.id")
    deadline: datetime = utc_field(nullable=False)
    set_at: datetime = utc_field(nullable=False)
