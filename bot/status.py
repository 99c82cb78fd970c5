"""Progress texts shared by the chat and the command line: the secretariat's summary
(`status_text`) and one unit's own standing (`unit_status_text`).

Counts and the unit tree come from `exports.consolidation`, as in the workbook."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.deadlines import campaign_deadlines
from bot.signed_intake import signed_summary
from conversations.campaigns import days_left
from conversations.labels import STATUS_TITLES, group_title
from conversations.messages import format_deadline, late_phrase
from conversations.statuses import SubmissionStatus
from exports.consolidation import Deadlines, UnitTree, counts, late, status_counts
from storage.models import Campaign, Unit
from storage.progress import UnitProgress, campaign_progress
from storage.repository import campaign_spec
from storage.signed_reports import signed_reports


def status_text(
    campaign: Campaign, progress: list[UnitProgress], now: datetime, deadlines: Deadlines
) -> str:
    """A phone-readable summary: counts, late submissions, then who has not submitted, in the
    unit tree (a unit beneath its own parent, shown for context when it has submitted). Each
    unit is late against its own deadline (Gia hạn) when it has one."""
    spec = campaign_spec(campaign)
    left = days_left(campaign.deadline, now, spec.zone)
    if left > 0:
        when = f"còn {left} ngày"
    elif left == 0:
        when = "hôm nay là ngày cuối"
    else:
        when = f"đã quá hạn {-left} ngày"
    tally = status_counts(progress)
    lines = [
        campaign.title,
        f"Hạn nộp: {format_deadline(campaign.deadline, spec.zone)} ({when})",
        f"Đã nộp {tally[SubmissionStatus.SUBMITTED]}/{len(progress)} · "
        f"đang điền {tally[SubmissionStatus.IN_PROGRESS]} · "
        f"chưa bắt đầu {tally[SubmissionStatus.NOT_STARTED]}",
    ]
    late_submissions = [
        (item, phrase)
        for item in progress
        if item.done
        and item.submitted_at
        and (phrase := late_phrase(deadlines.of(item.code), item.submitted_at))
    ]
    if late_submissions:
        lines.append("Nộp muộn:")
    for item, phrase in late_submissions:
        lines.append(f" • {item.unit.name} ({item.unit.code}): {phrase}")
    overdue = {item.code for item in late(progress, deadlines, now)}
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
            if item.status in (SubmissionStatus.IN_PROGRESS, SubmissionStatus.RETURNED):
                state += f" {item.answered}/{item.total} câu"
            if item.code in overdue:
                state += " · quá hạn"
            elif item.code in deadlines.own and not counts(item.status):
                state += f" · gia hạn đến {format_deadline(deadlines.of(item.code), spec.zone)}"
            lines.append(f"{indent}{item.unit.name} ({item.unit.code}): {state}")
    return "\n".join(lines)


def signed_reports_line(progress: list[UnitProgress], sent_codes: set[str]) -> str:
    """The written report beside the figures: of the units that submitted their figures, how
    many sent the signed report, and which have not yet (empty before any unit submitted)."""
    submitted = [item for item in progress if item.done]
    if not submitted:
        return ""
    missing = [item.unit.code for item in submitted if item.unit.code not in sent_codes]
    line = (
        f"Báo cáo có chữ ký: {len(submitted) - len(missing)}/{len(submitted)} đơn vị đã nộp số "
        "liệu đã gửi"
    )
    if missing:
        shown = ", ".join(missing[:10]) + (
            f" và {len(missing) - 10} đơn vị khác" if len(missing) > 10 else ""
        )
        line += f"; chưa gửi: {shown}"
    return line + "."


def undelivered_line(failed: int) -> str:
    """The secretariat's warning about replies given up on (empty when there are none)."""
    if not failed:
        return ""
    return (
        f"⚠ {failed} tin nhắn chưa gửi được (người vận hành xem bằng "
        "«baocao outbox list --failed», gửi lại bằng «baocao outbox retry»)."
    )


def _still_open(tree: UnitTree, item: UnitProgress) -> bool:
    """Not submitted, or the parent of a unit that has not submitted (shown for context)."""
    return any(not counts(member.status) for member, _ in tree.walk(item))


def unit_status_text(session: Session, campaign: Campaign, unit_id: int, now: datetime) -> str:
    unit = session.get(Unit, unit_id)
    progress = next((p for p in campaign_progress(session, campaign) if p.unit.id == unit.id), None)
    spec = campaign_spec(campaign)
    own_deadline = campaign_deadlines(session, campaign).of(unit.code)
    left = days_left(own_deadline, now, spec.zone)
    deadline = format_deadline(own_deadline, spec.zone)
    if progress is None:
        return f"{unit.name} không thuộc đợt báo cáo {campaign.title}."
    done_at = progress.submitted_at if progress.done else None
    late = late_phrase(own_deadline, done_at) if done_at else ""
    files = signed_reports(session, progress.submission_id) if progress.submission_id else []
    return (
        f"{unit.name}: {STATUS_TITLES[progress.status]}{f' ({late})' if late else ''}, "
        f"đã trả lời {progress.answered}/{progress.total} câu.\n"
        f"Số liệu: {STATUS_TITLES[progress.status]} · {signed_summary(files)}.\n"
        f"Hạn nộp: {deadline}" + (f" (còn {left} ngày)." if left > 0 else ".")
    )
