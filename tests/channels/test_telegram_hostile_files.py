"""Hostile files on Telegram, end to end against the fake Bot API: a document whose declared size
lies is downloaded only up to the cap, the stored type is what the bytes are (not the sender's
label), a name's bidi and zero-width characters are removed, and an approved report takes no
more signed files."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlmodel import select

from conversations.uploads import APPROVED_TEXT, TELEGRAM_DOWNLOAD_CAP
from storage.hot_path import open_submission
from storage.models import SignedReport, Submission
from storage.repository import current_campaign, unit_by_code
from tests.channels.test_telegram_e2e import (
    BOT_USERNAME,
    TOKEN,
    UNIT,
    Deployment,
    Person,
    link_officer,
)
from tests.channels.test_telegram_signed_report import PDF, send_document, stored
from tests.fakes.telegram_server import FakeTelegramServer

OFFICER = 700_303


@pytest.fixture
async def tg():
    async with FakeTelegramServer(token=TOKEN, bot_username=BOT_USERNAME) as server:
        yield server


@pytest.fixture
async def deployment(tg, database_url, clock, tmp_path):
    running = Deployment(tg, database_url, clock, {"baocao_data_dir": str(tmp_path / "data")})
    yield running
    await running.stop()


async def _officer(deployment, tg) -> Person:
    await deployment.start()
    officer = Person(tg, OFFICER)
    await link_officer(officer, deployment)
    return officer


async def test_a_60_mb_file_declared_as_1_kb_stops_at_the_cap(deployment, tg, tmp_path):
    officer = await _officer(deployment, tg)
    sixty_mb = 60 * 1024 * 1024
    reply = await send_document(
        officer, PDF, "bao-cao.pdf", "application/pdf", declared_size=1024, served_size=sixty_mb
    )
    assert reply.text.startswith("Không nhận được tệp «bao-cao.pdf»: tệp nặng ")
    assert "quá giới hạn 20 MB" in reply.text
    (path,) = tg.served_bytes
    # The download was abandoned just past the cap (socket buffers hold a little more).
    assert TELEGRAM_DOWNLOAD_CAP < tg.served_bytes[path] < TELEGRAM_DOWNLOAD_CAP + 8 * 1024 * 1024
    assert stored(deployment) == []
    assert not list((tmp_path / "data").rglob("*.pdf"))


async def test_the_stored_type_is_what_the_bytes_are_and_the_name_is_cleaned(deployment, tg):
    officer = await _officer(deployment, tg)
    # U+202E would show "báo cáo‮fdp.exe" reversed; U+200B and U+FEFF are invisible.
    name = "Báo\u200b cáo\ufeff \u202ekhẩn\u202c.pdf"
    reply = await send_document(officer, PDF, name, 'application/pdf; charset="x\r\nX-Evil: 1"')
    assert reply.text.startswith("Đã nhận báo cáo có chữ ký: «Báo cáo khẩn.pdf»")
    again = await send_document(officer, PDF + b"\n", "scan.pdf", "application/octet-stream")
    assert again.text.startswith("Đã nhận báo cáo có chữ ký: «scan.pdf»")
    rows = stored(deployment)
    assert [(r.file_name, r.content_type) for r in rows] == [
        ("Báo cáo khẩn.pdf", "application/pdf"),
        ("scan.pdf", "application/pdf"),
    ]


async def test_an_approved_report_takes_no_more_signed_files(deployment, tg):
    officer = await _officer(deployment, tg)

    def approve(session):
        campaign = current_campaign(session)
        submission = open_submission(session, campaign.id, unit_by_code(session, UNIT).id)
        session.execute(
            update(Submission).where(Submission.id == submission.id).values(status="approved")
        )

    deployment.query(approve)
    reply = await send_document(officer, PDF, "muon.pdf", "application/pdf")
    assert reply.text == APPROVED_TEXT
    assert deployment.query(lambda s: list(s.exec(select(SignedReport)))) == []
