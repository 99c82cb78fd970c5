"""End-to-end tests of the Zalo channel: the real application (build_app + runner.serve, the web
server, the outbox) talking over HTTP to the fake Zalo Bot API server.

Each test gets its own SQLite file, web port and fake clock. Waiting is event-driven (the channel
counts handled updates, the outbox says when it is idle, the fake wakes waiters on every
message); nothing sleeps for real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import select

from bot.app import App, assemble, build_app
from bot.channels.zalo import ZaloChannel, render_parts
from bot.clock import FakeClock
from bot.deadlines import campaign_deadlines
from bot.messaging import Attachment, Inbound, Outbound
from bot.runner import ChannelStartError, serve
from bot.service import BAD_CODE_TEXT, STRANGER_TEXT, TEXT_ONLY_TEXT
from bot.settings import Settings
from bot.status import status_text
from conversations.choices import Choice
from storage.models import Answer, AnswerHistory, DownloadToken, OutboxMessage, Submission
from storage.progress import campaign_progress
from storage.quota import usage
from storage.repository import (
    UnitRow,
    create_invite,
    current_campaign,
    find_contact,
    replace_units,
    submission_for,
    unit_by_code,
)
from tests.conftest import CAMPAIGN_TIME
from tests.fakes.zalo_server import FakeZaloServer, build_update


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_settings(fake: FakeZaloServer, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "zalo_bot_token": fake.token,
        "zalo_api_base_url": fake.base_url,
        "telegram_bot_token": None,
        "baocao_database_url": f"sqlite:///{tmp_path / 'baocao.db'}",
        "baocao_http_host": "127.0.0.1",
        "baocao_http_port": free_port(),
        "baocao_public_url": None,
        "baocao_webhook_url": None,
        "baocao_webhook_secret": None,
        "baocao_chat_interval": 0,
        "baocao_send_rate": 1000,
        "baocao_scheduler": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@dataclass
class Sleeps:
    """An injected sleep: records the delays asked for and returns at once."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


@dataclass
class Running:
    app: App
    channel: ZaloChannel
    fake: FakeZaloServer
    clock: FakeClock
    sleeps: Sleeps

    @property
    def web_url(self) -> str:
        settings = self.app.settings
        return f"http://{settings.baocao_http_host}:{settings.baocao_http_port}"

    async def settle(self) -> None:
        """Wait until every queued delivery has been made or given up."""
        await self.channel.host.outbox.drain(timeout=10)

    async def say(self, user: str, text: str, *, message_id: str | None = None) -> list[str]:
        """Send `text` as `user` through the fake; return the texts the bot sent back."""
        before = len(self.fake.sent(user))
        target = self.channel.handled + 1
        self.fake.inject_text(user, text, message_id=message_id)
        await self.channel.wait_handled(target, timeout=10)
        await self.settle()
        return self.fake.sent_texts(user)[before:]

    async def send_event(self, user: str, event: str) -> list[str]:
        before = len(self.fake.sent(user))
        target = self.channel.handled + 1
        self.fake.inject_event(event, user)
        await self.channel.wait_handled(target, timeout=10)
        await self.settle()
        return self.fake.sent_texts(user)[before:]

    def invite(self, unit_code: str | None = None, role: str = "officer") -> str:
        with self.app.database.transaction() as session:
            unit = unit_by_code(session, unit_code) if unit_code else None
            invite = create_invite(
                session, role=role, unit=unit, now=self.clock(), valid_for=timedelta(days=30)
            )
            return invite.code

    async def link(self, user: str, code: str) -> list[str]:
        """Link a Zalo user with an invite code, confirming with «1»; returns the replies."""
        offer = await self.say(user, code)
        assert "1. Xác nhận\n2. Không phải tôi" in offer[-1], offer
        return await self.say(user, "1")


@contextlib.asynccontextmanager
async def running(
    fake: FakeZaloServer,
    tmp_path: Path,
    *,
    clock: FakeClock | None = None,
    prepare: Callable[[App], None] | None = None,
    **overrides: object,
) -> AsyncIterator[Running]:
    """Start baocao (web server, outbox, Zalo channel); stop it cleanly afterwards."""
    clock = clock or FakeClock(CAMPAIGN_TIME)
    settings = make_settings(fake, tmp_path, **overrides)
    app = build_app(settings, clock=clock)
    if prepare is not None:
        prepare(app)  # e.g. a faulty service
    sleeps = Sleeps()
    channel = ZaloChannel(settings, sleep=sleeps)
    stop, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(assemble(app, [channel]), stop, started=started))
    ready = asyncio.create_task(started.wait())
    try:
        await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # raises the start error
        assert started.is_set(), "baocao did not start within 10 s"
        yield Running(app, channel, fake, clock, sleeps)
        assert not task.done(), "baocao stopped on its own"
    finally:
        ready.cancel()
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=15)
        app.close()


TOKEN = "1234:zalo-secret"
SECRET = "s3cret-s3cret"
OFFICER, SECOND, SECRETARY, STRANGER = "zalo-officer", "zalo-officer-2", "zalo-sec", "zalo-stranger"
UNIT = "HU-NP"
UNIT_NAME = "Ban Thường vụ Huyện ủy Ninh Phước"


@pytest.fixture
async def fake():
    async with FakeZaloServer(token=TOKEN) as server:
        yield server


def stored_answers(app: App, unit_code: str = UNIT) -> dict[str, Answer]:
    with app.database.transaction() as session:
        unit = unit_by_code(session, unit_code)
        submission = submission_for(session, current_campaign(session), unit)
        return {
            a.question_key: a
            for a in session.exec(select(Answer).where(Answer.submission_id == submission.id))
        }


def submission_of(app: App, unit_code: str = UNIT) -> Submission:
    with app.database.transaction() as session:
        unit = unit_by_code(session, unit_code)
        return submission_for(session, current_campaign(session), unit)


def history(app: App, key: str) -> list[AnswerHistory]:
    with app.database.transaction() as session:
        return list(
            session.exec(
                select(AnswerHistory)
                .where(AnswerHistory.question_key == key)
                .order_by(AnswerHistory.id)
            )
        )


def outbox_rows(app: App, chat_id: str) -> list[OutboxMessage]:
    with app.database.transaction() as session:
        return list(
            session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.chat_id == chat_id)
                .order_by(OutboxMessage.id)
            )
        )


# The answers typed on Zalo, without diacritics where a keyword is meant.
FILL = [
    ("12-KH/HU, ngày 05/6/2017, Kế hoạch triển khai Chỉ thị 37-CT/TU", "Đã ghi 1 văn bản"),
    ("xong", "Câu 2/18"),
    ("xong", "Câu 3/18"),
    ("5", "Câu 4/18"),
    ("1.234", "Câu 5/18"),
    ("120", "Câu 6/18"),
    ("bo qua", "Câu 7/18"),
    ("90", "Câu 8/18"),
    ("12/345", "Câu 9/18"),
    ("3 / 40", "Câu 10/18"),
    ("2", "Câu 11/18"),
    ("kad", "Câu 12/18"),
    ("7", "Câu 13/18"),
    ("8", "Câu 14/18"),
    ("45/50", "Câu 15/18"),
    ("10/12", "Câu 16/18"),
    ("2/3", "Câu 17/18"),
    ("6", "Câu 18/18"),
    ("4", "XEM LẠI"),
]


async def fill_and_submit(run: Running, user: str) -> None:
    for text, expected in FILL:
        replies = await run.say(user, text)
        assert len(replies) == 1 and expected in replies[0], (text, replies)
    review = (await run.say(user, "xem"))[-1]
    assert "6. Trong đó mức 4: (đã bỏ qua, chưa trả lời)" in review
    assert review.endswith("Gõ: nộp · tiếp")
    assert "Câu 6/18" in (await run.say(user, "6"))[-1]
    assert "Đã ghi câu 6: 100 dịch vụ" in (await run.say(user, "100"))[-1]
    confirm = (await run.say(user, "nop"))[-1]
    assert confirm.endswith("1. Đồng ý nộp\n2. Chưa nộp")
    done = (await run.say(user, "co"))[-1]
    assert done.startswith(f"Đã nộp báo cáo của {UNIT_NAME}")


# --- the whole Phụ lục over Zalo --------------------------------------------------------------


async def test_officer_fills_the_phu_luc_over_zalo_text_only(fake, tmp_path) -> None:
    async with running(fake, tmp_path) as run:
        linked = await run.link(OFFICER, f"/start {run.invite(UNIT)}")
        assert linked[0] == f"Đã liên kết với {UNIT_NAME}."
        assert "Câu 1/18" in linked[1]
        assert "Gõ «Xong» khi đã đủ." in linked[1]  # typed choices: the text says «gõ»
        assert linked[1].endswith("Gõ: xong · kad (không áp dụng) · bỏ qua · tạm dừng · xem")
        await fill_and_submit(run, OFFICER)

        answers = stored_answers(run.app)
        assert submission_of(run.app).status == "submitted"
        assert answers["docs_party"].value["items"][0]["number"] == "12-KH/HU"
        assert answers["docs_state"].value == {"items": []}
        assert answers["inspection_teams"].value == {"value": 5}
        assert answers["inspected_units"].value == {"value": 1234}
        assert answers["online_services_l34"].value == {"value": 120}
        assert answers["online_services_l4"].value == {"value": 100}
        assert answers["satisfaction_pct"].value == {"value": 90.0}
        assert answers["reception_local_regular"].value == {"times": 12, "people": 345}
        assert answers["reception_local_adhoc"].value == {"times": 3, "people": 40}
        assert answers["dialogue_district_party"].value == {"value": 2}
        assert answers["dialogue_district_gov"].not_applicable
        assert answers["dialogue_commune_party"].value == {"value": 7}
        assert answers["dialogue_commune_gov"].value == {"value": 8}
        assert answers["complaints"].value == {"done": 45, "total": 50}
        assert answers["denunciations"].value == {"done": 10, "total": 12}
        assert answers["complex_cases"].value == {"done": 2, "total": 3}
        assert answers["supervisions"].value == {"value": 6}
        assert answers["criticism_conferences"].value == {"value": 4}
        assert len(answers) == 18
        assert {a.channel for a in answers.values()} == {"zalo"}

        # Everything the bot said went out as accepted Zalo text messages.
        assert fake.calls["sendMessage"] == len(fake.sent())
        assert all(0 < len(m.text) <= 2000 for m in fake.sent())
        assert {row.status for row in outbox_rows(run.app, OFFICER)} == {"sent"}
        # A locked report says so.
        assert "đã nộp" in (await run.say(OFFICER, "5"))[-1].lower()


async def test_bare_invite_code_links_and_no_cancels(fake, tmp_path) -> None:
    async with running(fake, tmp_path) as run:
        code = run.invite(UNIT)
        offer = await run.say(OFFICER, code)
        assert f"cán bộ đầu mối của {UNIT_NAME}" in offer[0]
        assert await run.say(OFFICER, "khong") == ["Đã hủy. Mã mời chưa được dùng."]
        offer = await run.say(OFFICER, code.lower())
        assert offer[0].endswith("1. Xác nhận\n2. Không phải tôi")
        linked = await run.say(OFFICER, "có")
        assert linked[0] == f"Đã liên kết với {UNIT_NAME}."


# --- the secretariat --------------------------------------------------------------------------


async def link_secretary(run: Running, user: str = SECRETARY) -> None:
    replies = await run.link(user, run.invite(role="secretariat"))
    assert replies[0].startswith("Đã liên kết. Lệnh dành cho cán bộ tổng hợp")


LINK = re.compile(r"(http://\S+/tai-ve/(\S+))")


async def test_secretariat_status_counts_it_and_export_is_a_link(fake, tmp_path) -> None:
    async with running(fake, tmp_path) as run:
        await run.link(OFFICER, run.invite(UNIT))
        await fill_and_submit(run, OFFICER)
        await link_secretary(run)

        status = "\n".join(await run.say(SECRETARY, "/status"))
        assert "Đã nộp 1/13" in status
        # the list shows who has not submitted; HU-NP only as the parent of its commune
        assert f" • {UNIT_NAME} (HU-NP): đã nộp\n   ↳ " in status

        export = await run.say(SECRETARY, "/export")
        assert len(export) == 1
        assert export[0].startswith("Bảng tổng hợp (Excel): http://127.0.0.1:")
        assert "Đường liên kết dùng được trong 24 giờ." in export[0]
        url, _ = LINK.search(export[0]).groups()
        assert url.startswith(run.web_url + "/tai-ve/")

        unit_export = (await run.say(SECRETARY, f"/export {UNIT}"))[0]
        assert unit_export.startswith(f"Phụ lục của {UNIT_NAME} (Excel): {run.web_url}/tai-ve/")


async def test_download_link_serves_the_workbook_then_expires(fake, tmp_path) -> None:
    pytest.importorskip("bot.documents.workbooks")
    openpyxl = pytest.importorskip("openpyxl")
    async with running(fake, tmp_path) as run:
        await run.link(OFFICER, run.invite(UNIT))
        await fill_and_submit(run, OFFICER)
        await link_secretary(run)
        url, token = LINK.search((await run.say(SECRETARY, "/export"))[0]).groups()
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith(
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                )
                assert "attachment" in response.headers["Content-Disposition"]
                body = await response.read()
            workbook = openpyxl.load_workbook(io.BytesIO(body))
            assert workbook.sheetnames

            async with http.get(f"{run.web_url}/tai-ve/{secrets.token_urlsafe(24)}") as response:
                assert response.status == 404
                random_body = await response.text()
            assert "token" not in random_body.lower()

            run.clock.advance(hours=24, minutes=1)
            async with http.get(url) as response:
                assert response.status == 404
                assert await response.text() == random_body  # expired looks like unknown
            assert token not in random_body


async def test_an_attachment_reaching_the_zalo_sender_becomes_a_link(fake, tmp_path) -> None:
    async with running(fake, tmp_path) as run:
        await link_secretary(run)
        with run.app.database.transaction() as session:
            campaign_id = current_campaign(session).id
        await run.channel.send(
            SECRETARY, Outbound("Bảng tổng hợp", attachment=Attachment(campaign_id))
        )
        await run.channel.send(
            SECRETARY, Outbound("Phụ lục", attachment=Attachment(campaign_id, UNIT))
        )
        texts = fake.sent_texts(SECRETARY)[-2:]
        assert texts[0].startswith(f"Bảng tổng hợp (Excel): {run.web_url}/tai-ve/")
        assert texts[1].startswith(f"Phụ lục (Excel): {run.web_url}/tai-ve/")
        with run.app.database.transaction() as session:
            grants = session.exec(select(DownloadToken).order_by(DownloadToken.id)).all()
        assert [g.unit_id is None for g in grants] == [True, False]
        assert grants[0].expires_at - grants[0].created_at == timedelta(hours=24)


# --- webhook mode -----------------------------------------------------------------------------


async def test_webhook_checks_the_secret_and_the_body(fake, tmp_path) -> None:
    overrides = {"baocao_webhook_url": "https://example.test", "baocao_webhook_secret": SECRET}
    async with running(fake, tmp_path, **overrides) as run:
        assert fake.webhook is not None
        assert fake.webhook["url"] == "https://example.test/zalo/webhook"
        assert fake.webhook["secret_token"] == SECRET
        assert fake.calls["deleteWebhook"] == 0
        hook = f"{run.web_url}/zalo/webhook"
        update = build_update("text", STRANGER, text="Xin chào")
        async with aiohttp.ClientSession() as http:

            async def post(body, headers) -> int:
                data = body if isinstance(body, str) else json.dumps(body)
                async with http.post(hook, data=data, headers=headers) as response:
                    return response.status

            assert await post(update, {"X-Bot-Api-Secret-Token": "wrong-secret"}) == 403
            assert await post(update, {}) == 403
            assert await post(update, {"X-Bot-Api-Secret-Token": SECRET + "x"}) == 403
            good = {"X-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
            assert await post("not json", good) == 400
            assert await post([], good) == 400
            assert await post({"event_name": "message.text.received"}, good) == 400
            await run.settle()
            assert fake.sent() == []

            # The same message, now with the right secret, was not consumed by the refusals.
            assert await post(update, good) == 200
            await run.settle()
            assert fake.sent_texts(STRANGER) == [STRANGER_TEXT]
            # A replay through the webhook is acknowledged and not answered again.
            assert await post({"ok": True, "result": update}, good) == 200
            await run.settle()
            assert fake.sent_texts(STRANGER) == [STRANGER_TEXT]
        assert fake.calls["getUpdates"] == 0


async def test_webhook_mode_without_a_configured_secret_uses_a_random_one(fake, tmp_path) -> None:
    async with running(fake, tmp_path, baocao_webhook_url="https://example.test") as run:
        assert fake.webhook is not None
        secret = fake.webhook["secret_token"]
        assert len(secret) >= 32
        hook = f"{run.web_url}/zalo/webhook"
        update = build_update("text", STRANGER, text="Xin chào")
        async with aiohttp.ClientSession() as http:
            async with http.post(hook, json=update) as response:
                assert response.status == 403
            headers = {"X-Bot-Api-Secret-Token": secret}
            async with http.post(hook, json=update, headers=headers) as response:
                assert response.status == 200
        await run.settle()
        assert fake.sent_texts(STRANGER) == [STRANGER_TEXT]


# --- delivery details -------------------------------------------------------------------------


async def test_a_replayed_message_is_applied_once_and_answered_once(fake, tmp_path) -> None:
    async with running(fake, tmp_path) as run:
        await run.link(OFFICER, run.invite(UNIT))
        await run.say(OFFICER, "xong")
        await run.say(OFFICER, "xong")
        first = await run.say(OFFICER, "5", message_id="zalo-msg-5")
        assert len(first) == 1 and "Đã ghi câu 3: 5 đoàn" in first[0]
        assert await run.say(OFFICER, "5", message_id="zalo-msg-5") == []
        assert len(history(run.app, "inspection_teams")) == 1
        # The next answer goes to question 4, not to a re-applied question 3.
        assert "Đã ghi câu 4: 7 đơn vị" in (await run.say(OFFICER, "7"))[0]


async def test_switching_from_telegram_to_zalo_keeps_the_place(fake, tmp_path) -> None:
    async with running(fake, tmp_path) as run:
        service = run.app.service
        updates = iter(range(1000, 2000))

        def telegram(text: str | None = None, choice: str | None = None) -> list[Outbound]:
            inbound = Inbound(
                channel="telegram",
                chat_id="tg-1",
                user_id="tg-1",
                inbound_id=str(next(updates)),
                text=text,
                choice=choice,
                context="link" if choice == "link_yes" else "",
            )
            return [Outbound.from_payload(row.payload) for row in service.handle(inbound)]

        await asyncio.to_thread(telegram, f"/start {run.invite(UNIT)}")
        linked = await asyncio.to_thread(telegram, choice="link_yes")
        assert linked[0].text == f"Đã liên kết với {UNIT_NAME}."
        for text in ("xong", "xong", "5"):
            await asyncio.to_thread(telegram, text)

        replies = await run.link(OFFICER, run.invite(UNIT))
        assert replies[0] == f"Đã liên kết với {UNIT_NAME}."
        assert "Câu 4/18" in replies[1]
        assert "Đã ghi câu 4: 1.234 đơn vị" in (await run.say(OFFICER, "1.234"))[0]

        answers = stored_answers(run.app)
        assert answers["inspection_teams"].channel == "telegram"
        assert answers["inspected_units"].channel == "zalo"
        assert [h.channel for h in history(run.app, "inspected_units")] == ["zalo"]
        assert [h.channel for h in history(run.app, "inspection_teams")] == ["telegram"]
        # One submission for the unit, whichever channel typed.
        with run.app.database.transaction() as session:
            unit = unit_by_code(session, UNIT)
            count = session.exec(select(Submission).where(Submission.unit_id == unit.id)).all()
        assert len(count) == 1
        # Back on Telegram, the answer typed on Zalo is there.
        assert "Đang ghi: 1.234 đơn vị" in (await asyncio.to_thread(telegram, "/tiep"))[0].text


async def test_long_texts_are_split_at_2000_characters_on_line_boundaries(fake, tmp_path) -> None:
    async with running(fake, tmp_path) as run:
        rows = [
            UnitRow(f"XA-{n:03d}", f"Đảng ủy xã thử nghiệm số {n}", "xa", UNIT, "tu_kiem_tra")
            for n in range(80)
        ]
        with run.app.database.transaction() as session:
            replace_units(session, rows)
        await link_secretary(run)
        parts = await run.say(SECRETARY, "/status")
        with run.app.database.transaction() as session:
            campaign = current_campaign(session)
            progress = campaign_progress(session, campaign)
            deadlines = campaign_deadlines(session, campaign)
            expected = status_text(campaign, progress, run.clock(), deadlines)
        assert len(expected) > 4000
        assert len(parts) >= 3
        assert all(0 < len(part) <= 2000 for part in parts)
        assert fake.calls["sendMessage"] == len(fake.sent())  # the fake accepted every part
        lines = [line for line in expected.split("\n") if line]
        assert [line for part in parts for line in part.split("\n") if line] == lines


def test_render_parts_appends_choices_to_the_last_part() -> None:
    choices = (Choice("a", "Xác nhận", "có"), Choice("b", "Không phải tôi", "không"))
    assert render_parts(Outbound("Hỏi?", choices, numbered=True)) == [
        "Hỏi?\n\n1. Xác nhận\n2. Không phải tôi"
    ]
    assert render_parts(Outbound("Hỏi?", choices)) == ["Hỏi?\n\nGõ: có (xác nhận) · không"]
    long = "\n".join(f"Dòng {n:04d} " + "x" * 40 for n in range(100))
    parts = render_parts(Outbound(long, choices, numbered=True))
    assert all(len(part) <= 2000 for part in parts)
    assert parts[-1].endswith("\n\n1. Xác nhận\n2. Không phải tôi")
    full = "x" * 2000
    assert render_parts(Outbound(full, choices, numbered=True)) == [
        full,
        "1. Xác nhận\n2. Không phải tôi",
    ]
    assert render_parts(Outbound("")) == []


# --- the monthly quota ------------------------------------------------------------------------


def is_warning(message) -> bool:
    return message.text.startswith("Cảnh báo hạn mức Zalo")


def is_cap_notice(message) -> bool:
    return message.text.startswith("Đã hết hạn mức 10 tin nhắn Zalo")


async def test_monthly_quota_warns_once_then_stops_at_the_cap(fake, tmp_path) -> None:
    async with running(fake, tmp_path, baocao_zalo_monthly_cap=10) as run:
        await link_secretary(run)  # 2 messages
        await run.link(OFFICER, run.invite(UNIT))  # 3 messages: 5
        await run.say(OFFICER, "xong")  # 6
        await run.say(OFFICER, "xong")  # 7
        assert not any(is_warning(m) for m in fake.sent())
        await run.say(OFFICER, "5")  # 8 = 80 % of 10: the secretariat is warned (9)
        await fake.wait_for(lambda sent: any(is_warning(m) for m in sent), chat_id=SECRETARY)
        warning = next(m.text for m in fake.sent(SECRETARY) if is_warning(m))
        assert "8/10 tin nhắn Zalo trong tháng 6/2022" in warning
        await run.say(OFFICER, "1.234")  # 10: the cap; the secretariat is told (11)
        await fake.wait_for(lambda sent: any(is_cap_notice(m) for m in sent), chat_id=SECRETARY)
        await run.settle()
        assert len(fake.sent()) == 11

        # Past the cap: answers are still stored, nothing more goes out on Zalo.
        assert await run.say(OFFICER, "120") == []
        assert await run.say(OFFICER, "85") == []
        assert await run.say(SECRETARY, "/status") == []
        assert await run.send_event(OFFICER, "sticker") == []
        run.channel.host.outbox.wake()
        await run.settle()
        assert len(fake.sent()) == 11
        assert fake.calls["sendMessage"] == 11
        answers = stored_answers(run.app)
        assert answers["online_services_l34"].value == {"value": 120}
        assert answers["online_services_l4"].value == {"value": 85}
        refused = [row for row in outbox_rows(run.app, OFFICER) if row.status == "failed"]
        assert len(refused) == 3
        assert all(row.error.startswith("failed: quota") for row in refused)

        secretary = fake.sent(SECRETARY)
        assert sum(is_warning(m) for m in secretary) == 1
        assert sum(is_cap_notice(m) for m in secretary) == 1
        with run.app.database.transaction() as session:
            assert usage(session, channel="zalo", account="1234", month="2022-06") == 11

        # Still alive: the web server answers and a new month opens a new allowance.
        async with aiohttp.ClientSession() as http, http.get(f"{run.web_url}/healthz") as health:
            assert health.status == 200
        run.clock.set(datetime(2022, 6, 30, 17, 0, tzinfo=UTC))  # 1 July, 00:00 in Vietnam
        replies = await run.say(OFFICER, "tiep")
        assert len(replies) == 1 and "Câu 7/18" in replies[0]
        assert sum(is_warning(m) for m in fake.sent(SECRETARY)) == 1


# --- strangers and other events ---------------------------------------------------------------


async def test_a_stranger_learns_nothing(fake, tmp_path) -> None:
    async with running(fake, tmp_path) as run:
        await run.link(OFFICER, run.invite(UNIT))
        await run.say(OFFICER, "xong")
        replies = []
        for text in ("Xin chào", "/status", "/export", "xem", "1", "/start", "/help"):
            replies += await run.say(STRANGER, text)
        assert set(replies) == {STRANGER_TEXT}
        assert await run.say(STRANGER, "ABCD2345") == [BAD_CODE_TEXT]
        assert await run.send_event(STRANGER, "image") == [TEXT_ONLY_TEXT]
        assert await run.send_event(STRANGER, "voice") == [TEXT_ONLY_TEXT]
        everything = "\n".join(fake.sent_texts(STRANGER))
        for secret in ("Ninh Phước", "tai-ve", "HU-NP", "Câu"):
            assert secret not in everything
        with run.app.database.transaction() as session:
            assert find_contact(session, "zalo", STRANGER) is None


async def test_non_text_events_get_the_text_only_notice_once(fake, tmp_path) -> None:
    async with running(fake, tmp_path) as run:
        await run.link(OFFICER, run.invite(UNIT))
        assert await run.send_event(OFFICER, "sticker") == [TEXT_ONLY_TEXT]
        assert TEXT_ONLY_TEXT.startswith("Trợ lý chỉ đọc được tin nhắn chữ")
        target = run.channel.handled + 2
        fake.inject_event("image", OFFICER, message_id="img-1")
        fake.inject_event("image", OFFICER, message_id="img-1")
        await run.channel.wait_handled(target)
        await run.settle()
        assert fake.sent_texts(OFFICER)[-2:] == [TEXT_ONLY_TEXT, TEXT_ONLY_TEXT]
        assert len(fake.sent(OFFICER)) == 5  # 3 on linking, the sticker, the image once
        # The form did not move.
        assert "Câu 1/18" in (await run.say(OFFICER, "tiep"))[0]


# --- starting -------------------------------------------------------------------------------


async def test_a_bad_token_stops_the_start_with_a_clear_line(fake, tmp_path) -> None:
    wrong = "1234:wrong-secret-value"
    with pytest.raises(ChannelStartError) as error:
        async with running(fake, tmp_path, zalo_bot_token=wrong):
            pass
    message = str(error.value)
    assert "ZALO_BOT_TOKEN" in message and "401" in message
    assert "wrong-secret-value" not in message and wrong not in message
    assert "\n" not in message


async def test_an_unreachable_api_stops_the_start_with_a_clear_line(tmp_path) -> None:
    async with FakeZaloServer(token=TOKEN) as gone:
        pass  # stopped: its port refuses connections
    with pytest.raises(ChannelStartError) as error:
        async with running(gone, tmp_path):
            pass
    message = str(error.value)
    assert message.startswith("không kết nối được máy chủ Zalo http://127.0.0.1:")
    assert "zalo-secret" not in message
