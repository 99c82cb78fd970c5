"""Small async client for the Zalo Bot Platform API (Telegram-like, much smaller).

Every call is an HTTP POST with a JSON body to ``<base_url>/bot<token>/<method>``; every answer
is ``{"ok": bool, "result": ..., "error_code"?: int, "description"?: str}``. An HTTP 200 can
still carry ``ok: false``, so the client always checks ``ok`` and raises :class:`ZaloApiError`.

The bot token is a secret: it never appears in an error message (it is redacted from any
exception text that happens to contain it).

Also here: :func:`parse_update`, which turns one raw update (from ``getUpdates`` or a webhook
delivery) into a :class:`ZaloIncoming`, and :func:`split_text`, which cuts a long reply into
parts that fit Zalo's 2000-character limit for ``sendMessage``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.channels import base

__all__ = [
    "DEFAULT_BASE_URL",
    "EMPTY_POLL_ERROR_CODE",
    "NETWORK_ERROR_CODE",
    "TEXT_EVENT",
    "TEXT_LIMIT",
    "ZaloApiError",
    "ZaloBotClient",
    "ZaloIncoming",
    "parse_update",
    "split_text",
]

DEFAULT_BASE_URL = "https://bot-api.zaloplatforms.com"
TEXT_LIMIT = 2000
TEXT_EVENT = "message.text.received"
# getUpdates answers ok:false with this code when no message arrived within the timeout.
EMPTY_POLL_ERROR_CODE = 408
# error_code used for transport failures (no answer from the server at all).
NETWORK_ERROR_CODE = 0

_REDACTED = "<token>"
_MAX_DESCRIPTION = 300
# The secret half of a token is redacted on its own only when it is long enough not to be a
# common substring of unrelated text.
_MIN_SECRET_TO_REDACT = 6


class ZaloApiError(Exception):
    """A Zalo Bot API call failed.

    ``error_code`` is the API's ``error_code`` when the server answered ``ok: false``, the HTTP
    status when the answer was not a readable API envelope, and ``0`` for network failures.
    """

    def __init__(self, error_code: int, description: str, *, method: str | None = None) -> None:
        self.error_code = error_code
        self.description = description
        self.method = method
        where = f"Zalo {method}" if method else "Zalo API"
        super().__init__(f"{where} failed ({error_code}): {description}")


@dataclass(frozen=True, slots=True)
class ZaloIncoming:
    """One incoming message event, reduced to what the bot needs.

    ``text`` is ``None`` for every non-text event (image, sticker, voice, unsupported).
    ``date_ms`` is the Zalo timestamp in milliseconds (0 when absent).
    """

    message_id: str
    chat_id: str
    user_id: str
    display_name: str
    text: str | None
    event_name: str
    date_ms: int


class ZaloBotClient:
    """Async client for one Zalo bot (one token)."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        request_timeout: float = 40.0,
    ) -> None:
        if not token:
            raise ValueError("Zalo bot token is empty")
        self._token = token
        self._base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None
        self._request_timeout = request_timeout

    def __repr__(self) -> str:  # never show the token
        return f"ZaloBotClient(base_url={self._base_url!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    async def close(self) -> None:
        """Close the HTTP session, only if this client created it."""
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()
        if self._owns_session:
            self._session = None

    async def __aenter__(self) -> ZaloBotClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- API methods -------------------------------------------------------------------------

    async def get_me(self) -> dict:
        """``getMe``: ``{id, account_name, account_type, can_join_groups}``."""
        return _as_dict(await self._call("getMe", {}))

    async def get_updates(self, timeout: int = 30) -> dict | None:
        """``getUpdates`` long poll: the one update received, or ``None`` for an empty poll.

        Zalo has no offset: each call hands out (and forgets) at most one update. An empty poll
        is reported by the server as ``ok: false`` with ``error_code`` 408, which is not an
        error here.
        """
        timeout = max(0, int(timeout))
        try:
            result = await self._call(
                "getUpdates",
                {"timeout": str(timeout)},
                http_timeout=max(self._request_timeout, timeout + 10.0),
            )
        except ZaloApiError as exc:
            if exc.error_code == EMPTY_POLL_ERROR_CODE:
                return None
            raise
        if isinstance(result, dict) and result:
            return result
        return None

    async def send_message(self, chat_id: str, text: str) -> dict:
        """``sendMessage`` (text 1–2000 characters): ``{message_id, date}``."""
        return _as_dict(await self._call("sendMessage", {"chat_id": chat_id, "text": text}))

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> None:
        """``sendChatAction``: show "typing…" in the chat."""
        await self._call("sendChatAction", {"chat_id": chat_id, "action": action})

    async def set_webhook(self, url: str, secret_token: str) -> dict:
        """``setWebhook`` (HTTPS url, secret 8–256 characters): ``{url, updated_at}``."""
        return _as_dict(await self._call("setWebhook", {"url": url, "secret_token": secret_token}))

    async def delete_webhook(self) -> dict:
        """``deleteWebhook``: ``{url, updated_at}``."""
        return _as_dict(await self._call("deleteWebhook", {}))

    async def get_webhook_info(self) -> dict:
        """``getWebhookInfo``: ``{url, updated_at}``."""
        return _as_dict(await self._call("getWebhookInfo", {}))

    # -- plumbing ----------------------------------------------------------------------------

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or (self._owns_session and self._session.closed):
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

    def _redact(self, text: str) -> str:
        secrets = [self._token, quote(self._token, safe=""), quote(self._token, safe=":")]
        _, _, secret_half = self._token.partition(":")
        if len(secret_half) >= _MIN_SECRET_TO_REDACT:
            secrets.append(secret_half)
        for secret in sorted(set(secrets), key=len, reverse=True):
            text = text.replace(secret, _REDACTED)
        return text

    def _error(self, method: str, error_code: int, description: str) -> ZaloApiError:
        description = self._redact(description)
        if len(description) > _MAX_DESCRIPTION:
            description = description[: _MAX_DESCRIPTION - 1] + "…"
        return ZaloApiError(error_code, description, method=method)

    async def _call(
        self, method: str, payload: dict[str, Any], *, http_timeout: float | None = None
    ) -> Any:
        url = f"{self._base_url}/bot{self._token}/{method}"
        timeout = aiohttp.ClientTimeout(total=http_timeout or self._request_timeout)
        try:
            session = self._get_session()
            async with session.post(url, json=payload, timeout=timeout) as response:
                status = response.status
                reason = response.reason or ""
                raw = await response.read()
        except TimeoutError:  # asyncio.TimeoutError is TimeoutError on 3.11
            raise self._error(
                method, NETWORK_ERROR_CODE, f"network: no answer within {timeout.total:g}s"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            detail = str(exc) or type(exc).__name__
            raise self._error(
                method, NETWORK_ERROR_CODE, f"network: {type(exc).__name__}: {detail}"
            ) from None

        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = None

        if not isinstance(body, dict) or not isinstance(body.get("ok"), bool):
            if status >= 400:
                text = f"HTTP {status} {reason}".strip()
            else:
                text = f"HTTP {status}: answer is not a Zalo API JSON envelope"
            raise self._error(method, status, text)

        if body["ok"]:
            return body.get("result")

        code = body.get("error_code")
        if isinstance(code, bool) or not isinstance(code, int):
            code = status
        description = body.get("description")
        if not isinstance(description, str) or not description:
            description = f"HTTP {status} {reason}".strip()
        raise self._error(method, code, description)


def _as_dict(result: Any) -> dict:
    return result if isinstance(result, dict) else {}


# -- incoming updates --------------------------------------------------------------------------


def _id(value: Any) -> str | None:
    """A Zalo id: a non-empty string (an integer is tolerated and turned into a string)."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _millis(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 1e18:
        return int(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return 0


def parse_update(update: Any) -> ZaloIncoming | None:
    """Read one update; ``None`` when its shape cannot be understood (never raises).

    Accepts the bare update (``{"event_name", "message"}``) as well as the wrapped form
    ``{"ok": true, "result": {...}}`` that some webhook deliveries use.
    """
    try:
        return _parse_update(update)
    except Exception:  # defensive: junk must never crash the receiving loop
        return None


def _parse_update(update: Any) -> ZaloIncoming | None:
    if not isinstance(update, dict):
        return None
    if "event_name" not in update and isinstance(update.get("result"), dict):
        update = update["result"]
    event_name = update.get("event_name")
    message = update.get("message")
    if not isinstance(event_name, str) or not event_name or not isinstance(message, dict):
        return None
    chat = message.get("chat")
    sender = message.get("from")
    if not isinstance(chat, dict) or not isinstance(sender, dict):
        return None
    message_id = _id(message.get("message_id"))
    chat_id = _id(chat.get("id"))
    user_id = _id(sender.get("id"))
    if message_id is None or chat_id is None or user_id is None:
        return None
    display_name = sender.get("display_name")
    if not isinstance(display_name, str):
        display_name = sender.get("name")
    if not isinstance(display_name, str):
        display_name = ""
    text = message.get("text") if event_name == TEXT_EVENT else None
    if not isinstance(text, str):
        text = None
    return ZaloIncoming(
        message_id=message_id,
        chat_id=chat_id,
        user_id=user_id,
        display_name=display_name,
        text=text,
        event_name=event_name,
        date_ms=_millis(message.get("date")),
    )


# -- outgoing text -----------------------------------------------------------------------------


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut ``text`` into parts of at most ``limit`` characters (see `bot.channels.base`)."""
    return base.split_text(text, limit)
