"""Migration 0008 on SQLite and, with TEST_DATABASE_URL, PostgreSQL: down to 0004 and up again
keeps existing download links (as exports), adds the signed_report table, and the new columns
work (a draft link, a used upload link, a stored signed report).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import create_engine, inspect
from sqlmodel import select

from storage.database import normalize_url, open_database
from storage.hot_path import open_submission
from storage.models import DownloadToken, SignedReport
from storage.repository import create_download_token, current_campaign, unit_by_code
from storage.signed_reports import store_signed_report
from tests.storage.test_answer_note import migrate


def test_down_to_0004_and_up_again(database, database_url, clock, tmp_path):
    with database.transaction() as session:
        campaign = current_campaign(session)
        create_download_token(
            session, campaign_id=campaign.id, unit_id=None, contact_id=None, now=clock(),
            valid_for=timedelta(hours=24),
        )  # fmt: skip
    database.dispose()
    migrate(database_url, "0004", down=True)
    engine = create_engine(normalize_url(database_url))
    try:
        assert "signed_report" not in inspect(engine).get_table_names()
        assert "kind" not in {c["name"] for c in inspect(engine).get_columns("download_token")}
    finally:
        engine.dispose()
    migrate(database_url, "head")
    upgraded = open_database(database_url)
    try:
        with upgraded.transaction() as session:
            (old,) = session.exec(select(DownloadToken)).all()
            assert (old.kind, old.used_at) == ("export", None)
            unit = unit_by_code(session, "HU-NP")
            submission_id = open_submission(session, campaign.id, unit.id).id
            stored = store_signed_report(
                session, tmp_path, submission_id=submission_id, file_name="bc.pdf",
                content_type="application/pdf", data=b"%PDF-1", contact_id=None,
                channel="telegram", now=clock(),
            )  # fmt: skip
            assert not stored.duplicate
        with upgraded.transaction() as session:
            (row,) = session.exec(select(SignedReport)).all()
            assert (row.size, row.received_at) == (6, clock())
    finally:
        upgraded.dispose()
