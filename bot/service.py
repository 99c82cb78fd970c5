"""The service layer: each inbound message is applied all-or-nothing.

`Service.handle(inbound)` de-duplicates the delivery, finds who is writing, links strangers who
bring a valid invite (after they confirm), routes secretariat commands, runs the dialogue engine
for officers (`bot.officer_chat`) and stores answers, history, conversation state and the
replies (as outbox rows) in the same transaction. `handle_batch` does the same for messages
that arrived together, in one transaction with a savepoint per message. It is synchronous;
`bot.dispatch.ChannelHost` gathers the batches and decides where they run. The officer's path
is plain SQL (`storage.hot_path`); rarer paths use the ORM session of the same transaction
(`Context.session`).

An update that keeps failing is set aside (`set_aside`: kept with its payload, its sender told,
the secretariat alerted at most once an hour) and can be replayed later (`replay`). Wrong invite
codes are counted per chat; after a few misses the chat is refused for a while, right code or not.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import datetime, timedelta

from bot import secretariat
from bot.clock import Clock
from bot.message_context import Context
from bot.messaging import ChannelTraits, Inbound, Outbound, RoleChange
from bot.notify import Recipient, notify, secretariat_of
from bot.officer_chat import converse
from bot.signed_intake import Uploads, receive_in_chat
from bot.use_cases import Desk
from conversations.commands import UNKNOWN_COMMAND_TEXT, is_officer_command, split_command
from conversations.linking import (
    BAD_CODE_TEXT,
    CANCELLED_TEXT,
    LINK_CONTEXT,
    LINK_NO,
    LINK_YES,
    STRANGER_TEXT,
    Confirmation,
    linked_text,
    looks_like_code,
    offer_text,
    read_confirmation,
)
from conversations.messages import format_moment
from conversations.statuses import ContactRole
from storage.database import Database
from storage.hot_path import (
    Correspondent,
    QueuedMessage,
    Tx,
    add_contact,
    claim_inbound,
    enqueue,
    find_correspondent,
    link_contact,
    note_seen,
    set_pending_invite,
    unit_brief,
    usable_invite,
    use_invite,
)
from storage.inbound_faults import (
    SET_ASIDE_ALERT,
    claim_alert,
    failed_again,
    find_set_aside,
    list_set_aside,
    remove_set_aside,
)
from storage.inbound_faults import set_aside as keep_set_aside
from storage.invite_guesses import forget_misses, record_miss, refused_until

log = logging.getLogger(__name__)

SEEN_RESOLUTION = timedelta(minutes=5)
TEXT_ONLY_TEXT = (
    "Trợ lý chỉ đọc được tin nhắn chữ. Đề nghị đồng chí gõ câu trả lời bằng chữ hoặc số "
    "(trợ lý chưa đọc được nhãn dán hay tin nhắn thoại). Gửi báo cáo có chữ ký: gõ «gửi báo cáo»."
)
SECRETARIAT_FILE_TEXT = (
    "Trợ lý chỉ nhận báo cáo có chữ ký từ cán bộ đầu mối của đơn vị; tệp này chưa được lưu."
)
APOLOGY_TEXT = "Hệ thống chưa xử lý được tin nhắn này; Ban Dân vận đã được báo."
ALERT_EVERY = timedelta(hours=1)
__all__ = [
    "APOLOGY_TEXT",
    "BAD_CODE_TEXT",
    "STRANGER_TEXT",
    "TEXT_ONLY_TEXT",
    "NotSetAside",
    "Service",
    "cool_down_text",
    "set_aside_alert_text",
]


class NotSetAside(LookupError):
    """No set-aside update has this id."""


def cool_down_text(until: datetime) -> str:
    return (
        "Đồng chí đã nhập sai mã mời nhiều lần nên tạm thời chưa nhập được mã. "
        f"Đề nghị thử lại sau {format_moment(until)}."
    )


def set_aside_alert_text(channel: str, waiting: int) -> str:
    return (
        f"Hệ thống chưa xử lý được một tin nhắn đến qua {channel.capitalize()} và đã để riêng "
        f"({waiting} tin đang chờ). Xem: baocao inbound list; khi đã khắc phục, chạy lại: "
        "baocao inbound retry <số>."
    )


class Service:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        traits: dict[str, ChannelTraits],
        desk: Desk | None = None,
        *,
        on_role_change: Callable[[RoleChange], None] | None = None,
        uploads: Uploads | None = None,
    ) -> None:
        self.database = database
        self.uploads = uploads or Uploads()
        self.clock = clock
        self.traits = traits
        self.desk = desk or Desk()
        # Told (after commit) when someone is linked, e.g. so Telegram can show them a menu.
        self.on_role_change = on_role_change
        # The outbox process that delivers the replies written here (their claims carry it).
        self.claimant: str | None = None
        # SQLite has one writer: serialising here avoids "database is locked" retries.
        self._sqlite_lock = threading.Lock() if database.is_sqlite else None

    def handle(self, inbound: Inbound) -> list[QueuedMessage]:
        """Process one inbound message; return the outbox rows this process should deliver."""
        (outcome,) = self.handle_batch([inbound])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def handle_batch(self, inbounds: list[Inbound]) -> list[list[QueuedMessage] | Exception]:
        """Process messages that arrived together in one transaction (one commit for all).

        Each message is applied in its own savepoint, so one that fails is undone alone and
        comes back as its exception (its delivery is then retried); the others keep their
        effects. A failed commit fails them all, and nothing of them is kept.
        """
        if self._sqlite_lock is None:
            return self._handle_batch(inbounds)
        with self._sqlite_lock:
            return self._handle_batch(inbounds)

    def _handle_batch(self, inbounds: list[Inbound]) -> list[list[QueuedMessage] | Exception]:
        changes: list[RoleChange] = []
        if len(inbounds) == 1:  # no savepoint needed: a failure undoes the whole transaction
            try:
                with self.database.unit_of_work() as tx:
                    outcomes = [self._handle(tx, inbounds[0], changes)]
            except Exception as error:
                return [error]
            self._announce(changes)
            return outcomes
        outcomes = []
        try:
            with self.database.unit_of_work() as tx:
                for inbound in inbounds:
                    mine: list[RoleChange] = []
                    try:
                        with tx.savepoint():
                            outcomes.append(self._handle(tx, inbound, mine))
                    except Exception as error:
                        outcomes.append(error)
                        continue
                    changes += mine
        except Exception as error:
            return [error] * len(inbounds)
        self._announce(changes)
        return outcomes

    def _announce(self, changes: list[RoleChange]) -> None:
        if self.on_role_change is not None:
            for change in changes:
                self.on_role_change(change)

    # --- updates that keep failing ------------------------------------------------------

    def set_aside(
        self, inbound: Inbound, payload: dict, error: Exception, attempts: int
    ) -> list[QueuedMessage]:
        """Keep an update the service keeps failing on, apologise to its sender and (at most once
        an hour, whichever process gets there first) tell the secretariat, all in one
        transaction. Returns the outbox rows to deliver (none if it was set aside before)."""
        if self._sqlite_lock is None:
            return self._set_aside(inbound, payload, error, attempts)
        with self._sqlite_lock:
            return self._set_aside(inbound, payload, error, attempts)

    def _set_aside(
        self, inbound: Inbound, payload: dict, error: Exception, attempts: int
    ) -> list[QueuedMessage]:
        now = self.clock()
        with self.database.unit_of_work() as tx:
            session = tx.session
            new = keep_set_aside(
                session,
                channel=inbound.channel,
                inbound_id=inbound.inbound_id,
                chat_id=inbound.chat_id,
                payload=payload,
                inbound=asdict(inbound),
                error=error,
                attempts=attempts,
                now=now,
            )
            if not new:
                return []
            session.flush()
            sender = Recipient(None, inbound.channel, inbound.chat_id)
            queued = notify(tx, [sender], Outbound(APOLOGY_TEXT), now, claimed=True)
            secretariat = secretariat_of(session, None)  # set-aside updates concern no one unit
            # With no secretariat member linked yet, the hour is not used up.
            if secretariat and claim_alert(session, SET_ASIDE_ALERT, now, ALERT_EVERY):
                alert = Outbound(
                    set_aside_alert_text(inbound.channel, len(list_set_aside(session)))
                )
                queued += notify(tx, secretariat, alert, now, claimed=True)
            return queued

    def replay(self, row_id: int) -> list[QueuedMessage]:
        """Apply a set-aside update again through the same path; it is removed once applied.
        A failure keeps it with the new error and is raised. Replies are queued for the
        running bot's outbox (unclaimed)."""
        if self._sqlite_lock is None:
            return self._replay(row_id)
        with self._sqlite_lock:
            return self._replay(row_id)

    def _replay(self, row_id: int) -> list[QueuedMessage]:
        changes: list[RoleChange] = []
        try:
            with self.database.unit_of_work() as tx:
                row = find_set_aside(tx.session, row_id)
                if row is None:
                    raise NotSetAside(row_id)
                inbound = Inbound(**row.inbound)
                outcome = self._handle(tx, inbound, changes, claim_replies=False)
                remove_set_aside(tx.session, row_id)
        except NotSetAside:
            raise
        except Exception as error:
            with self.database.transaction() as session:
                failed_again(session, row_id, error, self.clock())
            raise
        self._announce(changes)
        return outcome

    def _handle(
        self, tx: Tx, inbound: Inbound, role_changes: list, *, claim_replies: bool = True
    ) -> list[QueuedMessage]:
        now = self.clock()
        traits = self.traits.get(inbound.channel) or ChannelTraits(inbound.channel)
        if not claim_inbound(tx, inbound.channel, inbound.inbound_id, now):
            return []
        contact = find_correspondent(tx, inbound.channel, inbound.user_id)
        if contact is not None:
            _note_seen(tx, contact, inbound, now)
        context = Context(tx, now, inbound, contact, traits, role_changes)
        replies = self._route(context)
        chat_id = inbound.chat_id
        contact_id = context.contact.id if context.contact else None
        return [
            enqueue(
                tx,
                channel=inbound.channel,
                chat_id=chat_id,
                payload=reply.to_payload(),
                now=now,
                contact_id=contact_id,
                claimed=claim_replies,
                claimant=self.claimant,
            )
            for reply in replies
        ]

    # --- routing ---------------------------------------------------------------------

    def _route(self, ctx: Context) -> list[Outbound]:
        if ctx.inbound.file is not None:
            return self._receive_file(ctx)
        if ctx.inbound.text is None and ctx.inbound.choice is None:
            return [Outbound(TEXT_ONLY_TEXT)]  # a photo, sticker or voice message
        text = (ctx.inbound.text or "").strip()
        command, argument = split_command(text)
        contact = ctx.contact
        if contact is not None and contact.pending_invite_id is not None:
            answer = self._confirm_link(ctx, text)
            if answer is not None:
                return answer
        code = argument if command == "start" and argument else None
        if contact is None or contact.stranger:
            if code is None and looks_like_code(text):
                code = text
            if code is not None:
                return self._offer_link(ctx, code)
            return [Outbound(STRANGER_TEXT)]
        if code is not None:
            return self._offer_link(ctx, code)
        if contact.role == ContactRole.SECRETARIAT:
            return secretariat.handle_command(self.desk, ctx, command, argument)
        if command is not None and not is_officer_command(command):
            return [Outbound(UNKNOWN_COMMAND_TEXT)]
        if command == "status":
            return [secretariat.unit_status(ctx)]
        return self._converse(ctx, text)

    def _receive_file(self, ctx: Context) -> list[Outbound]:
        contact = ctx.contact
        if contact is None or contact.removed or contact.unit_id is None:
            if contact is not None and contact.role == ContactRole.SECRETARIAT:
                return [Outbound(SECRETARIAT_FILE_TEXT)]
            return [Outbound(STRANGER_TEXT)]
        return receive_in_chat(ctx, self.uploads)

    # --- invites ------------------------------------------------------------------------

    def _offer_link(self, ctx: Context, code: str) -> list[Outbound]:
        tx, inbound, contact = ctx.tx, ctx.inbound, ctx.contact
        # A chat in its cool-down is refused even a right code: otherwise guessing goes on.
        until = refused_until(tx.session, inbound.channel, inbound.chat_id, ctx.now)
        if until is not None:
            return [Outbound(cool_down_text(until))]
        invite = usable_invite(tx, code, ctx.now)
        if invite is None:
            return self._missed_code(ctx)
        forget_misses(tx.session, inbound.channel, inbound.chat_id)
        if contact is None:
            name = inbound.display_name[:120]
            contact_id = add_contact(
                tx,
                channel=inbound.channel,
                external_id=inbound.user_id,
                chat_id=inbound.chat_id,
                display_name=name,
                invite_id=invite.id,
                now=ctx.now,
            )
            ctx.contact = Correspondent(
                contact_id, ContactRole.OFFICER, None, invite.id, ctx.now, True, name, None
            )
        else:
            set_pending_invite(tx, contact.id, invite.id)
            ctx.contact = contact._replace(pending_invite_id=invite.id)
        text = offer_text(invite.role, invite.unit_name)
        return [Outbound(text, (LINK_YES, LINK_NO), context=LINK_CONTEXT, numbered=True)]

    def _missed_code(self, ctx: Context) -> list[Outbound]:
        """Count a wrong code (logged with the chat, never the code itself)."""
        inbound = ctx.inbound
        until = record_miss(ctx.tx.session, inbound.channel, inbound.chat_id, ctx.now)
        if until is None:
            log.warning(
                "Mã mời sai: kênh %s, chat %s",
                inbound.channel,
                inbound.chat_id,
                extra={"channel": inbound.channel, "chat": inbound.chat_id},
            )
            return [Outbound(BAD_CODE_TEXT)]
        log.warning(
            "Mã mời sai nhiều lần: kênh %s, chat %s bị tạm khóa nhập mã đến %s",
            inbound.channel,
            inbound.chat_id,
            until.isoformat(timespec="minutes"),
            extra={"channel": inbound.channel, "chat": inbound.chat_id},
        )
        return [Outbound(cool_down_text(until))]

    def _confirm_link(self, ctx: Context, text: str) -> list[Outbound] | None:
        """Answer a pending invite confirmation; None lets other input through."""
        tx, contact = ctx.tx, ctx.contact
        confirmation = read_confirmation(ctx.inbound.choice, text)
        if confirmation is Confirmation.YES:
            invite = use_invite(tx, contact.pending_invite_id, contact.id, ctx.now)
            if invite is None:
                set_pending_invite(tx, contact.id, None)
                ctx.contact = contact._replace(pending_invite_id=None)
                return [Outbound(BAD_CODE_TEXT)]
            chat_id = ctx.inbound.chat_id
            link_contact(tx, contact.id, role=invite.role, unit_id=invite.unit_id, chat_id=chat_id)
            unit = unit_brief(tx, invite.unit_id) if invite.unit_id is not None else None
            ctx.contact = contact._replace(
                role=invite.role,
                unit_id=invite.unit_id,
                pending_invite_id=None,
                unit=unit,
                active=True,
                removed=False,
            )
            inbound = ctx.inbound
            ctx.role_changes.append(
                RoleChange(inbound.channel, inbound.user_id, inbound.chat_id, invite.role)
            )
            if invite.role == ContactRole.SECRETARIAT:
                return [Outbound("Đã liên kết. " + secretariat.HELP_TEXT)]
            linked = Outbound(linked_text(unit.name))
            # The confirming button press is not an answer: start the form as if «/tiep».
            ctx.inbound = replace(ctx.inbound, text="/tiep", choice=None, context="")
            return [linked, *self._converse(ctx, "/tiep")]
        if confirmation is Confirmation.NO:
            set_pending_invite(tx, contact.id, None)
            ctx.contact = contact._replace(pending_invite_id=None)
            return [Outbound(CANCELLED_TEXT)]
        return None

    # --- officers ---------------------------------------------------------------------

    def _converse(self, ctx: Context, text: str) -> list[Outbound]:
        """Run the engine for an officer (`bot.officer_chat`); the hot path."""
        return converse(ctx, text, public_url=self.desk.public_url, uploads=self.uploads)


def _note_seen(tx: Tx, contact: Correspondent, inbound: Inbound, now: datetime) -> None:
    """Refresh who the contact is and when we last heard from them (not on every message)."""
    name = inbound.display_name[:120]
    stale = contact.last_seen_at is None or now - contact.last_seen_at > SEEN_RESOLUTION
    if stale or not contact.active or (name and name != contact.display_name):
        note_seen(tx, contact.id, name or contact.display_name, now)
