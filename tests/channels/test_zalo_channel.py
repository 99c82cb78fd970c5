"""Tests of the Zalo channel's transport behaviour: polling that survives errors (with an injected
sleep, so the back-off is checked without waiting), how send errors map to the outbox's
RetryLater / Undeliverable, multi-part messages retried without repeats, the quota surviving a
restart, and a clean start and stop.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import OperationalError

from bot.channels.zalo import BACKOFF_CAP, ZaloChannel, backoff, webhook_url
from bot.channels.zalo_client import ZaloApiError, ZaloBotClient
from bot.dispatch import RETRY_CAP
from bot.messaging import Outbound
from bot.outbox import RetryLater, Undeliverable
from bot.service import STRANGER_TEXT
from storage.quota import usage
from tests.channels.test_zalo_e2e import (
    OFFICER,
    STRANGER,
    TOKEN,
    UNIT,
    make_settings,
    outbox_rows,
    running,
)
from tests.fakes.zalo_server import FakeZaloServer


@pytest.fixture
async def fake():
    async with FakeZaloServer(token=TOKEN) as server:
        yield server


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 32, 60]
    assert backoff(100) == BACKOFF_CAP


def test_webhook_url_is_the_public_root_plus_the_zalo_path(fake, tmp_path) -> None:
    settings = make_settings(fake, tmp_path, baocao_webhook_url="https://bot.example.vn/baocao/")
    assert webhook_url(settings) == "https://bot.example.vn/baocao/zalo/webhook"
    for given in ("https://bot.example.vn/telegram/webhook", "https://bot.example.vn/zalo/webhook"):
        settings = make_settings(fake, tmp_path, baocao_webhook_url=given)
        assert webhook_url(settings) == "https://bot.example.vn/zalo/webhook"


async def test_polling_survives_errors_and_backs_off(fake, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bot.channels.zalo")
    fake.fail_next("getUpdates", error_code=500, description="Internal Server Error", times=3)
    fake.fail_next(
        "getUpdates", error_code=0, description="", http_status=502, raw_body="<html>502</html>"
    )
    fake.fail_next("getUpdates", error_code=400, description=f"bad /bot{TOKEN}/getUpdates")
    fake.fail_next("getUpdates", error_code=401, description="Unauthorized")
    async with running(fake, tmp_path) as run:
        assert await run.say(STRANGER, "Xin chào") == [STRANGER_TEXT]
        assert run.sleeps.delays == [1, 2, 4, 8, 16, 32]
        # A success resets the back-off.
        fake.fail_next("getUpdates", error_code=503, description="Service Unavailable")
        assert await run.say(STRANGER, "Còn đó không?") == [STRANGER_TEXT]
        assert run.sleeps.delays[-1] == 1
        # Junk from the API is skipped, not fatal.
        target = run.channel.handled + 1
        fake.inject_update({"event_name": "message.text.received", "message": "junk"})
        await run.channel.wait_handled(target)
        assert run.channel.stats["ignored"] == 1
        assert await run.say(STRANGER, "Vẫn chạy") == [STRANGER_TEXT]
    assert "getUpdates lỗi 500" in caplog.text
    assert "zalo-secret" not in caplog.text
    assert TOKEN not in caplog.text


async def test_a_database_outage_loses_no_polled_message(fake, tmp_path, caplog) -> None:
    """Zalo hands a polled update out once: it is tried until stored, however long that takes."""
    async with running(fake, tmp_path) as run:
        dispatch = run.channel.host.dispatch
        failures = [OperationalError("SELECT 1", {}, ConnectionError("không kết nối được"))] * 8

        async def flaky(inbound):
            if failures:
                raise failures.pop()
            return await dispatch(inbound)

        run.channel.host.dispatch = flaky
        assert await run.say(STRANGER, "Tin lúc mất kết nối") == [STRANGER_TEXT]
        assert run.sleeps.delays == [0.5, 1, 2, 4, 8, 16, RETRY_CAP, RETRY_CAP]
        assert run.channel.stats["failed"] == 0
        assert run.channel.stats["set_aside"] == 0
    assert "lần 8" in caplog.text


async def test_polling_mode_removes_a_webhook_first(fake, tmp_path) -> None:
    async with ZaloBotClient(TOKEN, base_url=fake.base_url) as other:
        await other.set_webhook("https://old.example.test/zalo/webhook", "old-secret-123")
    fake.inject_text(STRANGER, "Tin gửi khi bot đang tắt")
    async with running(fake, tmp_path) as run:
        await run.channel.wait_handled(1)
        await run.settle()
        assert fake.webhook is None
        assert fake.sent_texts(STRANGER) == [STRANGER_TEXT]


async def test_send_errors_map_to_retry_or_undeliverable(fake, tmp_path) -> None:
    async with running(fake, tmp_path) as run:
        channel = run.channel
        hello = Outbound("Xin chào")
        fake.fail_next("sendMessage", error_code=429, description="Too Many Requests")
        with pytest.raises(RetryLater) as flood:
            await channel.send("chat-1", hello)
        assert flood.value.flood
        for code in (500, 502, 408):
            fake.fail_next("sendMessage", error_code=code, description="oops")
            with pytest.raises(RetryLater) as transient:
                await channel.send("chat-1", hello)
            assert not transient.value.flood
        fake.fail_next("sendMessage", error_code=403, description="Forbidden: user blocked the bot")
        with pytest.raises(Undeliverable) as blocked:
            await channel.send("chat-1", hello)
        assert blocked.value.blocked
        fake.fail_next("sendMessage", error_code=403, description="Forbidden")
        with pytest.raises(Undeliverable) as forbidden:
            await channel.send("chat-1", hello)
        assert not forbidden.value.blocked
        fake.fail_next("sendMessage", error_code=400, description=f"bad /bot{TOKEN}/x")
        with pytest.raises(Undeliverable) as invalid:
            await channel.send("chat-1", hello)
        assert not invalid.value.blocked
        assert "zalo-secret" not in str(invalid.value)
        assert fake.sent() == []
        # Messages the API refused did not count against the quota.
        with run.app.database.transaction() as session:
            assert usage(session, channel="zalo", account="1234", month="2022-06") == 0
        await channel.send("chat-1", hello)
        await channel.send("chat-1", Outbound(""))  # nothing to say: nothing sent
        assert fake.sent_texts("chat-1") == ["Xin chào"]


async def test_a_multi_part_message_retried_does_not_repeat_parts(fake, tmp_path) -> None:
    async with running(fake, tmp_path) as run:
        channel = run.channel
        real = channel.client.send_message
        calls = 0

        async def flaky(chat_id: str, text: str) -> dict:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise ZaloApiError(502, "HTTP 502 Bad Gateway", method="sendMessage")
            return await real(chat_id, text)

        channel.client.send_message = flaky
        long = "\n".join(f"Dòng {n:03d} " + "x" * 90 for n in range(50))
        message = Outbound(long)
        with pytest.raises(RetryLater):
            await channel.send("chat-1", message)
        assert len(fake.sent("chat-1")) == 1
        await channel.send("chat-1", message)
        texts = fake.sent_texts("chat-1")
        assert len(texts) == 3 and all(len(t) <= 2000 for t in texts)
        assert "\n".join(texts) == long


async def test_the_monthly_count_survives_a_restart(fake, tmp_path) -> None:
    async with running(fake, tmp_path, baocao_zalo_monthly_cap=3) as run:
        code = run.invite(UNIT)
        await run.link(OFFICER, code)  # 3 messages: the cap
        with run.app.database.transaction() as session:
            assert usage(session, channel="zalo", account="1234", month="2022-06") == 3
    async with running(fake, tmp_path, baocao_zalo_monthly_cap=3) as run:
        assert await run.say(OFFICER, "xong") == []
        failed = [row for row in outbox_rows(run.app, OFFICER) if row.status == "failed"]
        assert len(failed) == 1 and failed[0].error.startswith("failed: quota")
    assert len(fake.sent(OFFICER)) == 3


async def test_stop_closes_the_http_client_after_the_outbox(fake, tmp_path) -> None:
    async with running(fake, tmp_path) as run:
        assert await run.say(STRANGER, "Xin chào") == [STRANGER_TEXT]
        channel = run.channel
    assert channel.client._session is None  # closed by the web server's cleanup
    assert "zalo-secret" not in repr(channel)


def test_a_channel_needs_a_token(fake, tmp_path) -> None:
    settings = make_settings(fake, tmp_path, zalo_bot_token=None)
    with pytest.raises(ValueError):
        ZaloChannel(settings)
