"""Which campaign an officer's message is about.

With one open campaign for the unit nothing is asked or said, and nothing more is read (the
officer's hot path). With several, the officer picks one (a button on Telegram, a number or the
code on Zalo and the console), keeps it until switching («/dot», or «đợt» typed alone), and each
reply starts with the campaign's short title. The pick is stored on the contact
(`contact.campaign_id`); each campaign keeps its own dialogue state and answers, since
`conversation_state` and `submission` rows are per campaign. Drafts are nobody's; a closed
campaign refuses answers with a clear message.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from bot.message_context import Context
from bot.messaging import Outbound
from conversations import campaign_menu
from conversations.commands import split_command
from storage.hot_path import choose_campaign
from storage.models import Campaign
from storage.repository import campaign_spec, unit_campaigns


@dataclass
class Selection:
    """The campaign to run the dialogue in (None: `replies` answer the message alone)."""

    campaign: Campaign | None
    replies: list[Outbound] = field(default_factory=list)
    label: str | None = None  # the prefix line, while several campaigns are open
    restart: bool = False  # just picked or moved: show where the officer is («/tiep»)

    def finish(self, replies: list[Outbound]) -> list[Outbound]:
        """The dialogue's replies after ours, each starting with the campaign's line."""
        replies = self.replies + replies
        if self.label is None:
            return replies
        return [replace(reply, text=f"{self.label}\n{reply.text}") for reply in replies]


def no_campaign_text(unit_name: str) -> str:
    return f"Hiện {unit_name} không có đợt báo cáo nào cần điền."


def select(ctx: Context, text: str) -> Selection:
    """Decide the officer's campaign for this message (storing a pick or a switch)."""
    contact = ctx.contact
    unit = contact.unit
    opened, closed = unit_campaigns(ctx.tx, unit.code, unit.group, unit.level)
    if not opened:
        if closed is not None:
            return Selection(None, [Outbound(campaign_menu.closed_text(closed.title))])
        return Selection(None, [Outbound(no_campaign_text(unit.name))])
    inbound = ctx.inbound
    command, argument = split_command(text) if text.startswith("/") else (None, "")
    if len(opened) == 1:
        only = opened[0]
        if command == campaign_menu.SWITCH_COMMAND:
            return Selection(None, [Outbound(campaign_menu.only_one_text(only.title))])
        if contact.campaign_id is None or contact.campaign_id == only.id:
            return Selection(only)
        # The picked campaign was closed: back to the only open one, where the officer is.
        choose_campaign(ctx.tx, contact.id, None)
        notice = _closed_notice(ctx, contact.campaign_id)
        return Selection(only, notice, restart=True)
    codes = [campaign.code for campaign in opened]
    picked: int | None = None
    if inbound.choice and inbound.context == campaign_menu.MENU_CONTEXT:
        picked = codes.index(inbound.choice) if inbound.choice in codes else None
    elif command == campaign_menu.SWITCH_COMMAND or (
        not inbound.choice and campaign_menu.is_switch(text)
    ):
        picked = campaign_menu.read_pick(argument, codes) if argument else None
        if picked is None:
            choose_campaign(ctx.tx, contact.id, None)
            return Selection(None, [_menu(ctx, opened)])
    else:
        current = next((c for c in opened if c.id == contact.campaign_id), None)
        if current is not None:
            return Selection(current, label=campaign_menu.prefix_line(current.title))
        if not inbound.choice:
            picked = campaign_menu.read_pick(text, codes)
    if picked is None:
        notice = _closed_notice(ctx, contact.campaign_id)
        answered = bool(text) and not text.startswith("/")  # an answer typed before picking
        return Selection(None, [*notice, _menu(ctx, opened, asked_again=answered and not notice)])
    campaign = opened[picked]
    choose_campaign(ctx.tx, contact.id, campaign.id)
    return Selection(campaign, label=campaign_menu.prefix_line(campaign.title), restart=True)


def contact_campaign(ctx: Context) -> Campaign | None:
    """The campaign the officer is filling in, for what is not a dialogue step (a file sent,
    «/status»): the picked one, else the latest open one, else the latest closed one."""
    unit = ctx.contact.unit
    opened, closed = unit_campaigns(ctx.tx, unit.code, unit.group, unit.level)
    picked = next((c for c in opened if c.id == ctx.contact.campaign_id), None)
    return picked or (opened[0] if opened else closed)


def _menu(ctx: Context, opened: list[Campaign], *, asked_again: bool = False) -> Outbound:
    zone = campaign_spec(opened[0]).zone
    choices = campaign_menu.menu_choices([(c.code, c.title, c.deadline) for c in opened], zone)
    text = campaign_menu.menu_text(ctx.contact.unit.name, len(opened), asked_again=asked_again)
    return Outbound(text, choices, context=campaign_menu.MENU_CONTEXT, numbered=True)


def _closed_notice(ctx: Context, campaign_id: int | None) -> list[Outbound]:
    """Why the officer's picked campaign no longer takes answers (nothing if it still would)."""
    if campaign_id is None:
        return []
    campaign = ctx.session.get(Campaign, campaign_id)
    if campaign is None or campaign.state == "open":
        return []
    return [Outbound(campaign_menu.closed_text(campaign.title))]
