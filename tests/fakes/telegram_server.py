"""Fake Telegram Bot API server for tests.

A real HTTP server on 127.0.0.1 (aiohttp.web, free port) that the real aiogram client talks to::

    async with FakeTelegramServer() as tg:
        api = TelegramAPIServer.from_base(tg.base_url)
        bot = Bot(tg.token, session=AiohttpSession(api=api))

Behaviour follows the public Bot API reference (core.telegram.org/bots/api): requests arrive at
``<base>/bot<token>/<method>`` as a query string, JSON, urlencoded or multipart form; answers are
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description": ...}`` with the
matching HTTP status. Tests drive the "user side" with plain methods (``inject_message``,
``inject_callback``, ``inject_document``, ``inject_photo``, ``inject_raw``) and inspect what the
bot sent with ``sent`` / ``wait_for``. A file a user sent is served by ``getFile`` and
``<base>/file/bot<token>/<file_path>`` (counted in ``downloads``); over 20 MB, getFile refuses.
Waiting is event-driven: every change wakes the waiters, nothing polls with sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import mimetypes
import re
import time
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import BodyPartReader, web

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile: "files of up to 20MB in size"
DEFAULT_FIRST_NAME = "Cán bộ"

CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
CONFLICT_OTHER_POLL = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a message content and reply markup of the current message"
)
_DEFAULT_FAILURES = {
    403: "Forbidden: bot was blocked by the user",
    500: "Internal Server Error",
}

_TAG_ENTITY_TYPES = {
    **dict.fromkeys(["b", "strong"], "bold"),
    **dict.fromkeys(["i", "em"], "italic"),
    **dict.fromkeys(["u", "ins"], "underline"),
    **dict.fromkeys(["s", "strike", "del"], "strikethrough"),
    **dict.fromkeys(["tg-spoiler", "span"], "spoiler"),
    **{"a": "text_link", "code": "code", "pre": "pre", "blockquote": "blockquote"},
}
_CHAR_REF_RE = re.compile(r"&(?:#(\d+)|#x([0-9a-fA-F]+)|(lt|gt|amp|quot));")
_NAMED_REFS = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_RE = re.compile(r"<(/?)([^\s<>/]*)([^<>]*)>")
_ATTR_RE = re.compile(r"""([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_SPECIAL_RE = re.compile(r"[<&]")
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@\w+)?")
_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_CHAT_ACTIONS = {"typing", "upload_photo", "upload_document", "choose_sticker", "find_location"}
_CHAT_ACTIONS |= {
    f"{verb}_{kind}" for verb in ("record", "upload") for kind in ("video", "voice", "video_note")
}
_GLOBAL_SCOPES = {"default", "all_private_chats", "all_group_chats", "all_chat_administrators"}


class ApiError(Exception):
    """An error answer exactly as Telegram sends it."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status}
        body["description"] = self.description
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-flavoured HTML into plain text and MessageEntity dicts (UTF-16 offsets)."""
    parts: list[str] = []
    entities: list[dict[str, Any]] = []
    open_tags: list[tuple[str, dict[str, Any]]] = []
    size = pos = 0
    while pos < len(source):
        special = _SPECIAL_RE.search(source, pos)
        stop = special.start() if special else len(source)
        piece, pos = source[pos:stop], stop
        if special and source[stop] == "&":
            ref = _CHAR_REF_RE.match(source, stop)
            if ref is None:  # a lone "&" is kept as text, like Telegram does
                piece, pos = piece + "&", stop + 1
            else:
                number, hex_number, name = ref.groups()
                code = int(number) if number else int(hex_number or "0", 16)
                piece += _NAMED_REFS[name] if name else chr(code)
                pos = ref.end()
        parts.append(piece)
        size += _utf16_len(piece)
        if not special or source[stop] != "<":
            continue
        byte_offset = len(source[:stop].encode())
        tag = _TAG_RE.match(source, stop)
        if tag is None:
            raise _bad(f"can't parse entities: Unclosed start tag at byte offset {byte_offset}")
        closing, name, attributes = tag.group(1) == "/", tag.group(2).lower(), tag.group(3)
        pos = tag.end()
        if not closing:
            open_tags.append((name, _open_entity(name, attributes, size, byte_offset)))
            continue
        if not open_tags:
            raise _bad(f"can't parse entities: Unexpected end tag at byte offset {byte_offset}")
        expected, entity = open_tags.pop()
        if name != expected:
            raise _bad(
                f"can't parse entities: Unmatched end tag at byte offset {byte_offset}, "
                f'expected "</{expected}>", found "</{name}>"'
            )
        entity["length"] = size - entity["offset"]
        if entity["type"] and entity["length"]:
            entities.append(entity)
    if open_tags:
        raise _bad(
            "can't parse entities: Can't find end tag corresponding to start tag "
            f'"{open_tags[-1][0]}"'
        )
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return "".join(parts), entities


def _open_entity(name: str, attributes: str, offset: int, byte_offset: int) -> dict[str, Any]:
    attrs = {
        m.group(1).lower(): m.group(2) or m.group(3) or m.group(4)
        for m in _ATTR_RE.finditer(attributes)
    }
    entity_type = _TAG_ENTITY_TYPES.get(name)
    if entity_type is None or (name == "span" and attrs.get("class") != "tg-spoiler"):
        raise _bad(
            f'can\'t parse entities: Unsupported start tag "{name}" at byte offset {byte_offset}'
        )
    entity: dict[str, Any] = {"type": entity_type, "offset": offset}
    if name == "a":  # a link without href is plain text
        entity.update(type=entity_type if "href" in attrs else None, url=attrs.get("href"))
    return entity


def _strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim surrounding whitespace as Telegram does, moving entity offsets along."""
    stripped = text.strip()
    lead = _utf16_len(text[: len(text) - len(text.lstrip())])
    end = _utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        stop = min(entity["offset"] + entity["length"] - lead, end)
        if stop > start:
            kept.append({**entity, "offset": start, "length": stop - start})
    return stripped, kept


@dataclass
class FakeUser:
    """A Telegram user of the fake server; their private chat id equals their user id."""

    server: FakeTelegramServer = field(repr=False, compare=False)
    id: int
    first_name: str = DEFAULT_FIRST_NAME
    username: str | None = None

    def as_dict(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            user["username"] = self.username
        return user

    def send(self, text: str) -> int:
        """Inject a text message from this user; returns the update_id."""
        return self.server.inject_message(self.id, text, first_name=self.first_name)

    def press(self, message_id: int, data: str) -> str:
        """Press an inline button of a bot message; returns the callback query id."""
        return self.server.inject_callback(self.id, message_id, data)


@dataclass(frozen=True)
class SentDocument:
    filename: str
    data: bytes
    mime_type: str


@dataclass(frozen=True)
class SentRecord:
    """One outgoing call (sendMessage, sendDocument, editMessageText, editMessageReplyMarkup).

    ``text`` is the message text (or document caption) with HTML stripped; ``raw_text`` is the
    text as sent, or None when the call did not carry one (editMessageReplyMarkup).
    """

    method: str
    chat_id: int
    message_id: int
    text: str | None
    raw_text: str | None
    reply_markup: dict[str, Any] | None
    document: SentDocument | None
    time: float


@dataclass(frozen=True)
class AnsweredCallback:
    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    time: float


@dataclass
class _QueuedUpdate:
    update: dict[str, Any]
    delivered: bool = False

    @property
    def kind(self) -> str:
        return next(key for key in self.update if key != "update_id")


@dataclass(frozen=True)
class _Upload:
    filename: str
    data: bytes
    content_type: str | None


class _Signal:
    """Broadcast wake-up usable from plain (non-async) code: notify() wakes every waiter."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self) -> None:
        await self._event.wait()


class _Params:
    """Request parameters; form values are strings, JSON values keep their type."""

    def __init__(self, values: dict[str, Any], files: dict[str, _Upload]) -> None:
        self.values = values
        self.files = files

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    def integer(self, name: str, default: int = 0) -> int:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad(f'field "{name}" must be of type Integer') from None

    def flag(self, name: str) -> bool:
        return str(self.values.get(name, "")).lower() in {"true", "1"}

    def obj(self, name: str) -> Any:
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise _bad(f"can't parse {name} JSON object") from None


async def _wait(
    signal: _Signal, done: Callable[[], bool], timeout: float, what: str, dump: Callable[[], str]
) -> None:
    """Wait on ``signal`` until ``done()``; on timeout fail the test with a readable dump."""
    try:
        async with asyncio.timeout(timeout):
            while not done():
                await signal.wait()
    except TimeoutError:
        raise AssertionError(
            f"timed out after {timeout}s waiting for {what}; so far:\n{dump()}"
        ) from None


async def _read_params(request: web.Request) -> _Params:
    values: dict[str, Any] = dict(request.query)
    files: dict[str, _Upload] = {}
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _bad("can't parse JSON encoded request")
        values.update(body)
    elif request.content_type == "multipart/form-data":
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            if part.filename is None:
                values[part.name] = await part.text()
            else:
                data = await part.read()
                files[part.name] = _Upload(
                    part.filename, bytes(data), part.headers.get("Content-Type")
                )
    elif request.content_type == "application/x-www-form-urlencoded":
        values.update(await request.post())
    return _Params(values, files)


Handler = Callable[[_Params], Awaitable[Any]]


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    size: int
    served_size: int | None = None  # the download sends this many bytes (data, then zeros)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }


class FakeTelegramServer:
    """In-process Telegram Bot API for one bot token; use as ``async with``."""

    def __init__(
        self,
        token: str = "123456:TEST-token",
        bot_username: str = "baocao_test_bot",
        bot_first_name: str = "Báo cáo",
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 123456
        self.base_url = ""
        self.calls: Counter[str] = Counter()
        self.answered_callbacks: dict[str, AnsweredCallback] = {}
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.webhook_url = ""
        self.webhook_secret_token: str | None = None
        self._users: dict[int, FakeUser] = {}
        self._records: list[SentRecord] = []
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._last_message_id: defaultdict[int, int] = defaultdict(int)
        self._queue: list[_QueuedUpdate] = []
        self._next_update_id = 1
        self._callback_numbers = itertools.count(1)
        self._open_callbacks: set[str] = set()
        self._failures: defaultdict[str, deque[ApiError]] = defaultdict(deque)
        self._blocked: set[int] = set()
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._closing = False
        self._updates_changed = _Signal()
        self._records_changed = _Signal()
        self._calls_changed = _Signal()
        self._runner: web.AppRunner | None = None
        self._files: dict[str, _StoredFile] = {}  # by file_id
        self._file_numbers = itertools.count(1)
        self.downloads: Counter[str] = Counter()  # file_path -> times downloaded
        self.served_bytes: Counter[str] = Counter()  # file_path -> bytes a streamed download sent
        handlers: dict[str, Handler] = {
            "getFile": self._get_file,
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "sendDocument": self._send_document,
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
        }
        self._methods = {name.lower(): (name, handler) for name, handler in handlers.items()}

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> FakeTelegramServer:
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing = True
        self._updates_changed.notify()  # release pending long polls at once
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------ test-side API

    def user(
        self, user_id: int, first_name: str = DEFAULT_FIRST_NAME, username: str | None = None
    ) -> FakeUser:
        """Register (or update) a user and return a helper for them."""
        self._users[user_id] = FakeUser(self, user_id, first_name, username)
        return self._users[user_id]

    def inject_message(self, user_id: int, text: str, *, first_name: str | None = None) -> int:
        """Queue a text message from a user (first_name defaults to "Cán bộ"); returns update_id."""
        known = self._users.get(user_id)
        if known is None or first_name is not None:
            username = known.username if known else None
            known = self.user(user_id, first_name or DEFAULT_FIRST_NAME, username)
        message: dict[str, Any] = {
            "message_id": self._new_message_id(user_id),
            "date": int(time.time()),
            "chat": self._chat(user_id),
            "from": known.as_dict(),
            "text": text,
        }
        if command := _COMMAND_RE.match(text):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command.group())}
            ]
        return self._enqueue({"message": message})

    def inject_document(
        self,
        user_id: int,
        data: bytes,
        file_name: str,
        mime_type: str,
        *,
        caption: str | None = None,
        declared_size: int | None = None,
        update_id: int | None = None,
        served_size: int | None = None,
    ) -> int:
        """Queue a document message (the file is then served by getFile and its download);
        `declared_size` lets a test claim a size without sending that many bytes, and
        `served_size` makes the download longer than `data` (zeros after it, streamed)."""
        stored = self._keep_file(data, "documents", file_name, declared_size)
        stored.served_size = served_size
        document = stored.as_dict() | {"file_name": file_name, "mime_type": mime_type}
        return self._inject_content(user_id, {"document": document}, caption, update_id)

    def inject_photo(self, user_id: int, data: bytes, *, caption: str | None = None) -> int:
        """Queue a photo message: Telegram sends several sizes, the largest last."""
        thumb = self._keep_file(data[:64], "photos", "thumb.jpg", None)
        full = self._keep_file(data, "photos", "photo.jpg", None)
        sizes = [thumb.as_dict() | {"width": 90, "height": 120}]
        sizes.append(full.as_dict() | {"width": 1280, "height": 1706})
        return self._inject_content(user_id, {"photo": sizes}, caption, None)

    def _keep_file(
        self, data: bytes, folder: str, file_name: str, declared_size: int | None
    ) -> _StoredFile:
        number = next(self._file_numbers)
        extension = file_name.rsplit(".", 1)[1] if "." in file_name else "bin"
        stored = _StoredFile(
            file_id=f"FAKE-FILE-{number}",
            file_unique_id=f"fake-unique-{number}",
            file_path=f"{folder}/file_{number}.{extension}",
            data=data,
            size=declared_size if declared_size is not None else len(data),
        )
        self._files[stored.file_id] = stored
        return stored

    def _inject_content(
        self, user_id: int, content: dict[str, Any], caption: str | None, update_id: int | None
    ) -> int:
        known = self._users.get(user_id) or self.user(user_id)
        message: dict[str, Any] = {
            "message_id": self._new_message_id(user_id),
            "date": int(time.time()),
            "chat": self._chat(user_id),
            "from": known.as_dict(),
            **content,
        }
        if caption:
            message["caption"] = caption
        update: dict[str, Any] = {"message": message}
        if update_id is not None:
            update["update_id"] = update_id
        return self._enqueue(update)

    def inject_callback(self, user_id: int, message_id: int, data: str) -> str:
        """Press the inline button carrying ``data`` on a bot message; returns the query id."""
        message = self._messages.get((user_id, message_id))
        if message is None:
            raise ValueError(f"no bot message {message_id} in chat {user_id}")
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        if all(button.get("callback_data") != data for button in itertools.chain(*rows)):
            raise ValueError(f"message {message_id} in chat {user_id} has no button {data!r}")
        query_id = f"{self.bot_id}{next(self._callback_numbers):06d}"
        self._open_callbacks.add(query_id)
        sender = self._users.get(user_id) or self.user(user_id)
        query = {
            "id": query_id,
            "from": sender.as_dict(),
            "message": copy.deepcopy(message),
            "chat_instance": str(user_id),
            "data": data,
        }
        self._enqueue({"callback_query": query})
        return query_id

    def inject_raw(self, update: dict[str, Any]) -> int:
        """Queue an arbitrary update; a given update_id is kept (duplicates are delivered)."""
        return self._enqueue(copy.deepcopy(update))

    def sent(self, chat_id: int | None = None) -> list[SentRecord]:
        return [r for r in self._records if chat_id is None or r.chat_id == chat_id]

    def dump(self, chat_id: int | None = None) -> str:
        """Readable listing of recorded outgoing calls, for assertion messages."""
        lines = [
            f"  {r.method} chat={r.chat_id} id={r.message_id} text={r.text!r}"
            + (f" markup={r.reply_markup}" if r.reply_markup else "")
            + (f" document={r.document.filename!r}" if r.document else "")
            for r in self.sent(chat_id)
        ]
        return "\n".join(lines) or "  (nothing sent)"

    async def wait_for(
        self,
        predicate_or_count: int | Callable[[list[SentRecord]], bool],
        chat_id: int | None = None,
        timeout: float = 5.0,
    ) -> list[SentRecord]:
        """Wait until ``count`` records exist (or the predicate holds); return the records."""
        if isinstance(predicate_or_count, int):
            count = predicate_or_count

            def done() -> bool:
                return len(self.sent(chat_id)) >= count
        else:
            predicate = predicate_or_count

            def done() -> bool:
                return predicate(self.sent(chat_id))

        where = "all chats" if chat_id is None else f"chat {chat_id}"
        what = f"{predicate_or_count!r} in {where}"
        await _wait(self._records_changed, done, timeout, what, lambda: self.dump(chat_id))
        return self.sent(chat_id)

    async def wait_for_calls(self, method: str, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until the server has received ``count`` requests of ``method``."""

        def done() -> bool:
            return self.calls[method] >= count

        what = f"{count} {method} call(s)"
        await _wait(self._calls_changed, done, timeout, what, lambda: f"  {dict(self.calls)}")

    def fail_next(
        self,
        method: str,
        *,
        status: int,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail as Telegram would."""
        name, _ = self._methods[method.lower()]
        if description is None:
            default = f"Too Many Requests: retry after {retry_after}" if status == 429 else None
            description = default or _DEFAULT_FAILURES.get(status, f"Error {status}")
        self._failures[name].extend(
            ApiError(status, description, retry_after) for _ in range(times)
        )

    def block_user(self, chat_id: int) -> None:
        """Every later call aimed at this chat answers 403 (the user blocked the bot)."""
        self._blocked.add(chat_id)

    # ----------------------------------------------------------------- plumbing

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").payload(), status=401)
        entry = self._methods.get(request.match_info["method"].lower())
        if entry is None:
            return web.json_response(ApiError(404, "Not Found").payload(), status=404)
        name, handler = entry
        self.calls[name] += 1
        self._calls_changed.notify()
        try:
            params = await _read_params(request)
            if self._failures[name]:
                raise self._failures[name].popleft()
            result = await handler(params)
        except ApiError as error:
            return web.json_response(error.payload(), status=error.status)
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        """``<base>/file/bot<token>/<file_path>``, as the Bot API serves a file after getFile."""
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").payload(), status=401)
        path = request.match_info["path"]
        stored = next((f for f in self._files.values() if f.file_path == path), None)
        if stored is None:
            return web.json_response(ApiError(404, "Not Found").payload(), status=404)
        self.downloads[path] += 1
        self._calls_changed.notify()
        if stored.served_size is None:
            return web.Response(body=stored.data, content_type="application/octet-stream")
        return await self._stream_download(request, stored)

    async def _stream_download(
        self, request: web.Request, stored: _StoredFile
    ) -> web.StreamResponse:
        """Send `served_size` bytes in 64 KB writes, counting what left (`served_bytes`), until
        the client hangs up."""
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = stored.served_size
        await response.prepare(request)
        body = stored.data + bytes(64 * 1024)
        sent = 0
        try:
            while sent < stored.served_size:
                chunk = body[: min(64 * 1024, stored.served_size - sent)]
                body = bytes(64 * 1024)
                await response.write(chunk)
                sent += len(chunk)
                self.served_bytes[stored.file_path] = sent
        except (ConnectionError, RuntimeError):
            return response  # the client stopped reading
        await response.write_eof()
        return response

    async def _get_file(self, params: _Params) -> dict[str, Any]:
        stored = self._files.get(params.text("file_id") or "")
        if stored is None:
            raise _bad("invalid file_id")
        if stored.size > MAX_DOWNLOAD_BYTES:
            raise _bad("file is too big")
        return stored.as_dict() | {"file_path": stored.file_path}

    def _enqueue(self, update: dict[str, Any]) -> int:
        update.setdefault("update_id", self._next_update_id)
        self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
        self._queue.append(_QueuedUpdate(update))
        self._updates_changed.notify()
        return update["update_id"]

    def _deliverable(self) -> list[_QueuedUpdate]:
        if self._allowed_updates:  # Telegram never produces updates of other types
            self._queue = [q for q in self._queue if q.kind in self._allowed_updates]
        return self._queue

    def _new_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] += 1
        return self._last_message_id[chat_id]

    def _chat(self, chat_id: int) -> dict[str, Any]:
        user = self._users.get(chat_id)
        chat: dict[str, Any] = {"id": chat_id, "type": "private"}
        chat["first_name"] = user.first_name if user else DEFAULT_FIRST_NAME
        if user and user.username:
            chat["username"] = user.username
        return chat

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _target_chat(self, params: _Params) -> int:
        value = params.text("chat_id")
        if not value:
            raise _bad("chat_id is empty")
        try:
            chat_id = int(value)
        except ValueError:
            raise _bad("chat not found") from None
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _formatted(self, params: _Params, name: str) -> tuple[str, list[dict[str, Any]], str]:
        """The "text" or "caption" after parse_mode and trimming, its entities, the raw text."""
        raw = params.text(name) or ""
        parse_mode = params.text("parse_mode")
        if parse_mode is None:
            text, entities = raw, params.obj("entities" if name == "text" else f"{name}_entities")
        elif parse_mode.lower() == "html":
            text, entities = parse_html(raw)
        else:  # Markdown modes are not emulated; the bot is expected to use HTML
            raise _bad(f"unsupported parse_mode {parse_mode!r} in the fake server")
        text, entities = _strip_text(text, entities or [])
        if name == "text" and not text:
            raise _bad("message text is empty")
        if len(text) > (MAX_TEXT_LENGTH if name == "text" else MAX_CAPTION_LENGTH):
            raise _bad("message is too long" if name == "text" else "message caption is too long")
        return text, entities, raw

    def _reply_markup(self, params: _Params, *, inline_only: bool = False) -> dict[str, Any] | None:
        markup = params.obj("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            if inline_only:
                raise _bad("inline keyboard expected")
            return markup
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        for button in itertools.chain(*rows):
            if "callback_data" in button:
                if not 1 <= len(str(button["callback_data"]).encode()) <= 64:
                    raise _bad("BUTTON_DATA_INVALID")
            elif set(button) <= {"text"}:  # a button needs exactly one action field
                raise _bad("text buttons are unallowed in the inline keyboard")
        return markup

    def _store(self, chat_id: int, content: dict[str, Any]) -> dict[str, Any]:
        """Create a bot message in the chat; empty content fields are left out."""
        message_id = self._new_message_id(chat_id)
        message = {"message_id": message_id, "date": int(time.time()), "chat": self._chat(chat_id)}
        message["from"] = self._bot_user()
        message.update({key: value for key, value in content.items() if value})
        self._messages[chat_id, message_id] = message
        return message

    def _record(
        self,
        method: str,
        message: dict[str, Any],
        raw_text: str | None,
        reply_markup: dict[str, Any] | None,
        document: SentDocument | None = None,
    ) -> None:
        record = SentRecord(
            method=method,
            chat_id=message["chat"]["id"],
            message_id=message["message_id"],
            text=message.get("text", message.get("caption")),
            raw_text=raw_text,
            reply_markup=reply_markup,
            document=document,
            time=time.monotonic(),
        )
        self._records.append(record)
        self._records_changed.notify()

    def _message_to_edit(self, params: _Params) -> dict[str, Any]:
        if params.text("inline_message_id"):
            raise _bad("inline messages are not emulated by the fake server")
        chat_id = self._target_chat(params)
        message = self._messages.get((chat_id, params.integer("message_id")))
        if message is None:
            raise _bad("message to edit not found")
        return message

    def _apply_edit(self, message: dict[str, Any], changes: dict[str, Any]) -> None:
        if all(message.get(key) == (value or None) for key, value in changes.items()):
            raise _bad(NOT_MODIFIED)
        for key, value in changes.items():
            if value:
                message[key] = value
            else:
                message.pop(key, None)
        message["edit_date"] = int(time.time())

    # ------------------------------------------------------------------ methods

    async def _get_me(self, params: _Params) -> dict[str, Any]:
        return self._bot_user()

    async def _get_updates(self, params: _Params) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise ApiError(409, CONFLICT_WEBHOOK)
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_changed.notify()  # an older pending long poll ends with 409
        offset = params.integer("offset")
        if offset < 0:
            self._queue = self._queue[offset:]
        elif offset > 0:
            self._queue = [
                q for q in self._queue if not (q.delivered and q.update["update_id"] < offset)
            ]
        allowed = params.obj("allowed_updates")
        if allowed is not None:
            self._allowed_updates = list(allowed)
        limit = min(max(params.integer("limit", 100), 1), 100)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(params.integer("timeout"), 0)):
                while not self._closing and not self._deliverable():
                    await self._updates_changed.wait()
                    if generation != self._poll_generation:
                        raise ApiError(409, CONFLICT_OTHER_POLL)
        batch = self._deliverable()[:limit]
        for queued in batch:
            queued.delivered = True
        return [queued.update for queued in batch]

    async def _send_message(self, params: _Params) -> dict[str, Any]:
        chat_id = self._target_chat(params)
        text, entities, raw = self._formatted(params, "text")
        markup = self._reply_markup(params)
        inline = markup if markup and "inline_keyboard" in markup else None
        content = {"text": text, "entities": entities, "reply_markup": inline}
        message = self._store(chat_id, content)
        self._record("sendMessage", message, raw, markup)
        return message

    async def _edit_message_text(self, params: _Params) -> dict[str, Any]:
        message = self._message_to_edit(params)
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        text, entities, raw = self._formatted(params, "text")
        markup = self._reply_markup(params, inline_only=True)
        self._apply_edit(message, {"text": text, "entities": entities, "reply_markup": markup})
        self._record("editMessageText", message, raw, markup)
        return message

    async def _edit_message_reply_markup(self, params: _Params) -> dict[str, Any]:
        message = self._message_to_edit(params)
        markup = self._reply_markup(params, inline_only=True)
        self._apply_edit(message, {"reply_markup": markup})
        self._record("editMessageReplyMarkup", message, None, markup)
        return message

    async def _answer_callback_query(self, params: _Params) -> bool:
        query_id = params.text("callback_query_id") or ""
        if query_id not in self._open_callbacks:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        self._open_callbacks.remove(query_id)
        self.answered_callbacks[query_id] = AnsweredCallback(
            callback_query_id=query_id,
            text=params.text("text"),
            show_alert=params.flag("show_alert"),
            url=params.text("url"),
            time=time.monotonic(),
        )
        return True

    async def _send_document(self, params: _Params) -> dict[str, Any]:
        chat_id = self._target_chat(params)
        reference = params.text("document") or ""
        upload = params.files.get(reference.removeprefix("attach://") or "document")
        if upload is None:
            raise _bad(
                "wrong file identifier/HTTP URL specified"
                if reference
                else "there is no document in the request"
            )
        if len(upload.data) > MAX_UPLOAD_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        if not upload.data:
            raise _bad("file must be non-empty")
        caption, entities, raw = self._formatted(params, "caption")
        markup = self._reply_markup(params)
        mime_type = mimetypes.guess_type(upload.filename)[0] or upload.content_type
        mime_type = mime_type or "application/octet-stream"
        number = len(self._records) + 1
        document = {"file_id": f"FAKE-DOCUMENT-{number}", "file_unique_id": f"fake-{number}"}
        document |= {
            "file_name": upload.filename,
            "mime_type": mime_type,
            "file_size": len(upload.data),
        }
        inline = markup if markup and "inline_keyboard" in markup else None
        content = {"document": document, "caption": caption, "caption_entities": entities}
        message = self._store(chat_id, content | {"reply_markup": inline})
        sent = SentDocument(upload.filename, upload.data, mime_type)
        self._record("sendDocument", message, raw, markup, sent)
        return message

    async def _send_chat_action(self, params: _Params) -> bool:
        self._target_chat(params)
        if params.text("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    def _scope_key(self, params: _Params) -> str:
        """ "default", "all_private_chats", "chat:<id>", ... plus "/<language_code>" if given."""
        scope = params.obj("scope") or {"type": "default"}
        kind = scope.get("type") if isinstance(scope, dict) else None
        if kind in _GLOBAL_SCOPES:
            key = str(kind)
        elif kind in {"chat", "chat_administrators"} and scope.get("chat_id"):
            key = f"{kind}:{scope['chat_id']}"
        elif kind == "chat_member" and scope.get("chat_id") and scope.get("user_id"):
            key = f"chat_member:{scope['chat_id']}:{scope['user_id']}"
        else:
            raise _bad("can't parse BotCommandScope")
        language = params.text("language_code")
        return f"{key}/{language}" if language else key

    async def _set_my_commands(self, params: _Params) -> bool:
        commands = params.obj("commands")
        if not isinstance(commands, list):
            raise _bad('parameter "commands" is required')
        if len(commands) > 100:
            raise _bad("too many commands")
        stored = []
        for command in commands:
            name = str(command.get("command", "")) if isinstance(command, dict) else ""
            if not _COMMAND_NAME_RE.fullmatch(name):
                raise _bad("BOT_COMMAND_INVALID")
            description = str(command.get("description", ""))
            if not description.strip():
                raise _bad("command description must be non-empty")
            if len(description) > 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            stored.append({"command": name, "description": description})
        key = self._scope_key(params)
        if stored:
            self.commands[key] = stored
        else:
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: _Params) -> list[dict[str, str]]:
        return self.commands.get(self._scope_key(params), [])

    async def _delete_my_commands(self, params: _Params) -> bool:
        self.commands.pop(self._scope_key(params), None)
        return True

    async def _set_webhook(self, params: _Params) -> bool:
        url = params.text("url") or ""
        if url:
            try:
                parts = urlsplit(url)
                port = parts.port or 443
            except ValueError:
                raise _bad("bad webhook: invalid URL") from None
            if parts.scheme != "https":
                raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
            if port not in {80, 88, 443, 8443}:
                raise _bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = params.text("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(secret):
            raise _bad("secret token contains unallowed characters")
        allowed = params.obj("allowed_updates")
        if allowed is not None:
            self._allowed_updates = list(allowed)
        if params.flag("drop_pending_updates"):
            self._queue.clear()
        self.webhook_url, self.webhook_secret_token = url, (secret if url else None)
        return True

    async def _delete_webhook(self, params: _Params) -> bool:
        if params.flag("drop_pending_updates"):
            self._queue.clear()
        self.webhook_url, self.webhook_secret_token = "", None
        return True

    async def _get_webhook_info(self, params: _Params) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.webhook_url and self._allowed_updates:
            info["allowed_updates"] = self._allowed_updates
        return info
