"""`kill -9` mid-stream with 50 officers, on SQLite and PostgreSQL: the real `baocao run` as a
child process against the fake Telegram server, killed with SIGKILL while officers answer, then
started again. Nothing is lost or applied twice; the first reply after the restart comes within
5 s of its first poll; a reply is sent twice only if it was in flight at the kill (at most one
per chat)."""

from __future__ import annotations

import pytest

from tests.crash_harness import WatchedTelegram, crash_and_restart

OFFICERS = 50
ROUNDS = 4


@pytest.fixture
async def tg():
    async with WatchedTelegram() as server:
        yield server


async def test_kill_9_mid_stream_loses_nothing_and_resends_only_what_was_in_flight(
    tg, database_url, tmp_path
):
    outcome = await crash_and_restart(tg, database_url, tmp_path, officers=OFFICERS, rounds=ROUNDS)
    assert outcome.updates == OFFICERS * ROUNDS  # every answer applied once (none lost)
    assert outcome.silence_after_restart <= 5.0, outcome
    assert outcome.duplicates_per_chat_max <= 1, outcome
    assert outcome.duplicates <= outcome.in_flight_at_kill, outcome
    assert outcome.duplicate_rows_were_in_flight, outcome
    print(outcome)
