"""The per-message reads and writes, run on the DB-API cursor.

Every officer message runs about a dozen statements in one transaction; running them on the
driver's own cursor skips SQLAlchemy's per-execution work. The statements come from the tables
(`storage.hot_statements`); this module runs them and makes the few value conversions the
column types would have made (timestamps, JSON, booleans), so that rows written here and rows
read through the models are the same.

`Tx` is one transaction on one pooled connection (`Database.unit_of_work`). The functions here
accept a `Tx` or an ORM `Session` (whose connection they use), so the rest of the code keeps
calling them with the session it has.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection
from sqlmodel import Session

from conversations.engine import Answer as EngineAnswer
from conversations.engine import Dialogue
from conversations.statuses import SubmissionStatus
from storage.hot_statements import POSTGRESQL_SQL, SQLITE_SQL
from storage.tokens import MAX_CODE_LENGTH, invite_code_hash, normalize_code


class Tx:
    """One transaction: raw SQL on the driver connection, and an ORM session on the same
    connection for the rarer paths (created on first use, flushed before the commit)."""

    __slots__ = ("connection", "is_sqlite", "driver", "_session", "_sql", "_moment")

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.is_sqlite = connection.dialect.name == "sqlite"
        self.driver = connection.connection.driver_connection
        self._session: Session | None = None
        self._sql = SQLITE_SQL if self.is_sqlite else POSTGRESQL_SQL
        self._moment: tuple[datetime, Any] | None = None

    @classmethod
    def of(cls, session_or_tx: Session | Tx) -> Tx:
        """The `Tx` of a session's current transaction (one per session)."""
        if isinstance(session_or_tx, Tx):
            return session_or_tx
        tx = session_or_tx.info.get("tx")
        if tx is None or tx.connection is not session_or_tx.connection():
            tx = session_or_tx.info["tx"] = cls(session_or_tx.connection())
            tx._session = session_or_tx
        return tx

    @property
    def session(self) -> Session:
        if self._session is None:
            # Joins the connection's transaction; committing that stays with `unit_of_work`.
            self._session = Session(
                bind=self.connection,
                expire_on_commit=False,
                join_transaction_mode="rollback_only",
            )
            self._session.info["tx"] = self
        return self._session

    def flush(self) -> None:
        if self._session is not None:
            self._session.flush()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested unit: on an exception its writes (plain and ORM) are undone, the rest kept."""
        self.flush()
        self.driver.execute("SAVEPOINT hot_path")
        try:
            yield
            self.flush()
        except BaseException:
            self.driver.execute("ROLLBACK TO SAVEPOINT hot_path")
            self.driver.execute("RELEASE SAVEPOINT hot_path")
            if self._session is not None:  # its objects may hold undone values
                self._session.close()
                self._session = None
            raise
        self.driver.execute("RELEASE SAVEPOINT hot_path")

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    def run(self, name: str, params: dict[str, Any]):
        """Execute one of the statements below by name; returns the driver's cursor."""
        return self.driver.execute(self._sql[name], params)

    def run_many(self, name: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.driver.cursor().executemany(self._sql[name], rows)

    # Conversions, as SQLAlchemy's types do them (see storage.models).

    def moment(self, value: datetime | None) -> Any:
        """A timestamp parameter: naive-UTC text on SQLite (SQLAlchemy's format), aware on PG."""
        if value is None:
            return None
        cached = self._moment
        if cached is not None and cached[0] is value:
            return cached[1]
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        utc = value.astimezone(UTC)
        stored = utc.replace(tzinfo=None).isoformat(" ", "microseconds") if self.is_sqlite else utc
        self._moment = (value, stored)
        return stored

    def read_moment(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @staticmethod
    def document(value: Any) -> str | None:
        """A JSON parameter (None is SQL NULL, as the models' `none_as_null`)."""
        return None if value is None else json.dumps(value)

    @staticmethod
    def read_document(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


# --- the statements -------------------------------------------------------------------------

# --- who is writing -----------------------------------------------------------------------


class UnitBrief(NamedTuple):
    code: str
    name: str
    level: str
    group: str | None


class Correspondent(NamedTuple):
    """The contact behind an inbound message, with its unit (read in one statement)."""

    id: int
    role: str
    unit_id: int | None
    pending_invite_id: int | None
    last_seen_at: datetime | None
    active: bool
    display_name: str
    unit: UnitBrief | None
    campaign_id: int | None = None  # chosen while several campaigns are open
    removed: bool = False  # removed by the secretariat: a stranger until invited again

    @property
    def stranger(self) -> bool:
        """Removed, or an officer without a unit: only an invite code gets an answer."""
        return self.removed or (self.unit_id is None and self.role == "officer")


def claim_inbound(db: Session | Tx, channel: str, inbound_id: str, now: datetime) -> bool:
    """Record an inbound id; False when it was processed before (a replayed delivery)."""
    tx = Tx.of(db)
    params = {"channel": channel, "inbound_id": inbound_id, "at": tx.moment(now)}
    return tx.run("claim_inbound", params).fetchone() is not None


def find_correspondent(db: Session | Tx, channel: str, external_id: str) -> Correspondent | None:
    tx = Tx.of(db)
    row = tx.run("sender", {"channel": channel, "external_id": external_id}).fetchone()
    if row is None:
        return None
    contact_id, role, unit_id, pending, seen, active, name, removed_at, chosen, *unit = row
    return Correspondent(
        contact_id,
        role,
        unit_id,
        pending,
        tx.read_moment(seen),
        bool(active),
        name,
        UnitBrief(*unit) if unit_id is not None and unit[0] is not None else None,
        campaign_id=chosen,
        removed=removed_at is not None,
    )


def note_seen(db: Session | Tx, contact_id: int, display_name: str, now: datetime) -> None:
    tx = Tx.of(db)
    params = {"contact_id": contact_id, "now": tx.moment(now), "active": True}
    tx.run("seen", params | {"name": display_name})


def unit_brief(db: Session | Tx, unit_id: int) -> UnitBrief:
    return UnitBrief(*Tx.of(db).run("unit", {"unit_id": unit_id}).fetchone())


# --- invites ----------------------------------------------------------------------------------


class InviteBrief(NamedTuple):
    id: int
    role: str
    unit_id: int | None
    unit_name: str | None = None


def usable_invite(db: Session | Tx, code: str, now: datetime) -> InviteBrief | None:
    """The invite behind a typed code, if it exists, is unused and has not expired."""
    cleaned = normalize_code(code)
    if not cleaned or len(cleaned) > MAX_CODE_LENGTH:
        return None
    tx = Tx.of(db)
    row = tx.run("invite", {"code_hash": invite_code_hash(cleaned)}).fetchone()
    if row is None or row[4] is not None or tx.read_moment(row[5]) <= now:
        return None
    return InviteBrief(*row[:4])


def use_invite(db: Session | Tx, invite_id: int, contact_id: int, now: datetime):
    """Mark the invite used by the contact; None when it was used or expired meanwhile."""
    tx = Tx.of(db)
    params = {"invite_id": invite_id, "contact_id": contact_id, "now": tx.moment(now)}
    row = tx.run("use_invite", params).fetchone()
    return InviteBrief(*row) if row is not None else None


def add_contact(
    db: Session | Tx,
    *,
    channel: str,
    external_id: str,
    chat_id: str,
    display_name: str,
    invite_id: int,
    now: datetime,
) -> int:
    """A new contact (an officer until an invite says otherwise) waiting to confirm an invite."""
    tx = Tx.of(db)
    params = {
        "channel": channel,
        "external_id": external_id,
        "chat_id": chat_id,
        "display_name": display_name,
        "active": True,
        "invite_id": invite_id,
        "now": tx.moment(now),
    }
    return tx.run("add_contact", params).fetchone()[0]


def choose_campaign(db: Session | Tx, contact_id: int, campaign_id: int | None) -> None:
    """Remember which open campaign the contact fills in (None: ask again, or the only one)."""
    Tx.of(db).run("choose_campaign", {"contact_id": contact_id, "campaign_id": campaign_id})


def set_pending_invite(db: Session | Tx, contact_id: int, invite_id: int | None) -> None:
    Tx.of(db).run("pending_invite", {"contact_id": contact_id, "invite_id": invite_id})


def link_contact(
    db: Session | Tx, contact_id: int, *, role: str, unit_id: int | None, chat_id: str
) -> None:
    """Give the contact the invite's role and unit (and forget the pending invite); a member
    who was removed or had blocked the bot is active again."""
    params = {"contact_id": contact_id, "role": role, "unit_id": unit_id, "chat_id": chat_id}
    Tx.of(db).run("link_contact", params)


def campaign_versions(db: Session | Tx) -> list[tuple]:
    """(id, updated_at as stored, state) of every campaign, latest deadline first."""
    return Tx.of(db).run("campaign_versions", {}).fetchall()


# --- the unit's submission and answers --------------------------------------------------------


class SubmissionSnapshot(NamedTuple):
    id: int
    status: str
    started_at: datetime | None
    submitted_at: datetime | None


def open_submission(db: Session | Tx, campaign_id: int, unit_id: int) -> SubmissionSnapshot:
    """The unit's submission, locked until commit (PostgreSQL), created on first use."""
    tx = Tx.of(db)
    params = {"campaign_id": campaign_id, "unit_id": unit_id}
    row = tx.run("submission", params).fetchone()
    if row is None:
        tx.run("create_submission", params)
        row = tx.run("submission", params).fetchone()
    row_id, status, started_at, submitted_at = row
    return SubmissionSnapshot(
        row_id, status, tx.read_moment(started_at), tx.read_moment(submitted_at)
    )


def record_submission(
    db: Session | Tx,
    submission: SubmissionSnapshot,
    *,
    status: str,
    now: datetime,
    submitted_by: int | None = None,
) -> None:
    """Store the submission's new status and last activity (and who submitted, when)."""
    tx = Tx.of(db)
    started_at = submission.started_at or (now if status != SubmissionStatus.NOT_STARTED else None)
    params = {
        "submission_id": submission.id,
        "status": status,
        "last_activity_at": tx.moment(now),
        "started_at": tx.moment(started_at),
    }
    if submitted_by is not None:
        tx.run("submit", params | {"submitted_by": submitted_by})
    else:
        tx.run("record_activity", params)


class StoredAnswer(NamedTuple):
    """A read-only snapshot of one stored answer (cheaper than an ORM object on the hot path)."""

    value: dict | None
    not_applicable: bool
    raw_text: str | None = None
    note: str | None = None


def load_answers(db: Session | Tx, submission_id: int) -> dict[str, StoredAnswer]:
    """The submission's answers by question key."""
    tx = Tx.of(db)
    rows = tx.run("answers", {"submission_id": submission_id}).fetchall()
    read = tx.read_document
    return {
        key: StoredAnswer(read(value), bool(na), raw, note) for key, value, na, raw, note in rows
    }


class SignedBrief(NamedTuple):
    file_name: str
    size: int


def own_deadline(db: Session | Tx, campaign_id: int, unit_id: int) -> datetime | None:
    """The unit's own deadline in the campaign (Gia hạn), or None: the campaign's applies."""
    tx = Tx.of(db)
    row = tx.run("own_deadline", {"campaign_id": campaign_id, "unit_id": unit_id}).fetchone()
    return tx.read_moment(row[0]) if row else None


def signed_briefs(db: Session | Tx, submission_id: int) -> list[SignedBrief]:
    """The signed report files the unit sent back for this submission, oldest first."""
    rows = Tx.of(db).run("signed_reports", {"submission_id": submission_id}).fetchall()
    return [SignedBrief(name, size) for name, size in rows]


def engine_answers(rows: dict[str, StoredAnswer]) -> dict[str, EngineAnswer]:
    return {key: EngineAnswer(row.value, row.not_applicable, row.note) for key, row in rows.items()}


def write_answer(
    db: Session | Tx,
    submission: SubmissionSnapshot,
    *,
    key: str,
    value: dict | None,
    not_applicable: bool,
    raw: str,
    contact_id: int | None,
    channel: str,
    now: datetime,
    existing: StoredAnswer | None,
    note: str | None = None,
) -> StoredAnswer:
    """Store one answer and its history line (who, when, old, new, channel)."""
    tx = Tx.of(db)
    at = tx.moment(now)
    document = tx.document(value)
    tx.run(
        "history",
        {
            "submission_id": submission.id,
            "question_key": key,
            "old_value": tx.document(existing.value) if existing else None,
            "old_not_applicable": existing.not_applicable if existing else None,
            "new_value": document,
            "new_not_applicable": not_applicable,
            "raw_text": raw,
            "note": note,
            "contact_id": contact_id,
            "channel": channel,
            "at": at,
        },
    )
    tx.run(
        "upsert_answer",
        {
            "submission_id": submission.id,
            "question_key": key,
            "value": document,
            "not_applicable": not_applicable,
            "raw_text": raw,
            "note": note,
            "updated_at": at,
            "updated_by": contact_id,
            "channel": channel,
        },
    )
    return StoredAnswer(value, not_applicable, raw, note)


# --- conversation state ---------------------------------------------------------------------


def load_dialogue(
    db: Session | Tx, contact_id: int, campaign_id: int, submission_id: int
) -> tuple[int | None, Dialogue]:
    """This contact's place in the form (and its row id, None when it has none yet).

    A new contact of the unit starts where the unit is; so does a contact re-linked to another
    unit, since its old place belongs to the old unit's form.
    """
    tx = Tx.of(db)
    params = {"contact_id": contact_id, "campaign_id": campaign_id}
    row = tx.run("contact_state", params).fetchone()
    if row is not None and row[2] == submission_id:
        return row[0], Dialogue.from_json(tx.read_document(row[1]))
    latest = tx.run("unit_state", {"submission_id": submission_id}).fetchone()
    state = tx.read_document(latest[0]) if latest else None
    return (row[0] if row else None), Dialogue.from_json(state)


def save_dialogue(
    db: Session | Tx,
    state_id: int | None,
    *,
    contact_id: int,
    campaign_id: int,
    submission_id: int,
    dialogue: Dialogue,
    now: datetime,
) -> None:
    tx = Tx.of(db)
    params = {
        "submission_id": submission_id,
        "state": tx.document(dialogue.to_json()),
        "updated_at": tx.moment(now),
    }
    if state_id is None:
        tx.run("insert_state", params | {"contact_id": contact_id, "campaign_id": campaign_id})
    else:
        tx.run("update_state", params | {"state_id": state_id})


# --- the outbox -----------------------------------------------------------------------------


class QueuedMessage(NamedTuple):
    """An outbox row as written (what `bot.outbox.Outbox.submit` needs of it)."""

    id: int
    channel: str
    chat_id: str
    contact_id: int | None
    payload: dict
    status: str


def enqueue(
    db: Session | Tx,
    *,
    channel: str,
    chat_id: str,
    payload: dict,
    now: datetime,
    contact_id: int | None = None,
    kind: str = "reply",
    claimed: bool = True,
    claimant: str | None = None,
) -> QueuedMessage:
    """Add a message to the outbox; `claimed` ones are delivered by this process (`claimant`)
    right away, under a lease starting `now` that the process renews while it lives."""
    tx = Tx.of(db)
    at = tx.moment(now)
    status = "sending" if claimed else "pending"
    params = {
        "channel": channel,
        "chat_id": chat_id,
        "contact_id": contact_id,
        "kind": kind,
        "payload": tx.document(payload),
        "status": status,
        "claimed_at": at if claimed else None,
        "claimed_by": claimant if claimed else None,
        "not_before": at,
        "created_at": at,
    }
    (row_id,) = tx.run("enqueue", params).fetchone()
    return QueuedMessage(row_id, channel, chat_id, contact_id, payload, status)


def mark_sent(db: Session | Tx, sent: list[tuple[int, int]], now: datetime) -> None:
    """Record delivered outbox rows: (row id, sending attempts it took)."""
    tx = Tx.of(db)
    at = tx.moment(now)
    tx.run_many("sent", [{"row_id": row_id, "tries": tries, "now": at} for row_id, tries in sent])
