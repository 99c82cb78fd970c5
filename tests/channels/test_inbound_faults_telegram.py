"""Never deaf, on Telegram: the real application (`runner.serve`) against the fake Bot API.

One update the service keeps failing on (a fault put in through the App, `FaultyService`) is
set aside after a few tries while 150 updates from many officers behind it are all answered, in
order per chat; its sender gets an apology, the secretariat one alert an hour; the offset moves
past it. `baocao inbound retry` replays it once the cause is gone, `drop` removes another. A
database that is away for a while sets nothing aside and loses nothing. In webhook mode a
persistent failure is set aside and answered 200, a transient one 503. Retry pauses are virtual.
"""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
import pytest
from aiogram.types import Update
from sqlmodel import select

from bot.app import build_app
from bot.channels.telegram import WEBHOOK_PATH
from bot.cli import commands as cli
from bot.dispatch import PERSISTENT_ATTEMPTS
from bot.service import APOLOGY_TEXT, STRANGER_TEXT
from storage.models import SetAsideInbound
from tests.channels.test_telegram_e2e import (  # noqa: F401
    HUYEN_UNITS,
    OFFICER,
    SECRETARY,
    STRANGER,
    TYPED,
    Deployment,
    Person,
    free_port,
    link,
    stranger_update,
    tg,
)
from tests.fakes.faulty_service import PoisonError, database_away, install
from tests.fakes.virtual_time import VirtualTime

STRANGERS = 9


def set_aside_rows(deployment: Deployment) -> list[SetAsideInbound]:
    return deployment.query(lambda s: list(s.exec(select(SetAsideInbound))))


@pytest.fixture
def baocao(sqlite_url, clock, tmp_path, monkeypatch, capsys):
    """Call `baocao ARGS…` on the deployment's database; return (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_USERNAME", "ZALO_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BAOCAO_DATABASE_URL", sqlite_url)
    monkeypatch.setattr(cli, "build_app", lambda settings: build_app(settings, clock=clock))

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    return run


async def start(deployment: Deployment, **overrides) -> VirtualTime:
    channel = await deployment.start(**overrides)
    fake_time = VirtualTime()
    channel.sleep = fake_time.sleep
    return fake_time


async def link_officers(deployment: Deployment, tg) -> list[Person]:  # noqa: F811
    """Officers of the six district units, each at question 3 (documents answered N/A)."""
    officers = []
    for n, unit_code in enumerate(HUYEN_UNITS):
        person = Person(tg, OFFICER + 100 + n, f"Cán bộ {n}")
        await person.say(f"/start {deployment.invite('officer', unit_code)}")
        await person.press("link_yes|link", expect=2)
        await person.press("na|q:docs_party")
        await person.press("na|q:docs_state")
        officers.append(person)
    return officers


async def test_a_poison_update_is_set_aside_and_the_150_behind_it_are_answered(
    sqlite_url,
    clock,
    tg,  # noqa: F811
    baocao,
    caplog,
):
    caplog.set_level(logging.WARNING)
    poisoned: set[str] = set()

    def poison(inbound):
        if inbound.inbound_id in poisoned:
            return PoisonError("dữ liệu hỏng trong tin nhắn")
        return None

    deployment = Deployment(tg, sqlite_url, clock, prepare=install(poison))
    try:
        await start(deployment)
        secretary = Person(tg, SECRETARY, "Trần Thị Thư")
        await link(secretary, deployment.invite("secretariat", None), deployment)
        officers = await link_officers(deployment, tg)
        strangers = [Person(tg, STRANGER + 10 + n, f"Người lạ {n}") for n in range(STRANGERS)]
        before = {p.user_id: len(p.messages()) for p in [*officers, *strangers, secretary]}

        first = officers[0]
        poison_id = tg.inject_message(first.user_id, "xem")
        poisoned.add(str(poison_id))
        sent = 0
        for round_, (text, _) in enumerate(TYPED.values()):
            for officer in officers:
                tg.inject_message(officer.user_id, text)
                sent += 1
            for stranger in strangers if round_ < 6 else []:
                tg.inject_message(stranger.user_id, f"xin chào lần {round_}")
                sent += 1
        assert sent == 150

        await first._expect(before[first.user_id], 1 + len(TYPED), timeout=30)
        for officer in officers[1:]:
            await officer._expect(before[officer.user_id], len(TYPED), timeout=30)
        for stranger in strangers:
            await stranger._expect(0, 6, timeout=30)
        await deployment.settle(timeout=30)

        # The poison one was apologised for, before the officer's answers went on in order.
        replies = [r.text for r in first.messages()[before[first.user_id] :]]
        assert replies[0] == APOLOGY_TEXT
        for officer in officers:
            texts = [r.text for r in officer.messages()[before[officer.user_id] :]]
            texts = [t for t in texts if t != APOLOGY_TEXT]
            assert [int(t.split("Đã ghi câu ")[1].split(":")[0]) for t in texts] == list(
                range(3, 19)
            ), texts
        for n, unit_code in enumerate(HUYEN_UNITS):
            answers = deployment.answers(unit_code)
            for key, (_, value) in TYPED.items():
                assert answers[key].value == value, (unit_code, key, n)
        for stranger in strangers:
            assert [r.text for r in stranger.messages()] == [STRANGER_TEXT] * 6
        # The secretariat is told once.
        alerts = [r.text for r in secretary.messages()[before[secretary.user_id] :]]
        assert len(alerts) == 1 and "baocao inbound list" in alerts[0]
        # Set aside with Telegram's JSON, the error and the tries; the offset moved past it.
        [row] = set_aside_rows(deployment)
        assert (row.channel, row.inbound_id, row.chat_id) == (
            "telegram",
            str(poison_id),
            str(first.user_id),
        )
        assert row.payload["update_id"] == poison_id
        assert row.payload["message"]["text"] == "xem"
        assert row.payload["message"]["from"]["id"] == first.user_id  # Telegram's own names
        assert Update.model_validate(row.payload).update_id == poison_id
        assert (row.error_type, row.error) == ("PoisonError", "dữ liệu hỏng trong tin nhắn")
        assert row.attempts == PERSISTENT_ATTEMPTS
        assert tg._deliverable() == []
        assert "đã để riêng cập nhật" in caplog.text

        # A second one within the hour: its sender is told, the secretariat not again.
        second = officers[1]
        count = len(second.messages())
        poisoned.add(str(tg.inject_message(second.user_id, "/tiep")))
        [apology] = await second._expect(count, 1)
        assert apology.text == APOLOGY_TEXT
        await deployment.settle()
        assert len(secretary.messages()) == before[secretary.user_id] + 1
        second_row = max(set_aside_rows(deployment), key=lambda r: r.id)

        # The operator sees both, replays the first (the cause is gone: the CLI's service is
        # the plain one) and drops the second.
        code, out, _ = baocao("inbound", "list", "--json")
        listed = json.loads(out)
        assert code == 0 and [r["id"] for r in listed] == [row.id, second_row.id]
        assert listed[0]["text"] == "xem" and listed[0]["payload"]["update_id"] == poison_id
        code, out, _ = baocao("inbound", "list")
        assert code == 0 and "PoisonError" in out and "Tổng cộng 2 tin" in out

        count = len(first.messages())
        code, out, err = baocao("inbound", "retry", str(row.id))
        assert (code, err) == (0, ""), err
        assert f"Đã xử lý lại tin số {row.id}" in out
        deployment.channel.host.wake_outbox()  # the running bot's sweep takes the reply
        [review] = await first._expect(count, 1)
        assert "XEM LẠI" in review.text
        code, out, _ = baocao("inbound", "drop", str(second_row.id))
        assert code == 0 and f"Đã bỏ tin số {second_row.id}" in out
        assert set_aside_rows(deployment) == []
        code, out, _ = baocao("inbound", "list")
        assert "Không có tin nhắn nào bị để riêng." in out
    finally:
        await deployment.stop()


async def test_a_replay_that_fails_again_keeps_the_update_with_the_new_error(
    sqlite_url,
    clock,
    tg,  # noqa: F811
    baocao,
):
    deployment = Deployment(
        tg, sqlite_url, clock, prepare=install(lambda i: PoisonError("lần đầu hỏng"))
    )
    try:
        await start(deployment)
        stranger = Person(tg, STRANGER)
        tg.inject_message(STRANGER, "xin chào")
        [apology] = await stranger._expect(0, 1)
        assert apology.text == APOLOGY_TEXT
        await deployment.settle()
        [row] = set_aside_rows(deployment)
        # Make the stored update fail in the CLI's own service too: it has been changed since.
        with deployment.app.database.transaction() as session:
            stored = session.get(SetAsideInbound, row.id)
            stored.inbound = {**stored.inbound, "unexpected": "field"}
            session.add(stored)
        code, _, err = baocao("inbound", "retry", str(row.id))
        assert code == 1
        assert f"tin số {row.id} vẫn chưa xử lý được (TypeError" in err
        [kept] = set_aside_rows(deployment)
        assert kept.error_type == "TypeError" and kept.attempts == row.attempts + 1
    finally:
        await deployment.stop()


def test_cli_refuses_unknown_ids_and_actions(baocao):
    code, _, err = baocao("inbound", "retry", "42")
    assert code == 1
    assert err.strip() == "baocao: không có tin nào để riêng mang số 42 (xem: baocao inbound list)"
    code, _, err = baocao("inbound", "drop", "42")
    assert code == 1 and "không có tin nào để riêng mang số 42" in err
    code, _, err = baocao("inbound", "retry", "abc")
    assert code == 2 and "cần số của tin (một số nguyên dương), không phải 'abc'" in err
    code, _, err = baocao("inbound", "purge", "1")
    assert code == 2 and "không có lựa chọn" in err
    code, _, err = baocao("inbound")
    assert code == 2 and "thiếu tham số bắt buộc" in err


async def test_a_database_outage_sets_nothing_aside_and_loses_nothing(
    any_database_deployment,
):
    deployment, tg, outage = any_database_deployment  # noqa: F811
    await start(deployment)
    strangers = [Person(tg, STRANGER + n, f"Người lạ {n}") for n in range(5)]
    outage["away"] = True
    ids = [tg.inject_message(p.user_id, f"tin {k}") for k in range(4) for p in strangers]
    service = deployment.app.service

    def tried_often() -> bool:
        tried = [inbound_id for inbound_id, _ in service.failures]
        return all(tried.count(str(i)) >= PERSISTENT_ATTEMPTS + 2 for i in ids[:5])

    async with asyncio.timeout(20):
        while not tried_often():
            await asyncio.sleep(0.01)
    assert set_aside_rows(deployment) == []
    assert all(kind == "OperationalError" for _, kind in service.failures)
    outage["away"] = False
    for person in strangers:
        await person._expect(0, 4, timeout=20)
    await deployment.settle(timeout=20)
    for person in strangers:
        assert [r.text for r in person.messages()] == [STRANGER_TEXT] * 4
    assert set_aside_rows(deployment) == []
    assert tg._deliverable() == []


@pytest.fixture
async def any_database_deployment(tg, database_url, clock):  # noqa: F811
    outage = {"away": False}
    running = Deployment(
        tg,
        database_url,
        clock,
        prepare=install(lambda _inbound: database_away() if outage["away"] else None),
    )
    yield running, tg, outage
    await running.stop()


async def test_webhook_sets_a_persistent_failure_aside_with_200_and_a_transient_gets_503(
    sqlite_url,
    clock,
    tg,  # noqa: F811
):
    faults: dict[int, Exception] = {}

    def poison(inbound):
        return faults.get(int(inbound.inbound_id))

    deployment = Deployment(tg, sqlite_url, clock, prepare=install(poison))
    port, secret = free_port(), "webhook-secret-for-tests_42"
    try:
        await start(
            deployment,
            baocao_http_port=port,
            baocao_webhook_url="https://baocao.example.gov.vn",
            baocao_webhook_secret=secret,
        )
        url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
        faults[11] = PoisonError("hỏng")
        faults[12] = database_away()
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=stranger_update(11), headers=headers) as response:
                assert response.status == 200
            async with http.post(url, json=stranger_update(12), headers=headers) as response:
                assert response.status == 503
            await deployment.settle()
            [row] = set_aside_rows(deployment)
            assert row.inbound_id == "11" and row.payload == stranger_update(11)
            assert [r.text for r in tg.sent(STRANGER)] == [APOLOGY_TEXT]
            # The database is back: Telegram's redelivery is applied and answered.
            del faults[12]
            async with http.post(url, json=stranger_update(12), headers=headers) as response:
                assert response.status == 200
            await deployment.settle()
        assert [r.text for r in tg.sent(STRANGER)] == [APOLOGY_TEXT, STRANGER_TEXT]
        assert len(set_aside_rows(deployment)) == 1
    finally:
        await deployment.stop()


async def test_an_update_that_cannot_even_be_set_aside_is_let_go_and_the_rest_go_on(
    sqlite_url,
    clock,
    tg,  # noqa: F811
    caplog,
):
    poisoned: set[str] = set()
    deployment = Deployment(
        tg,
        sqlite_url,
        clock,
        prepare=install(lambda i: PoisonError("hỏng") if i.inbound_id in poisoned else None),
    )
    try:
        await start(deployment)
        deployment.app.service.set_aside_error = PoisonError("không ghi được")
        stranger = Person(tg, STRANGER)
        poisoned.add(str(tg.inject_message(STRANGER, "tin hỏng")))
        tg.inject_message(STRANGER, "tin sau")
        [reply] = await stranger._expect(0, 1)
        assert reply.text == STRANGER_TEXT
        await deployment.settle()
        assert set_aside_rows(deployment) == []
        assert tg._deliverable() == []
        assert "không để riêng được, bỏ qua cập nhật" in caplog.text
    finally:
        await deployment.stop()
