"""Tests of the fake Telegram Bot API server, driven by the real aiogram client."""

import asyncio

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from tests.fakes.telegram_server import ApiError, FakeTelegramServer, parse_html

TOKEN = "123456:TEST-token"
USER_ID = 4242


def make_bot(server: FakeTelegramServer, token: str = TOKEN) -> Bot:
    api = TelegramAPIServer.from_base(server.base_url)
    return Bot(token, session=AiohttpSession(api=api))


def keyboard(*data: str) -> InlineKeyboardMarkup:
    buttons = [[InlineKeyboardButton(text=f"Nút {item}", callback_data=item)] for item in data]
    return InlineKeyboardMarkup(inline_keyboard=buttons)


@pytest.fixture
async def tg():
    async with FakeTelegramServer(token=TOKEN, bot_username="baocao_test_bot") as server:
        yield server


@pytest.fixture
async def bot(tg):
    client = make_bot(tg)
    yield client
    await client.session.close()


async def test_get_me_returns_bot_identity(tg, bot):
    me = await bot.get_me()
    assert me.username == "baocao_test_bot"
    assert me.id == tg.bot_id == 123456
    assert me.is_bot
    assert tg.calls["getMe"] == 1


async def test_send_message_with_inline_keyboard_round_trips(tg, bot):
    markup = keyboard("ok", "sửa")
    first = await bot.send_message(USER_ID, "Xác nhận số liệu?", reply_markup=markup)
    second = await bot.send_message(USER_ID, "Lần hai")

    assert first.reply_markup.model_dump(exclude_none=True) == markup.model_dump(exclude_none=True)
    assert first.chat.id == USER_ID and first.chat.type == "private"
    assert first.from_user is not None and first.from_user.username == "baocao_test_bot"
    assert second.message_id == first.message_id + 1
    records = tg.sent(USER_ID)
    assert [r.method for r in records] == ["sendMessage", "sendMessage"]
    assert records[0].text == "Xác nhận số liệu?"
    assert records[0].reply_markup == markup.model_dump(exclude_none=True)
    assert records[1].reply_markup is None


async def test_html_is_parsed_into_text_and_entities(tg, bot):
    message = await bot.send_message(
        USER_ID, "  <b>Tổng</b>: <a href='https://x.vn'>12 &amp; 3</a>  ", parse_mode="HTML"
    )
    assert message.text == "Tổng: 12 & 3"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 4),
        ("text_link", 6, 6),
    ]
    record = tg.sent(USER_ID)[0]
    assert record.raw_text.startswith("  <b>Tổng</b>")
    assert record.text == "Tổng: 12 & 3"


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'expected "</b>", found "</i>"'),
        ("<marquee>x</marquee>", 'Unsupported start tag "marquee" at byte offset 0'),
        ("1 < 2", "Unclosed start tag at byte offset 2"),
    ],
)
def test_bad_html_is_rejected(source, error):
    with pytest.raises(ApiError, match="can't parse entities") as raised:
        parse_html(source)
    assert error in str(raised.value)


async def test_bad_html_raises_bad_request(bot):
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(USER_ID, "<b>chưa đóng", parse_mode="HTML")


@pytest.mark.parametrize("data", ["x" * 65, "ố" * 22, ""])
async def test_callback_data_must_be_1_to_64_bytes(tg, bot, data):
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(USER_ID, "Chọn", reply_markup=keyboard(data))
    assert tg.sent() == []


async def test_callback_data_of_64_bytes_is_accepted(bot):
    message = await bot.send_message(USER_ID, "Chọn", reply_markup=keyboard("ố" * 21 + "a"))
    assert message.reply_markup is not None


async def test_text_length_is_checked_after_entity_parsing(bot):
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER_ID, "a" * 4097)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(USER_ID, "   ")
    message = await bot.send_message(USER_ID, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    assert len(message.text) == 4096


async def test_get_updates_offset_confirms(tg, bot):
    first = tg.inject_message(USER_ID, "/start")
    second = tg.inject_message(USER_ID, "xin chào")

    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [first, second]
    assert updates[0].message.text == "/start"
    assert updates[0].message.entities[0].type == "bot_command"
    assert updates[0].message.entities[0].length == len("/start")
    assert [u.update_id for u in await bot.get_updates()] == [first, second]  # not confirmed

    assert [u.update_id for u in await bot.get_updates(offset=second)] == [second]
    assert await bot.get_updates(offset=second + 1) == []


async def test_duplicate_delivery_of_the_same_update(tg, bot):
    update_id = tg.inject_message(USER_ID, "1")
    [update] = await bot.get_updates()
    assert await bot.get_updates(offset=update_id + 1) == []

    tg.inject_raw(update.model_dump(mode="json", exclude_none=True, by_alias=True))
    [again] = await bot.get_updates(offset=update_id + 1)
    assert again.update_id == update_id


async def test_long_poll_returns_as_soon_as_an_update_arrives(tg, bot):
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await tg.wait_for_calls("getUpdates", timeout=2)
    assert not poll.done()

    tg.inject_message(USER_ID, "báo cáo")
    updates = await asyncio.wait_for(poll, timeout=2)
    assert [u.message.text for u in updates] == ["báo cáo"]


async def test_callback_query_and_answer(tg, bot):
    sent = await bot.send_message(USER_ID, "Chọn", reply_markup=keyboard("ok"))
    query_id = tg.inject_callback(USER_ID, sent.message_id, "ok")
    [update] = await bot.get_updates()
    assert update.callback_query.id == query_id
    assert update.callback_query.message.message_id == sent.message_id
    assert update.callback_query.data == "ok"

    assert await bot.answer_callback_query(query_id, text="Đã ghi nhận")
    assert tg.answered_callbacks[query_id].text == "Đã ghi nhận"
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(ValueError, match="no button"):
        tg.inject_callback(USER_ID, sent.message_id, "missing")


async def test_edit_message_rules(tg, bot):
    sent = await bot.send_message(USER_ID, "Bản nháp", reply_markup=keyboard("ok"))
    edited = await bot.edit_message_text(
        text="Bản chính", chat_id=USER_ID, message_id=sent.message_id
    )
    assert edited.text == "Bản chính"
    assert edited.reply_markup is None  # no reply_markup means the keyboard goes away

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(text="Bản chính", chat_id=USER_ID, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(text="x", chat_id=USER_ID, message_id=999)

    await bot.edit_message_reply_markup(
        chat_id=USER_ID, message_id=sent.message_id, reply_markup=keyboard("lại")
    )
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=USER_ID, message_id=sent.message_id, reply_markup=keyboard("lại")
        )
    methods = [r.method for r in tg.sent(USER_ID)]
    assert methods == ["sendMessage", "editMessageText", "editMessageReplyMarkup"]


async def test_send_document_stores_the_bytes(tg, bot):
    content = b"PK\x03\x04 fake xlsx"
    message = await bot.send_document(
        USER_ID,
        BufferedInputFile(content, filename="bao-cao-quy-1.xlsx"),
        caption="<i>Phụ lục</i> quý 1",
        parse_mode="HTML",
    )
    assert message.document.file_name == "bao-cao-quy-1.xlsx"
    assert message.document.file_size == len(content)
    assert message.caption == "Phụ lục quý 1"
    [record] = tg.sent(USER_ID)
    assert record.method == "sendDocument"
    assert record.document.data == content
    assert record.document.filename == "bao-cao-quy-1.xlsx"
    assert record.document.mime_type.endswith("spreadsheetml.sheet")
    assert record.text == "Phụ lục quý 1"


async def test_fail_next_429_surfaces_as_retry_after(tg, bot):
    tg.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(USER_ID, "Một")
    assert raised.value.retry_after == 7
    assert "Too Many Requests" in raised.value.message

    await bot.send_message(USER_ID, "Hai")
    assert tg.calls["sendMessage"] == 2
    assert [r.text for r in tg.sent(USER_ID)] == ["Hai"]


async def test_fail_next_500_and_times(tg, bot):
    tg.fail_next("sendMessage", status=500, times=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError, match="Internal Server Error"):
            await bot.send_message(USER_ID, "x")
    await bot.send_message(USER_ID, "x")


async def test_blocked_user_gives_forbidden(tg, bot):
    tg.block_user(USER_ID)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(USER_ID, "Nhắc nộp báo cáo")
    await bot.send_message(USER_ID + 1, "Người khác vẫn nhận được")
    assert tg.sent(USER_ID) == []


async def test_set_my_commands_per_scope(tg, bot):
    await bot.set_my_commands(
        [BotCommand(command="start", description="Bắt đầu")], scope=BotCommandScopeDefault()
    )
    await bot.set_my_commands(
        [BotCommand(command="baocao", description="Nộp báo cáo")],
        scope=BotCommandScopeChat(chat_id=USER_ID),
    )
    assert tg.commands["default"] == [{"command": "start", "description": "Bắt đầu"}]
    assert tg.commands[f"chat:{USER_ID}"] == [{"command": "baocao", "description": "Nộp báo cáo"}]
    chat_commands = await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=USER_ID))
    assert [c.command for c in chat_commands] == ["baocao"]

    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="BaoCao", description="x")])
    await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id=USER_ID))
    assert f"chat:{USER_ID}" not in tg.commands


async def test_get_updates_conflicts_with_webhook(tg, bot):
    tg.inject_message(USER_ID, "cũ")
    await bot.set_webhook("https://baocao.example.vn/tg", secret_token="s3cret_token-1")
    assert tg.webhook_secret_token == "s3cret_token-1"
    assert (await bot.get_webhook_info()).pending_update_count == 1
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates()

    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == []
    with pytest.raises(TelegramBadRequest, match="HTTPS URL must be provided"):
        await bot.set_webhook("http://baocao.example.vn/tg")


async def test_wrong_token_is_unauthorized(tg):
    intruder = make_bot(tg, token="999:WRONG")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await intruder.get_me()
    finally:
        await intruder.session.close()


async def test_unknown_method_is_404_json(tg):
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{tg.base_url}/bot{TOKEN}/sendTelepathy") as response,
    ):
        assert response.status == 404
        assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_wait_for_times_out_with_a_readable_dump(tg, bot):
    await bot.send_message(USER_ID, "Chỉ một tin")
    with pytest.raises(AssertionError, match="Chỉ một tin"):
        await tg.wait_for(2, chat_id=USER_ID, timeout=0.05)


async def test_dispatcher_polling_echo(tg, bot):
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(f"Bạn gửi: {message.text}")

    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False))
    try:
        tg.user(USER_ID, "Nguyễn Văn A", username="nva").send("số liệu 15")
        [reply] = await tg.wait_for(1, chat_id=USER_ID)
        assert reply.text == "Bạn gửi: số liệu 15"
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, timeout=5)
