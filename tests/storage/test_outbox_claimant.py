"""Migration 0006: outbox claims carry the claiming process. A row left "sending" by a process
from before the upgrade (no claimant) is taken over once its lease has run out, and a downgrade
drops the column again.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL (see tests/conftest.py).
"""

from __future__ import annotations

from sqlalchemy import create_engine, inspect

from bot.messaging import Outbound
from bot.outbox import Outbox, Pacer
from storage.database import normalize_url, open_database
from storage.hot_path import enqueue
from storage.models import OutboxMessage
from tests.storage.test_answer_note import migrate


def _columns(url: str) -> set[str]:
    engine = create_engine(normalize_url(url))
    try:
        return {c["name"] for c in inspect(engine).get_columns("outbox")}
    finally:
        engine.dispose()


def test_upgrade_adds_the_claimant_and_old_claims_are_taken_over(database, database_url, clock):
    database.dispose()
    migrate(database_url, "0004", down=True)
    assert "claimed_by" not in _columns(database_url)
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.begin() as connection:  # a row claimed by a process of the old version
            connection.execute(
                OutboxMessage.__table__.insert().values(
                    channel="telegram",
                    chat_id="42",
                    kind="reply",
                    payload=Outbound("từ phiên bản cũ").to_payload(),
                    status="sending",
                    attempts=0,
                    claimed_at=clock(),
                    not_before=clock(),
                    created_at=clock(),
                )
            )
    finally:
        engine.dispose()
    migrate(database_url, "head")
    assert "claimed_by" in _columns(database_url)
    upgraded = open_database(database_url)
    try:
        outbox = Outbox(upgraded, {"telegram": object()}, Pacer(25, 1), clock)
        assert outbox.claim_due() == []  # its lease may still be running
        clock.advance(seconds=16)
        (row,) = outbox.claim_due()
        assert (row.payload["text"], row.claimed_by) == ("từ phiên bản cũ", outbox.claimant)
        with upgraded.transaction() as session:
            enqueue(
                session,
                channel="telegram",
                chat_id="43",
                payload=Outbound("mới").to_payload(),
                now=clock(),
                claimant=outbox.claimant,
            )
    finally:
        upgraded.dispose()
    migrate(database_url, "0004", down=True)
    assert "claimed_by" not in _columns(database_url)
