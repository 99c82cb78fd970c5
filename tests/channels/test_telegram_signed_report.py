"""The signed report back on Telegram, end to end: the real application downloads what the
officer sends (getFile, then the file itself) from the fake Bot API server, stores it on disk with
its row, confirms name and size, lists it in the review and /status; a file too big, of a refused
type or sent twice is handled as the issue asks.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlmodel import select

from storage.models import SignedReport
from tests.channels.test_telegram_e2e import BOT_USERNAME, TOKEN, Deployment, Person, link_officer
from tests.fakes.telegram_server import FakeTelegramServer

OFFICER = 700_101
PDF = b"%PDF-1.4\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 200 + b"%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


@pytest.fixture
async def tg():
    async with FakeTelegramServer(token=TOKEN, bot_username=BOT_USERNAME) as server:
        yield server


@pytest.fixture
async def deployment(tg, sqlite_url, clock, tmp_path):
    running = Deployment(tg, sqlite_url, clock, {"baocao_data_dir": str(tmp_path / "data")})
    yield running
    await running.stop()


def stored(deployment: Deployment) -> list[SignedReport]:
    return deployment.query(lambda s: list(s.exec(select(SignedReport).order_by(SignedReport.id))))


async def send_document(person: Person, data: bytes, name: str, mime: str, **kw):
    before = len(person.messages())
    person.tg.inject_document(person.user_id, data, name, mime, **kw)
    return (await person._expect(before, 1))[0]


async def test_a_signed_pdf_is_downloaded_stored_once_and_listed(deployment, tg, tmp_path):
    await deployment.start()
    officer = Person(tg, OFFICER)
    await link_officer(officer, deployment)

    reply = await send_document(officer, PDF, "Báo cáo 37 ký số.pdf", "application/pdf")
    assert reply.text.startswith("Đã nhận báo cáo có chữ ký: «Báo cáo 37 ký số.pdf» (7 KB).")
    assert tg.calls["getFile"] == 1 and sum(tg.downloads.values()) == 1
    (row,) = stored(deployment)
    assert (row.file_name, row.content_type, row.size) == (
        "Báo cáo 37 ký số.pdf",
        "application/pdf",
        len(PDF),
    )
    assert row.sha256 == hashlib.sha256(PDF).hexdigest()
    assert row.channel == "telegram" and row.contact_id is not None
    assert (Path(tmp_path / "data") / row.path).read_bytes() == PDF

    # The same file again (a second message): stored once, said so.
    again = await send_document(officer, PDF, "Báo cáo 37 ký số.pdf", "application/pdf")
    assert (
        again.text == "Tệp «Báo cáo 37 ký số.pdf» đã nhận trước đó (cùng nội dung), không lưu thêm."
    )
    assert len(stored(deployment)) == 1

    # The same update delivered twice by Telegram, and once more later: applied and answered once.
    update_id = 9_000
    before = len(officer.messages())
    tg.inject_document(OFFICER, JPEG, "trang1.jpg", "image/jpeg", update_id=update_id)
    tg.inject_document(OFFICER, JPEG, "trang1.jpg", "image/jpeg", update_id=update_id)
    [reply] = await officer._expect(before, 1)
    await deployment.settle()
    tg.inject_document(OFFICER, JPEG, "trang1.jpg", "image/jpeg", update_id=update_id)
    await officer.say("/tiep")  # a marker: the repeat came before it
    await deployment.settle()
    assert reply.text.startswith("Đã nhận báo cáo có chữ ký: «trang1.jpg» (10 KB).")
    assert len(officer.messages()) == before + 2
    assert [r.file_name for r in stored(deployment)] == ["Báo cáo 37 ký số.pdf", "trang1.jpg"]

    review = await officer.say("xem")
    assert (
        "Báo cáo có chữ ký: «Báo cáo 37 ký số.pdf» (7 KB), «trang1.jpg» (10 KB)." in review[0].text
    )
    status = await officer.say("/status")
    assert "Số liệu: chưa bắt đầu · báo cáo: đã gửi 2 tệp." in status[0].text


async def test_too_big_refused_type_and_a_forged_pdf_store_nothing(deployment, tg, tmp_path):
    await deployment.start()
    officer = Person(tg, OFFICER)
    await link_officer(officer, deployment)

    big = await send_document(
        officer, PDF, "bao-cao.pdf", "application/pdf", declared_size=25 * 1024 * 1024
    )
    assert big.text.startswith(
        "Không nhận được tệp «bao-cao.pdf»: tệp nặng 25 MB, quá giới hạn 20 MB."
    )
    assert tg.calls["getFile"] == 0  # not even asked for

    exe = await send_document(officer, b"MZ\x90\x00", "baocao.exe", "application/x-msdownload")
    assert exe.text == (
        "Không nhận được tệp «baocao.exe»: loại tệp này không được nhận. "
        "Chỉ nhận tệp PDF, DOC, DOCX, JPG, JPEG, PNG; tối đa 20 MB."
    )
    forged = await send_document(officer, b"MZ\x90\x00" * 10, "bao-cao.pdf", "application/pdf")
    assert "nội dung không phải tệp .pdf" in forged.text
    assert stored(deployment) == []
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.*"))


async def test_photos_of_the_pages_and_a_tighter_cap_from_settings(deployment, tg, tmp_path):
    deployment.overrides["baocao_upload_max_mb"] = 0.005
    await deployment.start()
    officer = Person(tg, OFFICER)
    await link_officer(officer, deployment)
    before = len(officer.messages())
    tg.inject_photo(OFFICER, JPEG[:4000])
    (reply,) = await officer._expect(before, 1)
    assert reply.text.startswith("Đã nhận báo cáo có chữ ký: «anh-fake-unique-")
    assert stored(deployment)[0].content_type == "image/jpeg"
    too_big = await send_document(officer, PDF, "bao-cao.pdf", "application/pdf")
    assert "quá giới hạn 5 KB" in too_big.text
    assert len(stored(deployment)) == 1
