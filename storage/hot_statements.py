"""The hot path's statements, derived from the SQLModel tables: built once as SQLAlchemy Core
statements and compiled once per dialect to the SQL text the driver's cursor runs
(`storage.hot_path`). A schema change is a model and a migration; these follow.

Parameters are named (``:name`` on SQLite, ``%(name)s`` on psycopg); a test checks that every
column a statement touches is one of the tables' own.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Executable, bindparam, case, false, literal_column, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect

from conversations.statuses import SubmissionStatus
from storage.models import (
    Answer,
    AnswerHistory,
    Campaign,
    Contact,
    ConversationState,
    Invite,
    OutboxMessage,
    OutboxStatus,
    ProcessedInbound,
    SignedReport,
    Submission,
    Unit,
    UnitDeadline,
    WebSession,
)


def _binds(**names: str) -> dict[str, object]:
    """column=parameter pairs for `values()`: {"at": bindparam("now")} from at="now"."""
    return {column: bindparam(parameter) for column, parameter in names.items()}


def _same(*columns: str) -> dict[str, object]:
    return {column: bindparam(column) for column in columns}


def build_statements(insert: Callable, *, lock: bool) -> dict[str, Executable]:
    """Every hot statement by name; `insert` is the dialect's (for ON CONFLICT)."""
    inbound = ProcessedInbound.__table__
    contact = Contact.__table__
    unit = Unit.__table__
    campaign = Campaign.__table__
    invite = Invite.__table__
    submission = Submission.__table__
    answer = Answer.__table__
    history = AnswerHistory.__table__
    state = ConversationState.__table__
    outbox = OutboxMessage.__table__
    own_deadline = UnitDeadline.__table__
    signed = SignedReport.__table__
    web_session = WebSession.__table__
    officer = literal_column("'officer'")
    submission_row = select(
        submission.c.id, submission.c.status, submission.c.started_at, submission.c.submitted_at
    ).where(
        submission.c.campaign_id == bindparam("campaign_id"),
        submission.c.unit_id == bindparam("unit_id"),
    )
    return {
        # RETURNING, not rowcount: psycopg reports -1 for INSERT … ON CONFLICT DO NOTHING.
        "claim_inbound": insert(inbound)
        .values(_same("channel", "inbound_id", "at"))
        .on_conflict_do_nothing()
        .returning(inbound.c.inbound_id),
        "sender": select(
            contact.c.id,
            contact.c.role,
            contact.c.unit_id,
            contact.c.pending_invite_id,
            contact.c.last_seen_at,
            contact.c.active,
            contact.c.display_name,
            contact.c.removed_at,
            contact.c.campaign_id,
            unit.c.code,
            unit.c.name,
            unit.c.level,
            unit.c.group,
        )
        .select_from(contact.outerjoin(unit, unit.c.id == contact.c.unit_id))
        .where(
            contact.c.channel == bindparam("channel"),
            contact.c.external_id == bindparam("external_id"),
        ),
        "seen": update(contact)
        .where(contact.c.id == bindparam("contact_id"))
        .values(
            _binds(last_seen_at="now", display_name="name")
            # A removed member stays removed whatever they write; only a new invite links them.
            | {"active": case((contact.c.removed_at.is_(None), bindparam("active")), else_=false())}
        ),
        # The web page's viewer on every request: the session, its contact and scope at once.
        "web_session": select(
            web_session.c.ended_at,
            web_session.c.expires_at,
            contact.c.id,
            contact.c.display_name,
            contact.c.role,
            contact.c.active,
            contact.c.unit_id,
            unit.c.name,
        )
        .select_from(
            web_session.join(contact, contact.c.id == web_session.c.contact_id).outerjoin(
                unit, unit.c.id == contact.c.unit_id
            )
        )
        .where(web_session.c.token_hash == bindparam("token_hash")),
        "campaign_versions": select(
            campaign.c.id, campaign.c.updated_at, campaign.c.state
        ).order_by(campaign.c.deadline.desc(), campaign.c.id),
        "invite": select(
            invite.c.id,
            invite.c.role,
            invite.c.unit_id,
            unit.c.name,
            invite.c.used_at,
            invite.c.expires_at,
        )
        .select_from(invite.outerjoin(unit, unit.c.id == invite.c.unit_id))
        .where(invite.c.code_hash == bindparam("code_hash")),
        "use_invite": update(invite)
        .where(
            invite.c.id == bindparam("invite_id"),
            invite.c.used_at.is_(None),
            invite.c.expires_at > bindparam("now"),
        )
        .values(_binds(used_at="now", used_by="contact_id"))
        .returning(invite.c.id, invite.c.role, invite.c.unit_id),
        "add_contact": insert(contact)
        .values(
            _same("channel", "external_id", "chat_id", "display_name", "active")
            | _binds(pending_invite_id="invite_id", created_at="now", last_seen_at="now")
            | {"role": officer}
        )
        .returning(contact.c.id),
        "choose_campaign": update(contact)
        .where(contact.c.id == bindparam("contact_id"))
        .values(_binds(campaign_id="campaign_id")),
        "pending_invite": update(contact)
        .where(contact.c.id == bindparam("contact_id"))
        .values(_binds(pending_invite_id="invite_id")),
        "link_contact": update(contact)
        .where(contact.c.id == bindparam("contact_id"))
        .values(
            {"pending_invite_id": literal_column("NULL"), "removed_at": literal_column("NULL")}
            | {"active": true()}
            | _same("role", "unit_id", "chat_id")
        ),
        "unit": select(unit.c.code, unit.c.name, unit.c.level, unit.c.group).where(
            unit.c.id == bindparam("unit_id")
        ),
        "submission": submission_row.with_for_update() if lock else submission_row,
        "create_submission": insert(submission)
        .values(
            _same("campaign_id", "unit_id")
            | {"status": literal_column(f"'{SubmissionStatus.NOT_STARTED.value}'")}
        )
        .on_conflict_do_nothing(),
        "answers": select(
            answer.c.question_key,
            answer.c.value,
            answer.c.not_applicable,
            answer.c.raw_text,
            answer.c.note,
        ).where(answer.c.submission_id == bindparam("submission_id")),
        "own_deadline": select(own_deadline.c.deadline).where(
            own_deadline.c.campaign_id == bindparam("campaign_id"),
            own_deadline.c.unit_id == bindparam("unit_id"),
        ),
        "signed_reports": select(signed.c.file_name, signed.c.size)
        .where(signed.c.submission_id == bindparam("submission_id"))
        .order_by(signed.c.received_at, signed.c.id),
        "history": insert(history).values(
            _same(
                "submission_id",
                "question_key",
                "old_value",
                "old_not_applicable",
                "new_value",
                "new_not_applicable",
                "raw_text",
                "note",
                "contact_id",
                "channel",
                "at",
            )
        ),
        "upsert_answer": _upsert_answer(insert, answer),
        "record_activity": update(submission)
        .where(submission.c.id == bindparam("submission_id"))
        .values(_same("status", "started_at", "last_activity_at")),
        "submit": update(submission)
        .where(submission.c.id == bindparam("submission_id"))
        .values(
            _same("status", "started_at", "last_activity_at", "submitted_by")
            | _binds(submitted_at="last_activity_at")
        ),
        "contact_state": select(state.c.id, state.c.state, state.c.submission_id).where(
            state.c.contact_id == bindparam("contact_id"),
            state.c.campaign_id == bindparam("campaign_id"),
        ),
        "unit_state": select(state.c.state)
        .where(state.c.submission_id == bindparam("submission_id"))
        .order_by(state.c.updated_at.desc())
        .limit(literal_column("1"))
        .offset(literal_column("0")),  # SQLite's compiler adds an OFFSET anyway
        "insert_state": insert(state).values(
            _same("contact_id", "campaign_id", "submission_id", "state", "updated_at")
        ),
        "update_state": update(state)
        .where(state.c.id == bindparam("state_id"))
        .values(_same("submission_id", "state", "updated_at")),
        "sent": update(outbox)
        .where(outbox.c.id == bindparam("row_id"))
        .values(
            status=literal_column(f"'{OutboxStatus.SENT.value}'"),
            sent_at=bindparam("now"),
            attempts=outbox.c.attempts + bindparam("tries"),
        ),
        "enqueue": insert(outbox)
        .values(
            _same(
                "channel",
                "chat_id",
                "contact_id",
                "kind",
                "payload",
                "status",
                "claimed_at",
                "claimed_by",
                "not_before",
                "created_at",
            )
            | {"attempts": literal_column("0")}
        )
        .returning(outbox.c.id),
    }


def _upsert_answer(insert: Callable, answer) -> Executable:
    statement = insert(answer).values(
        _same(
            "submission_id",
            "question_key",
            "value",
            "not_applicable",
            "raw_text",
            "note",
            "updated_at",
            "updated_by",
            "channel",
        )
    )
    changed = ("value", "not_applicable", "raw_text", "note", "updated_at", "updated_by", "channel")
    return statement.on_conflict_do_update(
        index_elements=[answer.c.submission_id, answer.c.question_key],
        set_={name: statement.excluded[name] for name in changed},
    )


def compile_all(statements: dict[str, Executable], dialect: Dialect) -> dict[str, str]:
    return {name: str(statement.compile(dialect=dialect)) for name, statement in statements.items()}


SQLITE_STATEMENTS = build_statements(sqlite_insert, lock=False)
POSTGRESQL_STATEMENTS = build_statements(postgresql_insert, lock=True)
SQLITE_SQL = compile_all(SQLITE_STATEMENTS, sqlite.dialect(paramstyle="named"))
POSTGRESQL_SQL = compile_all(POSTGRESQL_STATEMENTS, postgresql.psycopg.dialect())
