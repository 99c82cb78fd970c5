"""Replies survive a Bot API outage and a run of 429s: the real `baocao run` parts (channel,
service, outbox) against the fake Telegram server over HTTP, on SQLite and PostgreSQL, with the
outbox on discrete-event virtual time, so 30 s of outage cost no real waiting.

Every reply is delivered, in order per chat, exactly once."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web
from sqlmodel import func, select

from storage.models import OutboxMessage, ProcessedInbound
from tests.channels.test_telegram_e2e import BOT_USERNAME, TOKEN, Deployment, Person, link
from tests.fakes.telegram_server import FakeTelegramServer
from tests.fakes.virtual_time import EventTime

UNITS = ["HU-NP", "HU-NH", "DU-TRIHAI", "TU-PRTC", "DU-VANHAI"]
ANSWERS = ["5", "12", "1.234", "230"]


class FlakyTelegram(FakeTelegramServer):
    """The fake Bot API with an outage of sendMessage in virtual time: first a proxy's HTML 502
    page, then Telegram's own 5xx JSON answers; every accepted send is stamped with the time."""

    def __init__(self, events: EventTime, **kwargs) -> None:
        super().__init__(**kwargs)
        self.events = events
        self.outage: tuple[float, float] = (0.0, 0.0)
        self.delivered_at: list[float] = []

    async def _handle(self, request: web.Request) -> web.Response:
        start, end = self.outage
        sending = request.match_info["method"].lower() == "sendmessage"
        if sending and start <= self.events.now < end:
            if self.events.now < (start + end) / 2:
                return web.Response(status=502, text="<html>502 Bad Gateway</html>")
            return web.json_response(
                {"ok": False, "error_code": 503, "description": "Service Unavailable"}, status=503
            )
        response = await super()._handle(request)
        if sending and response.status == 200:
            self.delivered_at.append(self.events.now)
        return response


@pytest.fixture
def events() -> EventTime:
    return EventTime()


@pytest.fixture
async def tg(events):
    async with FlakyTelegram(events, token=TOKEN, bot_username=BOT_USERNAME) as server:
        yield server


@pytest.fixture
async def deployment(tg, database_url, clock):
    running = Deployment(tg, database_url, clock)
    yield running
    await running.stop()


async def _officers(deployment: Deployment, tg: FlakyTelegram, events: EventTime) -> list[Person]:
    await deployment.start()
    officers = []
    for number, unit in enumerate(UNITS):
        person = Person(tg, 810_000 + number)
        await link(person, deployment.invite(unit_code=unit), deployment)
        officers.append(person)
    await deployment.settle()
    outbox = deployment.channel.host.outbox
    # After the slots booked on the real clock so far, and never back in time: virtual time
    # starts at 1 000 s, while a machine booted a moment ago reads far less on the real clock.
    events.now = max(events.now, time.monotonic()) + 1
    outbox.monotonic, outbox.sleep = events.monotonic, events.sleep
    return officers


async def _answer_all(deployment: Deployment, tg: FlakyTelegram, officers: list[Person]) -> int:
    """Every officer answers ANSWERS; wait (for real) until every update is applied."""
    before = deployment.query(
        lambda s: s.exec(select(func.count()).select_from(ProcessedInbound)).one()
    )
    for answer in ANSWERS:
        for person in officers:
            tg.inject_message(person.user_id, answer)
    expected = before + len(ANSWERS) * len(officers)
    async with asyncio.timeout(10):
        while (
            deployment.query(
                lambda s: s.exec(select(func.count()).select_from(ProcessedInbound)).one()
            )
            < expected
        ):
            await asyncio.sleep(0.01)
    return expected


def _all_sent(deployment: Deployment) -> bool:
    statuses = deployment.query(lambda s: list(s.exec(select(OutboxMessage.status))))
    return set(statuses) == {"sent"}


def _assert_each_reply_once_in_order(deployment: Deployment, tg: FlakyTelegram, officers) -> int:
    rows = deployment.query(
        lambda s: list(s.exec(select(OutboxMessage).order_by(OutboxMessage.id)))
    )
    for person in officers:
        written = [r.payload["text"] for r in rows if r.chat_id == str(person.user_id)]
        received = [m.text for m in person.messages()]
        assert received == written  # every reply, once, in the order written
    return len(rows)


async def test_a_30_second_outage_loses_nothing_and_doubles_nothing(deployment, tg, events):
    officers = await _officers(deployment, tg, events)
    tg.outage = (events.now, events.now + 30)
    await _answer_all(deployment, tg, officers)
    outbox = deployment.channel.host.outbox
    await events.run_until(lambda: _all_sent(deployment) and not outbox._workers)

    _assert_each_reply_once_in_order(deployment, tg, officers)
    assert outbox.stats["failed"] == 0
    after_outage = max(tg.delivered_at) - tg.outage[1]
    # Each chat tried again 1, 2, 4, 8, 16 s after its first failure: the next try after the
    # outage is at most one back-off step (16 s) past its end.
    assert 0 <= after_outage <= 17


@pytest.fixture
def monotonic_from_zero(monkeypatch):
    """The monotonic clock of a machine booted a moment ago: it starts at 0 (before the app is
    built, so every part of it reads the shifted clock)."""
    real = time.monotonic
    start = real()
    monkeypatch.setattr(time, "monotonic", lambda: real() - start)


async def test_the_outage_scenario_holds_on_a_freshly_booted_machine(
    monotonic_from_zero, deployment, tg, events
):
    assert time.monotonic() < 60
    await test_a_30_second_outage_loses_nothing_and_doubles_nothing(deployment, tg, events)


async def test_twenty_429s_in_a_row_are_waited_out(deployment, tg, events):
    officers = await _officers(deployment, tg, events)
    calls_before = tg.calls["sendMessage"]
    rows_before = deployment.query(
        lambda s: s.exec(select(func.count()).select_from(OutboxMessage)).one()
    )
    tg.fail_next("sendMessage", status=429, retry_after=3, times=20)
    start = events.now
    await _answer_all(deployment, tg, officers)
    outbox = deployment.channel.host.outbox
    await events.run_until(lambda: _all_sent(deployment) and not outbox._workers)

    rows = _assert_each_reply_once_in_order(deployment, tg, officers)
    assert outbox.stats["failed"] == 0
    assert tg.calls["sendMessage"] - calls_before == (rows - rows_before) + 20
    # Telegram's 429 holds every send: 20 holds of 3 s one after another.
    assert events.now - start >= 20 * 3 - 3
