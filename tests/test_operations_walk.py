"""A full walk through the real application (fake Telegram Bot API over HTTP, SQLite) with
`BAOCAO_METRICS=1` and `BAOCAO_LOG_FORMAT=json`: `/metrics` parses as Prometheus' text format and
its counters move as officers write; every log line is one JSON object, and no line holds any
secret the walk created (the bot token, invite codes, the sign-in link, an upload link, a
session cookie).
"""

from __future__ import annotations

import io
import json
import logging
import re

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.logs import configure_logging, hash_chat, hash_key
from bot.signed_intake import upload_link
from storage.progress import participating_units
from storage.repository import current_campaign, unit_by_code
from tests.channels.test_telegram_e2e import (
    BOT_USERNAME,
    OFFICER,
    SECRETARY,
    STRANGER,
    TOKEN,
    Deployment,
    Person,
    free_port,
    link,
)
from tests.fakes.telegram_server import FakeTelegramServer


@pytest.fixture
async def tg():
    async with FakeTelegramServer(token=TOKEN, bot_username=BOT_USERNAME) as server:
        yield server


@pytest.fixture
def json_log():
    """The root logger writing JSON lines into a buffer for the test; restored after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buffer = io.StringIO()
    configure_logging("json", (TOKEN,), stream=buffer)
    yield buffer
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def scrape(text: str) -> dict[tuple[str, tuple], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def metrics(http: aiohttp.ClientSession, port: int) -> dict[tuple[str, tuple], float]:
    async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        return scrape(await response.text())


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_move_and_json_logs_hold_no_secret(tg, sqlite_url, clock, json_log):
    port = free_port()
    deployment = Deployment(
        tg, sqlite_url, clock, {"baocao_http_port": port, "baocao_metrics": True}
    )
    await deployment.start()
    secrets = [TOKEN]
    try:
        async with aiohttp.ClientSession() as http:
            first = await metrics(http, port)
            assert value(first, "baocao_updates_total", channel="telegram", outcome="received") == 0

            officer = Person(tg, OFFICER)
            code = deployment.invite()
            secrets.append(code)
            question = await link_officer_with(officer, deployment, code)
            assert "Câu 1/18" in question
            await officer.say("12-KH/HU, ngày 05/6/2017, Kế hoạch triển khai")
            stranger = Person(tg, STRANGER)
            wrong = "ZZZZ9999"
            await stranger.say(f"/start {wrong}")  # a wrong code: logged without the code
            secrets.append(wrong)

            secretary = Person(tg, SECRETARY, "Trần Thị Bình")
            secretariat_code = deployment.invite("secretariat", None)
            secrets.append(secretariat_code)
            await link(secretary, secretariat_code, deployment)
            (reply,) = await secretary.say("/web")
            sign_in = re.search(r"http://\S+/web/vao/\S+", reply.text).group(0)
            secrets.append(sign_in.rsplit("/", 1)[1])
            async with http.post(sign_in, allow_redirects=False) as response:
                cookie = response.cookies
            secrets += [morsel.value for morsel in cookie.values()]
            upload = deployment.query(
                lambda session: upload_link(
                    session,
                    clock(),
                    "http://127.0.0.1",
                    campaign_id=current_campaign(session).id,
                    unit_id=unit_by_code(session, "HU-NP").id,
                    contact_id=None,
                )
            )
            secrets.append(upload.rsplit("/", 1)[1])
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
            async with http.get(f"http://127.0.0.1:{port}/tai-ve/khong-co-gi") as response:
                assert response.status == 404
            await deployment.settle()

            after = await metrics(http, port)
        received = value(after, "baocao_updates_total", channel="telegram", outcome="received")
        applied = value(after, "baocao_updates_total", channel="telegram", outcome="applied")
        assert received >= 7 and applied == received
        assert value(after, "baocao_outbox_deliveries_total", outcome="sent") >= 7
        assert value(after, "baocao_send_seconds_count", channel="telegram") >= 7
        assert value(after, "baocao_outbox_messages", channel="telegram", status="sent") >= 7
        assert (
            value(after, "baocao_campaign_units", campaign="ct37-2022", status="in_progress") == 1
        )
        with deployment.app.database.transaction() as session:
            campaign = current_campaign(session, "ct37-2022")
            taking_part = len(participating_units(session, campaign))
        # Units that never wrote have no submission row; they are counted as not started.
        not_started = value(
            after, "baocao_campaign_units", campaign="ct37-2022", status="not_started"
        )
        assert not_started == taking_part - 1 > 0
        assert value(after, "baocao_web_requests_total", route="/healthz", status="200") == 1
        assert value(after, "baocao_web_requests_total", route="/tai-ve/{token}", status="404") == 1
        assert value(after, "baocao_web_requests_total", route="/metrics", status="200") == 1
        assert value(after, "baocao_db_transaction_seconds_count") > value(
            first, "baocao_db_transaction_seconds_count"
        )
    finally:
        await deployment.stop()
        logging.getLogger("tests.walk").warning(
            "thử: %s", f"http://127.0.0.1/tai-ve/{secrets[-1]}", extra={"chat": OFFICER}
        )

    lines = json_log.getvalue().splitlines()
    assert len(lines) >= 3
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "event", "logger"} <= set(r) for r in records)
    (miss,) = [r for r in records if r["event"].startswith("Mã mời sai")]
    stranger = hash_chat(STRANGER, hash_key((TOKEN,)))
    assert (miss["level"], miss["channel"], miss["chat"]) == ("warning", "telegram", stranger)
    assert miss["event"] == f"Mã mời sai: kênh telegram, chat {stranger}"
    # keyed by the installation's secrets: another installation's hash of the same id differs
    assert stranger != hash_chat(STRANGER, hash_key(("another-token",)))
    last = records[-1]
    assert last["event"] == "thử: http://127.0.0.1/tai-ve/<token>"
    assert last["chat"] != str(OFFICER) and len(last["chat"]) == 12
    log_text = json_log.getvalue()
    for secret in secrets:
        assert secret not in log_text, f"a secret reached the log: {secret[:4]}…"


async def link_officer_with(person: Person, deployment: Deployment, code: str) -> str:
    await person.say(f"/start {code}")
    _, replies = await person.press("link_yes|link", expect=2)
    return replies[1].text
