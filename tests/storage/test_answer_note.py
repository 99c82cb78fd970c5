"""Migration 0004 and the hot path: an answer's note («ghi chú: …») is stored with its history.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL (see tests/conftest.py).
"""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, inspect, text

from storage.database import alembic_config, normalize_url, open_database
from storage.hot_path import load_answers, open_submission, write_answer
from storage.models import AnswerHistory
from storage.repository import current_campaign, unit_by_code


def migrate(url: str, revision: str, down: bool = False) -> None:
    engine = create_engine(normalize_url(url))
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)
    finally:
        engine.dispose()


def test_upgrade_from_0002_adds_the_note_and_keeps_the_answers(database, database_url, clock):
    with database.transaction() as session:
        campaign = current_campaign(session)
        unit = unit_by_code(session, "HU-NP")
        submission = open_submission(session, campaign.id, unit.id)
        write_answer(
            session, submission, key="inspection_teams", value={"value": 4},
            not_applicable=False, raw="4", contact_id=None, channel="console", now=clock(),
            existing=None,
        )  # fmt: skip
    database.dispose()
    migrate(database_url, "0002", down=True)
    engine = create_engine(normalize_url(database_url))
    try:
        assert "note" not in {c["name"] for c in inspect(engine).get_columns("answer")}
    finally:
        engine.dispose()
    migrate(database_url, "head")
    upgraded = open_database(database_url)
    try:
        columns = {c["name"] for c in inspect(upgraded.engine).get_columns("answer_history")}
        assert "note" in columns
        with upgraded.transaction() as session:
            submission = open_submission(session, campaign.id, unit.id)
            rows = load_answers(session, submission.id)
            assert rows["inspection_teams"].value == {"value": 4}
            assert rows["inspection_teams"].note is None
            write_answer(
                session, submission, key="inspection_teams", value={"value": 4},
                not_applicable=False, raw="Ghi chú", contact_id=None, channel="console",
                now=clock(), existing=rows["inspection_teams"], note="số liệu ước tính",
            )  # fmt: skip
        with upgraded.transaction() as session:
            rows = load_answers(session, submission.id)
            assert rows["inspection_teams"].note == "số liệu ước tính"
            notes = session.exec(text("SELECT note FROM answer_history ORDER BY id")).all()
            assert [row[0] for row in notes] == [None, "số liệu ước tính"]
            assert AnswerHistory.__table__.c.note is not None
    finally:
        upgraded.dispose()
