"""Progress texts shared by the chat and the command line: the secretariat's summary
(`status_text`, `status_counts`) and one unit's own standing (`unit_status_text`)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from conversations.campaigns import days_left
from conversations.labels import STATUS_TITLES, group_title
from conversations.messages import format_moment
from storage.models import Campaign, Unit
from storage.progress import UnitProgress, campaign_progress
from storage.repository import campaign_spec


def status_text(campaign: Campaign, progress: list[UnitProgress], now: datetime) -> str:
    """A phone-readable summary: counts, then who has not submitted, by group and parent."""
    spec = campaign_spec(campaign)
    left = days_left(campaign.deadline, now, spec.zone)
    if left > 0:
        when = f"còn {left} ngày"
    elif left == 0:
        when = "hôm nay là ngày cuối"
    else:
        when = f"đã quá hạn {-left} ngày"
    counts = status_counts(progress)
    deadline = format_moment(campaign.deadline, spec.zone)
    lines = [
        campaign.title,
        f"Hạn nộp: trước {deadline} ({when})",
        f"Đã nộp {counts['submitted']}/{len(progress)} · đang điền {counts['in_progress']} · "
        f"chưa bắt đầu {counts['not_started']}",
    ]
    missing = [p for p in progress if not p.done]
    if not missing:
        lines.append("Tất cả đơn vị đã nộp.")
        return "\n".join(lines)
    lines.append("")
    lines.append("Chưa nộp:")
    for group in sorted({p.unit.group or "" for p in missing}):
        lines.append(f"■ {group_title(group)}")
        members = [p for p in missing if (p.unit.group or "") == group]
        for item in sorted(members, key=_parent_order):
            indent = "   ↳ " if item.parent else " • "
            state = STATUS_TITLES[item.status]
            if item.status in ("in_progress", "returned"):
                state += f" {item.answered}/{item.total} câu"
            lines.append(f"{indent}{item.unit.name} ({item.unit.code}): {state}")
    return "\n".join(lines)


def status_counts(progress: list[UnitProgress]) -> dict[str, int]:
    """Submitted (or approved) / in progress (or returned) / not started."""
    counts = {"submitted": 0, "in_progress": 0, "not_started": 0}
    for item in progress:
        if item.done:
            counts["submitted"] += 1
        elif item.status == "not_started":
            counts["not_started"] += 1
        else:
            counts["in_progress"] += 1
    return counts


def _parent_order(item: UnitProgress) -> tuple[str, int, str]:
    root = item.parent.code if item.parent else item.unit.code
    return (root, 1 if item.parent else 0, item.unit.code)


def unit_status_text(session: Session, campaign: Campaign, unit_id: int, now: datetime) -> str:
    unit = session.get(Unit, unit_id)
    progress = next((p for p in campaign_progress(session, campaign) if p.unit.id == unit.id), None)
    spec = campaign_spec(campaign)
    left = days_left(campaign.deadline, now, spec.zone)
    deadline = format_moment(campaign.deadline, spec.zone)
    if progress is None:
        return f"{unit.name} không thuộc đợt báo cáo {campaign.title}."
    return (
        f"{unit.name}: {STATUS_TITLES[progress.status]}, "
        f"đã trả lời {progress.answered}/{progress.total} câu.\n"
        f"Hạn nộp: trước {deadline}" + (f" (còn {left} ngày)." if left > 0 else ".")
    )
