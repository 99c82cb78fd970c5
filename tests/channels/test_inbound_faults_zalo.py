"""Never deaf, on Zalo: the real application against the fake Zalo Bot API, polling and webhook.

A message the service keeps failing on (`FaultyService`, put in through the App) is set aside
and apologised for while the 150 behind it from many officers are answered in order; the
secretariat is told once. A database away for a while sets nothing aside and loses nothing. A
webhook call that fails for good is set aside and answered 200; one that waits for the
database gets 500 so that it is delivered again. Retry pauses are injected and return at once.
"""

from __future__ import annotations

import json
import logging

import aiohttp
from sqlmodel import select

from bot.dispatch import PERSISTENT_ATTEMPTS
from bot.service import APOLOGY_TEXT, BAD_CODE_TEXT, STRANGER_TEXT
from storage.invite_guesses import MISSES_ALLOWED
from storage.models import SetAsideInbound
from tests.channels.test_inbound_faults_telegram import baocao  # noqa: F401
from tests.channels.test_telegram_e2e import HUYEN_UNITS, TYPED
from tests.channels.test_zalo_e2e import (  # noqa: F401
    SECRET,
    SECRETARY,
    STRANGER,
    fake,
    running,
)
from tests.fakes.faulty_service import PoisonError, database_away, install
from tests.fakes.zalo_server import build_update

STRANGERS = 9


def set_aside_rows(run) -> list[SetAsideInbound]:
    with run.app.database.transaction() as session:
        return list(session.exec(select(SetAsideInbound)))


async def link_officers(run) -> list[str]:
    """Officers of the six district units, each at question 3 (documents: không áp dụng)."""
    officers = []
    for n, unit_code in enumerate(HUYEN_UNITS):
        user = f"zalo-officer-{n}"
        await run.link(user, run.invite(unit_code))
        await run.say(user, "kad")
        assert "Câu 3/18" in (await run.say(user, "kad"))[-1]
        officers.append(user)
    return officers


async def test_a_poison_message_is_set_aside_and_the_150_behind_it_are_answered(
    fake,  # noqa: F811
    tmp_path,
    baocao,  # noqa: F811
) -> None:
    poisoned: set[str] = set()

    def poison(inbound):
        return PoisonError("dữ liệu hỏng") if inbound.inbound_id in poisoned else None

    async with running(fake, tmp_path, prepare=install(poison)) as run:
        await run.link(SECRETARY, run.invite(role="secretariat"))
        officers = await link_officers(run)
        strangers = [f"zalo-stranger-{n}" for n in range(STRANGERS)]
        before = {user: len(fake.sent_texts(user)) for user in [*officers, SECRETARY]}
        target = run.channel.handled + 151
        poisoned.add(fake.inject_text(officers[0], "xem"))
        sent = 0
        for round_, (text, _) in enumerate(TYPED.values()):
            for user in officers:
                fake.inject_text(user, text)
                sent += 1
            for user in strangers if round_ < 6 else []:
                fake.inject_text(user, f"xin chào lần {round_}")
                sent += 1
        assert sent == 150
        await run.channel.wait_handled(target, timeout=60)
        await run.settle()

        for n, user in enumerate(officers):
            texts = fake.sent_texts(user)[before[user] :]
            if n == 0:
                assert texts[0] == APOLOGY_TEXT
                texts = texts[1:]
            numbers = [int(t.split("Đã ghi câu ")[1].split(":")[0]) for t in texts]
            assert numbers == list(range(3, 19)), texts
        for user in strangers:
            assert fake.sent_texts(user) == [STRANGER_TEXT] * 6
        alerts = fake.sent_texts(SECRETARY)[before[SECRETARY] :]
        assert len(alerts) == 1 and "baocao inbound list" in alerts[0]
        [row] = set_aside_rows(run)
        assert (row.channel, row.inbound_id, row.chat_id) == (
            "zalo",
            next(iter(poisoned)),
            officers[0],
        )
        assert row.payload["message"]["text"] == "xem"
        assert row.attempts == PERSISTENT_ATTEMPTS
        assert run.channel.stats["set_aside"] == 1 and run.channel.stats["failed"] == 0

        # Replayed by the operator (the CLI's service has no fault): the running bot answers.
        before_replay = len(fake.sent_texts(officers[0]))
        code, out, err = baocao("inbound", "retry", str(row.id))
        assert (code, err) == (0, ""), err
        run.channel.host.wake_outbox()
        await fake.wait_for(before_replay + 1, chat_id=officers[0])
        await run.settle()
        [review] = fake.sent_texts(officers[0])[before_replay:]
        assert "XEM LẠI" in review
        assert set_aside_rows(run) == []


async def test_a_database_outage_sets_nothing_aside_on_zalo(fake, tmp_path) -> None:  # noqa: F811
    outage = {"tries": 0}

    def poison(_inbound):
        outage["tries"] += 1
        return database_away() if outage["tries"] <= 3 * PERSISTENT_ATTEMPTS else None

    async with running(fake, tmp_path, prepare=install(poison)) as run:
        assert await run.say(STRANGER, "tin lúc mất kết nối") == [STRANGER_TEXT]
        assert await run.say(STRANGER, "tin sau đó") == [STRANGER_TEXT]
        assert set_aside_rows(run) == []
        assert len(run.sleeps.delays) >= 3 * PERSISTENT_ATTEMPTS
        assert run.channel.stats["set_aside"] == 0


async def test_zalo_webhook_sets_aside_with_200_and_waits_with_500(fake, tmp_path) -> None:  # noqa: F811
    faults: dict[str, Exception] = {}
    overrides = {"baocao_webhook_url": "https://example.test", "baocao_webhook_secret": SECRET}
    async with running(
        fake, tmp_path, prepare=install(lambda i: faults.get(i.inbound_id)), **overrides
    ) as run:
        hook = f"{run.web_url}/zalo/webhook"
        headers = {"X-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
        poison = build_update("text", STRANGER, text="tin hỏng")
        waiting = build_update("text", STRANGER, text="tin chờ")
        faults[poison["message"]["message_id"]] = PoisonError("hỏng")
        faults[waiting["message"]["message_id"]] = database_away()
        async with aiohttp.ClientSession() as http:

            async def post(body) -> int:
                async with http.post(hook, data=json.dumps(body), headers=headers) as response:
                    return response.status

            assert await post(poison) == 200
            assert await post(waiting) == 500
            await run.settle()
            [row] = set_aside_rows(run)
            assert row.payload == poison
            assert fake.sent_texts(STRANGER) == [APOLOGY_TEXT]
            faults.clear()  # the database is back; Zalo delivers the message again
            assert await post(waiting) == 200
            await run.settle()
        assert fake.sent_texts(STRANGER) == [APOLOGY_TEXT, STRANGER_TEXT]
        assert len(set_aside_rows(run)) == 1


async def test_wrong_invite_codes_over_zalo_start_a_cool_down(fake, tmp_path, caplog) -> None:  # noqa: F811
    caplog.set_level(logging.WARNING, logger="bot.service")
    async with running(fake, tmp_path) as run:
        code = run.invite("HU-NP")
        for n in range(MISSES_ALLOWED - 1):
            assert await run.say(STRANGER, f"SAIMA{n:03d}") == [BAD_CODE_TEXT]
        [refused] = await run.say(STRANGER, "SAIMA999")
        assert refused.endswith("Đề nghị thử lại sau 08:15 ngày 20/6/2022.")
        [still] = await run.say(STRANGER, code)  # the right code, during the cool-down
        assert still == refused
        run.clock.advance(minutes=15)
        [offer] = await run.say(STRANGER, code)
        assert "1. Xác nhận" in offer
    assert f"kênh zalo, chat {STRANGER}" in caplog.text
    assert "SAIMA" not in caplog.text and code not in caplog.text
