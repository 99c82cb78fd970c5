"""Fake Zalo Bot Platform API server for tests (aiohttp.web on 127.0.0.1, free port).

It speaks the same wire protocol as ``https://bot-api.zaloplatforms.com``: ``POST
/bot<token>/<method>`` with a JSON body, answers ``{"ok": ..., "result": ...}``. Tests inject
incoming messages with :meth:`FakeZaloServer.inject_text` / :meth:`FakeZaloServer.inject_event`
and observe the bot's replies with :meth:`FakeZaloServer.sent` / :meth:`FakeZaloServer.wait_for`.

Waiting is event-driven (futures woken on every change), never a sleep loop::

    async with FakeZaloServer(token="1234:zalo-secret") as zl:
        client = ZaloBotClient(zl.token, base_url=zl.base_url)
        zl.inject_text("user-1", "Xin chào")
        ...
        await zl.wait_for(1, chat_id="user-1")

Behaviour worth knowing:

- ``getUpdates`` hands out ONE update per call, oldest first, then forgets it; with nothing
  queued it waits up to ``timeout`` seconds (``"0"`` answers at once) and then answers HTTP 200
  ``{"ok": false, "error_code": 408, "description": "Request timeout"}``.
- While a webhook is set, ``getUpdates`` answers ``ok: false`` 409 and injected updates stay
  queued (the fake never calls the webhook url: webhook tests POST :func:`build_update` bodies
  to the bot themselves).
- A long poll whose client disconnects is cancelled before it takes an update, so no injected
  update is lost when the bot's poller stops.
"""

from __future__ import annotations

import asyncio
import collections
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = [
    "DEFAULT_DISPLAY_NAME",
    "DEFAULT_TOKEN",
    "FakeZaloServer",
    "SentChatAction",
    "SentMessage",
    "build_update",
]

DEFAULT_TOKEN = "1234:zalo-secret"
DEFAULT_DISPLAY_NAME = "Cán bộ Zalo"
TEXT_LIMIT = 2000
MAX_POLL_SECONDS = 60.0


def _now_ms() -> int:
    return int(time.time() * 1000)


def _new_message_id() -> str:
    return secrets.token_hex(16)


def _event_name(name: str) -> str:
    """``"image"`` → ``"message.image.received"``; full event names pass through."""
    return name if "." in name else f"message.{name}.received"


def build_update(
    event_name: str,
    user_id: str,
    *,
    text: str | None = None,
    display_name: str = DEFAULT_DISPLAY_NAME,
    message_id: str | None = None,
    chat_id: str | None = None,
    date_ms: int | None = None,
    chat_type: str = "PRIVATE",
) -> dict[str, Any]:
    """One update as Zalo delivers it (the ``result`` of ``getUpdates``, or a webhook body).

    ``event_name`` may be short (``"text"``, ``"image"``, ``"sticker"``…). ``chat_id`` defaults
    to ``user_id`` (private chat). ``text`` is included only when given.
    """
    message: dict[str, Any] = {
        "message_id": message_id or _new_message_id(),
        "date": _now_ms() if date_ms is None else date_ms,
        "chat": {"id": chat_id or user_id, "chat_type": chat_type},
        "from": {"id": user_id, "display_name": display_name, "is_bot": False},
    }
    if text is not None:
        message["text"] = text
    return {"event_name": _event_name(event_name), "message": message}


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One recorded ``sendMessage`` call. ``time`` is ``time.time()`` when it was received."""

    chat_id: str
    text: str
    time: float
    message_id: str


@dataclass(frozen=True, slots=True)
class SentChatAction:
    """One recorded ``sendChatAction`` call."""

    chat_id: str
    action: str
    time: float


@dataclass(slots=True)
class _Failure:
    error_code: int
    description: str
    http_status: int
    raw_body: str | None
    remaining: int


@dataclass(slots=True)
class _State:
    updates: collections.deque[dict[str, Any]] = field(default_factory=collections.deque)
    messages: list[SentMessage] = field(default_factory=list)
    chat_actions: list[SentChatAction] = field(default_factory=list)


class FakeZaloServer:
    """In-process fake of the Zalo Bot API; use as ``async with FakeZaloServer() as zl:``."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        account_name: str = "bot.baocao",
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token
        self.bot_id = token.partition(":")[0]
        self.account_name = account_name
        self.host = host
        #: number of calls per API method name (authorised requests only).
        self.calls: collections.Counter[str] = collections.Counter()
        #: current webhook ``{"url", "secret_token", "updated_at"}``, or ``None``.
        self.webhook: dict[str, Any] | None = None
        self._webhook_updated_at = 0
        self._state = _State()
        self._failures: dict[str, collections.deque[_Failure]] = collections.defaultdict(
            collections.deque
        )
        self._waiters: set[asyncio.Future[None]] = set()
        self._closing = False
        self._active_polls = 0
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        self._closing = True
        self._notify()  # pending long polls answer at once
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeZaloServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeZaloServer is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """Root to give the client (``ZALO_API_BASE_URL``): ``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    # -- test-side API -----------------------------------------------------------------------

    def inject_text(
        self,
        user_id: str,
        text: str,
        *,
        display_name: str = DEFAULT_DISPLAY_NAME,
        message_id: str | None = None,
    ) -> str:
        """Queue a ``message.text.received`` update; returns its message_id.

        Passing a message_id already used simulates a replayed delivery of the same message.
        """
        update = build_update(
            "message.text.received",
            user_id,
            text=text,
            display_name=display_name,
            message_id=message_id,
        )
        return self.inject_update(update)

    def inject_event(
        self,
        event_name: str,
        user_id: str,
        *,
        display_name: str = DEFAULT_DISPLAY_NAME,
        message_id: str | None = None,
    ) -> str:
        """Queue a non-text update (``"image"``, ``"sticker"``, ``"voice"``, ``"unsupported"``
        or a full event name such as ``"message.image.received"``); returns its message_id."""
        update = build_update(event_name, user_id, display_name=display_name, message_id=message_id)
        message = update["message"]
        if update["event_name"] == "message.image.received":
            message["photo_url"] = f"https://example.invalid/photo/{message['message_id']}.jpg"
        elif update["event_name"] == "message.sticker.received":
            message["sticker"] = "fake-sticker-id"
        return self.inject_update(update)

    def inject_update(self, update: dict[str, Any]) -> str:
        """Queue any update dict as-is (e.g. a malformed one); returns its message_id if any."""
        self._state.updates.append(update)
        self._notify()
        message = update.get("message")
        message_id = message.get("message_id") if isinstance(message, dict) else None
        return message_id if isinstance(message_id, str) else ""

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet handed out by getUpdates."""
        return len(self._state.updates)

    @property
    def active_polls(self) -> int:
        """getUpdates calls currently parked waiting for an update."""
        return self._active_polls

    async def wait_for_active_polls(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until exactly ``count`` getUpdates calls are parked (``0``: the server has
        seen every abandoned long poll go away)."""
        if not await self._wait_until(lambda: self._active_polls == count, timeout):
            raise AssertionError(
                f"FakeZaloServer: timed out after {timeout:g}s waiting for {count} parked "
                f"getUpdates call(s), have {self._active_polls}\n{self.dump()}"
            )

    def sent(self, chat_id: str | None = None) -> list[SentMessage]:
        """Recorded ``sendMessage`` calls (oldest first), optionally for one chat."""
        messages = self._state.messages
        if chat_id is None:
            return list(messages)
        return [m for m in messages if m.chat_id == chat_id]

    def sent_texts(self, chat_id: str | None = None) -> list[str]:
        return [m.text for m in self.sent(chat_id)]

    def chat_actions(self, chat_id: str | None = None) -> list[SentChatAction]:
        """Recorded ``sendChatAction`` calls, optionally for one chat."""
        actions = self._state.chat_actions
        return [a for a in actions if chat_id is None or a.chat_id == chat_id]

    async def wait_for(
        self,
        count_or_predicate: int | Callable[[list[SentMessage]], object],
        chat_id: str | None = None,
        timeout: float = 5.0,
    ) -> list[SentMessage]:
        """Wait until ``sent(chat_id)`` holds at least N messages, or until
        ``predicate(sent(chat_id))`` is truthy; returns ``sent(chat_id)``.

        Raises AssertionError with a dump of everything recorded when ``timeout`` passes.
        """
        if callable(count_or_predicate):
            predicate = count_or_predicate

            def ready() -> bool:
                return bool(predicate(self.sent(chat_id)))

            expectation = f"predicate {getattr(predicate, '__name__', predicate)!r}"
        else:
            count = int(count_or_predicate)

            def ready() -> bool:
                return len(self.sent(chat_id)) >= count

            expectation = f"at least {count} message(s)"
        if not await self._wait_until(ready, timeout):
            where = "all chats" if chat_id is None else f"chat {chat_id!r}"
            raise AssertionError(
                f"FakeZaloServer: timed out after {timeout:g}s waiting for {expectation} in "
                f"{where}\n{self.dump()}"
            )
        return self.sent(chat_id)

    async def wait_for_calls(self, method: str, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until ``method`` has been called at least ``count`` times in total (e.g. to
        know the bot's poller is parked in ``getUpdates``)."""
        if not await self._wait_until(lambda: self.calls[method] >= count, timeout):
            raise AssertionError(
                f"FakeZaloServer: timed out after {timeout:g}s waiting for {count} call(s) of "
                f"{method}\n{self.dump()}"
            )

    def fail_next(
        self,
        method: str,
        *,
        error_code: int,
        description: str,
        http_status: int = 200,
        times: int = 1,
        raw_body: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``ok: false``.

        ``raw_body`` replaces the JSON envelope with arbitrary text (e.g. an HTML error page).
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        self._failures[method].append(
            _Failure(error_code, description, http_status, raw_body, times)
        )

    def dump(self) -> str:
        """Readable summary of the recorded traffic, for assertion messages."""
        lines = [
            f"calls: {dict(self.calls)}",
            f"pending updates: {self.pending_updates}, parked getUpdates: {self._active_polls}",
        ]
        lines.append(f"webhook: {self.webhook!r}")
        lines.append(f"sent messages ({len(self._state.messages)}):")
        for m in self._state.messages:
            lines.append(f"  [{m.chat_id}] {m.text!r}")
        return "\n".join(lines)

    # -- waiting -----------------------------------------------------------------------------

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, set()
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def _wait_until(self, ready: Callable[[], bool], timeout: float) -> bool:
        if ready():
            return True
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(max(0.0, timeout)):
                while not ready():
                    fut: asyncio.Future[None] = loop.create_future()
                    self._waiters.add(fut)
                    try:
                        await fut
                    finally:
                        self._waiters.discard(fut)
        except TimeoutError:
            return ready()
        return True

    # -- HTTP side ---------------------------------------------------------------------------

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _fail(error_code: int, description: str, http_status: int | None = None) -> web.Response:
        body = {"ok": False, "error_code": error_code, "description": description}
        return web.json_response(body, status=error_code if http_status is None else http_status)

    async def _handle(self, request: web.Request) -> web.Response:
        if not secrets.compare_digest(request.match_info["token"].encode(), self.token.encode()):
            return self._fail(401, "Unauthorized")
        method = request.match_info["method"]
        self.calls[method] += 1
        self._notify()

        failure = self._take_failure(method)
        if failure is not None:
            if failure.raw_body is not None:
                return web.Response(text=failure.raw_body, status=failure.http_status)
            return self._fail(failure.error_code, failure.description, failure.http_status)

        handler = self._handlers.get(method)
        if handler is None:
            return self._fail(404, f"Not Found: method {method} does not exist")

        raw = await request.read()
        try:
            body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (UnicodeDecodeError, ValueError):
            return self._fail(400, "Bad Request: body is not valid JSON")
        if not isinstance(body, dict):
            return self._fail(400, "Bad Request: body must be a JSON object")
        return await handler(self, body)

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            queue.popleft()
        return failure

    async def _get_me(self, body: dict[str, Any]) -> web.Response:
        return self._ok(
            {
                "id": self.bot_id,
                "account_name": self.account_name,
                "account_type": "BASIC",
                "can_join_groups": False,
            }
        )

    async def _get_updates(self, body: dict[str, Any]) -> web.Response:
        if self.webhook is not None:
            return self._fail(409, "Conflict: webhook is active, getUpdates is disabled")
        raw_timeout = body.get("timeout", "30")
        try:
            timeout = float(raw_timeout)
        except (TypeError, ValueError):
            return self._fail(400, "Bad Request: timeout must be a number of seconds")
        if not timeout >= 0:  # also rejects NaN
            return self._fail(400, "Bad Request: timeout must be a number of seconds")
        timeout = min(timeout, MAX_POLL_SECONDS)

        def ready() -> bool:
            return bool(self._state.updates) or self.webhook is not None or self._closing

        self._active_polls += 1
        self._notify()
        try:
            await self._wait_until(ready, timeout)
        finally:
            self._active_polls -= 1
            self._notify()
        if self.webhook is not None:
            return self._fail(409, "Conflict: webhook is active, getUpdates is disabled")
        if self._state.updates and not self._closing:
            return self._ok(self._state.updates.popleft())
        return self._fail(408, "Request timeout", 200)

    async def _send_message(self, body: dict[str, Any]) -> web.Response:
        chat_id = body.get("chat_id")
        text = body.get("text")
        if not isinstance(chat_id, str) or not chat_id:
            return self._fail(400, "Bad Request: chat_id is required")
        if not isinstance(text, str) or not text:
            return self._fail(400, "Bad Request: text is empty")
        if len(text) > TEXT_LIMIT:
            return self._fail(400, f"Bad Request: text too long (max {TEXT_LIMIT} characters)")
        message_id = _new_message_id()
        self._state.messages.append(SentMessage(chat_id, text, time.time(), message_id))
        self._notify()
        return self._ok({"message_id": message_id, "date": _now_ms()})

    async def _send_chat_action(self, body: dict[str, Any]) -> web.Response:
        chat_id = body.get("chat_id")
        action = body.get("action", "typing")
        if not isinstance(chat_id, str) or not chat_id:
            return self._fail(400, "Bad Request: chat_id is required")
        if not isinstance(action, str) or not action:
            return self._fail(400, "Bad Request: action is required")
        self._state.chat_actions.append(SentChatAction(chat_id, action, time.time()))
        self._notify()
        return self._ok({})

    def _webhook_info(self) -> dict[str, Any]:
        url = self.webhook["url"] if self.webhook is not None else ""
        return {"url": url, "updated_at": self._webhook_updated_at}

    async def _set_webhook(self, body: dict[str, Any]) -> web.Response:
        url = body.get("url")
        secret = body.get("secret_token")
        if not isinstance(url, str) or not url.startswith("https://") or len(url) <= 8:
            return self._fail(400, "Bad Request: url must be an HTTPS url")
        if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
            return self._fail(400, "Bad Request: secret_token must be 8-256 characters")
        self._webhook_updated_at = _now_ms()
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "updated_at": self._webhook_updated_at,
        }
        self._notify()
        return self._ok(self._webhook_info())

    async def _delete_webhook(self, body: dict[str, Any]) -> web.Response:
        if self.webhook is not None:
            self.webhook = None
            self._webhook_updated_at = _now_ms()
            self._notify()
        return self._ok(self._webhook_info())

    async def _get_webhook_info(self, body: dict[str, Any]) -> web.Response:
        return self._ok(self._webhook_info())

    _handlers: dict[str, Callable[[FakeZaloServer, dict[str, Any]], Any]] = {
        "getMe": _get_me,
        "getUpdates": _get_updates,
        "sendMessage": _send_message,
        "sendChatAction": _send_chat_action,
        "setWebhook": _set_webhook,
        "deleteWebhook": _delete_webhook,
        "getWebhookInfo": _get_webhook_info,
    }
