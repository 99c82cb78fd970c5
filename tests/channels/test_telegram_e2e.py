"""End-to-end tests of the Telegram channel: the real application (settings, SQLite database,
service, outbox, web server, `runner.serve`) talking to the fake Telegram Bot API over HTTP.

Officers go from an invite link to a submitted report by pressing buttons and typing; the
secretariat asks for /status and /export; strangers learn nothing; a restart resumes; duplicated
and stale updates do nothing; the webhook refuses requests without the secret; 429 and 403
answers are handled; a bad token stops the start with one clear line. Nothing here sleeps: tests
wait for what the fake server records, or for the application's in-flight work to finish.
"""

from __future__ import annotations

import asyncio
import io
import logging
import socket
from dataclasses import dataclass, field

import aiohttp
import pytest
from sqlmodel import select

from bot.app import App, assemble, build_app
from bot.channels.telegram import WEBHOOK_PATH, TelegramChannel
from bot.runner import ChannelStartError, serve
from bot.secretariat import HELP_TEXT
from bot.service import BAD_CODE_TEXT, STRANGER_TEXT, TEXT_ONLY_TEXT
from bot.settings import Settings
from conversations.commands import OFFICER_MENU, SECRETARIAT_MENU
from storage.models import Answer, Contact, OutboxMessage, ProcessedInbound, Submission, Unit
from storage.repository import create_invite, current_campaign, unit_by_code
from tests.fakes.telegram_server import FakeTelegramServer, SentRecord
from tests.fakes.virtual_time import VirtualTime

TOKEN = "123456789:AAH-fake-token-for-tests_0123456789"
BOT_USERNAME = "baocao_test_bot"
OFFICER = 700_001
SECRETARY = 700_002
STRANGER = 700_003
UNIT = "HU-NP"
UNIT_NAME = "Ban Thường vụ Huyện ủy Ninh Phước"
MESSAGES = ("sendMessage", "sendDocument")


# --- harness ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Deployment:
    """`baocao run` in a task: a fresh App on the test database per start (a real restart)."""

    tg: FakeTelegramServer
    database_url: str
    clock: object
    overrides: dict = field(default_factory=dict)
    app: App | None = None
    channel: TelegramChannel | None = None
    task: asyncio.Task | None = None
    stop_event: asyncio.Event | None = None

    def settings(self, **overrides) -> Settings:
        values = {
            "baocao_database_url": self.database_url,
            "telegram_bot_token": TOKEN,
            "telegram_api_base_url": self.tg.base_url,
            "telegram_bot_username": None,
            "baocao_webhook_url": None,
            "baocao_webhook_secret": None,
            "baocao_http_host": "127.0.0.1",
            "baocao_http_port": 0,
            "baocao_send_rate": 10_000.0,
            "baocao_chat_interval": 0.0,
            "baocao_scheduler": False,
            "zalo_bot_token": None,
        }
        values.update(self.overrides)
        values.update(overrides)
        return Settings(_env_file=None, **values)

    async def start(self, **overrides) -> TelegramChannel:
        settings = self.settings(**overrides)
        self.app = build_app(settings, clock=self.clock)
        self.channel = TelegramChannel(settings)
        self.stop_event = asyncio.Event()
        started = asyncio.Event()
        self.task = asyncio.create_task(
            serve(assemble(self.app, [self.channel]), self.stop_event, started=started)
        )
        waiter = asyncio.create_task(started.wait())
        done, _ = await asyncio.wait({self.task, waiter}, timeout=10, return_when="FIRST_COMPLETED")
        if not waiter.done():
            waiter.cancel()
        if self.task in done:
            failed, self.task = self.task, None
            self.app.close()
            failed.result()  # raises what stopped the start
        assert started.is_set(), "the application did not start within 10 s"
        return self.channel

    async def stop(self) -> None:
        if self.task is None:
            return
        self.stop_event.set()
        await asyncio.wait_for(self.task, timeout=15)
        self.task = None
        self.app.close()

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until every update taken is handled and every reply delivered."""
        host = self.channel.host
        async with asyncio.timeout(timeout):
            while host.in_flight:
                await asyncio.gather(*list(host.in_flight), return_exceptions=True)
            await host.outbox.drain()

    def query(self, fn):
        with self.app.database.transaction() as session:
            return fn(session)

    def invite(self, role: str = "officer", unit_code: str | None = UNIT) -> str:
        from datetime import timedelta

        def make(session):
            unit = unit_by_code(session, unit_code) if unit_code else None
            invite = create_invite(
                session, role=role, unit=unit, now=self.clock(), valid_for=timedelta(days=30)
            )
            return invite.code

        return self.query(make)

    def answers(self, unit_code: str = UNIT) -> dict[str, Answer]:
        def load(session):
            unit = unit_by_code(session, unit_code)
            campaign = current_campaign(session)
            submission = session.exec(
                select(Submission).where(
                    Submission.unit_id == unit.id, Submission.campaign_id == campaign.id
                )
            ).first()
            if submission is None:
                return {}
            rows = session.exec(select(Answer).where(Answer.submission_id == submission.id))
            return {row.question_key: row for row in rows}

        return self.query(load)

    def submission_status(self, unit_code: str = UNIT) -> str | None:
        def load(session):
            unit = unit_by_code(session, unit_code)
            row = session.exec(select(Submission).where(Submission.unit_id == unit.id)).first()
            return row.status if row else None

        return self.query(load)


@dataclass
class Person:
    """One Telegram user of the fake server, seen from their phone."""

    tg: FakeTelegramServer
    user_id: int
    first_name: str = "Nguyễn Văn An"

    def __post_init__(self) -> None:
        self.tg.user(self.user_id, self.first_name)

    def messages(self) -> list[SentRecord]:
        return [r for r in self.tg.sent(self.user_id) if r.method in MESSAGES]

    async def _expect(self, before: int, expect: int, timeout: float = 5.0) -> list[SentRecord]:
        def arrived(records: list[SentRecord]) -> bool:
            return sum(r.method in MESSAGES for r in records) >= before + expect

        await self.tg.wait_for(arrived, chat_id=self.user_id, timeout=timeout)
        return self.messages()[before:]

    async def say(self, text: str, expect: int = 1) -> list[SentRecord]:
        before = len(self.messages())
        self.tg.inject_message(self.user_id, text, first_name=self.first_name)
        return await self._expect(before, expect)

    def button_message(self, data: str) -> SentRecord:
        for record in reversed(self.messages()):
            if data in button_data(record):
                return record
        raise AssertionError(f"no message with button {data!r}:\n{self.tg.dump(self.user_id)}")

    async def press(self, data: str, expect: int = 1, message: SentRecord | None = None):
        message = message or self.button_message(data)
        before = len(self.messages())
        query_id = self.tg.inject_callback(self.user_id, message.message_id, data)
        replies = await self._expect(before, expect)
        return query_id, replies

    @property
    def last(self) -> SentRecord:
        return self.messages()[-1]


def button_data(record: SentRecord) -> list[str]:
    rows = (record.reply_markup or {}).get("inline_keyboard", [])
    return [button["callback_data"] for row in rows for button in row]


def button_labels(record: SentRecord) -> list[str]:
    rows = (record.reply_markup or {}).get("inline_keyboard", [])
    return [button["text"] for row in rows for button in row]


@pytest.fixture
async def tg():
    async with FakeTelegramServer(token=TOKEN, bot_username=BOT_USERNAME) as server:
        yield server


@pytest.fixture
async def deployment(tg, sqlite_url, clock):
    running = Deployment(tg, sqlite_url, clock)
    yield running
    await running.stop()


async def link(person: Person, code: str, deployment: Deployment) -> list[SentRecord]:
    """Open the invite link (/start CODE) and confirm with the button."""
    offer = await person.say(f"/start {code}")
    assert button_data(offer[-1]) == ["link_yes|link", "link_no|link"]
    _, replies = await person.press("link_yes|link", expect=1)
    assert replies[0].text.startswith("Đã liên kết")
    return replies


async def link_officer(person: Person, deployment: Deployment) -> SentRecord:
    """Link an officer to HU-NP; return the first question."""
    await person.say(f"/start {deployment.invite()}")
    _, replies = await person.press("link_yes|link", expect=2)
    assert replies[0].text == f"Đã liên kết với {UNIT_NAME}."
    assert "Câu 1/18" in replies[1].text
    return replies[1]


# Answers typed for HU-NP's 20 questions (documents questions are handled by buttons).
TYPED = {
    "inspection_teams": ("5", {"value": 5}),
    "inspected_units": ("12 đơn vị", {"value": 12}),
    "online_services_l34": ("1.234", {"value": 1234}),
    "online_services_l4": ("230", {"value": 230}),
    "satisfaction_pct": ("92%", {"value": 92}),
    "reception_local_regular": ("12/345", {"times": 12, "people": 345}),
    "reception_local_adhoc": ("3 / 40", {"times": 3, "people": 40}),
    "dialogue_district_party": ("2", {"value": 2}),
    "dialogue_district_gov": ("3", {"value": 3}),
    "dialogue_commune_party": ("14", {"value": 14}),
    "dialogue_commune_gov": ("15", {"value": 15}),
    "complaints": ("45/50", {"done": 45, "total": 50}),
    "denunciations": ("9 trên 10", {"done": 9, "total": 10}),
    "complex_cases": ("1/2", {"done": 1, "total": 2}),
    "supervisions": ("7", {"value": 7}),
    "criticism_conferences": ("4", {"value": 4}),
}


def officer_update(update_id: int, message_id: int, **content) -> dict:
    """A raw Telegram update: the officer sends a message with `content` (text, photo…)."""
    person = {"id": OFFICER, "first_name": "Nguyễn Văn An"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": 1_655_686_800,
            "chat": {**person, "type": "private"},
            "from": {**person, "is_bot": False},
            **content,
        },
    }


def question_number(record: SentRecord) -> int | None:
    import re

    match = re.search(r"Câu (\d+)/18", record.text or "")
    return int(match.group(1)) if match else None


async def fill_form(person: Person) -> None:
    """From question 1, answer everything by typing and buttons, ending on the review."""
    await person.say("12-KH/HU, ngày 05/6/2017, Kế hoạch triển khai Chỉ thị 37-CT/TU")
    await person.press("done|q:docs_party")
    await person.press("na|q:docs_state")
    for _key, (text, _value) in TYPED.items():
        await person.say(text)
    assert person.last.text.startswith("Đã ghi câu 18: 4 hội nghị")
    assert "XEM LẠI" in person.last.text


# --- officers ----------------------------------------------------------------------------------


async def test_officer_goes_from_invite_link_to_submitted(deployment, tg):
    await deployment.start()
    officer = Person(tg, OFFICER)
    code = deployment.invite()

    offer = await officer.say(f"/start {code}")
    assert offer[0].text == (
        f"Mã mời này dành cho cán bộ đầu mối của {UNIT_NAME}.\n"
        "Đồng chí xác nhận đúng là mình để liên kết tài khoản này?"
    )
    assert button_labels(offer[0]) == ["Xác nhận", "Không phải tôi"]
    query_id, replies = await officer.press("link_yes|link", expect=2)
    assert replies[0].text == f"Đã liên kết với {UNIT_NAME}."
    assert replies[1].text.startswith("Kính chào đồng chí!\nThực hiện Kế hoạch số 131-KH/TU")
    assert "Bấm «Xong» khi đã đủ." in replies[1].text  # buttons show the choices
    assert "Câu 1/18 — Mục 1. Văn bản chỉ đạo, triển khai" in replies[1].text
    assert button_labels(replies[1]) == [
        "Xong",
        "Không áp dụng",
        "Bỏ qua",
        "Tạm dừng",
        "Xem lại",
    ]
    await deployment.settle()
    assert query_id in tg.answered_callbacks
    edits = [r for r in tg.sent(OFFICER) if r.method == "editMessageReplyMarkup"]
    assert [(e.message_id, e.reply_markup) for e in edits] == [(offer[0].message_id, None)]

    # Question 1 (documents): a line typed, then the «Xong» button.
    [added] = await officer.say("12-KH/HU, ngày 05/6/2017, Kế hoạch triển khai Chỉ thị 37-CT/TU")
    assert added.text.startswith("Đã ghi 1 văn bản (tổng 1):")
    [q2] = (await officer.press("done|q:docs_party"))[1]
    assert q2.text.startswith("Đã ghi 1 văn bản.") and "Câu 2/18" in q2.text
    # Question 2: not applicable, by button.
    [q3] = (await officer.press("na|q:docs_state"))[1]
    assert q3.text.startswith("Đã ghi câu 2: Không áp dụng.") and "Câu 3/18" in q3.text

    # Question 3: a bad answer is re-asked with the reason, then a good one.
    [again] = await officer.say("nhiều lắm")
    assert again.text.startswith(
        "Chưa ghi được: Chưa thấy số nào trong câu trả lời. Vui lòng ghi bằng chữ số"
    )
    assert "Câu 3/18" in again.text
    [q4] = await officer.say("5")
    assert q4.text.startswith("Đã ghi câu 3: 5 đoàn") and "Câu 4/18" in q4.text

    # Question 4 skipped with the button, then «quay lại» to 4 by button.
    [q5] = (await officer.press("skip|q:inspected_units"))[1]
    assert q5.text.startswith("Đã để câu này lại, trả lời sau.") and "Câu 5/18" in q5.text
    [back] = (await officer.press("back|q:online_services_l34"))[1]
    assert "Câu 4/18" in back.text
    [wrong_kind] = await officer.say("150%")
    assert wrong_kind.text.startswith(
        "Chưa ghi được: Câu hỏi này cần một số nguyên, không phải tỷ lệ phần trăm."
    )
    [q5] = await officer.say("12 đơn vị")
    assert "Câu 5/18" in q5.text

    # Pause and continue, both as buttons; resuming greets with the progress.
    [paused] = (await officer.press("pause|q:online_services_l34"))[1]
    assert paused.text == (
        "Đã lưu mọi câu trả lời. Khi nào tiếp tục, gõ /tiep (hoặc «tiếp») — sẽ quay lại đúng câu 5."
    )
    [resumed] = (await officer.press("continue|q:online_services_l34"))[1]
    assert resumed.text.startswith(
        "Kính chào đồng chí. Đồng chí đã trả lời 4/18 câu; tiếp tục từ câu 5.\n\nCâu 5/18"
    )

    for key in list(TYPED)[2:3]:
        await officer.say(TYPED[key][0])
    # A cross-question rule: level-4 services cannot exceed the level-3-and-4 total.
    [rule] = await officer.say("5.000")
    assert rule.text.startswith(
        "Chưa ghi được: Số dịch vụ mức độ 4 không được lớn hơn tổng số dịch vụ mức độ 3, 4"
    )
    assert "Câu 6/18" in rule.text
    for key in list(TYPED)[3:]:
        await officer.say(TYPED[key][0])
    review = officer.last
    assert "XEM LẠI — Ban Thường vụ Huyện ủy Ninh Phước" in review.text
    assert "Đã trả lời 18/18 câu" in review.text
    assert button_data(review) == ["submit|review", "continue|review"]

    # Fix question 3 from the review by typing its number, then back to the review.
    [q3] = await officer.say("3")
    assert "Câu 3/18" in q3.text and "Đang ghi: 5 đoàn." in q3.text
    [review] = await officer.say("6")
    assert review.text.startswith("Đã ghi câu 3: 6 đoàn") and "XEM LẠI" in review.text

    [confirm] = (await officer.press("submit|review"))[1]
    assert confirm.text.startswith(f"Xác nhận nộp báo cáo của {UNIT_NAME}?")
    assert button_labels(confirm) == ["Đồng ý nộp", "Chưa nộp"]
    [submitted] = (await officer.press("confirm|confirm"))[1]
    assert submitted.text.startswith(f"Đã nộp báo cáo của {UNIT_NAME} lúc 08:00 ngày 20/6/2022.")
    await deployment.settle()

    stored = deployment.answers()
    assert deployment.submission_status() == "submitted"
    assert stored["docs_party"].value["items"][0]["raw"].startswith("12-KH/HU")
    assert stored["docs_state"].not_applicable
    assert stored["inspection_teams"].value == {"value": 6}
    for key, (_text, value) in list(TYPED.items())[1:]:
        assert stored[key].value == value, key
    assert {row.channel for row in stored.values()} == {"telegram"}
    # Every message the bot sent was valid HTML for Telegram and delivered once.
    outbox = deployment.query(lambda s: list(s.exec(select(OutboxMessage))))
    assert {row.status for row in outbox} == {"sent"}
    assert len(outbox) == len(officer.messages())


async def test_typed_commands_and_keywords_work_without_buttons(deployment, tg):
    await deployment.start()
    officer = Person(tg, OFFICER)
    await link_officer(officer, deployment)
    [status] = await officer.say("/status")
    assert status.text.startswith(f"{UNIT_NAME}: chưa bắt đầu, đã trả lời 0/18 câu.")
    [help_reply] = await officer.say("/help")
    assert help_reply.text.startswith("HƯỚNG DẪN")
    [goto] = await officer.say("câu 17")
    assert "Câu 17/18" in goto.text
    [na] = await officer.say("kad")
    assert na.text.startswith("Đã ghi câu 17: Không áp dụng.")
    [review] = await officer.say("/xem")
    assert "XEM LẠI" in review.text
    [continued] = await officer.say("/tiep")
    assert "Câu 1/18" in continued.text
    [confirm] = await officer.say("/nop")
    assert "Còn 17 câu chưa trả lời" in confirm.text
    [back_to_review] = await officer.say("không")
    assert "XEM LẠI" in back_to_review.text


# --- secretariat ----------------------------------------------------------------------------


async def test_secretariat_gets_status_and_export_with_the_officers_numbers(deployment, tg):
    openpyxl = pytest.importorskip("openpyxl")
    await deployment.start()
    officer = Person(tg, OFFICER)
    await link_officer(officer, deployment)
    await fill_form(officer)
    await officer.press("submit|review")
    await officer.press("confirm|confirm")

    secretary = Person(tg, SECRETARY, "Trần Thị Bình")
    offer = await secretary.say(f"/start {deployment.invite('secretariat', None)}")
    assert offer[0].text.startswith("Mã mời này dành cho cán bộ tổng hợp của Ban Dân vận Tỉnh ủy")
    _, [linked] = await secretary.press("link_yes|link")
    assert linked.text == "Đã liên kết. " + HELP_TEXT
    # The secretariat's own menu is set for this chat right after linking.
    await tg.wait_for_calls("setMyCommands", count=2)
    assert tg.commands[f"chat:{SECRETARY}"] == [
        {"command": c, "description": d} for c, d in SECRETARIAT_MENU
    ]

    [status] = await secretary.say("/status")
    lines = status.text.splitlines()
    assert lines[0].startswith("Kiểm tra việc thực hiện Chỉ thị 37-CT/TU")
    assert lines[1] == "Hạn nộp: trước ngày 05/7/2022 (còn 14 ngày)"
    assert lines[2] == "Đã nộp 1/13 · đang điền 0 · chưa bắt đầu 12"
    # a submitted unit is listed only as the parent of one that has not submitted
    assert f" • {UNIT_NAME} (HU-NP): đã nộp" in lines
    assert lines[lines.index(f" • {UNIT_NAME} (HU-NP): đã nộp") + 1].startswith("   ↳ ")
    assert "Chưa nộp:" in status.text

    [document] = await secretary.say("/export")
    assert document.method == "sendDocument"
    assert document.text == "Bảng tổng hợp"
    assert document.document.filename.endswith(".xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(document.document.data))
    cells = [
        cell
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(values_only=True)
        for cell in row
        if cell is not None
    ]
    text = " ".join(str(cell) for cell in cells)
    assert UNIT_NAME in text
    for number in (1234, 230, 345, 45, 50):
        assert number in cells or str(number) in text, number

    [unit_document] = await secretary.say(f"/export {UNIT}")
    assert unit_document.method == "sendDocument"
    assert unit_document.text == f"Phụ lục của {UNIT_NAME}"


async def test_secretariat_commands_are_set_at_start_for_known_members(deployment, tg):
    await deployment.start()
    secretary = Person(tg, SECRETARY)
    await link(secretary, deployment.invite("secretariat", None), deployment)
    await deployment.settle()
    await deployment.stop()
    tg.commands.clear()

    await deployment.start()
    assert tg.commands["default"] == [{"command": c, "description": d} for c, d in OFFICER_MENU]
    assert [c["command"] for c in tg.commands["default"]] == [
        "start",
        "tiep",
        "xem",
        "nop",
        "status",
        "help",
    ]
    assert [c["command"] for c in tg.commands[f"chat:{SECRETARY}"]] == [
        "status",
        "export",
        "remind",
        "invite",
        "tralai",
        "duyet",
        "help",
    ]
    assert set(tg.commands) == {"default", f"chat:{SECRETARY}"}


async def test_invite_command_gives_a_telegram_deep_link(deployment, tg):
    await deployment.start()
    secretary = Person(tg, SECRETARY)
    await link(secretary, deployment.invite("secretariat", None), deployment)
    [reply] = await secretary.say(f"/invite {UNIT}")
    lines = reply.text.splitlines()
    code = lines[0].split(": ", 1)[1].split(" ")[0]
    assert lines[0].startswith(f"Mã mời cho {UNIT_NAME}: {code} (hết hạn ")
    assert lines[1] == f"Telegram: https://t.me/{BOT_USERNAME}?start={code}"
    assert lines[2] == "Chuyển cho người nhận:"  # then the instruction to forward

    officer = Person(tg, OFFICER)
    [offer] = await officer.say(f"/start {code}")
    assert UNIT_NAME in offer.text


# --- strangers --------------------------------------------------------------------------------


async def test_a_stranger_learns_nothing(deployment, tg):
    await deployment.start()
    stranger = Person(tg, STRANGER, "Người lạ")
    replies = []
    for text in ("xin chào", "/status", "/export", "/xem", "/start", "/start SAIMA123", "12"):
        replies += await stranger.say(text)
    # A forged button press, as if from a message the stranger never had.
    tg.inject_raw(
        {
            "update_id": 90_001,
            "callback_query": {
                "id": "forged-1",
                "from": {"id": STRANGER, "is_bot": False, "first_name": "Người lạ"},
                "chat_instance": "1",
                "data": "submit|review",
            },
        }
    )
    before = len(stranger.messages())
    await tg.wait_for(lambda r: sum(x.method in MESSAGES for x in r) > before, STRANGER)
    replies = stranger.messages()
    await deployment.settle()

    texts = {r.text for r in replies}
    assert texts == {STRANGER_TEXT, BAD_CODE_TEXT}
    unit_names = deployment.query(lambda s: [u.name for u in s.exec(select(Unit))])
    title = deployment.query(lambda s: current_campaign(s).title)
    for record in replies:
        assert record.method == "sendMessage" and not record.reply_markup
        assert title not in record.text and "37" not in record.text
        assert not any(name in record.text for name in unit_names)
    contact = deployment.query(
        lambda s: s.exec(select(Contact).where(Contact.external_id == str(STRANGER))).first()
    )
    assert contact is None or contact.unit_id is None


# --- reliability ---------------------------------------------------------------------------


async def test_a_restart_mid_form_resumes_at_the_same_question(deployment, tg):
    await deployment.start()
    officer = Person(tg, OFFICER)
    await link_officer(officer, deployment)
    await officer.press("na|q:docs_party")
    await officer.press("na|q:docs_state")
    [q4] = await officer.say("5")
    assert "Câu 4/18" in q4.text
    await deployment.settle()
    await deployment.stop()

    # While the bot is down the officer answers question 4; Telegram keeps the update.
    tg.inject_message(OFFICER, "12")
    before = len(officer.messages())
    await deployment.start()
    [q5] = await officer._expect(before, 1)
    assert q5.text.startswith("Đã ghi câu 4: 12 đơn vị") and "Câu 5/18" in q5.text
    [again] = await officer.say("/tiep")
    assert "Câu 5/18" in again.text
    # The old question 4 message's buttons still decode after the restart (stale: no effect).
    _, [stale] = await officer.press("skip|q:inspected_units", message=q4)
    assert stale.text.startswith("Nút này thuộc một câu hỏi cũ nên không dùng được nữa.")
    assert "Câu 5/18" in stale.text
    assert deployment.answers()["inspected_units"].value == {"value": 12}


HUYEN_UNITS = ("TU-PRTC", "HU-NP", "HU-NH", "HU-BACAI", "HU-NINHSON", "HU-THUANBAC")


@pytest.fixture
async def any_deployment(tg, database_url, clock):
    """The same deployment on SQLite and on PostgreSQL (TEST_DATABASE_URL)."""
    running = Deployment(tg, database_url, clock)
    yield running
    await running.stop()


async def test_officers_answer_at_the_same_time(any_deployment, tg):
    deployment = any_deployment
    await deployment.start()

    async def officer(n: int, unit_code: str) -> None:
        person = Person(tg, OFFICER + 100 + n, f"Cán bộ {n}")
        await person.say(f"/start {deployment.invite('officer', unit_code)}")
        _, [_, first] = await person.press("link_yes|link", expect=2)
        assert "Câu 1/18" in first.text
        await person.press("na|q:docs_party")
        await person.press("na|q:docs_state")
        # Two answers sent in quick succession: applied in the order they were sent.
        before = len(person.messages())
        tg.inject_message(person.user_id, str(n))
        tg.inject_message(person.user_id, f"{n + 10} đơn vị")
        first, second = await person._expect(before, 2)
        assert "Đã ghi câu 3" in first.text and "Đã ghi câu 4" in second.text
        await person.say("xem")
        assert "Đã trả lời 4/18 câu" in person.last.text

    await asyncio.gather(*(officer(n, code) for n, code in enumerate(HUYEN_UNITS)))
    await deployment.settle()
    for n, code in enumerate(HUYEN_UNITS):
        answers = deployment.answers(code)
        assert answers["inspection_teams"].value == {"value": n}, code
        assert answers["inspected_units"].value == {"value": n + 10}, code


async def test_a_duplicated_update_is_applied_once_and_answered_once(deployment, tg):
    await deployment.start()
    officer = Person(tg, OFFICER)
    await link_officer(officer, deployment)
    await officer.press("na|q:docs_party")
    await officer.press("na|q:docs_state")
    update = officer_update(50_000, 9_000, text="5")
    before = len(officer.messages())
    tg.inject_raw(update)
    tg.inject_raw(update)
    [reply] = await officer._expect(before, 1)
    await deployment.settle()
    tg.inject_raw(update)  # and once more, later
    [marker] = await officer.say("/tiep")
    await deployment.settle()

    assert reply.text.startswith("Đã ghi câu 3: 5 đoàn") and "Câu 4/18" in reply.text
    assert "Câu 4/18" in marker.text
    assert len(officer.messages()) == before + 2
    answers = deployment.answers()
    assert answers["inspection_teams"].value == {"value": 5}
    assert "inspected_units" not in answers
    processed = deployment.query(
        lambda s: list(
            s.exec(select(ProcessedInbound).where(ProcessedInbound.inbound_id == "50000"))
        )
    )
    assert len(processed) == 1


async def test_a_stale_button_does_not_act(deployment, tg):
    await deployment.start()
    officer = Person(tg, OFFICER)
    q1 = await link_officer(officer, deployment)
    await officer.say("kad")  # typed: question 1's buttons stay on its message
    [q3] = (await officer.press("na|q:docs_state"))[1]
    assert "Câu 3/18" in q3.text

    query_id, [reply] = await officer.press("skip|q:docs_party", message=q1)
    assert reply.text.startswith(
        "Nút này thuộc một câu hỏi cũ nên không dùng được nữa. Câu hiện tại:"
    )
    assert "Câu 3/18" in reply.text
    await deployment.settle()
    assert query_id in tg.answered_callbacks
    # The pressed message lost its keyboard, so the old button cannot be pressed again.
    with pytest.raises(ValueError, match="has no button"):
        tg.inject_callback(OFFICER, q1.message_id, "skip|q:docs_party")
    answers = deployment.answers()
    assert answers["docs_party"].not_applicable
    assert set(answers) == {"docs_party", "docs_state"}


async def test_a_keyword_slip_and_an_unread_line_are_settled_with_buttons(deployment, tg):
    await deployment.start()
    officer = Person(tg, OFFICER)
    await link_officer(officer, deployment)
    [asked] = await officer.say("Công văn 245-CV/HU ngày 31/6/2021 về tiếp dân")
    assert "ngày “31/6/2021” không có thật" in asked.text
    assert button_labels(asked) == ["Giữ như đã gõ", "Bỏ các dòng này"]
    assert button_data(asked) == ["accept|p:docs_party", "decline|p:docs_party"]
    [kept] = (await officer.press("accept|p:docs_party", message=asked))[1]
    assert kept.text.startswith("Đã giữ 1 văn bản (tổng 1):\n1. số 245-CV/HU, chưa có ngày")
    assert "bấm «Xong» khi đã đủ" in kept.text
    [slip] = await officer.say("xongg")
    assert slip.text == "Ý đồng chí là «xong»?"
    assert button_labels(slip) == ["Đúng", "Không phải"]
    [q2] = (await officer.press("accept|p:docs_party", message=slip))[1]
    assert q2.text.startswith("Đã ghi 1 văn bản.") and "Câu 2/18" in q2.text
    await deployment.settle()
    (item,) = deployment.answers()["docs_party"].value["items"]
    assert (item["number"], item["date"]) == ("245-CV/HU", None)


async def test_a_photo_gets_one_text_only_notice_and_changes_nothing(deployment, tg):
    await deployment.start()
    officer = Person(tg, OFFICER)
    await link_officer(officer, deployment)
    update = officer_update(
        60_000, 9_100, photo=[{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]
    )
    before = len(officer.messages())
    tg.inject_raw(update)
    tg.inject_raw(update)
    [notice] = await officer._expect(before, 1)
    await deployment.settle()
    assert notice.text == TEXT_ONLY_TEXT
    assert len(officer.messages()) == before + 1
    [again] = await officer.say("/tiep")
    assert "Câu 1/18" in again.text
    assert deployment.answers() == {}


# --- webhook -----------------------------------------------------------------------------------


def stranger_update(update_id: int, text: str = "xin chào") -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_655_686_800,
            "chat": {"id": STRANGER, "type": "private", "first_name": "Người lạ"},
            "from": {"id": STRANGER, "is_bot": False, "first_name": "Người lạ"},
            "text": text,
        },
    }


async def test_webhook_refuses_requests_without_the_right_secret(deployment, tg):
    port = free_port()
    secret = "webhook-secret-for-tests_42"
    channel = await deployment.start(
        baocao_http_port=port,
        baocao_webhook_url="https://baocao.example.gov.vn",
        baocao_webhook_secret=secret,
    )
    assert tg.webhook_url == "https://baocao.example.gov.vn" + WEBHOOK_PATH
    assert tg.webhook_secret_token == secret
    assert tg.calls["getUpdates"] == 0
    url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=stranger_update(1)) as response:
            assert response.status == 403
        headers = {"X-Telegram-Bot-Api-Secret-Token": "wrong-secret"}
        async with http.post(url, json=stranger_update(2), headers=headers) as response:
            assert response.status == 403
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret[:-1]}
        async with http.post(url, json=stranger_update(3), headers=headers) as response:
            assert response.status == 403
        await deployment.settle()
        assert tg.sent(STRANGER) == []
        assert deployment.query(lambda s: list(s.exec(select(ProcessedInbound)))) == []

        headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
        async with http.post(url, json=stranger_update(4), headers=headers) as response:
            assert response.status == 200
        await deployment.settle()
        [reply] = tg.sent(STRANGER)
        assert reply.text == STRANGER_TEXT
        # Telegram retrying the same update changes nothing.
        async with http.post(url, json=stranger_update(4), headers=headers) as response:
            assert response.status == 200
        await deployment.settle()
        assert len(tg.sent(STRANGER)) == 1
    processed = deployment.query(lambda s: [p.inbound_id for p in s.exec(select(ProcessedInbound))])
    assert processed == ["4"]
    assert channel.webhook_secret == secret


async def test_webhook_without_configured_secret_uses_a_generated_one(deployment, tg):
    port = free_port()
    await deployment.start(
        baocao_http_port=port, baocao_webhook_url="https://baocao.example.gov.vn/telegram/webhook"
    )
    secret = tg.webhook_secret_token
    assert secret and len(secret) >= 32
    assert tg.webhook_url == "https://baocao.example.gov.vn/telegram/webhook"
    url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    async with aiohttp.ClientSession() as http:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
        async with http.post(url, json=stranger_update(7), headers=headers) as response:
            assert response.status == 200
    await deployment.settle()
    assert [r.text for r in tg.sent(STRANGER)] == [STRANGER_TEXT]


async def test_polling_mode_deletes_a_leftover_webhook_first(deployment, tg):
    tg.webhook_url = "https://old.example.org/hook"
    await deployment.start()
    assert tg.calls["deleteWebhook"] == 1
    stranger = Person(tg, STRANGER)
    [reply] = await stranger.say("xin chào")
    assert reply.text == STRANGER_TEXT


# --- outbound failures ------------------------------------------------------------------------


async def test_flood_limit_429_is_honoured_and_the_message_still_arrives(deployment, tg):
    channel = await deployment.start()
    fake_time = VirtualTime()
    channel.host.outbox.monotonic = fake_time.monotonic
    channel.host.outbox.sleep = fake_time.sleep
    tg.fail_next("sendMessage", status=429, retry_after=7)
    stranger = Person(tg, STRANGER)

    [reply] = await stranger.say("xin chào")
    await deployment.settle()

    assert reply.text == STRANGER_TEXT
    assert tg.calls["sendMessage"] == 2
    assert sum(fake_time.slept) >= 7  # every send waited out retry_after (in fake time)
    [row] = deployment.query(lambda s: list(s.exec(select(OutboxMessage))))
    assert row.status == "sent" and row.attempts == 2


async def test_server_errors_are_retried(deployment, tg):
    channel = await deployment.start()
    fake_time = VirtualTime()
    channel.host.outbox.monotonic = fake_time.monotonic
    channel.host.outbox.sleep = fake_time.sleep
    tg.fail_next("sendMessage", status=500, times=2)
    [reply] = await Person(tg, STRANGER).say("xin chào")
    assert reply.text == STRANGER_TEXT
    assert tg.calls["sendMessage"] == 3


async def test_a_blocked_bot_marks_the_contact_inactive(deployment, tg):
    await deployment.start()
    officer = Person(tg, OFFICER)
    await link_officer(officer, deployment)
    tg.block_user(OFFICER)
    tg.inject_message(OFFICER, "5")
    await tg.wait_for_calls("sendMessage", count=tg.calls["sendMessage"] + 1)
    await deployment.settle()

    contact = deployment.query(
        lambda s: s.exec(select(Contact).where(Contact.external_id == str(OFFICER))).one()
    )
    assert contact.active is False
    failed = deployment.query(
        lambda s: list(s.exec(select(OutboxMessage).where(OutboxMessage.status == "failed")))
    )
    assert len(failed) == 1 and failed[0].error.startswith("blocked:")
    assert "Forbidden: bot was blocked by the user" in failed[0].error


# --- start-up -----------------------------------------------------------------------------------


async def test_a_rejected_token_stops_the_start_with_one_clear_line(deployment, tg, caplog):
    caplog.set_level(logging.DEBUG)
    other = "987654321:AAH-another-token-not-known_12345"
    with pytest.raises(ChannelStartError) as failure:
        await deployment.start(telegram_bot_token=other)
    message = str(failure.value)
    assert message == (
        "Telegram: Telegram từ chối TELEGRAM_BOT_TOKEN (401 Unauthorized) — kiểm tra lại token "
        "lấy từ @BotFather"
    )
    assert "\n" not in message
    assert other not in caplog.text and other.split(":")[1] not in caplog.text
    assert tg.calls["getUpdates"] == 0 and tg.calls["setMyCommands"] == 0


async def test_an_unreachable_api_stops_the_start_with_one_clear_line(deployment, caplog):
    caplog.set_level(logging.DEBUG)
    base = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ChannelStartError) as failure:
        await deployment.start(telegram_api_base_url=base)
    message = str(failure.value)
    assert message.startswith(f"Telegram: không kết nối được máy chủ Telegram {base}")
    assert "\n" not in message
    assert TOKEN.split(":")[1] not in message and TOKEN.split(":")[1] not in caplog.text


async def test_a_missing_token_stops_the_start(deployment):
    with pytest.raises(ChannelStartError, match="chưa đặt TELEGRAM_BOT_TOKEN"):
        await deployment.start(telegram_bot_token=None)


async def test_stop_lets_updates_in_flight_finish(deployment, tg):
    await deployment.start()
    stranger = Person(tg, STRANGER)
    for n in range(5):
        tg.inject_message(STRANGER, f"tin {n}")
    await tg.wait_for_calls("sendMessage", count=1)
    await deployment.stop()
    # Whatever was taken from Telegram was handled and answered before the stop completed.
    processed = deployment.query(lambda s: len(list(s.exec(select(ProcessedInbound)))))
    assert len(stranger.messages()) == processed >= 1
