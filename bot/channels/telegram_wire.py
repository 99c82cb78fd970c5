"""Telegram's payloads and neutral messages, both ways: updates into `Inbound`, choices into
inline keyboards (with callback data within 64 bytes), text into escaped HTML parts within
Telegram's limit, tokens out of text, and the ledger of polled updates that keeps the
getUpdates offset from confirming one not yet applied.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import logging

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.channels import base
from bot.channels.base import utf16_len
from bot.messaging import Inbound, InboundFile
from conversations.choices import Choice

log = logging.getLogger("bot.channels.telegram")

CHANNEL = "telegram"
WEBHOOK_PATH = "/telegram/webhook"
TEXT_LIMIT = 4096
CALLBACK_LIMIT = 64
STALE = ("stale", "#stale")  # a press nothing can match: the engine shows the current question
BUTTONS_PER_ROW = 2


def redact(text: object, token: str | None = None) -> str:
    """`text` with any bot token (this one, or anything shaped like one) replaced."""
    return base.redact(text, (token,) if token else ())


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Parts of at most `limit` UTF-16 units (Telegram's count), none blank."""
    return [part for part in base.split_text(text, limit, utf16_len) if part.strip()]


def webhook_url(public_root: str) -> str:
    return base.webhook_url(public_root, WEBHOOK_PATH)


def render_html(text: str) -> str:
    """The engine writes plain text; in HTML parse mode only &, < and > need escaping."""
    return html.escape(text, quote=False)


class CallbackCodec:
    """callback_data for a choice: ``choice|context``, or ``#hash`` when over 64 bytes.

    Hashes map back through a table filled as buttons are sent and, at start, with every context
    the forms can produce, so buttons sent before a restart still work. An unknown hash decodes
    to a context no state has, which the engine answers as a stale button.
    """

    def __init__(self) -> None:
        self._hashed: dict[str, tuple[str, str]] = {}

    def encode(self, choice_id: str, context: str) -> str:
        data = f"{choice_id}|{context}"
        if len(data.encode()) <= CALLBACK_LIMIT and not data.startswith("#"):
            return data
        digest = hashlib.sha256(data.encode()).digest()
        key = "#" + base64.urlsafe_b64encode(digest).decode()[:20]
        self._hashed[key] = (choice_id, context)
        return key

    def decode(self, data: str) -> tuple[str, str]:
        if data.startswith("#"):
            return self._hashed.get(data, STALE)
        choice_id, separator, context = data.partition("|")
        return (choice_id, context) if choice_id and separator else STALE

    def register(self, contexts: set[str], choice_ids: set[str]) -> None:
        for context in contexts:
            for choice_id in choice_ids:
                self.encode(choice_id, context)


def keyboard(choices: tuple[Choice, ...], context: str, codec: CallbackCodec):
    """The inline keyboard for `choices`, two buttons a row; None without choices."""
    if not choices:
        return None
    buttons = [
        InlineKeyboardButton(text=choice.label, callback_data=codec.encode(choice.id, context))
        for choice in choices
    ]
    rows = [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def to_inbound(update: Update, codec: CallbackCodec) -> Inbound | None:
    """The neutral message for a message or a button press; None for any other update.

    A message without text (photo, sticker, voice) comes out with neither text nor choice.
    """
    update_id = str(update.update_id)
    if update.message is not None:
        message = update.message
        user = message.from_user
        if user is None or user.is_bot:
            return None
        return Inbound(
            CHANNEL,
            chat_id=str(message.chat.id),
            user_id=str(user.id),
            inbound_id=update_id,
            text=message.text or message.caption,  # None: a photo, sticker, voice…
            display_name=user.full_name,
            file=sent_file(message),
        )
    query = update.callback_query
    if query is not None:
        if query.from_user.is_bot:
            return None
        choice_id, context = codec.decode(query.data or "")
        chat = query.message.chat.id if query.message is not None else query.from_user.id
        return Inbound(
            CHANNEL,
            chat_id=str(chat),
            user_id=str(query.from_user.id),
            inbound_id=update_id,
            choice=choice_id,
            context=context,
            display_name=query.from_user.full_name,
        )
    return None


def sent_file(message) -> InboundFile | None:
    """A document, or the largest size of a photo, as an `InboundFile` not yet downloaded."""
    if message.document is not None:
        document = message.document
        return InboundFile(
            name=document.file_name or f"tep-{document.file_unique_id}",
            content_type=document.mime_type or "",
            size=document.file_size,
            source_id=document.file_unique_id,
            fetch_id=document.file_id,
        )
    if message.photo:
        photo = max(message.photo, key=lambda size: (size.file_size or 0, size.width))
        return InboundFile(
            name=f"anh-{photo.file_unique_id}.jpg",
            content_type="image/jpeg",
            size=photo.file_size,
            source_id=photo.file_unique_id,
            fetch_id=photo.file_id,
        )
    return None


class UpdateLedger:
    """Which polled updates are applied, so that the getUpdates offset confirms no other.

    Telegram returns every update from the offset on until it is confirmed. An update is
    `running` while its task lives and `unfinished` until the service has applied it; `applied`
    ones above the offset are remembered so that a repeat is not dispatched again. The poller
    waits for each batch's first attempts (`tried`) before it polls again, so that in the usual
    case everything is applied by then and the offset moves past the whole batch.
    """

    def __init__(self) -> None:
        self.running: set[int] = set()
        self.unfinished: set[int] = set()
        self.applied: set[int] = set()
        self.newest: int | None = None
        self._tried: dict[int, asyncio.Event] = {}

    def offset(self) -> int | None:
        if self.unfinished:
            oldest = min(self.unfinished)
            self.applied = {i for i in self.applied if i > oldest}
            return oldest
        self.applied.clear()
        return None if self.newest is None else self.newest + 1

    def take(self, update_id: int) -> bool:
        """Whether this update should be dispatched now (not applied, not under way)."""
        self.newest = update_id if self.newest is None else max(self.newest, update_id)
        if update_id in self.running or update_id in self.applied:
            return False
        self.running.add(update_id)
        self.unfinished.add(update_id)
        self._tried[update_id] = asyncio.Event()
        return True

    def tried(self, update_id: int, applied: bool) -> None:
        """The service was asked once more; `applied` when it took the update."""
        event = self._tried.pop(update_id, None)
        if event is not None:
            event.set()
        if applied:
            self.unfinished.discard(update_id)
            self.applied.add(update_id)

    async def first_attempts(self, update_ids: list[int], timeout: float) -> None:
        # asyncio.wait, not wait_for: on Python 3.11 wait_for can swallow a cancellation.
        waiting = [
            asyncio.ensure_future(self._tried[i].wait()) for i in update_ids if i in self._tried
        ]
        if waiting:
            await asyncio.wait(waiting, timeout=timeout)
            for waiter in waiting:
                waiter.cancel()

    def settle(self, update_id: int, task: asyncio.Task) -> None:
        """Its task ended: applied (or nothing to apply), or the bot stopped before that."""
        self.running.discard(update_id)
        if task.cancelled():
            self.tried(update_id, applied=False)
            return  # Telegram sends it again after the restart
        if task.exception() is not None:  # a fault no retry would mend: do not loop on it
            log.error("Telegram: bỏ qua cập nhật %s: %r", update_id, task.exception())
        self.tried(update_id, applied=task.exception() is not None or task.result())
