"""Secretariat commands (`/status`, `/export`, `/remind`, `/invite`, `/tralai`) and the progress
texts shared by the bot and the CLI.

Only contacts linked with a secretariat invite reach `handle_command`; an officer typing one of
these gets the same answer as for any unknown command.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, select

from bot.messaging import Attachment, Outbound
from conversations.campaigns import days_left
from conversations.labels import STATUS_TITLES, group_title
from conversations.messages import format_deadline, format_moment, late_phrase, render
from exports.consolidation import UnitTree, status_counts
from exports.consolidation import counts as counts_in_totals
from storage.hot_path import enqueue
from storage.models import Campaign, Contact, Unit
from storage.progress import UnitProgress, campaign_progress
from storage.repository import (
    StorageError,
    campaign_spec,
    create_invite,
    current_campaign,
    return_submission,
    submission_for,
    unit_by_code,
)

if TYPE_CHECKING:
    from bot.service import Context, Service

HELP_TEXT = (
    "Lệnh dành cho cán bộ tổng hợp (Ban Dân vận Tỉnh ủy):\n"
    "/status — tiến độ nộp báo cáo của các đơn vị\n"
    "/export — tải bảng tổng hợp Excel; /export MÃ_ĐƠN_VỊ — Phụ lục của một đơn vị\n"
    "/remind — nhắc ngay các đơn vị chưa nộp\n"
    "/invite MÃ_ĐƠN_VỊ — tạo mã mời cho cán bộ đầu mối\n"
    "/tralai MÃ_ĐƠN_VỊ lý do — trả lại báo cáo để đơn vị sửa"
)
UNKNOWN_COMMAND_TEXT = "Lệnh không rõ. Gõ /help để xem hướng dẫn."
# Set by the reminders module: (session, campaign, now) -> number of messages queued.
remind_now: Callable | None = None


def handle_command(service: Service, ctx: Context, command: str | None, argument: str):
    session, now = ctx.session, ctx.now
    try:
        if command == "status":
            campaign = current_campaign(session)
            return [Outbound(status_text(campaign, campaign_progress(session, campaign), now))]
        if command == "export":
            return [export_reply(service, ctx, argument)]
        if command == "invite":
            return [invite_reply(service, ctx, argument)]
        if command == "remind":
            if remind_now is None:
                return [Outbound("Chức năng nhắc hạn chưa được bật.")]
            count = remind_now(session, current_campaign(session), now)
            return [Outbound(f"Đã xếp lịch gửi {count} tin nhắc tới các đơn vị chưa nộp.")]
        if command == "tralai":
            return [return_reply(ctx, argument)]
        if command in ("help", "start", None):
            return [Outbound(HELP_TEXT)]
    except StorageError as error:
        return [Outbound(f"Không thực hiện được: {error}.")]
    return [Outbound(UNKNOWN_COMMAND_TEXT)]


def status_text(campaign: Campaign, progress: list[UnitProgress], now: datetime) -> str:
    """A phone-readable summary: counts, then who has not submitted, in the unit tree.

    The tree and the counts come from `exports.consolidation`, as in the workbook: a unit is
    listed beneath its own parent (shown for context when it has submitted).
    """
    spec = campaign_spec(campaign)
    left = days_left(campaign.deadline, now, spec.zone)
    if left > 0:
        when = f"còn {left} ngày"
    elif left == 0:
        when = "hôm nay là ngày cuối"
    else:
        when = f"đã quá hạn {-left} ngày"
    counts = status_counts(progress)
    lines = [
        campaign.title,
        f"Hạn nộp: {format_deadline(campaign.deadline, spec.zone)} ({when})",
        f"Đã nộp {counts['submitted']}/{len(progress)} · đang điền {counts['in_progress']} · "
        f"chưa bắt đầu {counts['not_started']}",
    ]
    late = [
        (p, late_phrase(campaign.deadline, p.submitted_at))
        for p in progress
        if p.done and p.submitted_at and late_phrase(campaign.deadline, p.submitted_at)
    ]
    if late:
        lines.append("Nộp muộn:")
    for item, phrase in late:
        lines.append(f" • {item.unit.name} ({item.unit.code}): {phrase}")
    tree = UnitTree(progress)
    open_rows = [
        (group, [(item, depth) for item, depth in rows if _still_open(tree, item)])
        for group, rows in tree.groups()
    ]
    if not any(rows for _, rows in open_rows):
        lines.append("Tất cả đơn vị đã nộp.")
        return "\n".join(lines)
    lines.append("")
    lines.append("Chưa nộp:")
    for group, rows in open_rows:
        if not rows:
            continue
        lines.append(f"■ {group_title(group)}")
        for item, depth in rows:
            indent = "   " * depth + "↳ " if depth else " • "
            state = STATUS_TITLES[item.status]
            if item.status in ("in_progress", "returned"):
                state += f" {item.answered}/{item.total} câu"
            lines.append(f"{indent}{item.unit.name} ({item.unit.code}): {state}")
    return "\n".join(lines)


def _still_open(tree: UnitTree, item: UnitProgress) -> bool:
    """Not submitted, or the parent of a unit that has not submitted (shown for context)."""
    return any(not counts_in_totals(member.status) for member, _ in tree.walk(item))


def unit_status(ctx: Context) -> Outbound:
    session, contact = ctx.session, ctx.contact
    campaign = current_campaign(session)
    unit = session.get(Unit, contact.unit_id)
    progress = next((p for p in campaign_progress(session, campaign) if p.unit.id == unit.id), None)
    spec = campaign_spec(campaign)
    left = days_left(campaign.deadline, ctx.now, spec.zone)
    deadline = format_deadline(campaign.deadline, spec.zone)
    if progress is None:
        return Outbound(f"{unit.name} không thuộc đợt báo cáo {campaign.title}.")
    done_at = progress.submitted_at if progress.done else None
    late = late_phrase(campaign.deadline, done_at) if done_at else ""
    text = (
        f"{unit.name}: {STATUS_TITLES[progress.status]}{f' ({late})' if late else ''}, "
        f"đã trả lời {progress.answered}/{progress.total} câu.\n"
        f"Hạn nộp: {deadline}" + (f" (còn {left} ngày)." if left > 0 else ".")
    )
    return Outbound(text)


def export_reply(service: Service, ctx: Context, argument: str) -> Outbound:
    session = ctx.session
    campaign = current_campaign(session)
    unit = unit_by_code(session, argument) if argument else None
    what = f"Phụ lục của {unit.name}" if unit else "Bảng tổng hợp"
    if ctx.traits.sends_files:
        return Outbound(what, attachment=Attachment(campaign.id, unit.code if unit else None))
    link = service.download_link(session, campaign, unit, ctx.contact, ctx.now)
    return Outbound(f"{what} (Excel): {link}\nĐường liên kết dùng được trong 24 giờ.")


def invite_reply(service: Service, ctx: Context, argument: str) -> Outbound:
    if not argument:
        return Outbound("Cần mã đơn vị, ví dụ: /invite HU-NP")
    unit = unit_by_code(ctx.session, argument.split()[0])
    invite = create_invite(
        ctx.session, role="officer", unit=unit, now=ctx.now, valid_for=service.invite_valid_for
    )
    lines = [f"Mã mời cho {unit.name}: {invite.code}"]
    username = service.bot_usernames.get("telegram")
    if username:
        lines.append(f"Telegram: https://t.me/{username}?start={invite.code}")
    lines.append("Trên Zalo: gửi mã mời cho trợ lý. Hạn dùng: " + format_moment(invite.expires_at))
    return Outbound("\n".join(lines))


def return_reply(ctx: Context, argument: str) -> Outbound:
    code, _, reason = argument.partition(" ")
    if not code:
        return Outbound("Cần mã đơn vị, ví dụ: /tralai HU-NP Thiếu số liệu mục 4")
    session = ctx.session
    unit = unit_by_code(session, code)
    submission = submission_for(session, current_campaign(session), unit, lock=True)
    return_submission(session, submission, reason.strip(), ctx.now)
    notify_returned(session, unit, reason.strip(), ctx.now)
    return Outbound(f"Đã trả lại báo cáo của {unit.name}; các cán bộ đầu mối đã được báo.")


def notify_returned(session: Session, unit: Unit, reason: str, now: datetime) -> None:
    """Tell every active officer of the unit that their report is open again."""
    text = render("returned", unit_name=unit.name, reason=reason) + "\nGõ «xem» để sửa và nộp lại."
    contacts = session.exec(
        select(Contact).where(Contact.unit_id == unit.id, Contact.active, Contact.role == "officer")
    )
    for contact in contacts:
        enqueue(
            session,
            channel=contact.channel,
            chat_id=contact.chat_id,
            payload=Outbound(text).to_payload(),
            now=now,
            contact_id=contact.id,
            kind="notice",
            claimed=False,
        )
