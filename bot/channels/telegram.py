"""The Telegram channel (aiogram 3): updates in as `Inbound`, outbox payloads out as messages.

Transport only. Every message and button press becomes one `Inbound` (its id is the Telegram
`update_id`, so a repeated delivery is dropped by the service's de-duplication) and goes through
`ChannelHost.receive` (`bot.dispatch`): applied in a batch, one transaction in the service,
replies written to the outbox. The outbox paces
sends and calls `send` here once per message; `send` renders and translates aiogram's errors into
`RetryLater` / `Undeliverable`. Conversation state is in the database, not in aiogram's FSM.

    polling (default)   deleteWebhook, then our own getUpdates long-poll loop (no aiogram
                        Dispatcher: no routers, filters or FSM are used); each update is one task,
                        tried until the service has applied it or set it aside, and the offset
                        confirms no update before that (`UpdateLedger`). getUpdates errors back
                        off 1, 2, 4 … 30 s (a 401 waits 30 s, a 429 its retry_after)
    webhook             BAOCAO_WEBHOOK_URL set: setWebhook(<url>/telegram/webhook, secret) and
                        POST /telegram/webhook on the project's web server; a request without the
                        right X-Telegram-Bot-Api-Secret-Token header gets 403 and is never read

Rendering: HTML parse mode with every text escaped; texts longer than 4096 characters are split
at line boundaries with the buttons on the last part. A choice becomes an inline button whose
callback_data is ``choice|context`` (the engine's tag, so an old button cannot act), or a short
hash of it when that would pass Telegram's 64 bytes; the same keyboards recur, so each one is
built once and kept. A pressed button is answered at once (alongside its dispatch) and its keyboard
removed. Sending is `bot.channels.telegram_send`: a file attachment (an Excel export or a Word
draft) goes as a document with the text as caption.

The bot token never reaches a log line or an error message (`redact`). A newly linked
secretariat member gets their own command menu when the service reports the role change.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    AiogramError,
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteWebhook,
    EditMessageReplyMarkup,
    GetMe,
    GetUpdates,
    SendDocument,
    SendMessage,
    SetMyCommands,
    SetWebhook,
)
from aiogram.methods.base import Response
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    CallbackQuery,
    Message,
    Update,
)
from aiohttp import ClientError, web
from pydantic import ValidationError

from bot.channels import base
from bot.channels.base import (
    ChannelStartError,
    Host,
    RedactingFilter,
    Sleep,
    secret_matches,
    utf16_len,
)
from bot.channels.telegram_download import FileTooLarge, download_capped
from bot.channels.telegram_send import SendProgress, SendsMessages
from bot.channels.telegram_wire import (
    CALLBACK_LIMIT,
    CHANNEL,
    WEBHOOK_PATH,
    CallbackCodec,
    UpdateLedger,
    keyboard,
    redact,
    render_html,
    split_text,
    to_inbound,
    webhook_url,
)
from bot.messaging import (
    Inbound,
    InboundFile,
    RoleChange,
)
from bot.settings import Settings
from bot.webhook_body import read_update
from conversations.choices import CHOICES
from conversations.commands import OFFICER_MENU, SECRETARIAT_MENU
from conversations.linking import LINK_CHOICE_IDS
from conversations.statuses import ContactRole
from conversations.uploads import TELEGRAM_DOWNLOAD_CAP, refusal

__all__ = [
    "CALLBACK_LIMIT",
    "CallbackCodec",
    "RedactingFilter",
    "TelegramChannel",
    "keyboard",
    "redact",
    "render_html",
    "split_text",
    "to_inbound",
    "utf16_len",
    "webhook_url",
]

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]
START_TIMEOUT = 15.0
DOWNLOAD_TIMEOUT = 60  # seconds for one signed report's download (20 MB on a slow link)
POLL_TIMEOUT = 10  # seconds one getUpdates long poll may wait (aiogram's default)
BACKOFF_CAP = 30.0
KEYBOARDS_CACHED = 1024
WEBHOOK_ATTEMPTS = 3  # database away: then 503, Telegram delivers the update again later
HELD_BACK_PAUSE = 1.0  # seconds between polls while only unapplied updates come back
FIRST_ATTEMPT_WAIT = 5.0  # seconds a poll waits for the previous batch to be tried
# aiogram parses every answer with the generic model `Response[<result type>]`. pydantic caches
# those classes only weakly, so each full garbage collection drops them and the next request
# rebuilds one (~20 ms of CPU each, and garbage that brings the next collection sooner). Holding
# them here keeps the cache warm for the methods this channel calls.
_RESPONSE_TYPES = tuple(
    Response[method.__returning__]
    for method in (
        AnswerCallbackQuery,
        DeleteWebhook,
        EditMessageReplyMarkup,
        GetMe,
        GetUpdates,
        SendDocument,
        SendMessage,
        SetMyCommands,
        SetWebhook,
    )
)
_AIOGRAM_LOGGERS = (
    "aiogram",
    "aiogram.dispatcher",
    "aiogram.event",
    "aiogram.middlewares",
    "aiogram.webhook",
    "aiogram.scene",
    "aiogram.utils",
)


backoff = functools.partial(base.backoff, cap=BACKOFF_CAP)


# --- the channel ---------------------------------------------------------------------------


@dataclass
class TelegramChannel(SendsMessages):
    settings: Settings
    name: str = CHANNEL
    sleep: Sleep = asyncio.sleep  # the polling back-off's; tests pass one that never waits
    poll_timeout: int = POLL_TIMEOUT
    bot: Bot | None = field(default=None, init=False)
    host: Host | None = field(default=None, init=False)
    codec: CallbackCodec = field(default_factory=CallbackCodec, init=False)
    webhook_secret: str | None = field(default=None, init=False)
    _polling: asyncio.Task | None = field(default=None, init=False)
    _stopping: bool = field(default=False, init=False)
    _stop_requested: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _ledger: UpdateLedger | None = field(default=None, init=False)
    _commands_set: set[str] = field(default_factory=set, init=False)
    _redaction: RedactingFilter = field(default_factory=RedactingFilter, init=False)
    _chat_turns: dict[str, tuple[asyncio.Lock, int]] = field(default_factory=dict, init=False)
    _progress: dict[int, SendProgress] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.sender = self
        # Codec hashes are never forgotten, so a cached keyboard stays decodable.
        build = functools.partial(keyboard, codec=self.codec)
        self._keyboard = functools.lru_cache(maxsize=KEYBOARDS_CACHED)(build)

    @property
    def _token(self) -> str:
        secret = self.settings.telegram_bot_token
        return secret.get_secret_value() if secret is not None else ""

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self, host: Host) -> None:
        """Check the token (getMe), set commands, then poll or mount the webhook."""
        if not self._token:
            raise _start_error("chưa đặt TELEGRAM_BOT_TOKEN (lấy từ @BotFather)")
        self._redaction.guard(self._token, (*_AIOGRAM_LOGGERS, __name__))
        self.host = host
        base = self.settings.telegram_api_base_url
        try:
            session = AiohttpSession(api=TelegramAPIServer.from_base(base))
            self.bot = Bot(self._token, session=session)
        except Exception:
            raise _start_error("TELEGRAM_BOT_TOKEN không đúng dạng 123456789:ABC…") from None
        try:
            await self._connect(host)
        except BaseException:
            await self.stop()  # ends polling if it had started, and closes the session
            raise
        host.web.on_cleanup.append(self._on_web_cleanup)

    async def _connect(self, host: Host) -> None:
        base = self.settings.telegram_api_base_url
        try:
            async with asyncio.timeout(START_TIMEOUT):
                me = await self.bot.me()
        except TelegramUnauthorizedError:
            raise _start_error(
                "Telegram từ chối TELEGRAM_BOT_TOKEN (401 Unauthorized) — kiểm tra lại token "
                "lấy từ @BotFather"
            ) from None
        except TimeoutError:
            raise _start_error(
                f"máy chủ Telegram {base} không trả lời sau {START_TIMEOUT:.0f} giây"
            ) from None
        except TelegramNetworkError as error:
            raise _start_error(
                f"không kết nối được máy chủ Telegram {base}: {self._clean(error.message)}"
            ) from None
        except ClientDecodeError:
            raise _start_error(
                f"{base} không trả lời như một máy chủ Telegram Bot API "
                "(kiểm tra TELEGRAM_API_BASE_URL)"
            ) from None
        except (TelegramAPIError, AiogramError) as error:
            raise _start_error(f"Telegram báo lỗi khi khởi động: {self._clean(error)}") from None
        username = self.settings.telegram_bot_username or me.username or ""
        if username:
            host.announce_username(CHANNEL, username)
        contexts = await asyncio.to_thread(host.button_contexts)
        self.codec.register(contexts, set(CHOICES) | LINK_CHOICE_IDS)
        if self.settings.baocao_webhook_url:
            await self._start_webhook(host)
        else:
            await self._start_polling()
        await self._set_commands()
        log.info("Telegram: @%s, %s", username, "webhook" if self._polling is None else "polling")

    async def _start_polling(self) -> None:
        try:
            await self.bot.delete_webhook(drop_pending_updates=False)
        except (TelegramAPIError, AiogramError) as error:
            raise _start_error(f"không xóa được webhook cũ: {self._clean(error)}") from None
        self._polling = asyncio.create_task(self._poll())

    async def _start_webhook(self, host: Host) -> None:
        configured = self.settings.baocao_webhook_secret
        self.webhook_secret = base.webhook_secret(
            configured.get_secret_value() if configured else None, "Telegram"
        )
        host.web.router.add_post(WEBHOOK_PATH, self._on_webhook)
        url = webhook_url(self.settings.baocao_webhook_url)
        try:
            await self.bot.set_webhook(
                url, secret_token=self.webhook_secret, allowed_updates=ALLOWED_UPDATES
            )
        except (TelegramAPIError, AiogramError) as error:
            raise _start_error(f"không đặt được webhook {url}: {self._clean(error)}") from None

    async def stop(self) -> None:
        """Stop taking updates; updates being handled finish (the runner waits for them).

        The HTTP session stays open so that the outbox can still deliver; it is closed when the
        web server is cleaned up, which the runner does last.
        """
        self._stopping = True
        self._stop_requested.set()
        if self._polling is not None:
            self._polling.cancel()  # also ends a long poll in progress
            await asyncio.wait({self._polling})
        if self.host is not None and not self.host.web.frozen:
            await self._close_session()  # the web server never started: nothing will drain

    async def _on_web_cleanup(self, _app: web.Application) -> None:
        await self._close_session()

    async def _close_session(self) -> None:
        if self.bot is not None:
            with contextlib.suppress(Exception):
                await self.bot.session.close()
        self._redaction.release((*_AIOGRAM_LOGGERS, __name__))

    # --- updates in --------------------------------------------------------------------

    async def _poll(self) -> None:
        """Long-poll getUpdates until cancelled; every update becomes one tracked task.

        The offset confirms updates to Telegram only up to the oldest one not yet applied, so
        neither a stop, a crash nor a database outage loses one: Telegram keeps the rest and
        sends them again (those already applied or still being applied are not dispatched
        twice, and the service would drop a repeat anyway).
        """
        request_timeout = int(self.bot.session.timeout + self.poll_timeout)
        ledger = self._ledger = UpdateLedger()

        async def fetch() -> list[Update]:
            request = GetUpdates(
                offset=ledger.offset(), timeout=self.poll_timeout, allowed_updates=ALLOWED_UPDATES
            )
            return await self.bot(request, request_timeout=request_timeout)

        async def take(updates: list[Update]) -> None:
            fresh = [update for update in updates if ledger.take(update.update_id)]
            for update in fresh:
                task = self.host.track(self._handle(update, patient=True))
                task.add_done_callback(functools.partial(ledger.settle, update.update_id))
            await ledger.first_attempts([u.update_id for u in fresh], FIRST_ATTEMPT_WAIT)
            if updates and not fresh:
                # Only updates still being applied came back (an older one waits for the
                # database): Telegram answers such a poll at once, so do not ask again at once.
                await self._pause(HELD_BACK_PAUSE)

        await base.poll_forever(
            fetch,
            take,
            stopped=lambda: self._stopping,
            sleep=lambda seconds: self.sleep(seconds),  # looked up late: tests swap it
            failed=self._poll_failed,
            recovered=lambda: log.info("Telegram: getUpdates chạy lại bình thường"),
        )

    def _poll_failed(self, error: Exception, failures: int) -> float:
        """Log a failed getUpdates in one line; return the seconds to wait before the next."""
        level, delay = logging.WARNING, backoff(failures)
        if isinstance(error, TelegramRetryAfter):
            delay, what = float(error.retry_after), "429 Too Many Requests"
        elif isinstance(error, TelegramUnauthorizedError):
            level, delay = logging.ERROR, BACKOFF_CAP
            what = "Telegram từ chối TELEGRAM_BOT_TOKEN (401 Unauthorized) — kiểm tra lại token"
        elif isinstance(error, TelegramConflictError):
            what = f"{self._clean(error.message)} (một tiến trình khác hoặc webhook đang nhận)"
        else:
            what = self._clean(f"{type(error).__name__}: {error}")[:300]
        log.log(level, "Telegram: getUpdates lỗi: %s; thử lại sau %g giây", what, delay)
        return delay

    async def _on_webhook(self, request: web.Request) -> web.Response:
        if not secret_matches(request.headers.get(SECRET_HEADER, ""), self.webhook_secret):
            return web.Response(status=403, text="Forbidden")
        if self._stopping:
            return web.Response(status=503, text="Stopping")  # Telegram tries again later
        try:
            body = await read_update(request)
            update = Update.model_validate(body, context={"bot": self.bot})
        except (ValueError, ValidationError):
            return web.Response(status=400, text="Bad Request")
        handled = await asyncio.shield(self.host.track(self._handle(update, lambda: body)))
        # Set aside counts as handled: Telegram must stop delivering it. A database away: 503,
        # and Telegram delivers it again later.
        return web.Response(status=200 if handled else 503)

    async def _handle(
        self, update: Update, payload: Callable[[], dict] | None = None, patient: bool = False
    ) -> bool:
        """Dispatch one update; True once the service has taken it, set it aside, or it needs
        nothing."""
        inbound = to_inbound(update, self.codec)
        if inbound is None:
            return True
        if payload is None:
            payload = functools.partial(_update_json, update)
        if inbound.file is not None:
            fetched = await self._fetch_file(inbound.file)
            if fetched is None:
                return False  # a network failure: the update is tried again
            inbound = dataclasses.replace(inbound, file=fetched)
        query = update.callback_query
        answering = None if query is None else asyncio.create_task(self._acknowledge(query))
        try:
            handled = await self._dispatch_in_turn(inbound, payload, patient)
        finally:
            if answering is not None:
                await answering
        return handled

    async def _dispatch_in_turn(
        self, inbound: Inbound, payload: Callable[[], dict], patient: bool
    ) -> bool:
        """Updates of one chat are applied one after another, in the order they came (two
        quick answers must not swap questions); different chats run concurrently."""
        lock, users = self._chat_turns.get(inbound.chat_id, (None, 0))
        lock = lock or asyncio.Lock()
        self._chat_turns[inbound.chat_id] = (lock, users + 1)
        try:
            async with lock:
                return await self._dispatch(inbound, payload, patient)
        finally:
            lock, users = self._chat_turns[inbound.chat_id]
            if users == 1:
                del self._chat_turns[inbound.chat_id]
            else:
                self._chat_turns[inbound.chat_id] = (lock, users - 1)

    async def _dispatch(self, inbound: Inbound, payload: Callable[[], dict], patient: bool) -> bool:
        """Hand the message to the host, which tries again while it fails and sets aside one that
        keeps failing (the offset then moves past it). While the database is away, polling
        waits (its update unconfirmed meanwhile, see `_poll`); a webhook call gives up after a
        few tries and answers 503 so that Telegram delivers it again."""
        receipt = await self.host.receive(
            inbound,
            payload,
            pause=self._pause,
            transient_attempts=None if patient else WEBHOOK_ATTEMPTS,
            tried=functools.partial(self._tried, inbound),
        )
        return receipt.settled

    async def _fetch_file(self, file: InboundFile) -> InboundFile | None:
        """getFile and download a file someone sent, unless the service will refuse it anyway
        (type or declared size): then it comes without data. None on a transient failure."""
        limits = self.settings.upload_limits
        if refusal(file.name, file.content_type, file.size, limits):
            return file
        try:
            found = await self.bot.get_file(file.fetch_id)
            if not found.file_path:
                return file
            if (found.file_size or 0) > limits.max_bytes:
                return dataclasses.replace(file, size=found.file_size)
            data = await download_capped(
                self.bot, found.file_path, cap=limits.max_bytes, timeout=DOWNLOAD_TIMEOUT
            )
        except FileTooLarge as too_large:  # the declared size was wrong: stopped at the cap
            log.warning("Telegram: tệp lớn hơn kích thước khai báo, đã dừng tải")
            return dataclasses.replace(file, size=max(file.size or 0, too_large.read))
        except TelegramBadRequest as error:  # "file is too big" or a file_id that is gone
            log.warning("Telegram: không tải được tệp: %s", self._clean(error)[:200])
            if "too big" in str(error).lower():
                return dataclasses.replace(
                    file, size=max(file.size or 0, TELEGRAM_DOWNLOAD_CAP + 1)
                )
            return file  # without data: the service asks for it again
        except (TelegramAPIError, AiogramError, ClientError, OSError, TimeoutError) as error:
            log.warning("Telegram: tải tệp lỗi, sẽ thử lại: %s", self._clean(error)[:200])
            return None
        return dataclasses.replace(file, data=data, size=len(data))

    def _tried(self, inbound: Inbound, applied: bool) -> None:
        if self._ledger is not None and inbound.inbound_id.isdigit():
            self._ledger.tried(int(inbound.inbound_id), applied)

    async def _pause(self, seconds: float) -> bool:
        """Wait before trying again (with the injected sleep); a stop ends the wait at once.
        False when stopping."""
        sleeping = asyncio.ensure_future(self.sleep(seconds))
        stopping = asyncio.ensure_future(self._stop_requested.wait())
        await asyncio.wait({sleeping, stopping}, return_when=asyncio.FIRST_COMPLETED)
        sleeping.cancel()
        stopping.cancel()
        return not self._stopping

    async def _acknowledge(self, query: CallbackQuery) -> None:
        """Answer the press at once, and remove the keyboard it came from."""
        try:
            await self.bot.answer_callback_query(query.id)
        except (TelegramAPIError, AiogramError) as error:
            log.debug("answerCallbackQuery: %s", self._clean(error))
        message = query.message
        if isinstance(message, Message) and message.reply_markup is not None:
            try:
                await self.bot.edit_message_reply_markup(
                    chat_id=message.chat.id, message_id=message.message_id, reply_markup=None
                )
            except (TelegramAPIError, AiogramError) as error:
                log.debug("editMessageReplyMarkup: %s", self._clean(error))

    # --- commands ----------------------------------------------------------------------

    async def _set_commands(self) -> None:
        commands = [BotCommand(command=c, description=d) for c, d in OFFICER_MENU]
        try:
            await self.bot.set_my_commands(commands, scope=BotCommandScopeDefault())
        except (TelegramAPIError, AiogramError) as error:
            log.warning("Telegram: không đặt được danh sách lệnh: %s", self._clean(error))
        for chat_id in await asyncio.to_thread(self.host.secretariat_chats, CHANNEL):
            await self._set_chat_commands(chat_id)

    def on_role_change(self, change: RoleChange) -> None:
        """Someone was linked: a secretariat member gets their own command menu."""
        wanted = change.role == ContactRole.SECRETARIAT and change.chat_id not in self._commands_set
        if wanted and self.host is not None and self.bot is not None:
            self.host.track(self._set_chat_commands(change.chat_id))

    async def _set_chat_commands(self, chat_id: str) -> None:
        commands = [BotCommand(command=c, description=d) for c, d in SECRETARIAT_MENU]
        try:
            scope = BotCommandScopeChat(
                chat_id=int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
            )
            await self.bot.set_my_commands(commands, scope=scope)
        except (TelegramAPIError, AiogramError) as error:
            log.warning("Telegram: không đặt được lệnh cho cán bộ tổng hợp: %s", self._clean(error))
            return
        self._commands_set.add(chat_id)

    def _clean(self, text: object) -> str:
        return redact(text, self._token)


def _update_json(update: Update) -> dict:
    """The update as Telegram sent it (near enough to replay): what is set aside."""
    return update.model_dump(mode="json", exclude_none=True, by_alias=True)


def _start_error(message: str) -> ChannelStartError:
    return ChannelStartError(f"Telegram: {message}")
