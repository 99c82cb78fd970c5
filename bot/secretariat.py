"""The secretariat's chat commands (`/status`, `/export`, `/remind`, `/invite`, `/tralai`,
`/duyet`, `/web`): read the argument, call the use case, word the answer.

Only contacts linked with a secretariat invite reach `handle_command`; an officer typing one of
these gets the same answer as for any unknown command.
"""

from __future__ import annotations

from sqlmodel import Session

from bot import use_cases
from bot.campaign_choice import contact_campaign, no_campaign_text
from bot.message_context import Context
from bot.messaging import Attachment, Outbound
from bot.status import unit_status_text
from bot.use_cases import Actor, Desk, contact_actor
from conversations.campaign_menu import several_open_text
from conversations.commands import SECRETARIAT_HELP, UNKNOWN_COMMAND_TEXT
from conversations.errors import DomainError, ErrorKind, OutOfScope
from storage.models import Contact
from storage.repository import SeveralOpen, current_campaign, list_campaigns

HELP_TEXT = SECRETARIAT_HELP
# They take a campaign code first («/duyet ct38-2030 HU-NP»); without one, the only open campaign.
CAMPAIGN_COMMANDS = frozenset({"status", "export", "remind", "tralai", "duyet"})


def handle_command(desk: Desk, ctx: Context, command: str | None, argument: str) -> list[Outbound]:
    try:
        if command == "status":
            code, _ = campaign_argument(ctx.session, argument)
            return [Outbound(use_cases.status(ctx.session, ctx.now, code, actor=_actor(ctx)))]
        if command == "export":
            return [export_reply(desk, ctx, argument)]
        if command == "invite":
            return [invite_reply(desk, ctx, argument)]
        if command == "remind":
            code, _ = campaign_argument(ctx.session, argument)
            count = use_cases.remind(
                ctx.session, ctx.now, desk, actor=_actor(ctx), campaign_code=code
            )
            return [Outbound(f"Đã xếp lịch gửi {count} tin nhắc tới các đơn vị chưa nộp.")]
        if command == "tralai":
            return [return_reply(desk, ctx, argument)]
        if command == "duyet":
            return [approve_reply(desk, ctx, argument)]
        if command == "web":
            return [web_reply(desk, ctx)]
        if command in ("help", "start", None):
            return [Outbound(HELP_TEXT)]
    except SeveralOpen as error:
        if command in CAMPAIGN_COMMANDS:
            return [Outbound(several_open_text(error.codes, f"/{command} {error.codes[0]}"))]
        return [Outbound(several_open_text(error.codes, None))]
    except DomainError as error:
        return [refusal_reply(error)]
    return [Outbound(UNKNOWN_COMMAND_TEXT)]


# A unit outside a district's scope is answered exactly as one that does not exist; a refusal
# for the report's state says where to see the state now; a bad value, how to write the command.
REFUSAL_FRAMES = {
    ErrorKind.NOT_FOUND: "Không thực hiện được: {reason}.",
    ErrorKind.OUT_OF_SCOPE: "Không thực hiện được: {reason}.",
    ErrorKind.STATE: "Không thực hiện được: {reason}.\nGõ /status để xem tình trạng hiện nay.",
    ErrorKind.BAD_VALUE: "Không thực hiện được: {reason}.\nGõ /help để xem cách dùng các lệnh.",
}


def refusal_reply(error: DomainError) -> Outbound:
    """A refused command, worded by its kind (never by matching its text)."""
    return Outbound(REFUSAL_FRAMES[error.kind].format(reason=error))


def _actor(ctx: Context) -> Actor:
    return contact_actor(ctx.contact, "chat")


def web_reply(desk: Desk, ctx: Context) -> Outbound:
    contact = ctx.session.get(Contact, ctx.contact.id)
    link = use_cases.web_sign_in_link(
        ctx.session, ctx.now, desk, contact=contact, actor=_actor(ctx)
    )
    return Outbound(
        f"Mở trang web của Ban Dân vận: {link}\n"
        "Đường liên kết dùng được một lần, trong 10 phút. Không chuyển cho người khác.",
        secrets=(link,),
    )


def unit_status(ctx: Context) -> Outbound:
    """An officer's «/status»: their own unit's standing."""
    campaign = contact_campaign(ctx)
    if campaign is None:
        return Outbound(no_campaign_text(ctx.contact.unit.name))
    return Outbound(unit_status_text(ctx.session, campaign, ctx.contact.unit_id, ctx.now))


def campaign_argument(session: Session, argument: str) -> tuple[str | None, str]:
    """«ct38-2030 HU-NP» -> ("ct38-2030", "HU-NP"): a leading word that is a campaign's code
    names the campaign (None: the only open one), the rest is the command's own argument."""
    first, _, rest = argument.strip().partition(" ")
    if first and first in {campaign.code for campaign in list_campaigns(session)}:
        return first, rest.strip()
    return None, argument.strip()


def export_reply(desk: Desk, ctx: Context, argument: str) -> Outbound:
    session = ctx.session
    code, argument = campaign_argument(session, argument)
    campaign = current_campaign(session, code)
    actor = _actor(ctx)
    if not argument and actor.scope_unit_id is not None:
        raise OutOfScope(
            "bảng tổng hợp là của cả tỉnh; cán bộ tổng hợp cấp huyện tải Phụ lục từng đơn vị: "
            "/export MÃ_ĐƠN_VỊ"
        )
    unit = use_cases.scoped_unit(session, actor, argument) if argument else None
    what = f"Phụ lục của {unit.name}" if unit else "Bảng tổng hợp"
    if ctx.traits.sends_files:
        return Outbound(what, attachment=Attachment(campaign.id, unit.code if unit else None))
    link = use_cases.download_link(
        session,
        ctx.now,
        desk,
        campaign_id=campaign.id,
        unit_id=unit.id if unit else None,
        contact_id=ctx.contact.id if ctx.contact else None,
    )
    return Outbound(
        f"{what} (Excel): {link}\nĐường liên kết dùng được trong 24 giờ.", secrets=(link,)
    )


def invite_reply(desk: Desk, ctx: Context, argument: str) -> Outbound:
    if not argument:
        return Outbound("Cần mã đơn vị, ví dụ: /invite HU-NP")
    invite, unit = use_cases.invite(
        ctx.session, ctx.now, desk, role="officer", unit_code=argument.split()[0], actor=_actor(ctx)
    )
    card = use_cases.invite_card(ctx.session, desk, invite, unit)
    return Outbound(card, secrets=(invite.code,))


def return_reply(desk: Desk, ctx: Context, argument: str) -> Outbound:
    campaign_code, argument = campaign_argument(ctx.session, argument)
    code, _, reason = argument.partition(" ")
    if not code:
        return Outbound("Cần mã đơn vị, ví dụ: /tralai HU-NP Thiếu số liệu mục 4")
    unit = use_cases.return_report(
        ctx.session,
        ctx.now,
        desk,
        unit_code=code,
        reason=reason,
        actor=_actor(ctx),
        campaign_code=campaign_code,
    )
    return Outbound(f"Đã trả lại báo cáo của {unit.name}; các cán bộ đầu mối đã được báo.")


def approve_reply(desk: Desk, ctx: Context, argument: str) -> Outbound:
    campaign_code, argument = campaign_argument(ctx.session, argument)
    code = argument.split()[0] if argument.split() else ""
    if not code:
        return Outbound("Cần mã đơn vị, ví dụ: /duyet HU-NP")
    unit = use_cases.approve_report(
        ctx.session, ctx.now, desk, unit_code=code, actor=_actor(ctx), campaign_code=campaign_code
    )
    return Outbound(f"Đã duyệt báo cáo của {unit.name}; các cán bộ đầu mối đã được báo.")
