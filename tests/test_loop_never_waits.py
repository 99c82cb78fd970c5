"""The event loop never waits on a SQLite lock (issue #18): while another connection holds the
write lock for 5 s (the reminder thread, a command), the real application keeps answering
`/healthz` and keeps taking Telegram updates; the update that arrived meanwhile is applied once
the lock is released, and not before.

This test measures wall time with generous bounds: 1 s for an answer the loop gives in
milliseconds, against the 30 s a blocked loop would take (SQLite's busy timeout).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time

import aiohttp
import pytest
from sqlmodel import func, select

from storage.models import ProcessedInbound
from tests.channels.test_telegram_e2e import BOT_USERNAME, TOKEN, Deployment, Person, free_port
from tests.fakes.telegram_server import FakeTelegramServer

HOLD = 5.0
STRANGER = 700_777


@pytest.fixture
async def tg():
    async with FakeTelegramServer(token=TOKEN, bot_username=BOT_USERNAME) as server:
        yield server


def processed(deployment: Deployment) -> int:
    return deployment.query(
        lambda session: session.exec(select(func.count()).select_from(ProcessedInbound)).one()
    )


async def test_healthz_and_updates_go_on_while_another_connection_holds_the_lock(
    tg, tmp_path, clock, caplog
):
    path = tmp_path / "baocao.db"
    port = free_port()
    deployment = Deployment(tg, f"sqlite:///{path}", clock, {"baocao_http_port": port})
    await deployment.start()
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        stranger = Person(tg, STRANGER)
        await stranger.say("xin chào")  # everything works before the lock is taken
        before, applied = len(stranger.messages()), processed(deployment)

        holder.execute("BEGIN IMMEDIATE")  # the write lock, as the reminder thread takes it
        held_at = time.monotonic()
        tg.inject_message(STRANGER, "chào lần nữa")
        slowest = 0.0
        async with aiohttp.ClientSession() as http:
            while time.monotonic() - held_at < HOLD:
                asked = time.monotonic()
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    assert response.status == 200
                    assert await response.json() == {"ok": True}
                slowest = max(slowest, time.monotonic() - asked)
                await asyncio.sleep(0.1)
        assert slowest < 1.0, f"/healthz took {slowest:.2f} s while the lock was held"
        # Taken from the Bot API, but not applied: its transaction waits for the lock.
        assert tg.calls["getUpdates"] >= 2
        assert processed(deployment) == applied
        assert len(stranger.messages()) == before

        holder.execute("ROLLBACK")
        released = time.monotonic()
        await stranger._expect(before, 1, timeout=10)
        assert time.monotonic() - released < 5.0
        assert processed(deployment) == applied + 1
        # It waited in a thread: never failed, retried or set aside meanwhile.
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()
        await deployment.stop()
