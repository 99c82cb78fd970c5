"""The neutral vocabulary every channel speaks: `Inbound` in, `Outbound` out, the two ways a
delivery fails, and the role changes a channel may reflect.

Nothing outside `bot/channels/` knows Telegram or Zalo types; channels turn their updates into
`Inbound` and render `Outbound` payloads (text, choices, an optional export attachment).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from conversations.choices import Choice
from conversations.engine import Reply
from conversations.text import clean_text


@dataclass(frozen=True)
class InboundFile:
    """A file someone sent (a signed report): what the platform says of it and, once the
    channel has downloaded it, its bytes (None when it was not downloaded: too big, or a type
    that is refused anyway)."""

    name: str
    content_type: str
    size: int | None
    source_id: str = ""  # the platform's stable id of the file
    fetch_id: str = ""  # what the channel downloads it by (Telegram's file_id)
    data: bytes | None = None


@dataclass(frozen=True)
class Inbound:
    channel: str
    chat_id: str
    user_id: str
    inbound_id: str
    text: str | None = None
    choice: str | None = None
    context: str = ""
    display_name: str = ""
    file: InboundFile | None = None

    def __post_init__(self) -> None:
        # Every channel builds its messages here: the one place text from outside is cleaned
        # (a NUL in a name or a form feed in an answer never reaches the database or the parser).
        if self.text is not None:
            object.__setattr__(self, "text", clean_text(self.text))
        object.__setattr__(self, "display_name", clean_text(self.display_name))


@dataclass(frozen=True)
class Attachment:
    """A file built when it is delivered (never stored as bytes in the outbox): an Excel export
    (`kind="export"`) or a unit's Word draft report (`kind="report"`)."""

    campaign_id: int
    unit_code: str | None = None
    kind: str = "export"


REDACTED = "[đã ẩn sau khi gửi]"


@dataclass(frozen=True)
class Outbound:
    """A message to send. `secrets` are parts of the text that must not stay at rest once the
    message is delivered (a sign-in, upload or download link, an invite code): the outbox
    replaces them with `REDACTED` in the stored row when it records the send."""

    text: str
    choices: tuple[Choice, ...] = ()
    context: str = ""
    numbered: bool = False
    attachment: Attachment | None = None
    secrets: tuple[str, ...] = ()

    def redacted(self) -> Outbound:
        """The message as it may be kept after delivery: every secret replaced."""
        text = self.text
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret:
                text = text.replace(secret, REDACTED)
        return replace(self, text=text, secrets=())

    @classmethod
    def from_reply(cls, reply: Reply) -> Outbound:
        return cls(reply.text, reply.choices, reply.context, reply.numbered)

    def to_payload(self) -> dict:
        payload = {
            "text": self.text,
            "choices": [
                {"id": choice.id, "label": choice.label, "keyword": choice.keyword}
                for choice in self.choices
            ],
            "context": self.context,
            "numbered": self.numbered,
        }
        if self.attachment:
            payload["attachment"] = asdict(self.attachment)
        if self.secrets:
            payload["secrets"] = list(self.secrets)
        return payload

    @classmethod
    def from_payload(cls, payload: dict) -> Outbound:
        attachment = payload.get("attachment")
        return cls(
            text=payload.get("text", ""),
            choices=tuple(Choice(**c) for c in payload.get("choices", [])),
            context=payload.get("context", ""),
            numbered=bool(payload.get("numbered")),
            attachment=Attachment(**attachment) if attachment else None,
            secrets=tuple(payload.get("secrets", ())),
        )


@dataclass(frozen=True)
class RoleChange:
    """Someone was linked (after commit): e.g. Telegram gives a new secretariat member a menu."""

    channel: str
    user_id: str
    chat_id: str
    role: str


class RetryLater(Exception):
    """Not delivered this time, worth trying again.

    `throttled`: the platform said wait `seconds` (HTTP 429): every send to that chat waits, and
    with `flood` every send at all. Otherwise a transient failure (5xx, network, timeout), tried
    again with back-off for as long as the message is useful; `unknown` ones (an answer we do not
    understand) count against the outbox's small cap instead.
    """

    def __init__(
        self,
        seconds: float,
        *,
        flood: bool = False,
        throttled: bool = False,
        unknown: bool = False,
        reason: str = "",
    ) -> None:
        super().__init__(reason or f"retry in {seconds}s")
        self.seconds = seconds
        self.flood = flood
        self.throttled = throttled or flood
        self.unknown = unknown


class Undeliverable(Exception):
    """The message can never be delivered (blocked bot, chat gone, invalid request)."""

    def __init__(self, reason: str, *, blocked: bool = False) -> None:
        super().__init__(reason)
        self.blocked = blocked


@dataclass(frozen=True)
class ChannelTraits:
    """What a channel can do, so the service can shape replies without knowing the channel."""

    name: str
    sends_files: bool = True
    text_limit: int = 4096
    buttons: bool = False  # choices show as buttons, so texts need not spell the keywords
    receives_files: bool = False  # people can send the bot files (a signed report)
    extra: dict = field(default_factory=dict)
