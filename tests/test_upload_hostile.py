"""The upload page under attack, through a real HTTP client against the real web server on real
SQLite and PostgreSQL: twenty 19 MB uploads at once stay out of memory (streamed to disk), more
uploads than the slots get a 503 with Retry-After, a refused file leaves the link usable, a NUL
or bidi character in a name is cleaned, the stored type is what the bytes are, and an approved
report takes no more files."""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import update

from bot.app import CHANNEL_TRAITS
from bot.service import Service
from bot.signed_intake import Uploads
from bot.use_cases import Desk
from bot.web.server import build_web_app
from bot.web.upload_page import UploadDeps, add_upload_page
from conversations.uploads import APPROVED_TEXT, BUSY_TEXT, UploadLimits
from storage.hot_path import open_submission
from storage.models import Submission
from storage.repository import current_campaign, unit_by_code
from tests.test_service import link
from tests.test_upload_page import LINK, PDF, get, post_file, rows

MB = 1024 * 1024
BOUNDARY = "hostile-boundary-7MA4YWxkTrZu0gW"


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def zalo_service(database, clock, data_dir) -> Service:
    uploads = Uploads(data_dir, UploadLimits(max_bytes=20 * MB))
    return Service(
        database, clock, CHANNEL_TRAITS, Desk(public_url="http://bot.test"), uploads=uploads
    )


def upload_link(zalo_service, database, clock, who: str = "zu") -> str:
    chat = link(zalo_service, database, clock, who, channel="zalo")
    return LINK.search(chat.say("gửi báo cáo")).group(1)


async def serve(database, clock, zalo_service, slots: int | asyncio.Semaphore):
    web_app = build_web_app(database, clock)
    if isinstance(slots, int):
        slots = asyncio.Semaphore(slots)
    deps = UploadDeps(database, clock, zalo_service.uploads, slots)
    add_upload_page(web_app, deps)
    return TestServer(web_app)


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def streamed_pdf(size: int, started: asyncio.Event | None = None, hold=None):
    """A multipart body of one `size`-byte PDF, made as it is sent (one 64 KB block reused)."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="tep"; '
        f'filename="to.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
    ).encode()
    block = bytes(64 * 1024)
    yield b"%PDF-1.7\n"
    left = size - 9
    if started is not None:
        started.set()
    if hold is not None:
        await hold.wait()
    while left > 0:
        yield block[: min(left, len(block))]
        left -= len(block)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def post_raw(server, path: str, filename: bytes, content_type: str, data: bytes):
    """A multipart body written by hand: the name's bytes go as they are (no client checks)."""
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="tep"; filename="'.encode()
        + filename
        + f'"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    async with aiohttp.ClientSession() as client:
        status, _, text = await post_stream(client, server.make_url(path), body)
    return status, text


async def post_stream(client, url, body):
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    async with client.post(url, data=body, headers=headers) as response:
        return response.status, response.headers.get("Retry-After"), await response.text()


async def test_twenty_19_mb_uploads_at_once_stay_out_of_memory(
    database, clock, zalo_service, data_dir
):
    path = upload_link(zalo_service, database, clock)
    async with await serve(database, clock, zalo_service, slots=20) as server:
        url = server.make_url(path)
        peak = idle = rss_bytes()
        done = asyncio.Event()

        async def watch():
            nonlocal peak
            while not done.is_set():
                peak = max(peak, rss_bytes())
                await asyncio.sleep(0.005)

        watcher = asyncio.create_task(watch())
        async with aiohttp.ClientSession() as client:
            results = await asyncio.gather(
                *(post_stream(client, url, streamed_pdf(19 * MB)) for _ in range(20))
            )
        done.set()
        await watcher
    statuses = sorted(status for status, _, _ in results)
    # One link, one file: the first stored spends it; the others streamed, then found it used.
    assert statuses == [200] + [404] * 19
    assert peak - idle < 150 * MB, f"{(peak - idle) / MB:.0f} MB above idle"
    (row,) = rows(database)
    assert (row.size, row.content_type) == (19 * MB, "application/pdf")
    assert list((data_dir / "tmp").iterdir()) == []  # nothing left half-written


async def test_more_uploads_than_slots_get_503_with_retry_after(database, clock, zalo_service):
    path = upload_link(zalo_service, database, clock)
    slots = asyncio.Semaphore(2)
    async with await serve(database, clock, zalo_service, slots=slots) as server:
        url = server.make_url(path)
        hold = asyncio.Event()
        async with aiohttp.ClientSession() as client:
            slow = [
                asyncio.create_task(post_stream(client, url, streamed_pdf(MB, hold=hold)))
                for _ in range(2)
            ]
            # Wait (on the server's own state) until both uploads hold a slot.
            async with asyncio.timeout(10):
                while not slots.locked():
                    await asyncio.sleep(0.01)
            status, retry_after, text = await post_stream(client, url, streamed_pdf(MB))
            hold.set()
            finished = await asyncio.gather(*slow)
    assert status == 503 and retry_after == "60" and BUSY_TEXT in text
    assert sorted(status for status, _, _ in finished) == [200, 404]


async def test_a_refused_file_leaves_the_link_and_a_nul_or_bidi_name_is_cleaned(
    database, clock, zalo_service, data_dir
):
    path = upload_link(zalo_service, database, clock)
    async with await serve(database, clock, zalo_service, slots=4) as server:
        status, text = await post_file(server, path, b"GIF89a", "anh.png", "image/png")
        assert status == 400 and "nội dung không phải tệp .png" in text
        assert list((data_dir / "tmp").iterdir()) == []  # the refused file is gone
        # A raw NUL byte in the part's header, then bidi and zero-width characters.
        status, text = await post_raw(server, path, b"x\x00y.pdf", "application/pdf", PDF)
        assert status == 400 and "Không đọc được tệp gửi lên" in text and rows(database) == []
        name = "Báo cáo%00\u202egpj\u200b.pdf".encode()
        status, text = await post_raw(server, path, name, "application/pdf; charset=utf-8", PDF)
        assert status == 200, text
        assert "«Báo cáogpj.pdf»" in text
        (row,) = rows(database)
        assert (row.file_name, row.content_type) == ("Báo cáogpj.pdf", "application/pdf")
        status, _, _ = await get(server, path)
        assert status == 404  # spent by the accepted file


async def test_an_approved_report_takes_no_file_on_the_page(database, clock, zalo_service):
    path = upload_link(zalo_service, database, clock)
    with database.transaction() as session:
        campaign = current_campaign(session)
        submission = open_submission(session, campaign.id, unit_by_code(session, "HU-NP").id)
        session.execute(
            update(Submission).where(Submission.id == submission.id).values(status="approved")
        )
    async with await serve(database, clock, zalo_service, slots=4) as server:
        status, _, page = await get(server, path)
        assert status == 409 and APPROVED_TEXT in page.decode()
        assert "type='file'" not in page.decode()
        status, text = await post_file(server, path, PDF, "muon.pdf", "application/pdf")
    assert status == 409 and APPROVED_TEXT in text
    assert rows(database) == []
