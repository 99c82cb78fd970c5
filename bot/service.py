"""The service layer: each inbound message is applied all-or-nothing.

`Service.handle(inbound)` de-duplicates the delivery, finds who is writing, links strangers who
bring a valid invite (after they confirm), routes secretariat commands, runs the dialogue engine
for officers and stores answers, history, conversation state and the replies (as outbox rows) in
the same transaction. `handle_batch` does the same for messages that arrived together, in one
transaction with a savepoint per message. It is synchronous; `bot.runner.Hub.dispatch` gathers
the batches and decides where they run. The officer's path is plain SQL (`storage.hot_path`);
rarer paths use the ORM session of the same transaction (`Context.session`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlmodel import Session

from bot import secretariat
from bot.messaging import ChannelTraits, Inbound, Outbound
from bot.secretariat import UNKNOWN_COMMAND_TEXT
from conversations.campaigns import CampaignSpec
from conversations.engine import (
    CampaignBrief,
    Choice,
    Press,
    SaveAnswer,
    State,
    SubmitReport,
    Text,
    step,
)
from conversations.parsing import normalize
from storage.database import Database
from storage.hot_path import (
    QueuedMessage,
    Sender,
    Tx,
    add_contact,
    claim_inbound,
    engine_answers,
    enqueue,
    find_sender,
    link_contact,
    load_answers,
    load_dialogue,
    note_seen,
    open_submission,
    record_submission,
    save_dialogue,
    set_pending_invite,
    unit_brief,
    usable_invite,
    use_invite,
    write_answer,
)
from storage.models import Unit
from storage.repository import (
    campaign_for_unit,
    campaign_form,
    campaign_spec,
    create_download_token,
)

Clock = Callable[[], datetime]
DOWNLOAD_VALID_FOR = timedelta(hours=24)
SEEN_RESOLUTION = timedelta(minutes=5)
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)
_BARE_CODE = re.compile(r"^(?:[A-Za-z0-9]{6,12}|[A-Za-z0-9]{4}[-\s][A-Za-z0-9]{4})$")
_LINK_YES = Choice("link_yes", "Xác nhận", "có")
_LINK_NO = Choice("link_no", "Không phải tôi", "không")
_YES = {"co", "dong y", "xac nhan", "yes", "ok", "1"}
_NO = {"khong", "huy", "no", "2", "khong phai toi"}
# Every «/…» keyword the dialogue engine understands, so none is refused as unknown.
OFFICER_COMMANDS = {
    "start", "tiep", "continue", "xem", "review", "nop", "submit", "help", "huongdan", "status",
    "cau", "sua", "lai", "quaylai", "dung", "tamdung", "kad", "boqua", "xong",
}  # fmt: skip
_GOTO_COMMAND = re.compile(r"^(?:cau|sua)\d{1,3}$")  # «/cau7» as well as «/cau 7»
STRANGER_TEXT = (
    "Xin chào! Đây là trợ lý thu thập số liệu báo cáo của Ban Dân vận Tỉnh ủy.\n"
    "Để sử dụng, đồng chí cần mã mời do Ban Dân vận cấp: mở đường liên kết mời, "
    "hoặc gửi mã mời (8 ký tự) vào đây."
)
TEXT_ONLY_TEXT = (
    "Trợ lý chỉ đọc được tin nhắn chữ. Đề nghị đồng chí gõ câu trả lời bằng chữ hoặc số "
    "(trợ lý chưa nhận được ảnh, tệp, nhãn dán hay tin nhắn thoại)."
)
BAD_CODE_TEXT = (
    "Mã mời không đúng, đã được dùng hoặc đã hết hạn. "
    "Đề nghị liên hệ Ban Dân vận Tỉnh ủy để được cấp mã mới."
)


@dataclass
class Context:
    """What one handling of a message can see: transaction, clock reading, sender and channel."""

    tx: Tx
    now: datetime
    inbound: Inbound
    contact: Sender | None
    traits: ChannelTraits

    @property
    def session(self) -> Session:
        """An ORM session in the same transaction, for everything off the hot path."""
        return self.tx.session


class Service:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        traits: dict[str, ChannelTraits],
        *,
        invite_valid_for: timedelta = timedelta(days=30),
        bot_usernames: dict[str, str] | None = None,
        public_url: str = "",
    ) -> None:
        self.database = database
        self.clock = clock
        self.traits = traits
        self.invite_valid_for = invite_valid_for
        self.bot_usernames = bot_usernames or {}
        self.public_url = public_url
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
        if len(inbounds) == 1:  # no savepoint needed: a failure undoes the whole transaction
            try:
                with self.database.unit_of_work() as tx:
                    return [self._handle(tx, inbounds[0])]
            except Exception as error:
                return [error]
        outcomes: list[list[QueuedMessage] | Exception] = []
        try:
            with self.database.unit_of_work() as tx:
                for inbound in inbounds:
                    try:
                        with tx.savepoint():
                            outcomes.append(self._handle(tx, inbound))
                    except Exception as error:
                        outcomes.append(error)
        except Exception as error:
            return [error] * len(inbounds)
        return outcomes

    def _handle(self, tx: Tx, inbound: Inbound) -> list[QueuedMessage]:
        now = self.clock()
        traits = self.traits.get(inbound.channel) or ChannelTraits(inbound.channel)
        if not claim_inbound(tx, inbound.channel, inbound.inbound_id, now):
            return []
        contact = find_sender(tx, inbound.channel, inbound.user_id)
        if contact is not None:
            _note_seen(tx, contact, inbound, now)
        context = Context(tx, now, inbound, contact, traits)
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
            )
            for reply in replies
        ]

    # --- routing ---------------------------------------------------------------------

    def _route(self, ctx: Context) -> list[Outbound]:
        if ctx.inbound.text is None and ctx.inbound.choice is None:
            return [Outbound(TEXT_ONLY_TEXT)]  # a photo, sticker or voice message
        text = (ctx.inbound.text or "").strip()
        command, argument = _split_command(text)
        contact = ctx.contact
        if contact is not None and contact.pending_invite_id is not None:
            answer = self._confirm_link(ctx, text)
            if answer is not None:
                return answer
        code = argument if command == "start" and argument else None
        if contact is None or (contact.unit_id is None and contact.role == "officer"):
            if code is None and _BARE_CODE.match(text):
                code = text
            if code is not None:
                return self._offer_link(ctx, code)
            return [Outbound(STRANGER_TEXT)]
        if code is not None:
            return self._offer_link(ctx, code)
        if contact.role == "secretariat":
            return secretariat.handle_command(self, ctx, command, argument)
        known = command in OFFICER_COMMANDS or _GOTO_COMMAND.match(command or "")
        if command is not None and not known:
            return [Outbound(UNKNOWN_COMMAND_TEXT)]
        if command == "status":
            return [secretariat.unit_status(ctx)]
        return self._converse(ctx, text)

    # --- invites ------------------------------------------------------------------------

    def _offer_link(self, ctx: Context, code: str) -> list[Outbound]:
        tx, inbound, contact = ctx.tx, ctx.inbound, ctx.contact
        invite = usable_invite(tx, code, ctx.now)
        if invite is None:
            return [Outbound(BAD_CODE_TEXT)]
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
            ctx.contact = Sender(contact_id, "officer", None, invite.id, ctx.now, True, name, None)
        else:
            set_pending_invite(tx, contact.id, invite.id)
            ctx.contact = contact._replace(pending_invite_id=invite.id)
        if invite.role == "secretariat":
            target = "cán bộ tổng hợp của Ban Dân vận Tỉnh ủy"
        else:
            target = f"cán bộ đầu mối của {invite.unit_name}"
        text = (
            f"Mã mời này dành cho {target}.\n"
            "Đồng chí xác nhận đúng là mình để liên kết tài khoản này?"
        )
        return [Outbound(text, (_LINK_YES, _LINK_NO), context="link", numbered=True)]

    def _confirm_link(self, ctx: Context, text: str) -> list[Outbound] | None:
        """Answer a pending invite confirmation; None lets other input through."""
        tx, contact, choice = ctx.tx, ctx.contact, ctx.inbound.choice
        words = normalize(text)
        if choice == "link_yes" or (choice is None and words in _YES):
            invite = use_invite(tx, contact.pending_invite_id, contact.id, ctx.now)
            if invite is None:
                set_pending_invite(tx, contact.id, None)
                ctx.contact = contact._replace(pending_invite_id=None)
                return [Outbound(BAD_CODE_TEXT)]
            chat_id = ctx.inbound.chat_id
            link_contact(tx, contact.id, role=invite.role, unit_id=invite.unit_id, chat_id=chat_id)
            unit = unit_brief(tx, invite.unit_id) if invite.unit_id is not None else None
            ctx.contact = contact._replace(
                role=invite.role, unit_id=invite.unit_id, pending_invite_id=None, unit=unit
            )
            if invite.role == "secretariat":
                return [Outbound("Đã liên kết. " + secretariat.HELP_TEXT)]
            linked = Outbound(f"Đã liên kết với {unit.name}.")
            # The confirming button press is not an answer: start the form as if «/tiep».
            ctx.inbound = replace(ctx.inbound, text="/tiep", choice=None, context="")
            return [linked, *self._converse(ctx, "/tiep")]
        if choice == "link_no" or (choice is None and words in _NO):
            set_pending_invite(tx, contact.id, None)
            ctx.contact = contact._replace(pending_invite_id=None)
            return [Outbound("Đã hủy. Mã mời chưa được dùng.")]
        return None

    # --- officers ---------------------------------------------------------------------

    def _converse(self, ctx: Context, text: str) -> list[Outbound]:
        """Run the engine for an officer; every read and write here is on the hot path."""
        tx, contact, now = ctx.tx, ctx.contact, ctx.now
        unit = contact.unit
        campaign = campaign_for_unit(tx, unit.code, unit.group)
        if campaign is None:
            return [Outbound(f"Hiện {unit.name} không có đợt báo cáo nào cần điền.")]
        form = campaign_form(campaign)
        submission = open_submission(tx, campaign.id, contact.unit_id)
        rows = load_answers(tx, submission.id)
        state_id, dialogue = load_dialogue(tx, contact.id, campaign.id, submission.id)
        state = State(
            dialogue=dialogue,
            answers=engine_answers(rows),
            level=unit.level,
            status=submission.status,
            unit_name=unit.name,
            submitted_at=submission.submitted_at,
            campaign=_brief(campaign_spec(campaign)),
            buttons=ctx.traits.buttons,
        )
        inbound = ctx.inbound
        event = Press(inbound.choice, inbound.context) if inbound.choice else Text(text)
        new_state, effects = step(state, event, form, now)
        replies: list[Outbound] = []
        submitted_by = None
        for effect in effects:
            if isinstance(effect, SaveAnswer):
                rows[effect.key] = write_answer(
                    tx,
                    submission,
                    key=effect.key,
                    value=effect.value,
                    not_applicable=effect.not_applicable,
                    raw=effect.raw,
                    contact_id=contact.id,
                    channel=inbound.channel,
                    now=now,
                    existing=rows.get(effect.key),
                    note=effect.note,
                )
            elif isinstance(effect, SubmitReport):
                submitted_by = contact.id
            else:
                replies.append(Outbound.from_reply(effect))
        record_submission(
            tx, submission, status=new_state.status, now=now, submitted_by=submitted_by
        )
        save_dialogue(
            tx,
            state_id,
            contact_id=contact.id,
            campaign_id=campaign.id,
            submission_id=submission.id,
            dialogue=new_state.dialogue,
            now=now,
        )
        return replies

    def download_link(
        self, session: Session, campaign, unit: Unit | None, contact: Sender | None, now
    ) -> str:
        """A link to the web app serving one export for 24 hours (for channels without files)."""
        token = create_download_token(
            session,
            campaign_id=campaign.id,
            unit_id=unit.id if unit else None,
            contact_id=contact.id if contact else None,
            now=now,
            valid_for=DOWNLOAD_VALID_FOR,
        )
        return f"{self.public_url}/tai-ve/{token}"


def _note_seen(tx: Tx, contact: Sender, inbound: Inbound, now: datetime) -> None:
    """Refresh who the contact is and when we last heard from them (not on every message)."""
    name = inbound.display_name[:120]
    stale = contact.last_seen_at is None or now - contact.last_seen_at > SEEN_RESOLUTION
    if stale or not contact.active or (name and name != contact.display_name):
        note_seen(tx, contact.id, name or contact.display_name, now)


def _brief(spec: CampaignSpec) -> CampaignBrief:
    """What the engine says about the round (opening, late submission)."""
    return CampaignBrief(
        issued_by=spec.issued_by,
        receiver=spec.receiver or "Ban Dân vận Tỉnh ủy",
        deadline=spec.deadline,
        period_start=spec.period_start,
        period_end=spec.period_end,
    )


def _split_command(text: str) -> tuple[str | None, str]:
    match = _COMMAND.match(text)
    if not match:
        return None, ""
    return match.group(1).lower(), (match.group(2) or "").strip()
