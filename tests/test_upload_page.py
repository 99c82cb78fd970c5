"""The Zalo officer's upload page, through a real HTTP client against the real web server on
real SQLite and PostgreSQL: the chat gives a single-use link, the page takes one file (multipart)
with the same checks as Telegram, a refused file leaves the link usable, a used or expired link
is refused, and the draft report's download link serves the .docx.
"""

from __future__ import annotations

import io
import re

import aiohttp
import docx
import pytest
from aiohttp.test_utils import TestServer
from sqlmodel import select

from bot.app import CHANNEL_TRAITS
from bot.attachments import ExportResolver
from bot.service import Service
from bot.signed_intake import Uploads
from bot.use_cases import Desk
from bot.web.server import build_web_app
from bot.web.upload_page import GONE_TEXT, UploadDeps, add_upload_page
from conversations.uploads import UploadLimits
from storage.models import OutboxMessage, SignedReport
from tests.test_service import link

PDF = b"%PDF-1.7\n" + b"x" * 3000 + b"\n%%EOF\n"
LINK = re.compile(r"(/gui-bao-cao/[A-Za-z0-9_-]+)")


@pytest.fixture
def zalo_service(database, clock, tmp_path) -> Service:
    uploads = Uploads(tmp_path / "data", UploadLimits(max_bytes=8 * 1024))
    return Service(
        database, clock, CHANNEL_TRAITS, Desk(public_url="http://bot.test"), uploads=uploads
    )


@pytest.fixture
async def server(database, clock, zalo_service):
    web_app = build_web_app(database, clock)
    add_upload_page(web_app, UploadDeps(database, clock, zalo_service.uploads))
    async with TestServer(web_app) as running:
        yield running


async def post_file(server, path: str, data: bytes, name: str, content_type: str):
    form = aiohttp.FormData()
    form.add_field("tep", data, filename=name, content_type=content_type)
    async with (
        aiohttp.ClientSession() as client,
        client.post(server.make_url(path), data=form) as response,
    ):
        return response.status, await response.text()


async def get(server, path: str):
    async with aiohttp.ClientSession() as client, client.get(server.make_url(path)) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.read()


def rows(database) -> list[SignedReport]:
    with database.transaction() as session:
        return list(session.exec(select(SignedReport)))


async def test_the_link_takes_one_file_once(zalo_service, database, clock, server, tmp_path):
    chat = link(zalo_service, database, clock, "zu", channel="zalo")
    reply = chat.say("gửi báo cáo")
    assert "http://bot.test/gui-bao-cao/" in reply
    assert "dùng được một lần, trong 24 giờ" in reply
    path = LINK.search(reply).group(1)

    status, _, page = await get(server, path)
    assert status == 200
    assert "Ban Thường vụ Huyện ủy Ninh Phước" in page.decode()
    assert "type='file' name='tep'" in page.decode()
    assert (await get(server, path.replace("/gui-bao-cao/", "/tai-ve/")))[0] == 404  # no export

    # Refused (type, size, content): nothing stored, the link still works.
    status, text = await post_file(server, path, b"MZ..", "virus.exe", "application/x-msdownload")
    assert status == 400 and "loại tệp này không được nhận" in text
    status, text = await post_file(server, path, PDF * 3, "to.pdf", "application/pdf")
    assert status == 413 and "quá giới hạn 8 KB" in text
    status, text = await post_file(server, path, b"<html>", "gia.pdf", "application/pdf")
    assert status == 400 and "nội dung không phải tệp .pdf" in text
    assert rows(database) == []

    status, text = await post_file(server, path, PDF, "Báo cáo ký.pdf", "application/pdf")
    assert status == 200
    assert "Đã nhận báo cáo có chữ ký: «Báo cáo ký.pdf» (3 KB)." in text
    (row,) = rows(database)
    assert (row.channel, row.size) == ("zalo", len(PDF))
    with database.transaction() as session:
        queued = session.exec(select(OutboxMessage).where(OutboxMessage.status == "pending")).all()
    assert [(m.channel, m.chat_id) for m in queued] == [("zalo", "chat-zu")]
    assert queued[0].payload["text"].startswith("Đã nhận báo cáo có chữ ký: «Báo cáo ký.pdf»")
    assert (tmp_path / "data" / row.path).read_bytes() == PDF

    # Used: refused, whatever is sent.
    status, text = await post_file(server, path, PDF + b"2", "lan2.pdf", "application/pdf")
    assert status == 404 and GONE_TEXT.split(" (")[0] in text
    assert (await get(server, path))[0] == 404
    assert len(rows(database)) == 1
    assert "báo cáo: đã gửi «Báo cáo ký.pdf» (3 KB)" in chat.say("/status")


async def test_an_expired_link_is_refused(zalo_service, database, clock, server):
    chat = link(zalo_service, database, clock, "zu", channel="zalo")
    path = LINK.search(chat.say("gửi báo cáo")).group(1)
    clock.advance(hours=24, seconds=1)
    assert (await get(server, path))[0] == 404
    status, _ = await post_file(server, path, PDF, "bc.pdf", "application/pdf")
    assert status == 404 and rows(database) == []
    assert (await get(server, "/gui-bao-cao/khong-co"))[0] == 404


async def test_submitting_asks_for_the_signed_report_and_the_draft_link_serves_docx(
    zalo_service, database, clock, server
):
    chat = link(zalo_service, database, clock, "zu", channel="zalo")
    chat.send("nộp")
    done = chat.say("có")
    assert "Báo cáo có chữ ký, đóng dấu (tệp PDF, Word hoặc ảnh chụp các trang) chưa gửi." in done
    assert LINK.search(done)

    draft = chat.send("/baocao")[0]
    assert draft.attachment is not None and draft.attachment.kind == "report"
    # Zalo turns the attachment into a download link through the resolver.
    url = await ExportResolver(database, clock, Desk(public_url="")).as_link(
        draft.attachment, "zalo", "chat-zu"
    )
    status, content_type, body = await get(server, url)
    assert status == 200 and content_type.startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert docx.Document(io.BytesIO(body)).paragraphs
