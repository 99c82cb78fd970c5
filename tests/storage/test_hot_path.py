"""The plain-SQL hot path writes what the models read, and reads what the models write.

Run on real SQLite and real PostgreSQL: timestamps come back aware and equal (and SQLite's text
sorts like SQLAlchemy's), JSON and booleans survive, and `unit_of_work` commits or rolls back the
plain SQL and the ORM session together.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select

from conversations.engine import Dialogue
from storage.hot_path import (
    Tx,
    claim_inbound,
    enqueue,
    find_correspondent,
    load_answers,
    load_dialogue,
    note_seen,
    open_submission,
    record_submission,
    save_dialogue,
    write_answer,
)
from storage.models import (
    Answer,
    AnswerHistory,
    Contact,
    ConversationState,
    OutboxMessage,
    ProcessedInbound,
    Submission,
)
from storage.repository import current_campaign, unit_by_code

MOMENT = datetime(2022, 6, 21, 8, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def officer(database, clock):
    with database.transaction() as session:
        unit = unit_by_code(session, "HU-NP")
        contact = Contact(
            channel="telegram",
            external_id="501",
            chat_id="501",
            display_name="Nguyễn Văn A",
            unit_id=unit.id,
            created_at=clock(),
        )
        session.add(contact)
        session.flush()
        return contact.id, unit.id, current_campaign(session).id


def test_rows_written_here_read_back_through_the_models(database, officer):
    contact_id, unit_id, campaign_id = officer
    value = {"value": 45, "total": 50, "items": [{"raw": "12-KH/HU, ngày 05/6/2017"}]}
    with database.unit_of_work() as tx:
        assert claim_inbound(tx, "telegram", "7001", MOMENT)
        submission = open_submission(tx, campaign_id, unit_id)
        stored = write_answer(
            tx,
            submission,
            key="petitions",
            value=value,
            not_applicable=False,
            raw="45/50 đơn",
            contact_id=contact_id,
            channel="telegram",
            now=MOMENT,
            existing=None,
        )
        write_answer(
            tx,
            submission,
            key="meetings",
            value=None,
            not_applicable=True,
            raw="kad",
            contact_id=contact_id,
            channel="telegram",
            now=MOMENT,
            existing=None,
        )
        record_submission(tx, submission, status="submitted", now=MOMENT, submitted_by=contact_id)
        save_dialogue(
            tx,
            None,
            contact_id=contact_id,
            campaign_id=campaign_id,
            submission_id=submission.id,
            dialogue=Dialogue(),
            now=MOMENT,
        )
        queued = enqueue(
            tx, channel="telegram", chat_id="501", payload={"text": "Đã nộp"}, now=MOMENT
        )
    with database.transaction() as session:
        answers = {a.question_key: a for a in session.exec(select(Answer))}
        assert answers["petitions"].value == value == stored.value
        assert answers["petitions"].not_applicable is False
        assert answers["petitions"].updated_at == MOMENT
        assert answers["meetings"].value is None and answers["meetings"].not_applicable is True
        history = session.exec(select(AnswerHistory).order_by(AnswerHistory.id)).all()
        assert [(h.question_key, h.old_value, h.new_value, h.at) for h in history] == [
            ("petitions", None, value, MOMENT),
            ("meetings", None, None, MOMENT),
        ]
        row = session.get(Submission, submission.id)
        assert (row.status, row.submitted_at, row.started_at) == ("submitted", MOMENT, MOMENT)
        assert row.submitted_by == contact_id
        state = session.exec(select(ConversationState)).one()
        assert state.state == Dialogue().to_json() and state.updated_at == MOMENT
        outbox = session.get(OutboxMessage, queued.id)
        assert outbox.payload == {"text": "Đã nộp"}
        assert (outbox.status, outbox.claimed_at, outbox.not_before) == ("sending", MOMENT, MOMENT)
        assert session.exec(select(ProcessedInbound)).one().at == MOMENT


def test_rows_written_by_the_models_read_back_here(database, officer, clock):
    contact_id, unit_id, campaign_id = officer
    with database.transaction() as session:
        submission = Submission(
            campaign_id=campaign_id, unit_id=unit_id, status="in_progress", started_at=MOMENT
        )
        session.add(submission)
        session.flush()
        session.add(
            Answer(
                submission_id=submission.id,
                question_key="petitions",
                value={"value": 3},
                not_applicable=False,
                raw_text="3",
                updated_at=MOMENT,
            )
        )
        session.add(
            ConversationState(
                contact_id=contact_id,
                campaign_id=campaign_id,
                submission_id=submission.id,
                state={"mode": "review"},
                updated_at=MOMENT,
            )
        )
    with database.unit_of_work() as tx:
        sender = find_correspondent(tx, "telegram", "501")
        assert sender.id == contact_id and sender.unit.code == "HU-NP" and sender.active is True
        assert sender.last_seen_at is None
        snapshot = open_submission(tx, campaign_id, unit_id)
        assert (snapshot.status, snapshot.started_at, snapshot.submitted_at) == (
            "in_progress",
            MOMENT,
            None,
        )
        answers = load_answers(tx, snapshot.id)
        assert answers["petitions"] == ({"value": 3}, False, "3", None)
        state_id, dialogue = load_dialogue(tx, contact_id, campaign_id, snapshot.id)
        assert state_id is not None and dialogue.mode == "review"
        note_seen(tx, contact_id, "Nguyễn Văn B", MOMENT)
    with database.unit_of_work() as tx:
        sender = find_correspondent(tx, "telegram", "501")
        assert (sender.last_seen_at, sender.display_name) == (MOMENT, "Nguyễn Văn B")
        assert find_correspondent(tx, "telegram", "999") is None
        assert find_correspondent(tx, "zalo", "501") is None


def test_sqlite_timestamps_are_stored_exactly_as_sqlalchemy_stores_them(sqlite_url, clock):
    """On SQLite timestamps are text, compared as text: both writers must agree to the byte."""
    from storage.database import open_database

    database = open_database(sqlite_url)
    later = MOMENT + timedelta(hours=7)  # also an aware value in another zone
    with database.unit_of_work() as tx:
        claim_inbound(tx, "telegram", "hot", later.astimezone(UTC).astimezone())
    with database.transaction() as session:
        session.add(ProcessedInbound(channel="telegram", inbound_id="orm", at=later))
    with database.transaction() as session:
        stored = dict(session.execute(text("SELECT inbound_id, at FROM processed_inbound")).all())
        assert stored["hot"] == stored["orm"] == "2022-06-21 15:30:15.123456"
    database.dispose()


def test_naive_timestamps_are_refused(database):
    with database.unit_of_work() as tx, pytest.raises(ValueError, match="naive"):
        claim_inbound(tx, "telegram", "1", datetime(2022, 6, 21, 8, 30))


def test_unit_of_work_rolls_back_plain_sql_and_orm_together(database, officer, clock):
    contact_id, _, _ = officer
    with pytest.raises(RuntimeError), database.unit_of_work() as tx:
        claim_inbound(tx, "telegram", "8001", clock())
        contact = tx.session.get(Contact, contact_id)
        contact.display_name = "đổi tên"
        tx.session.add(contact)
        raise RuntimeError("giữa chừng")
    with database.unit_of_work() as tx:
        assert claim_inbound(tx, "telegram", "8001", clock())  # the first claim was undone
        assert find_correspondent(tx, "telegram", "501").display_name == "Nguyễn Văn A"


def test_unit_of_work_commits_the_orm_session_with_the_plain_sql(database, officer, clock):
    contact_id, _, _ = officer
    with database.unit_of_work() as tx:
        claim_inbound(tx, "telegram", "8002", clock())
        contact = tx.session.get(Contact, contact_id)
        contact.display_name = "Trần Thị C"  # flushed by the commit, not here
    with database.transaction() as session:
        assert session.get(Contact, contact_id).display_name == "Trần Thị C"
        assert session.get(ProcessedInbound, ("telegram", "8002")) is not None


def test_a_session_and_its_tx_share_one_transaction(database, clock):
    with pytest.raises(RuntimeError), database.transaction() as session:
        assert Tx.of(session) is Tx.of(session)
        claim_inbound(session, "telegram", "9001", clock())
        raise RuntimeError("hủy")
    with database.transaction() as session:
        assert claim_inbound(session, "telegram", "9001", clock())
        assert not claim_inbound(session, "telegram", "9001", clock())


def test_an_invite_is_used_once_and_links_the_contact(database, clock):
    from storage.hot_path import add_contact, link_contact, usable_invite, use_invite
    from storage.models import Invite
    from storage.repository import create_invite
    from storage.tokens import invite_code_hash

    now = clock()
    with database.transaction() as session:
        unit = unit_by_code(session, "HU-NP")
        code = create_invite(
            session, role="officer", unit=unit, now=now, valid_for=timedelta(days=1)
        ).code
        unit_id = unit.id
    with database.unit_of_work() as tx:
        invite = usable_invite(tx, code.lower(), now)
        assert (invite.role, invite.unit_id, invite.unit_name) == (
            "officer",
            unit_id,
            "Ban Thường vụ Huyện ủy Ninh Phước",
        )
        first = add_contact(
            tx,
            channel="zalo",
            external_id="z1",
            chat_id="z1",
            display_name="Lê Văn D",
            invite_id=invite.id,
            now=now,
        )
        second = add_contact(
            tx,
            channel="telegram",
            external_id="t1",
            chat_id="t1",
            display_name="Lê Văn D",
            invite_id=invite.id,
            now=now,
        )
        assert use_invite(tx, invite.id, first, now) is not None
        assert use_invite(tx, invite.id, second, now) is None  # already used
        link_contact(tx, first, role=invite.role, unit_id=invite.unit_id, chat_id="z1")
        assert usable_invite(tx, code, now) is None
    with database.transaction() as session:
        contact = session.get(Contact, first)
        assert (contact.unit_id, contact.pending_invite_id, contact.role) == (
            unit_id,
            None,
            "officer",
        )
        assert (contact.created_at, contact.active) == (now, True)
        used = session.exec(select(Invite).where(Invite.code_hash == invite_code_hash(code))).one()
        assert (used.used_by, used.used_at) == (first, now)


def test_an_expired_invite_cannot_be_used(database, clock):
    from storage.hot_path import usable_invite, use_invite
    from storage.repository import create_invite

    now = clock()
    with database.transaction() as session:
        invite = create_invite(
            session, role="secretariat", unit=None, now=now, valid_for=timedelta(hours=1)
        )
        invite_id, code = invite.id, invite.code
    later = now + timedelta(hours=1)
    with database.unit_of_work() as tx:
        assert usable_invite(tx, code, later - timedelta(seconds=1)).role == "secretariat"
        assert usable_invite(tx, code, later) is None
        assert use_invite(tx, invite_id, 1, later) is None
