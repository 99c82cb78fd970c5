"""The sending half of the Telegram channel: one outbox message out as Telegram messages.

The outbox calls `send` once per message; it renders (HTML, long texts split at line ends, the
buttons on the last part), attaches a file built now (an Excel export or a unit's Word draft,
never stored in the outbox), and translates aiogram's errors into `RetryLater` /
`Undeliverable`. A retry resumes after the parts already sent. `TelegramChannel`
(`bot.channels.telegram`) inherits it; the receiving half stays there.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Any

from aiogram.exceptions import (
    AiogramError,
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import BufferedInputFile, LinkPreviewOptions

from bot.channels.base import ExportFile, utf16_len
from bot.channels.telegram_wire import render_html, split_text
from bot.messaging import Attachment, Outbound, RetryLater, Undeliverable

__all__ = [
    "EXPORT_FAILED_TEXT",
    "REPORT_FAILED_TEXT",
    "SendProgress",
    "SendsMessages",
    "failed_text",
]

# The channel's logger: the one its token redaction guards (`TelegramChannel.start`).
log = logging.getLogger("bot.channels.telegram")

CAPTION_LIMIT = 1024
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# What a file that could not be built is called, by `Attachment.kind` (an Excel export unless
# it is a unit's Word draft report).
_NAMES = {"export": "tệp Excel", "report": "dự thảo báo cáo (Word)"}
EXPORT_FAILED_TEXT = f"Chưa tạo được {_NAMES['export']} lúc này. Đề nghị thử lại sau ít phút."
REPORT_FAILED_TEXT = f"Chưa tạo được {_NAMES['report']} lúc này. Đề nghị thử lại sau ít phút."
_FAILED_TEXTS = {"export": EXPORT_FAILED_TEXT, "report": REPORT_FAILED_TEXT}


def failed_text(attachment: Attachment) -> str:
    """What the officer is told when the file of `attachment` could not be built."""
    return _FAILED_TEXTS.get(attachment.kind, EXPORT_FAILED_TEXT)


@dataclass
class SendProgress:
    """How far a multi-part message got, so that a retry does not repeat the parts sent."""

    outbound: weakref.ref
    done: int = 0
    export: tuple[str, bytes] | None = None


class SendsMessages:
    """The outbox's Sender for Telegram; uses the channel's bot, host, keyboards and redaction."""

    async def send(self, chat_id: str, outbound: Outbound) -> None:
        """Deliver one outbox message, translating Telegram's answers for the outbox."""
        key = id(outbound)
        progress = self._progress.get(key)
        if progress is None or progress.outbound() is not outbound:
            progress = self._progress[key] = SendProgress(weakref.ref(outbound))
        try:
            await self._deliver(int(chat_id), outbound, progress)
        except TelegramRetryAfter as error:
            raise RetryLater(
                float(error.retry_after), flood=True, reason=self._clean(error)
            ) from None
        except TelegramForbiddenError as error:
            self._progress.pop(key, None)
            raise Undeliverable(self._clean(error.message), blocked=True) from None
        except (TelegramBadRequest, TelegramNotFound, TelegramEntityTooLarge) as error:
            self._progress.pop(key, None)
            raise Undeliverable(self._clean(error.message)) from None
        except TelegramMigrateToChat as error:
            self._progress.pop(key, None)
            raise Undeliverable(f"nhóm đã chuyển sang {error.migrate_to_chat_id}") from None
        except (TelegramServerError, TelegramNetworkError) as error:
            raise RetryLater(2.0, reason=self._clean(error)) from None
        except ClientDecodeError:  # not the Bot API answering (a proxy's error page): an outage
            raise RetryLater(2.0, reason="Telegram trả lời không đúng dạng") from None
        except TelegramUnauthorizedError:
            raise RetryLater(30.0, reason="Telegram từ chối token (401)") from None
        except (TelegramAPIError, AiogramError) as error:  # an answer we do not know
            raise RetryLater(5.0, unknown=True, reason=self._clean(error)) from None
        self._progress.pop(key, None)

    async def _deliver(self, chat: int, outbound: Outbound, progress: SendProgress) -> None:
        markup = self._keyboard(tuple(outbound.choices), outbound.context)
        steps: list[tuple[str, Any]] = []
        caption = None
        if outbound.attachment is not None:
            if progress.export is None:
                progress.export = await self._export(outbound.attachment)
            if progress.export[1] and utf16_len(outbound.text) <= CAPTION_LIMIT:
                caption = outbound.text
            elif progress.export[1]:
                steps += [("text", part) for part in split_text(outbound.text)]
            else:
                failed = failed_text(outbound.attachment)
                steps.append(("text", f"{outbound.text}\n{failed}".strip()))
            if progress.export[1]:
                steps.append(("document", caption))
        else:
            steps += [("text", part) for part in split_text(outbound.text)]
        for index in range(progress.done, len(steps)):
            kind, content = steps[index]
            last = index == len(steps) - 1
            if kind == "text":
                await self.bot.send_message(
                    chat,
                    render_html(content),
                    parse_mode="HTML",
                    reply_markup=markup if last else None,
                    link_preview_options=NO_PREVIEW,
                )
            else:
                filename, data = progress.export
                await self.bot.send_document(
                    chat,
                    BufferedInputFile(data, filename=filename),
                    caption=render_html(content) if content else None,
                    parse_mode="HTML",
                    reply_markup=markup if last else None,
                )
            progress.done = index + 1

    async def _export(self, attachment: Attachment) -> tuple[str, bytes]:
        """The file of an export or draft-report reply, built now (never stored in the outbox)."""
        try:
            built: ExportFile = await self.host.attachments.as_file(attachment)
        except Exception as error:
            log.error(
                "Telegram: không tạo được %s: %s",
                _NAMES.get(attachment.kind, _NAMES["export"]),
                self._clean(f"{type(error).__name__}: {error}")[:300],
            )
            return "", b""
        return built.filename, built.data
