"""How `baocao run` logs: plain lines (default) or, with `BAOCAO_LOG_FORMAT=json`, one JSON
object per line for journald or any collector: time, level, event, logger, and when a record
carries them (`extra=`), channel, campaign, unit, chat (hashed, never the id itself) and
duration. The chat hash is keyed by the configured secrets: lines of one chat can be followed
across restarts, but a chat id cannot be found by hashing every possible number.

Every line, in either format, passes `scrub` on the handler: bot tokens, the configured tokens
and secrets, and the random part of every link that grants something (download, sign-in, upload
links) are replaced before anything is written. Invite codes are never logged in the first place
(a wrong code is logged without it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import sys
from datetime import UTC, datetime

from bot.channels.base import REDACTED, redact

# The random part of a link that grants something: /tai-ve/<token>, /web/vao/<token>, the upload
# page's /<path>/<token>. Anything at least 16 characters long in URL-safe base64 after one of
# these paths.
LINK_TOKEN = re.compile(r"(/(?:tai-ve|web/vao|gui-bao-cao|tai-len|nop)/)[A-Za-z0-9_-]{16,}")
FIELDS = ("channel", "campaign", "unit", "duration")


def hash_key(secrets: tuple[str, ...]) -> bytes:
    """The key of the chat hashes, derived from the installation's own secrets."""
    return hashlib.sha256("\n".join(secrets).encode()).digest()


def hash_chat(chat_id: object, key: bytes) -> str:
    """A chat id as a short keyed hash: lines of one chat can be followed, the id not read."""
    return hmac.new(key, str(chat_id).encode(), hashlib.sha256).hexdigest()[:12]


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    return LINK_TOKEN.sub(lambda match: match.group(1) + REDACTED, redact(text, secrets))


class ScrubFilter(logging.Filter):
    """On the handler: the formatted message and traceback scrubbed of secrets."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, self.secrets)
        record.exc_info = None
        record.msg, record.args = scrub(message, self.secrets), None
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.key = hash_key(secrets)

    def format(self, record: logging.LogRecord) -> str:
        event = record.getMessage()
        chat = getattr(record, "chat", None)
        if chat is not None:  # the id named in the text too: only its hash is written
            event = event.replace(str(chat), hash_chat(chat, self.key))
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": event,
            "logger": record.name,
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if chat is not None:
            entry["chat"] = hash_chat(chat, self.key)
        if record.exc_text:
            entry["error"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(log_format: str, secrets: tuple[str, ...] = (), stream=None) -> None:
    """Replace the root logger's handlers with one that writes to `stream` (stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ScrubFilter(secrets))
    if log_format == "json":
        handler.setFormatter(JsonFormatter(secrets))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
