"""The Zalo channel: Zalo Bot Platform updates in, text messages out (transport only).

Receiving:
- long polling by default (``deleteWebhook`` first, then ``getUpdates`` in a loop; an empty poll
  is not an error; any other failure backs off exponentially, capped, and polling goes on);
- a webhook when ``BAOCAO_WEBHOOK_URL`` is set: ``POST /zalo/webhook`` on the project's one web
  server, registered with ``setWebhook(url=<BAOCAO_WEBHOOK_URL>/zalo/webhook)``; the
  ``X-Bot-Api-Secret-Token`` header must equal ``BAOCAO_WEBHOOK_SECRET`` (constant-time compare,
  403 otherwise) and a body that is not a readable update gets 400, both without processing.

Zalo updates carry no update id, so the message id is the de-duplication key (``inbound_id``).
Text goes to the service like any channel's; images, stickers and voice get a short
"text only" notice without reaching the engine (strangers learn nothing from it).

Sending (the outbox ``Sender``): Zalo has no buttons, no editing and no files. Choices become
numbered lines or keywords (``render_choices_as_text``) appended to the last part of a text split
at 2,000 characters; an Excel attachment becomes a 24-hour download link. Every message is
booked against the monthly counter (``storage.quota``) first: the secretariat is warned once at
80 % of ``BAOCAO_ZALO_MONTHLY_CAP`` and told once when the cap is reached; past the cap nothing
more is sent on Zalo that month (the outbox row fails with reason ``quota``).

The bot token never appears in a log line or an error message.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlmodel import select

from bot.channels.zalo_client import (
    NETWORK_ERROR_CODE,
    TEXT_LIMIT,
    ZaloApiError,
    ZaloBotClient,
    ZaloIncoming,
    parse_update,
    split_text,
)
from bot.messaging import Inbound, Outbound
from bot.outbox import RetryLater, Undeliverable
from bot.runner import ChannelStartError
from bot.settings import Settings
from conversations.engine import render_choices_as_text
from storage.hot_path import enqueue
from storage.models import Campaign, Contact
from storage.quota import QuotaTake, give_back, take, warn_threshold
from storage.repository import StorageError, unit_by_code

if TYPE_CHECKING:
    from bot.runner import Hub

log = logging.getLogger(__name__)

CHANNEL = "zalo"
WEBHOOK_PATH = "/zalo/webhook"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
POLL_TIMEOUT = 30
BACKOFF_FIRST = 1.0
BACKOFF_CAP = 60.0
QUOTA_CONTEXT = "zalo-quota"  # marks the secretariat's quota notices, let through at the cap
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")  # Zalo's calendar month is Vietnam's
_MAX_PENDING = 1000
_CHANNEL_WEBHOOK_PATHS = (WEBHOOK_PATH, "/telegram/webhook")

Sleep = Callable[[float], Awaitable[None]]


def webhook_url(settings: Settings) -> str:
    """Where Zalo delivers updates: ``BAOCAO_WEBHOOK_URL`` (the public root of the web server,
    shared with Telegram) + ``/zalo/webhook``; a channel's own path at its end is taken off."""
    root = (settings.baocao_webhook_url or "").rstrip("/")
    for path in _CHANNEL_WEBHOOK_PATHS:
        root = root.removesuffix(path)
    return root + WEBHOOK_PATH


def backoff(failures: int) -> float:
    """Seconds to wait after `failures` failures in a row: 1, 2, 4, … capped at 60."""
    return min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** max(0, failures - 1))


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


def month_of(moment: datetime) -> str:
    return moment.astimezone(ZONE).strftime("%Y-%m")


def _number(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def _month_label(month: str) -> str:
    year, _, number = month.partition("-")
    return f"{int(number)}/{year}"


def warning_text(booked: QuotaTake, month: str) -> str:
    return (
        f"Cảnh báo hạn mức Zalo: trợ lý đã gửi {_number(booked.sent)}/{_number(booked.cap)} "
        f"tin nhắn Zalo trong tháng {_month_label(month)} (đã đạt 80% hạn mức "
        "BAOCAO_ZALO_MONTHLY_CAP). Khi hết hạn mức, trợ lý ngừng gửi tin trên Zalo đến hết "
        "tháng. Đề nghị hướng dẫn các đơn vị chuyển sang Telegram, hoặc nâng hạn mức nếu gói "
        "Zalo cho phép."
    )


def cap_text(booked: QuotaTake, month: str) -> str:
    return (
        f"Đã hết hạn mức {_number(booked.cap)} tin nhắn Zalo của tháng {_month_label(month)} "
        "(BAOCAO_ZALO_MONTHLY_CAP). Từ giờ đến hết tháng trợ lý không gửi tin trên Zalo nữa: "
        "số liệu cán bộ gửi qua Zalo vẫn được ghi nhận nhưng họ không nhận được phản hồi. "
        "Đề nghị hướng dẫn các đơn vị chuyển sang Telegram, hoặc nâng hạn mức nếu gói Zalo "
        "cho phép."
    )


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
        monotonic: Callable[[], float] = time.monotonic,
        poll_timeout: int = POLL_TIMEOUT,
        client: ZaloBotClient | None = None,
    ) -> None:
        if settings.zalo_bot_token is None:
            raise ValueError("ZALO_BOT_TOKEN is not set")
        token = settings.zalo_bot_token.get_secret_value()
        self.settings = settings
        self.account = token.partition(":")[0]
        self.client = client or ZaloBotClient(token, base_url=settings.zalo_api_base_url)
        self.hub: Hub | None = None
        self.handled = 0
        self.stats = {"received": 0, "ignored": 0, "failed": 0, "refused_quota": 0}
        self._secrets = sorted({token, token.partition(":")[2]} - {""}, key=len, reverse=True)
        self._sleep = sleep
        self._monotonic = monotonic
        self._poll_timeout = poll_timeout
        self._poller: asyncio.Task | None = None
        self._webhook_secret: bytes | None = None
        self._stopping = False
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

    async def start(self, hub: Hub) -> None:
        """Check the token (getMe), then set the webhook or start long polling."""
        self.hub = hub
        self._stopping = False
        try:
            me = await self._call_at_start("getMe", self.client.get_me())
            if self.webhook_mode:
                configured = self.settings.baocao_webhook_secret
                if configured is None:
                    log.warning(
                        "Zalo: chưa đặt BAOCAO_WEBHOOK_SECRET, dùng mã bí mật tạm cho tiến trình "
                        "này (chạy nhiều tiến trình sau webhook thì phải đặt biến này)"
                    )
                secret = configured.get_secret_value() if configured else secrets.token_urlsafe(32)
                self._webhook_secret = secret.encode()
                hub.web.router.add_post(WEBHOOK_PATH, self._webhook)
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
        hub.web.on_cleanup.append(self._on_cleanup)
        log.info("Zalo: bot «%s» đã kết nối (%s)", me.get("account_name", self.account), mode)

    async def stop(self) -> None:
        """Stop receiving; sending keeps working until the outbox has drained."""
        self._stopping = True
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
        failures = 0
        while not self._stopping:
            began = self._monotonic()
            try:
                update = await self.client.get_updates(timeout=self._poll_timeout)
            except ZaloApiError as error:
                failures += 1
                delay = backoff(failures)
                hint = " (một webhook đang được đặt cho bot này)" if error.error_code == 409 else ""
                log.warning(
                    "Zalo getUpdates lỗi %s: %s%s; thử lại sau %g giây",
                    error.error_code,
                    self._redact(error.description),
                    hint,
                    delay,
                )
                await self._sleep(delay)
                continue
            except asyncio.CancelledError:
                raise
            except Exception as error:  # never let the poller die
                failures += 1
                delay = backoff(failures)
                log.warning(
                    "Zalo getUpdates lỗi %s: %s; thử lại sau %g giây",
                    type(error).__name__,
                    self._redact(str(error)),
                    delay,
                )
                await self._sleep(delay)
                continue
            failures = 0
            if update is None:
                if self._monotonic() - began < 0.5 and self._poll_timeout > 0:
                    await self._sleep(1.0)  # an empty poll answered at once: do not hammer
                continue
            incoming = parse_update(update)
            if incoming is None:
                self._ignored()
                continue
            await self._receive(incoming, attempts=None)

    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if self._webhook_secret is None or not hmac.compare_digest(given, self._webhook_secret):
            return web.Response(status=403, text="Forbidden")
        if self.hub is None:
            return web.Response(status=503, text="Service Unavailable")
        # Updates keep being accepted while the server drains at a stop: Zalo publishes no
        # retry rule, so an update refused here could be lost.
        try:
            body = json.loads(await request.read())
        except (UnicodeDecodeError, ValueError):
            return web.Response(status=400, text="Bad Request")
        incoming = parse_update(body)
        if incoming is None:
            return web.Response(status=400, text="Bad Request")
        if not await self._receive(incoming, attempts=1):
            return web.Response(status=500, text="Internal Server Error")
        return web.json_response({"ok": True})

    async def _receive(self, incoming: ZaloIncoming, *, attempts: int | None) -> bool:
        """Process one message, retrying a failing database; True when done.

        Polling (`attempts` None) tries until the message is stored or the channel stops: Zalo
        hands an update out once, so giving up would lose what the officer typed (a database
        restart during an upgrade takes longer than a few tries). A webhook call tries once
        and answers 500.
        """
        self.stats["received"] += 1
        hub = self.hub
        try:
            for attempt in itertools.count(1) if attempts is None else range(1, attempts + 1):
                try:
                    await asyncio.shield(hub.track(self._process(incoming)))
                    return True
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    log.warning(
                        "Zalo: xử lý tin nhắn lỗi (%s: %s), lần %d",
                        type(error).__name__,
                        self._redact(str(error))[:300],
                        attempt,
                    )
                    if self._stopping or (attempts is not None and attempt >= attempts):
                        break
                    try:
                        await self._sleep(backoff(attempt))
                    except asyncio.CancelledError:  # a stop: Zalo will not hand it out again
                        log.error("Zalo: dừng khi chưa ghi được tin nhắn %s", incoming.message_id)
                        raise
            self.stats["failed"] += 1
            log.error("Zalo: bỏ tin nhắn %s sau %d lần xử lý lỗi", incoming.message_id, attempt)
            return False
        finally:
            self._handled()

    async def _process(self, incoming: ZaloIncoming) -> None:
        # A non-text event (image, sticker, voice) arrives with text None: the service answers
        # that only text is read.
        await self.hub.dispatch(
            Inbound(
                channel=CHANNEL,
                chat_id=incoming.chat_id,
                user_id=incoming.user_id,
                inbound_id=_inbound_id(incoming.message_id),
                text=incoming.text,
                display_name=incoming.display_name,
            )
        )

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
        if self.hub is None:
            raise RetryLater(5.0, reason="kênh Zalo chưa khởi động")
        key = (chat_id, outbound)
        progress = self._pending.pop(key, None)
        if progress is None:
            shown = outbound
            if outbound.attachment is not None:
                shown = await asyncio.to_thread(self._as_link, chat_id, outbound)
            progress = _Progress(render_parts(shown))
        exempt = outbound.context == QUOTA_CONTEXT
        while progress.done < len(progress.parts):
            try:
                await self._send_counted(chat_id, progress.parts[progress.done], exempt=exempt)
            except RetryLater:
                if len(self._pending) >= _MAX_PENDING:
                    self._pending.pop(next(iter(self._pending)))
                self._pending[key] = progress
                raise
            progress.done += 1

    async def _send_counted(self, chat_id: str, text: str, *, exempt: bool) -> None:
        month = month_of(self.hub.app.clock())
        booked = await asyncio.to_thread(self._book, month, exempt)
        if not booked.allowed:
            self.stats["refused_quota"] += 1
            raise Undeliverable(
                f"quota: hết hạn mức {booked.cap} tin nhắn Zalo tháng {_month_label(month)}"
            )
        try:
            await self.client.send_message(chat_id, text)
        except ZaloApiError as error:
            if error.error_code != NETWORK_ERROR_CODE:  # refused for sure: it did not count
                await asyncio.to_thread(self._give_back, month)
            raise self._send_error(error) from None

    def _book(self, month: str, exempt: bool) -> QuotaTake:
        """Count one message; on crossing 80 % or reaching the cap, queue the notices."""
        app = self.hub.app
        cap = self.settings.baocao_zalo_monthly_cap
        now = app.clock()
        with app.database.transaction() as session:
            booked = take(
                session,
                channel=CHANNEL,
                account=self.account,
                month=month,
                cap=cap,
                now=now,
                force=exempt,
            )
            notified = 0
            if booked.capped:
                notified = self._notify_secretariat(session, cap_text(booked, month), now)
            elif booked.warn:
                notified = self._notify_secretariat(session, warning_text(booked, month), now)
        if booked.capped or booked.warn:
            what = "đã hết hạn mức" if booked.capped else f"đã đạt {warn_threshold(cap)} tin (80%)"
            log.warning(
                "Zalo: %s tin nhắn tháng %s (%d/%d); đã báo %d cán bộ tổng hợp",
                what,
                month,
                booked.sent,
                cap,
                notified,
            )
            self.hub.outbox.wake()
        return booked

    def _give_back(self, month: str) -> None:
        with self.hub.app.database.transaction() as session:
            give_back(session, channel=CHANNEL, account=self.account, month=month)

    @staticmethod
    def _notify_secretariat(session, text: str, now: datetime) -> int:
        contacts = session.exec(
            select(Contact)
            .where(Contact.role == "secretariat", Contact.active)
            .order_by(Contact.id)
        ).all()
        for contact in contacts:
            context = QUOTA_CONTEXT if contact.channel == CHANNEL else ""
            enqueue(
                session,
                channel=contact.channel,
                chat_id=contact.chat_id,
                payload=Outbound(text, context=context).to_payload(),
                now=now,
                contact_id=contact.id,
                kind="notice",
                claimed=False,
            )
        return len(contacts)

    def _as_link(self, chat_id: str, outbound: Outbound) -> Outbound:
        """Zalo cannot send files: turn an export attachment into a download link."""
        app = self.hub.app
        attachment = outbound.attachment
        now = app.clock()
        with app.database.transaction() as session:
            campaign = session.get(Campaign, attachment.campaign_id)
            if campaign is None:
                raise Undeliverable("đợt báo cáo của tệp đính kèm không còn")
            try:
                unit = unit_by_code(session, attachment.unit_code) if attachment.unit_code else None
            except StorageError as error:
                raise Undeliverable(str(error)) from None
            contact = session.exec(
                select(Contact).where(Contact.channel == CHANNEL, Contact.chat_id == chat_id)
            ).first()
            link = app.service.download_link(session, campaign, unit, contact, now)
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
        for secret in self._secrets:
            if len(secret) >= 6:
                text = text.replace(secret, "<token>")
        return text


def _inbound_id(message_id: str) -> str:
    """The de-duplication key: Zalo's message id (hashed if longer than the column)."""
    if len(message_id) <= 80:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
