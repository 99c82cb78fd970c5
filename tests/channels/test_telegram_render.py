"""The Telegram channel's rendering and translation: text splitting, HTML escaping, button data
within 64 bytes, token redaction, documents and captions, and how Telegram's error answers become
the outbox's `RetryLater` / `Undeliverable`. The sender tests call `send` on a started channel
against the fake Bot API server.
"""

from __future__ import annotations

import logging

import pytest
from aiogram.exceptions import TelegramServerError
from aiogram.methods import SendMessage
from aiogram.types import Update

from bot.channels.base import ExportFile
from bot.channels.telegram import (
    CALLBACK_LIMIT,
    CallbackCodec,
    RedactingFilter,
    keyboard,
    redact,
    render_html,
    split_text,
    to_inbound,
    utf16_len,
    webhook_url,
)
from bot.channels.telegram_send import EXPORT_FAILED_TEXT, REPORT_FAILED_TEXT
from bot.messaging import Attachment, Outbound
from bot.outbox import RetryLater, Undeliverable
from conversations.choices import CHOICES
from conversations.forms import load_form
from tests.channels.test_telegram_e2e import TOKEN, button_data, deployment, tg  # noqa: F401

CHAT = 424_242


# --- pure helpers ------------------------------------------------------------------------


def test_short_text_is_one_part():
    assert split_text("Câu 1/18\nTổng số đoàn kiểm tra") == ["Câu 1/18\nTổng số đoàn kiểm tra"]
    assert split_text("   ") == []


def test_long_text_is_split_at_line_boundaries():
    lines = [f"{n}. Số đơn vị được kiểm tra: {n * 7} đơn vị" for n in range(1, 400)]
    text = "\n".join(lines)
    parts = split_text(text, limit=4096)
    assert len(parts) > 1
    assert all(utf16_len(part) <= 4096 for part in parts)
    assert "\n".join(parts) == text  # nothing lost, every cut at a line end
    assert all(part.splitlines()[0] in lines for part in parts)


def test_a_line_longer_than_the_limit_is_cut_at_spaces():
    text = ("Đối thoại với Nhân dân " * 300).strip()
    parts = split_text(text, limit=1000)
    assert all(utf16_len(part) <= 1000 for part in parts)
    assert "".join(parts) == text  # the shared splitter loses nothing (the space ends a part)
    word = "x" * 2500
    assert split_text(word, limit=1000) == ["x" * 1000, "x" * 1000, "x" * 500]


def test_html_is_escaped():
    assert render_html("a < b & c > d «tiếp»") == "a &lt; b &amp; c &gt; d «tiếp»"


def test_callback_data_for_the_longest_question_key_fits_in_64_bytes():
    form = load_form("conversations/forms/ct37_phuluc.yaml")
    longest = max((q.key for q in form.questions), key=len)
    codec = CallbackCodec()
    for choice_id in CHOICES:
        data = codec.encode(choice_id, f"q:{longest}")
        assert data == f"{choice_id}|q:{longest}"
        assert len(data.encode()) <= CALLBACK_LIMIT
        assert codec.decode(data) == (choice_id, f"q:{longest}")


def test_too_long_callback_data_falls_back_to_a_hash_that_maps_back():
    context = "q:" + "cau_hoi_rat_dai_" * 5
    codec = CallbackCodec()
    data = codec.encode("continue", context)
    assert data.startswith("#") and len(data.encode()) <= CALLBACK_LIMIT
    assert codec.decode(data) == ("continue", context)
    # Another process (after a restart) that registered the same contexts maps it back too.
    other = CallbackCodec()
    other.register({context}, set(CHOICES))
    assert other.decode(data) == ("continue", context)
    # Unknown or malformed data never acts: it decodes to a context no state has.
    assert CallbackCodec().decode(data) == ("stale", "#stale")
    assert codec.decode("garbage") == ("stale", "#stale")


def test_keyboard_rows_and_data():
    choices = (CHOICES["na"], CHOICES["skip"], CHOICES["back"], CHOICES["pause"])
    markup = keyboard(choices, "q:complaints", CallbackCodec())
    assert [[b.text for b in row] for row in markup.inline_keyboard] == [
        ["Không áp dụng", "Bỏ qua"],
        ["Quay lại", "Tạm dừng"],
    ]
    assert markup.inline_keyboard[0][0].callback_data == "na|q:complaints"
    assert keyboard((), "x", CallbackCodec()) is None


async def test_a_keyboard_is_built_once_and_still_decodes(deployment, tg):  # noqa: F811
    channel = await deployment.start()
    context = "q:" + "cau_hoi_rat_dai_" * 5  # long enough to need hashed callback data
    choices = (CHOICES["continue"], CHOICES["pause"])
    outbound = Outbound("Câu hỏi", choices, context=context)
    await channel.send(str(CHAT), outbound)
    await channel.send(str(CHAT), Outbound("Lần nữa", choices, context=context))
    first, second = tg.sent(CHAT)
    assert button_data(first) == button_data(second)
    assert channel._keyboard(choices, context) is channel._keyboard(choices, context)
    assert [channel.codec.decode(data) for data in button_data(second)] == [
        ("continue", context),
        ("pause", context),
    ]


def test_redact_hides_tokens_in_text_and_logs():
    text = f"POST https://api.telegram.org/bot{TOKEN}/getMe failed"
    assert TOKEN not in redact(text)
    assert redact(text) == "POST https://api.telegram.org/bot<token>/getMe failed"
    record = logging.LogRecord("aiogram.event", logging.ERROR, "", 0, "url %s", (text,), None)
    RedactingFilter().filter(record)
    assert TOKEN not in record.getMessage()


def test_webhook_url_is_derived_from_the_base():
    assert webhook_url("https://bc.example.vn") == "https://bc.example.vn/telegram/webhook"
    assert webhook_url("https://bc.example.vn/app/") == "https://bc.example.vn/app/telegram/webhook"
    full = "https://bc.example.vn/telegram/webhook"
    assert webhook_url(full) == full
    assert webhook_url("https://bc.example.vn/zalo/webhook") == full  # the root is shared


def test_updates_become_inbound():
    update = Update.model_validate(
        {
            "update_id": 77,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 5, "type": "private"},
                "from": {"id": 5, "is_bot": False, "first_name": "An", "last_name": "Nguyễn"},
                "text": "12",
            },
        }
    )
    inbound = to_inbound(update, CallbackCodec())
    assert (inbound.channel, inbound.chat_id, inbound.user_id) == ("telegram", "5", "5")
    assert (inbound.inbound_id, inbound.text, inbound.display_name) == ("77", "12", "An Nguyễn")
    press = Update.model_validate(
        {
            "update_id": 78,
            "callback_query": {
                "id": "q1",
                "from": {"id": 5, "is_bot": False, "first_name": "An"},
                "chat_instance": "x",
                "data": "skip|q:complaints",
                "message": {
                    "message_id": 2,
                    "date": 0,
                    "chat": {"id": 5, "type": "private"},
                    "text": "Câu 14/18",
                },
            },
        }
    )
    inbound = to_inbound(press, CallbackCodec())
    assert (inbound.choice, inbound.context, inbound.text) == ("skip", "q:complaints", None)
    assert inbound.inbound_id == "78" and inbound.chat_id == "5"
    assert to_inbound(Update.model_validate({"update_id": 79}), CallbackCodec()) is None
    photo = Update.model_validate(
        {
            "update_id": 80,
            "message": {
                "message_id": 3,
                "date": 0,
                "chat": {"id": 5, "type": "private"},
                "from": {"id": 5, "is_bot": False, "first_name": "An"},
                "sticker": {
                    "file_id": "s",
                    "file_unique_id": "s",
                    "type": "regular",
                    "width": 1,
                    "height": 1,
                    "is_animated": False,
                    "is_video": False,
                },
            },
        }
    )
    inbound = to_inbound(photo, CallbackCodec())
    assert inbound.text is None and inbound.choice is None


# --- the sender against the fake Bot API -----------------------------------------------------


async def test_long_text_is_sent_in_parts_with_buttons_on_the_last(deployment, tg):  # noqa: F811
    channel = await deployment.start()
    text = "\n".join(f"{n}. Tiếp dân định kỳ: {n} lượt / {n * 10} lượt người" for n in range(300))
    outbound = Outbound(text, (CHOICES["submit"], CHOICES["continue"]), context="review")
    await channel.send(str(CHAT), outbound)
    records = tg.sent(CHAT)
    assert len(records) == len(split_text(text)) > 1
    assert [bool(r.reply_markup) for r in records] == [False] * (len(records) - 1) + [True]
    assert button_data(records[-1]) == ["submit|review", "continue|review"]
    assert "\n".join(r.text for r in records) == text


async def test_text_is_sent_as_escaped_html(deployment, tg):  # noqa: F811
    channel = await deployment.start()
    await channel.send(str(CHAT), Outbound("Tỷ lệ <b>85,5%</b> & «tiếp»"))
    [record] = tg.sent(CHAT)
    assert record.text == "Tỷ lệ <b>85,5%</b> & «tiếp»"
    assert record.raw_text == "Tỷ lệ &lt;b&gt;85,5%&lt;/b&gt; &amp; «tiếp»"


async def test_a_retry_does_not_repeat_parts_already_sent(deployment, tg):  # noqa: F811
    channel = await deployment.start()
    original = channel.bot.send_message
    calls = []

    async def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise TelegramServerError(SendMessage(chat_id=CHAT, text="x"), "Bad Gateway")
        return await original(*args, **kwargs)

    channel.bot.send_message = flaky
    text = "\n".join(f"dòng {n} " + "x" * 80 for n in range(120))
    outbound = Outbound(text)
    with pytest.raises(RetryLater) as retry:
        await channel.send(str(CHAT), outbound)
    assert retry.value.seconds == 2.0 and not retry.value.flood
    await channel.send(str(CHAT), outbound)
    assert "\n".join(r.text for r in tg.sent(CHAT)) == text


class BuiltExports:
    """Stands in for the host's export resolver: builds with `build(attachment)`."""

    def __init__(self, build) -> None:
        self.build = build

    async def as_file(self, attachment) -> ExportFile:
        return ExportFile(*self.build(attachment))

    async def as_link(self, attachment, channel, chat_id) -> str:
        raise AssertionError("Telegram sends files")


async def test_export_is_sent_as_a_document_with_the_text_as_caption(deployment, tg):  # noqa: F811
    channel = await deployment.start()
    channel.host.attachments = BuiltExports(lambda _: ("CT37_tong-hop.xlsx", b"PK\x03\x04 excel"))
    await channel.send(str(CHAT), Outbound("Bảng tổng hợp", attachment=Attachment(1)))
    [record] = tg.sent(CHAT)
    assert record.method == "sendDocument" and record.text == "Bảng tổng hợp"
    assert record.document.filename == "CT37_tong-hop.xlsx"
    assert record.document.data == b"PK\x03\x04 excel"


async def test_a_caption_over_1024_characters_goes_as_a_message_first(deployment, tg):  # noqa: F811
    channel = await deployment.start()
    channel.host.attachments = BuiltExports(lambda _: ("a.xlsx", b"data"))
    text = "Ghi chú dài. " * 100
    await channel.send(str(CHAT), Outbound(text, attachment=Attachment(1, "HU-NP")))
    first, second = tg.sent(CHAT)
    assert (first.method, second.method) == ("sendMessage", "sendDocument")
    assert first.text == text.strip() and second.text is None


async def test_a_failed_export_is_said_in_words(deployment, tg, caplog):  # noqa: F811
    channel = await deployment.start()

    def broken(attachment):
        raise RuntimeError(f"boom {TOKEN}")

    channel.host.attachments = BuiltExports(broken)
    await channel.send(str(CHAT), Outbound("Bảng tổng hợp", attachment=Attachment(1)))
    [record] = tg.sent(CHAT)
    assert record.text == f"Bảng tổng hợp\n{EXPORT_FAILED_TEXT}"
    assert TOKEN not in caplog.text and "boom <token>" in caplog.text


async def test_a_failed_word_draft_is_called_a_word_draft(deployment, tg, caplog):  # noqa: F811
    channel = await deployment.start()

    def broken(attachment):
        raise RuntimeError("no template")

    channel.host.attachments = BuiltExports(broken)
    draft = Attachment(1, "HU-NP", kind="report")
    await channel.send(str(CHAT), Outbound("Dự thảo báo cáo của đơn vị", attachment=draft))
    [record] = tg.sent(CHAT)
    assert record.text == f"Dự thảo báo cáo của đơn vị\n{REPORT_FAILED_TEXT}"
    assert "dự thảo báo cáo (Word)" in record.text and "Excel" not in record.text
    assert "không tạo được dự thảo báo cáo (Word)" in caplog.text


@pytest.mark.parametrize(
    ("status", "outcome", "blocked"),
    [(400, Undeliverable, False), (403, Undeliverable, True), (500, RetryLater, False)],
)
async def test_errors_are_translated_for_the_outbox(deployment, tg, status, outcome, blocked):  # noqa: F811
    channel = await deployment.start()
    tg.fail_next("sendMessage", status=status)
    with pytest.raises(outcome) as failure:
        await channel.send(str(CHAT), Outbound("Xin chào"))
    assert getattr(failure.value, "blocked", False) is blocked
    assert TOKEN not in str(failure.value)


async def test_429_becomes_a_flood_wait(deployment, tg):  # noqa: F811
    channel = await deployment.start()
    tg.fail_next("sendMessage", status=429, retry_after=17)
    with pytest.raises(RetryLater) as failure:
        await channel.send(str(CHAT), Outbound("Xin chào"))
    assert failure.value.flood and failure.value.seconds == 17


async def test_network_failure_becomes_retry_later(deployment, tg):  # noqa: F811
    channel = await deployment.start()
    await channel.bot.session.close()
    channel.bot.session.api = channel.bot.session.api.from_base("http://127.0.0.1:9")
    with pytest.raises(RetryLater) as failure:
        await channel.send(str(CHAT), Outbound("Xin chào"))
    assert TOKEN not in str(failure.value)
