"""An officer's message in the report's conversation: the engine (or the narrative) run on
the officer's campaign, and everything it decided written in the same transaction.

`converse` picks the campaign (`bot.campaign_choice`), loads the unit's answers and place in the
dialogue (plain SQL, `storage.hot_path`: this is the hot path), steps `conversations.engine` or
`conversations.narrative`, writes the answers, the submission's status and the dialogue, and
returns the replies. A submission without its signed report asks for it in the same message
(`upload_prompt`). Called by `bot.service.Service` inside the message's transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot import campaign_choice
from bot.documents.word_reports import REPORT_KIND, campaign_outline
from bot.message_context import Context
from bot.messaging import Attachment, Outbound
from bot.signed_intake import Uploads, signed_lines, upload_link
from conversations import lifecycle, narrative
from conversations.campaigns import CampaignSpec
from conversations.engine import CampaignBrief, Press, SaveAnswer, State, SubmitReport, Text, step
from conversations.uploads import ASK_FOR_SIGNED_TEXT
from storage.hot_path import (
    engine_answers,
    load_answers,
    load_dialogue,
    open_submission,
    own_deadline,
    record_submission,
    save_dialogue,
    signed_briefs,
    write_answer,
)
from storage.repository import StorageError, campaign_form, campaign_spec

__all__ = ["NO_OUTLINE_TEXT", "UPLOAD_WORDS", "converse", "upload_prompt"]

UPLOAD_WORDS = frozenset({"/guibaocao", "gui bao cao", "gui tep", "tai len"})
NO_OUTLINE_TEXT = (
    "Đợt báo cáo này chưa có Đề cương báo cáo nên chưa viết được phần lời văn trong trò chuyện. "
    "Đồng chí vẫn điền Phụ lục số liệu như thường."
)


def converse(ctx: Context, text: str, *, public_url: str, uploads: Uploads) -> list[Outbound]:
    """Run the engine for an officer; every read and write here is on the hot path."""
    tx, contact, now = ctx.tx, ctx.contact, ctx.now
    unit = contact.unit
    selection = campaign_choice.select(ctx, text)
    campaign = selection.campaign
    if campaign is None:
        return selection.replies
    if selection.restart:  # just picked: show where the officer is in that campaign
        text = "/tiep"
        ctx.inbound = replace(ctx.inbound, text=text, choice=None, context="")
    form = campaign_form(campaign)
    submission = open_submission(tx, campaign.id, contact.unit_id)
    # A few whole-message words switch what the officer is doing; only short texts can be one.
    typed = "" if ctx.inbound.choice or len(text) > 40 else narrative.command_words(text)
    opening = typed in narrative.OPEN_WORDS
    if typed in UPLOAD_WORDS:
        return selection.finish(
            [upload_prompt(ctx, campaign.id, public_url=public_url, uploads=uploads)]
        )
    signed = signed_briefs(tx, submission.id)
    rows = load_answers(tx, submission.id)
    state_id, dialogue = load_dialogue(tx, contact.id, campaign.id, submission.id)
    state = State(
        dialogue=dialogue,
        answers=engine_answers(rows),
        level=unit.level,
        status=submission.status,
        unit_name=unit.name,
        submitted_at=submission.submitted_at,
        campaign=_brief(campaign_spec(campaign), own_deadline(tx, campaign.id, contact.unit_id)),
        buttons=ctx.traits.buttons,
        signed_reports=tuple(signed_lines(signed)),
    )
    inbound = ctx.inbound
    event = Press(inbound.choice, inbound.context) if inbound.choice else Text(text)
    replies: list[Outbound] = []
    effects: list = []
    place = narrative.Place.from_json(dialogue.narrative)
    pressed = inbound.choice or ""
    # «điểm N» names a point of the report from anywhere (the Phụ lục has «câu N»).
    to_point = narrative.wants_point(typed)
    wants_narrative = pressed.startswith("n-") if pressed else place.active or opening or to_point
    new_state = state
    if wants_narrative:
        try:
            outline = campaign_outline(campaign, form)
        except StorageError:
            outline = None
            replies.append(Outbound(NO_OUTLINE_TEXT))
        if outline is not None:
            told = narrative.NarrativeState(
                place,
                narrative.narrative_texts({key: row.value for key, row in rows.items()}),
                submission.status,
                unit.name,
                ctx.traits.buttons,
            )
            if opening:
                told, effects = narrative.open_narrative(told, outline)
            else:
                told, effects = narrative.step(told, event, outline, now)
            place = told.place
            if any(isinstance(effect, narrative.Leave) for effect in effects):
                wants_narrative = False
    elif place.active:
        place.active = False  # a Phụ lục button under an older message
    state.dialogue.narrative = place.to_json() if place.active or place.point else None
    if not wants_narrative:
        new_state, more = step(state, event, form, now)
        effects += more
    status = new_state.status
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
            status = lifecycle.after(status, lifecycle.Event.ANSWER)
        elif isinstance(effect, SubmitReport):
            submitted_by = contact.id
        elif isinstance(effect, narrative.SendDraft):
            attachment = Attachment(campaign.id, unit.code, kind=REPORT_KIND)
            caption = f"Dự thảo báo cáo của {unit.name} (tệp Word)."
            replies.append(Outbound(caption, attachment=attachment))
        elif isinstance(effect, narrative.Leave):
            continue
        else:
            replies.append(Outbound.from_reply(effect))
    if submitted_by is not None and not signed and replies:
        # Said in the submission's own message: one message more costs Zalo quota.
        prompt = upload_prompt(
            ctx, campaign.id, public_url=public_url, uploads=uploads, lead=ASK_FOR_SIGNED_TEXT
        )
        last = replies[-1]
        replies[-1] = replace(last, text=f"{last.text}\n\n{prompt.text}")
    record_submission(tx, submission, status=status, now=now, submitted_by=submitted_by)
    save_dialogue(
        tx,
        state_id,
        contact_id=contact.id,
        campaign_id=campaign.id,
        submission_id=submission.id,
        dialogue=new_state.dialogue,
        now=now,
    )
    return selection.finish(replies)


def upload_prompt(
    ctx: Context, campaign_id: int, *, public_url: str, uploads: Uploads, lead: str = ""
) -> Outbound:
    """How to send the signed report: into the chat, or by a single-use link (Zalo)."""
    secrets: tuple[str, ...] = ()
    if ctx.traits.receives_files:
        how = "Đồng chí gửi tệp báo cáo có chữ ký (PDF, Word hoặc ảnh chụp) vào đây."
    else:
        link = upload_link(
            ctx.session,
            ctx.now,
            public_url,
            campaign_id=campaign_id,
            unit_id=ctx.contact.unit_id,
            contact_id=ctx.contact.id,
        )
        how = (
            f"Gửi tệp báo cáo có chữ ký tại: {link}\n"
            "Đường liên kết dùng được một lần, trong 24 giờ; mở bằng trình duyệt trên điện "
            "thoại hoặc máy tính. Cần đường liên kết mới: gõ «gửi báo cáo»."
        )
        secrets = (link,)
    limits = uploads.limits.describe()
    text = "\n".join(part for part in (lead, how, f"Nhận tệp {limits}.") if part)
    return Outbound(text, secrets=secrets)


def _brief(spec: CampaignSpec, own: datetime | None = None) -> CampaignBrief:
    """What the engine says about the round (opening, late submission); `own` is the unit's
    own deadline when the Ban Dân vận extended it."""
    return CampaignBrief(
        issued_by=spec.issued_by,
        receiver=spec.receiver or "Ban Dân vận Tỉnh ủy",
        deadline=own or spec.deadline,
        period_start=spec.period_start,
        period_end=spec.period_end,
    )
