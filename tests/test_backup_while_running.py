"""A backup taken while the real `baocao run` (a child process, fake Telegram Bot API) answers
officers, on SQLite and PostgreSQL: the bot keeps answering during the backup, the backup is one
consistent snapshot (every update it holds as processed has its replies and answers in it too),
and it restores into a new SQLite database with exactly the rows its manifest counts.
"""

from __future__ import annotations

import asyncio
import json
import tarfile

import pytest

import bot.cli.commands as cli
from storage.database import open_database
from storage.snapshot import row_counts
from tests.crash_harness import BotProcess, WatchedTelegram, counts, prepare, wait_until

OFFICERS = 20
WAVES = 6


@pytest.fixture
async def tg():
    async with WatchedTelegram() as server:
        yield server


def lines(tar: tarfile.TarFile, table: str) -> list[dict]:
    data = tar.extractfile(f"database/{table}.jsonl").read().decode()
    return [json.loads(line) for line in data.splitlines()]


async def test_a_backup_while_the_bot_answers_is_consistent_and_restores(
    tg, database_url, tmp_path, monkeypatch
):
    users = await asyncio.to_thread(prepare, database_url, OFFICERS)
    bot = BotProcess(database_url, tg.base_url, tmp_path)
    bot.start()
    database = open_database(database_url, upgrade=False)
    archive = tmp_path / "while-running.tar.gz"
    monkeypatch.setenv("BAOCAO_DATABASE_URL", database_url)
    monkeypatch.setenv("BAOCAO_DATA_DIR", str(tmp_path / "data"))
    try:
        await tg.wait_for_calls("getUpdates", 1, timeout=30)
        backup = None
        for wave in range(WAVES):
            for user in users:
                tg.inject_message(user, str(5 + wave))
            if wave == WAVES // 2:  # while this wave is being answered
                backup = asyncio.create_task(asyncio.to_thread(cli.main, ["backup", str(archive)]))
            await asyncio.sleep(0)
        assert await backup == 0
        await wait_until(
            lambda: counts(database)[0] == OFFICERS * WAVES,
            timeout=60,
            what="every answer applied while and after the backup ran",
        )
        assert bot.process.poll() is None, bot.log()
    finally:
        await bot.stop()
        database.dispose()

    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        processed = lines(tar, "processed_inbound")
        outbox = lines(tar, "outbox")
    # One snapshot: each update held as processed has its reply in the same backup.
    replied_chats = {row["chat_id"] for row in outbox}
    assert {str(user) for user in users} >= replied_chats
    assert len(outbox) >= len(processed)
    assert manifest["tables"]["processed_inbound"]["rows"] == len(processed)

    restored_url = f"sqlite:///{tmp_path / 'restored.db'}"
    monkeypatch.setenv("BAOCAO_DATABASE_URL", restored_url)
    monkeypatch.setenv("BAOCAO_DATA_DIR", str(tmp_path / "restored-data"))
    assert cli.main(["restore", str(archive)]) == 0
    restored = open_database(restored_url, upgrade=False)
    try:
        assert row_counts(restored.engine) == {
            name: entry["rows"] for name, entry in manifest["tables"].items()
        }
    finally:
        restored.dispose()
