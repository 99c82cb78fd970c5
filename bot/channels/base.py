"""What every channel does alike, written once: the host a channel is handed (and what became
of an update it was handed, `Receipt`), start errors, polling back-off, webhook paths and their
constant-time secret check, text splitting at a limit and keeping tokens out of logs.

A channel is a courier: it turns platform updates into `Inbound`, hands them to its host, and
delivers the outbox's `Outbound` messages. It reads and writes nothing in storage; what it needs
to know (secretariat chats, button contexts, a file or link for an export, the quota) it asks
its host for.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import secrets
import unicodedata
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from aiohttp import web

from bot.messaging import Attachment, Inbound, Outbound, RoleChange

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
TOKEN_SHAPE = re.compile(r"\d{3,20}:[A-Za-z0-9_-]{20,100}")
_ANY_CHANNEL_WEBHOOK = re.compile(r"/[a-z][a-z0-9_-]*/webhook$")
REDACTED = "<token>"


class ChannelStartError(RuntimeError):
    """A channel that cannot start (bad token, API unreachable), as one line without secrets."""


class Sender(Protocol):
    """Delivers one outbox message, raising `RetryLater` or `Undeliverable`."""

    async def send(self, chat_id: str, outbound: Outbound) -> None: ...


class Meter(Protocol):
    """Counts messages against a platform's quota (see `bot.quota_gate`)."""

    async def take(self, outbound: Outbound) -> str | None:
        """None when one more message may go; otherwise why not."""
        ...

    async def give_back(self) -> None: ...


@dataclass(frozen=True)
class ExportFile:
    filename: str
    data: bytes


class Attachments(Protocol):
    """Turns an export attachment into a file (channels that send files) or a download link."""

    async def as_file(self, attachment: Attachment) -> ExportFile: ...

    async def as_link(self, attachment: Attachment, channel: str, chat_id: str) -> str: ...


class Receipt(Enum):
    """What became of one inbound update handed to `Host.receive`."""

    APPLIED = "applied"
    SET_ASIDE = "set aside"  # it kept failing: kept for `baocao inbound retry`, sender told
    DROPPED = "dropped"  # it kept failing and could not even be set aside: logged, let go
    NOT_APPLIED = "not applied"  # still failing transiently (database away) or stopping: the
    # platform must deliver it again (polling: offset not moved; webhook: 5xx)

    @property
    def settled(self) -> bool:
        """Nothing more to do with it here: the platform may forget it."""
        return self is not Receipt.NOT_APPLIED


Pause = Callable[[float], Awaitable[bool]]  # wait; False when the channel is stopping


class Host(Protocol):
    """What a channel is handed when it starts (`bot.dispatch.ChannelHost`)."""

    web: web.Application
    attachments: Attachments

    async def dispatch(self, inbound: Inbound) -> None: ...

    async def receive(
        self,
        inbound: Inbound,
        payload: Callable[[], dict],
        *,
        pause: Pause,
        transient_attempts: int | None = None,
        tried: Callable[[bool], None] | None = None,
    ) -> Receipt:
        """Apply one update, trying again with back-off; one that keeps failing is set aside
        (with `payload()`, the platform's JSON) so that the updates behind it go on."""
        ...

    def track(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task: ...

    def wake_outbox(self) -> None: ...

    def secretariat_chats(self, channel: str) -> list[str]: ...

    def button_contexts(self) -> set[str]: ...

    def announce_username(self, channel: str, username: str) -> None: ...

    def meter(self, channel: str, account: str) -> Meter: ...


class Channel(Protocol):
    name: str
    sender: Sender

    async def start(self, host: Host) -> None: ...

    async def stop(self) -> None: ...

    def on_role_change(self, change: RoleChange) -> None: ...


# --- polling and webhooks ------------------------------------------------------------------


async def poll_forever(
    fetch: Callable[[], Awaitable[Any]],
    handle: Callable[[Any], Awaitable[None]],
    *,
    stopped: Callable[[], bool],
    sleep: Sleep,
    failed: Callable[[Exception, int], float],
    recovered: Callable[[], None] = lambda: None,
) -> None:
    """Fetch and handle until `stopped()`: a failed fetch is reported to `failed(error, n)` (n
    failures in a row), which logs it and says how long to wait; the poller never dies of it."""
    failures = 0
    while not stopped():
        try:
            batch = await fetch()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            failures += 1
            await sleep(failed(error, failures))
            continue
        if failures:
            recovered()
            failures = 0
        await handle(batch)


def backoff(failures: int, *, first: float = 1.0, cap: float = 30.0) -> float:
    """Seconds to wait after `failures` failures in a row: first, 2×first, 4×first … capped."""
    return min(cap, first * 2 ** max(0, failures - 1))


def webhook_url(public_root: str, path: str) -> str:
    """BAOCAO_WEBHOOK_URL is the public root of the web server, shared by every channel: the
    channel's path goes after it (any channel's webhook path at its end is taken off first)."""
    return _ANY_CHANNEL_WEBHOOK.sub("", public_root.rstrip("/")) + path


def webhook_secret(configured: str | None, channel_title: str) -> str:
    """The secret a webhook request must carry: the configured one, or one for this process."""
    if configured:
        return configured
    log.warning(
        "%s: chưa đặt BAOCAO_WEBHOOK_SECRET, dùng mã bí mật tạm cho tiến trình này "
        "(chạy nhiều tiến trình sau webhook thì phải đặt biến này)",
        channel_title,
    )
    return secrets.token_urlsafe(32)


def secret_matches(given: str, expected: str | None) -> bool:
    """Constant-time comparison; no expected secret matches nothing."""
    if not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


# --- text ------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _fitting(text: str, limit: int, measure: Callable[[str], int]) -> int:
    """How many leading characters of `text` fit in `limit` as `measure` counts."""
    cut = min(limit, len(text))
    while cut > 1 and measure(text[:cut]) > limit:
        cut -= 1
    return cut


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Cut `text` into parts of at most `limit` (as `measure` counts), never an empty part.

    A text that fits is returned unchanged (`[text]`; `[]` for `""`). Otherwise whole lines are
    packed greedily and the run of line breaks at each split point is dropped (so no part starts
    or ends with a blank line). A line longer than `limit` is cut after its last fitting space
    (the space stays at the end of the first part), or hard-cut as a last resort (never between
    a letter and a combining diacritic that follows it, when avoidable). Nothing but line breaks
    at split points is lost; nothing is added.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if measure(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    rest = text.lstrip("\n")
    while measure(rest) > limit:
        fit = _fitting(rest, limit, measure)
        # rest[0] is never a line break here, so every part below is non-empty. A line break
        # just past the fitting prefix is fine: the part before it fits exactly.
        cut = rest.rfind("\n", 1, fit + 1)
        if cut > 0:
            parts.append(rest[:cut].rstrip("\n"))
            rest = rest[cut + 1 :].lstrip("\n")
            continue
        space = rest.rfind(" ", 0, fit)
        if space >= 0 and rest[: space + 1].strip():
            cut = space + 1
        else:
            cut = fit
            while cut > 1 and unicodedata.combining(rest[cut]):
                cut -= 1
        parts.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        parts.append(rest)
    return parts


# --- secrets out of logs -------------------------------------------------------------------


def redact(text: object, secrets_: tuple[str, ...] | list[str] = ()) -> str:
    """`text` with the given secrets, and anything shaped like a bot token, replaced."""
    result = str(text)
    for secret in sorted(secrets_, key=len, reverse=True):
        if len(secret) >= 6:
            result = result.replace(secret, REDACTED)
    return TOKEN_SHAPE.sub(REDACTED, result)


class RedactingFilter(logging.Filter):
    """Rewrites log records (message and traceback) so that no token gets through."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, tuple(self.tokens))
        record.exc_info = None if record.exc_text else record.exc_info
        record.msg, record.args = redact(message, tuple(self.tokens)), None
        return True

    def guard(self, token: str, logger_names: tuple[str, ...]) -> None:
        """Keep `token` out of the records of these loggers."""
        self.tokens.add(token)
        for name in logger_names:
            logger = logging.getLogger(name)
            if self not in logger.filters:
                logger.addFilter(self)

    def release(self, logger_names: tuple[str, ...]) -> None:
        for name in logger_names:
            logging.getLogger(name).removeFilter(self)
