"""The Telegram channel's own getUpdates loop, against the fake Bot API over real HTTP.

A failed poll (500, 429, 401) is waited out and polling goes on: every update is handed over
exactly once and answered once. The back-off sleep is injected (`VirtualTime`), so the delays are
asserted without waiting; a stop ends a long poll in progress at once.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import OperationalError

from bot.channels.telegram import BACKOFF_CAP, HELD_BACK_PAUSE, TelegramChannel, backoff
from bot.service import STRANGER_TEXT
from tests.channels.test_telegram_e2e import (  # noqa: F401
    STRANGER,
    TOKEN,
    Deployment,
    Person,
    deployment,
    tg,
)
from tests.fakes.telegram_server import FakeTelegramServer
from tests.fakes.virtual_time import VirtualTime


async def polling(running: Deployment) -> tuple[TelegramChannel, VirtualTime, list[int]]:
    """Start the application; fake the back-off sleep and record every update handed over."""
    channel = await running.start()
    fake_time = VirtualTime()
    channel.sleep = fake_time.sleep
    handed: list[int] = []
    handle = channel._handle

    async def recording(update, **options):
        handed.append(update.update_id)
        return await handle(update, **options)

    channel._handle = recording
    await running.tg.wait_for_calls("getUpdates")  # the first long poll is waiting
    return channel, fake_time, handed


async def chat(server: FakeTelegramServer, texts: list[str]) -> list[int]:
    """The stranger sends each text once the previous one was answered; the update ids."""
    stranger = Person(server, STRANGER)
    ids = []
    for text in texts:
        before = len(stranger.messages())
        ids.append(server.inject_message(STRANGER, text))
        [reply] = await stranger._expect(before, 1)
        assert reply.text == STRANGER_TEXT
    return ids


def test_backoff_doubles_up_to_the_cap():
    assert [backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff(100) == BACKOFF_CAP


async def test_server_errors_back_off_and_nothing_is_lost_or_repeated(deployment, tg, caplog):  # noqa: F811
    caplog.set_level(logging.INFO, logger="bot.channels.telegram")
    _, fake_time, handed = await polling(deployment)
    # Six polls in a row fail; the messages still arrive, each once.
    tg.fail_next("getUpdates", status=500, times=6)
    ids = await chat(tg, ["tin thứ nhất", "tin thứ hai"])
    assert fake_time.slept == [1, 2, 4, 8, 16, 30]
    # A successful poll resets the back-off.
    tg.fail_next("getUpdates", status=502, description="Bad Gateway")
    ids += await chat(tg, ["tin thứ ba", "tin thứ tư"])
    await deployment.settle()

    assert fake_time.slept[6:] == [1]
    assert handed == ids
    assert len(Person(tg, STRANGER).messages()) == 4
    assert "getUpdates lỗi: TelegramServerError" in caplog.text
    assert "getUpdates chạy lại bình thường" in caplog.text
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text


async def test_a_flood_limit_waits_its_retry_after(deployment, tg):  # noqa: F811
    _, fake_time, handed = await polling(deployment)
    tg.fail_next("getUpdates", status=429, retry_after=7)
    ids = await chat(tg, ["tin thứ nhất", "tin thứ hai", "tin thứ ba"])
    await deployment.settle()

    assert fake_time.slept == [7]
    assert handed == ids


async def test_a_rejected_token_is_logged_and_retried_slowly(deployment, tg, caplog):  # noqa: F811
    caplog.set_level(logging.INFO, logger="bot.channels.telegram")
    _, fake_time, handed = await polling(deployment)
    tg.fail_next("getUpdates", status=401, description="Unauthorized", times=2)
    ids = await chat(tg, ["tin thứ nhất", "tin thứ hai"])

    assert fake_time.slept == [BACKOFF_CAP, BACKOFF_CAP]
    assert handed == ids
    [record, _] = [r for r in caplog.records if "401 Unauthorized" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert "TELEGRAM_BOT_TOKEN" in record.getMessage()


async def test_stop_ends_a_long_poll_at_once(deployment, tg):  # noqa: F811
    channel, _, _ = await polling(deployment)
    polls = tg.calls["getUpdates"]
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.wait_for(channel.stop(), timeout=5)

    assert loop.time() - began < 1.0  # the long poll would have waited 10 s
    assert channel._polling.cancelled()
    assert tg.calls["getUpdates"] == polls


def failing_dispatch(channel: TelegramChannel, failures: dict[str, int]):
    """Make the service fail for the given update ids, `n` times each (the database is down)."""
    dispatch = channel.host.dispatch

    async def flaky(inbound):
        left = failures.get(inbound.inbound_id, 0)
        if left:
            failures[inbound.inbound_id] = left - 1
            raise OperationalError("SELECT 1", {}, ConnectionError("không kết nối được"))
        return await dispatch(inbound)

    channel.host.dispatch = flaky


async def test_a_database_outage_loses_no_message(deployment, tg):  # noqa: F811
    channel, fake_time, handed = await polling(deployment)
    stranger = Person(tg, STRANGER)
    failures = {}
    failing_dispatch(channel, failures)
    # The next update (ids are sequential) fails five times, then the database is back.
    first = tg.inject_message(STRANGER, "tin lúc mất kết nối")
    failures[str(first)] = 5
    [reply] = await stranger._expect(0, 1)
    await deployment.settle()

    assert reply.text == STRANGER_TEXT
    assert handed == [first]  # tried again in its task, never dispatched a second time
    # Tried again after 0.5, 1, 2, 4 and 8 s; meanwhile the polls got back only this update
    # (the offset did not confirm it) and waited a second each (the other 1-second sleeps).
    assert [s for s in fake_time.slept if s != HELD_BACK_PAUSE] == [0.5, 2.0, 4.0, 8.0]
    assert fake_time.slept.count(HELD_BACK_PAUSE) >= 2
    # Applied, so confirmed: the next poll moves past it and Telegram forgets it.
    second = tg.inject_message(STRANGER, "tin sau đó")
    await stranger._expect(1, 1)
    await deployment.settle()
    assert handed == [first, second]
    assert tg._deliverable() == []


async def test_updates_not_applied_at_a_stop_come_again_after_the_restart(deployment, tg):  # noqa: F811
    channel, _, handed = await polling(deployment)
    failing_dispatch(channel, failures := {})
    update_id = tg.inject_message(STRANGER, "tin chưa kịp ghi")
    failures[str(update_id)] = 10**6  # the database stays down until the stop
    await tg.wait_for_calls("getUpdates", tg.calls["getUpdates"] + 2)  # taken, and polled again
    await asyncio.wait_for(deployment.stop(), timeout=10)
    assert handed == [update_id]
    assert Person(tg, STRANGER).messages() == []
    assert [q.update["update_id"] for q in tg._deliverable()] == [update_id]  # not confirmed

    await deployment.start()
    [reply] = await Person(tg, STRANGER)._expect(0, 1)
    assert reply.text == STRANGER_TEXT
    await deployment.settle()
    assert tg._deliverable() == []
