"""The Zalo channel: Zalo Bot Platform updates in as `Inbound`, outbox messages out as texts.

Receiving: long polling by default (``deleteWebhook``, then ``getUpdates`` in a loop; an empty
poll is not an error, any other failure backs off), or a webhook on ``POST /zalo/webhook`` when
``BAOCAO_WEBHOOK_URL`` is set (secret header checked in constant time, 403 otherwise; an
unreadable body gets 400; a message that keeps failing is set aside and answered 200, one that
waits for the database 500). Zalo updates carry no update id, so the message id is the
de-duplication key. A non-text event reaches the service with no text, which answers that only
text is read.

Sending: Zalo has no buttons, no editing and no files. Choices become numbered lines or keywords
appended to the last part of a text split at 2,000 characters; an Excel attachment becomes a
download link (from the host). Every part is booked with the host's quota meter first; past the
cap the outbox row fails with reason ``quota``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from aiohttp import web

from bot.channels import base
from bot.channels.base import (
    ChannelStartError,
    Host,
    Meter,
    Receipt,
    Sleep,
    secret_matches,
    split_text,
)
from bot.channels.zalo_client import (
    NETWORK_ERROR_CODE,
    TEXT_LIMIT,
    ZaloApiError,
    ZaloBotClient,
    ZaloIncoming,
    parse_update,
)
from bot.clock import monotonic as monotonic_clock
from bot.messaging import Inbound, Outbound, RetryLater, RoleChange, Undeliverable
from bot.settings import Settings
from bot.webhook_body import BadBody, read_update
from conversations.choices import render_choices_as_text

log = logging.getLogger(__name__)

CHANNEL = "zalo"
WEBHOOK_PATH = "/zalo/webhook"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
POLL_TIMEOUT = 30
BACKOFF_CAP = 60.0
_MAX_PENDING = 1000

backoff = partial(base.backoff, cap=BACKOFF_CAP)


def webhook_url(settings: Settings) -> str:
    """Where Zalo delivers updates: ``BAOCAO_WEBHOOK_URL`` + ``/zalo/webhook``."""
    return base.webhook_url(settings.baocao_webhook_url or "", WEBHOOK_PATH)


def render_parts(outbound: Outbound, limit: int = TEXT_LIMIT) -> list[str]:
    """The texts to send for one outbound: split at `limit`, choices appended to the last part."""
    parts = split_text(outbound.text, limit)
    choices = render_choices_as_text(outbound.choices, outbound.numbered)
    if choices:
        if parts and len(parts[-1]) + 2 + len(choices) <= limit:
            parts[-1] = f"{parts[-1]}\n\n{choices}"
        else:
            parts.extend(split_text(choices, limit))
    return [part for part in parts if part.strip()]


@dataclass
class _Progress:
    """A message being sent in several parts, remembered so a retry does not repeat parts."""

    parts: list[str]
    done: int = 0


class ZaloChannel:
    """One Zalo bot: receives by long polling or webhook, and is its own outbox sender."""

    name = CHANNEL

    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = monotonic_clock,
        poll_timeout: int = POLL_TIMEOUT,
        client: ZaloBotClient | None = None,
    ) -> None:
        if settings.zalo_bot_token is None:
            raise ValueError("ZALO_BOT_TOKEN is not set")
        token = settings.zalo_bot_token.get_secret_value()
        self.settings = settings
        self.account = token.partition(":")[0]
        self.client = client or ZaloBotClient(token, base_url=settings.zalo_api_base_url)
        self.host: Host | None = None
        self.meter: Meter | None = None
        self.handled = 0
        self.stats = {
            "received": 0,
            "ignored": 0,
            "failed": 0,
            "set_aside": 0,
            "refused_quota": 0,
        }
        self._secrets = sorted({token, token.partition(":")[2]} - {""}, key=len, reverse=True)
        self._sleep = sleep
        self._monotonic = monotonic
        self._poll_timeout = poll_timeout
        self._poller: asyncio.Task | None = None
        self._webhook_secret: str | None = None
        self._stopping = False
        self._stop_requested = asyncio.Event()
        self._pending: dict[tuple[str, Outbound], _Progress] = {}
        self._waiters: set[asyncio.Future[None]] = set()

    def __repr__(self) -> str:  # never show the token
        return f"ZaloChannel(account={self.account!r})"

    @property
    def sender(self) -> ZaloChannel:
        return self

    @property
    def webhook_mode(self) -> bool:
        return bool(self.settings.baocao_webhook_url)

    # --- lifecycle ----------------------------------------------------------------------

    def on_role_change(self, change: RoleChange) -> None:
        """Zalo has no per-chat menus: nothing to reflect."""

    async def start(self, host: Host) -> None:
        """Check the token (getMe), then set the webhook or start long polling."""
        self.host = host
        self.meter = host.meter(CHANNEL, self.account)
        self._stopping = False
        self._stop_requested = asyncio.Event()
        try:
            me = await self._call_at_start("getMe", self.client.get_me())
            if self.webhook_mode:
                configured = self.settings.baocao_webhook_secret
                secret = base.webhook_secret(
                    configured.get_secret_value() if configured else None, "Zalo"
                )
                self._webhook_secret = secret
                host.web.router.add_post(WEBHOOK_PATH, self._webhook)
                url = webhook_url(self.settings)
                await self._call_at_start("setWebhook", self.client.set_webhook(url, secret))
                mode = f"webhook {url}"
            else:
                await self._call_at_start("deleteWebhook", self.client.delete_webhook())
                self._poller = asyncio.create_task(self._poll_loop(), name="zalo-poll")
                mode = "long polling"
        except BaseException:
            await self.client.close()
            raise
        # Close the HTTP client only when the web server closes: after the outbox has drained.
        host.web.on_cleanup.append(self._on_cleanup)
        log.info("Zalo: bot «%s» đã kết nối (%s)", me.get("account_name", self.account), mode)

    async def stop(self) -> None:
        """Stop receiving; sending keeps working until the outbox has drained."""
        self._stopping = True
        self._stop_requested.set()
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None

    async def aclose(self) -> None:
        await self.stop()
        await self.client.close()

    async def _on_cleanup(self, _web_app: web.Application) -> None:
        await self.client.close()

    async def _call_at_start(self, method: str, call: Awaitable[dict]) -> dict:
        try:
            return await call
        except ZaloApiError as error:
            raise ChannelStartError(self._start_error(method, error)) from None

    def _start_error(self, method: str, error: ZaloApiError) -> str:
        code, detail = error.error_code, self._redact(error.description)
        if code in (401, 403):
            return (
                f"Zalo từ chối ZALO_BOT_TOKEN (lỗi {code}): kiểm tra lại mã bot lấy trong "
                "Zalo Bot Manager"
            )
        if code == NETWORK_ERROR_CODE:
            return (
                f"không kết nối được máy chủ Zalo {self.client.base_url} ({detail}); "
                "kiểm tra mạng hoặc ZALO_API_BASE_URL"
            )
        return f"Zalo trả lỗi khi gọi {method} (lỗi {code}): {detail}"

    # --- receiving ----------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        await base.poll_forever(
            self._fetch,
            self._take_polled,
            stopped=lambda: self._stopping,
            sleep=self._sleep,
            failed=self._poll_failed,
        )

    async def _fetch(self) -> tuple[dict | None, float]:
        began = self._monotonic()
        update = await self.client.get_updates(timeout=self._poll_timeout)
        return update, self._monotonic() - began

    async def _take_polled(self, polled: tuple[dict | None, float]) -> None:
        update, took = polled
        if update is None:
            if took < 0.5 and self._poll_timeout > 0:
                await self._sleep(1.0)  # an empty poll answered at once: do not hammer
            return
        incoming = parse_update(update)
        if incoming is None:
            self._ignored()
            return
        await self._receive(incoming, update, attempts=None)

    def _poll_failed(self, error: Exception, failures: int) -> float:
        delay = backoff(failures)
        if isinstance(error, ZaloApiError):
            hint = " (một webhook đang được đặt cho bot này)" if error.error_code == 409 else ""
            code, detail = error.error_code, self._redact(error.description) + hint
        else:
            code, detail = type(error).__name__, self._redact(str(error))
        log.warning("Zalo getUpdates lỗi %s: %s; thử lại sau %g giây", code, detail, delay)
        return delay

    async def _webhook(self, request: web.Request) -> web.Response:
        if not secret_matches(request.headers.get(SECRET_HEADER, ""), self._webhook_secret):
            return web.Response(status=403, text="Forbidden")
        if self.host is None:
            return web.Response(status=503, text="Service Unavailable")
        # Updates keep being accepted while the server drains at a stop: Zalo publishes no
        # retry rule, so an update refused here could be lost.
        try:
            body = await read_update(request)
        except BadBody:
            return web.Response(status=400, text="Bad Request")
        incoming = parse_update(body)
        if incoming is None:
            return web.Response(status=400, text="Bad Request")
        if not await self._receive(incoming, body, attempts=1):
            return web.Response(status=500, text="Internal Server Error")
        return web.json_response({"ok": True})

    async def _receive(self, incoming: ZaloIncoming, update: dict, *, attempts: int | None) -> bool:
        """Process one message; True when applied or set aside.

        The host tries again while it fails and sets aside one that keeps failing (so the
        messages behind it go on). While the database is away, polling (`attempts` None) waits
        until the message is stored or the channel stops: Zalo hands an update out once, so
        giving up would lose what the officer typed. A webhook call tries `attempts` times and
        answers 500.
        """
        self.stats["received"] += 1
        inbound = Inbound(
            channel=CHANNEL,
            chat_id=incoming.chat_id,
            user_id=incoming.user_id,
            inbound_id=_inbound_id(incoming.message_id),
            text=incoming.text,  # None for an image, sticker or voice: the service answers
            display_name=incoming.display_name,
        )
        try:
            task = self.host.track(
                self.host.receive(
                    inbound, lambda: update, pause=self._pause, transient_attempts=attempts
                )
            )
            try:
                receipt = await asyncio.shield(task)
            except asyncio.CancelledError:  # a stop: Zalo will not hand it out again
                log.error("Zalo: dừng khi chưa ghi được tin nhắn %s", incoming.message_id)
                raise
            if receipt is Receipt.SET_ASIDE:
                self.stats["set_aside"] += 1
            if not receipt.settled:
                self.stats["failed"] += 1
                log.error("Zalo: chưa ghi được tin nhắn %s", incoming.message_id)
            return receipt.settled
        finally:
            self._handled()

    async def _pause(self, seconds: float) -> bool:
        """Wait before trying a message again; a stop ends the wait at once. False when
        stopping (the message is then lost with the process: Zalo does not resend it)."""
        if self._stopping:
            return False
        sleeping = asyncio.ensure_future(self._sleep(seconds))
        stopping = asyncio.ensure_future(self._stop_requested.wait())
        await asyncio.wait({sleeping, stopping}, return_when=asyncio.FIRST_COMPLETED)
        sleeping.cancel()
        stopping.cancel()
        return not self._stopping

    def _ignored(self) -> None:
        self.stats["ignored"] += 1
        log.info("Zalo: bỏ qua một cập nhật không đọc được")
        self._handled()

    def _handled(self) -> None:
        self.handled += 1
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_handled(self, count: int, timeout: float = 5.0) -> None:
        """Wait until `count` updates in all have been handled (for tests and tools)."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while self.handled < count:
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiters.add(waiter)
                try:
                    await waiter
                finally:
                    self._waiters.discard(waiter)

    # --- sending (outbox Sender) ----------------------------------------------------------

    async def send(self, chat_id: str, outbound: Outbound) -> None:
        """Send one outbound as one or more text messages; raise RetryLater / Undeliverable."""
        if self.host is None:
            raise RetryLater(5.0, reason="kênh Zalo chưa khởi động")
        key = (chat_id, outbound)
        progress = self._pending.pop(key, None)
        if progress is None:
            shown = outbound
            if outbound.attachment is not None:
                shown = await self._as_link(chat_id, outbound)
            progress = _Progress(render_parts(shown))
        while progress.done < len(progress.parts):
            try:
                await self._send_counted(chat_id, progress.parts[progress.done], outbound)
            except RetryLater:
                if len(self._pending) >= _MAX_PENDING:
                    self._pending.pop(next(iter(self._pending)))
                self._pending[key] = progress
                raise
            progress.done += 1

    async def _send_counted(self, chat_id: str, text: str, outbound: Outbound) -> None:
        refusal = await self.meter.take(outbound)
        if refusal is not None:
            self.stats["refused_quota"] += 1
            raise Undeliverable(refusal)
        try:
            await self.client.send_message(chat_id, text)
        except ZaloApiError as error:
            if error.error_code != NETWORK_ERROR_CODE:  # refused for sure: it did not count
                await self.meter.give_back()
            raise self._send_error(error) from None

    async def _as_link(self, chat_id: str, outbound: Outbound) -> Outbound:
        """Zalo cannot send files: an export attachment becomes a download link."""
        link = await self.host.attachments.as_link(outbound.attachment, CHANNEL, chat_id)
        text = f"{outbound.text} (Excel): {link}\nĐường liên kết dùng được trong 24 giờ."
        return Outbound(text, outbound.choices, outbound.context, outbound.numbered)

    def _send_error(self, error: ZaloApiError) -> Exception:
        code = error.error_code
        reason = f"Zalo sendMessage lỗi {code}: {self._redact(error.description)}"
        if code == NETWORK_ERROR_CODE or code == 408 or code >= 500:
            return RetryLater(5.0, reason=reason)
        if code == 429:
            return RetryLater(30.0, flood=True, reason=reason)
        # Zalo does not document a "blocked by the user" answer; only one that says so marks the
        # contact inactive (it becomes active again when the person writes).
        blocked = code == 403 and "block" in error.description.lower()
        return Undeliverable(reason, blocked=blocked)

    def _redact(self, text: str) -> str:
        return base.redact(text, self._secrets)


def _inbound_id(message_id: str) -> str:
    """The de-duplication key: Zalo's message id (hashed if longer than the column)."""
    if len(message_id) <= 80:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
