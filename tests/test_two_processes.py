"""Two `baocao run` processes behind one webhook address, on one PostgreSQL database (how the
README suggests growing): both apply updates and send replies; an update Telegram delivers to
both is applied once; no reply is sent twice; a reminder slot due when both start is sent once."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter

import aiohttp
import pytest

from bot.channels.telegram import SECRET_HEADER
from bot.channels.telegram_wire import WEBHOOK_PATH
from storage.database import open_database
from tests.crash_harness import (
    WEBHOOK_SECRET,
    BotProcess,
    WatchedTelegram,
    check,
    counts,
    prepare,
    wait_until,
)

OFFICERS = 20
ROUNDS = 3
REMINDER = "Nhắc hạn nộp báo cáo"


@pytest.fixture
async def tg():
    async with WatchedTelegram() as server:
        yield server


def _update(update_id: int, user_id: int, text: str) -> dict:
    person = {"id": user_id, "is_bot": False, "first_name": "Cán bộ"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Cán bộ"},
            "from": person,
            "text": text,
        },
    }


async def _post(session: aiohttp.ClientSession, port: int, update: dict) -> int:
    """Deliver as Telegram does: an answer other than 200 means "try again" (a few times)."""
    url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    for _ in range(5):
        headers = {SECRET_HEADER: WEBHOOK_SECRET}
        async with session.post(url, json=update, headers=headers) as answer:
            if answer.status == 200:
                return 200
    return answer.status


async def _listening(session: aiohttp.ClientSession, process: BotProcess) -> None:
    """Wait until the process answers on its port (it sets its webhook before listening)."""
    async with asyncio.timeout(30):
        while True:
            assert process.process.poll() is None, process.log()
            try:
                async with session.get(f"http://127.0.0.1:{process.port}/healthz") as _:
                    return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)


async def test_two_processes_share_the_work_and_never_double_it(tg, postgres_url, tmp_path):
    users = await asyncio.to_thread(prepare, postgres_url, OFFICERS, reminder_in=tmp_path)
    processes = [
        BotProcess(postgres_url, tg.base_url, tmp_path, webhook=True, scheduler=True)
        for _ in range(2)
    ]
    database = open_database(postgres_url, upgrade=False)
    try:
        for process in processes:
            process.start()
        async with aiohttp.ClientSession() as session:
            for process in processes:
                await _listening(session, process)
            ports = itertools.cycle([p.port for p in processes])
            update_ids = itertools.count(1)
            posts = []
            for round_number in range(ROUNDS):
                for user in users:
                    update = _update(next(update_ids), user, str(5 + round_number))
                    posts.append(_post(session, next(ports), update))
                    if update["update_id"] % 5 == 0:  # Telegram retried it: both got it
                        posts.append(_post(session, next(ports), update))
            statuses = await asyncio.gather(*posts)
        assert set(statuses) == {200}

        def settled() -> bool:
            applied, rows = counts(database)
            return applied == OFFICERS * ROUNDS and set(rows) == {"sent"}

        await wait_until(settled, timeout=30, what="every update applied and reply sent")
        received = Counter((str(r.chat_id), r.text) for r in tg.replies())
        rows = check(database, updates=OFFICERS * ROUNDS, replies=received)
        assert sum(received.values()) == len(rows)  # no reply sent twice
        assert len({row.claimed_by for row in rows}) == 2  # both processes delivered
        reminders = Counter(r.chat_id for r in tg.replies() if r.text.startswith(REMINDER))
        assert reminders == Counter(users)  # the slot due at start: one reminder per officer
    finally:
        for process in processes:
            await process.stop()
        database.dispose()
    for process in processes:
        assert "Traceback" not in process.log(), process.log()
