"""What each page shows, read from storage in the request's transaction: the overview, the unit
list, one unit and the action log. Counts, the unit tree and what counts come from
`exports.consolidation` and `storage.progress`, as in `/status` and the workbook; each unit's
deadline (the campaign's, or the unit's own after Gia hạn) is read by
`bot.deadlines.campaign_deadlines` and asked of `exports.consolidation.Deadlines`, as everywhere.

The province-wide tree comes from the shared `progress_cache.ProgressCache`; what a page derives
from it (per scope and minute) is kept with it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from bot.use_cases import Actor, scope_unit_ids
from bot.web.staff import review
from bot.web.staff.campaigns import page_campaign
from bot.web.staff.charts import GroupBar, group_bars, submissions_line
from bot.web.staff.progress_cache import ProgressCache, Snapshot
from bot.web.staff.wording import channel_title, role_title, until_text, waited_text
from conversations.campaigns import days_left
from conversations.formatting import format_value
from conversations.forms import Form, Question
from conversations.labels import GROUP_ORDER, group_title, status_title
from conversations.messages import format_deadline, format_moment
from conversations.statuses import SubmissionStatus
from exports.consolidation import counts
from storage.models import Answer, AnswerHistory, Campaign, Contact, Invite, Submission, Unit
from storage.progress import UnitProgress
from storage.repository import campaign_form, campaign_spec
from storage.signed_reports import unit_signed_reports
from storage.staff_store import list_actions

STATUSES = tuple(SubmissionStatus)
ACTION_TITLES = {
    "approve": "Duyệt",
    "return": "Trả lại",
    "extend": "Gia hạn",
    "remind": "Nhắc",
    "invite": "Mời",
    "web_link": "Liên kết đăng nhập web",
    "sign_in": "Đăng nhập web",
    "export": "Tải về",
    "remove_member": "Gỡ cán bộ",
}
SURFACE_TITLES = {"chat": "Trò chuyện", "cli": "Dòng lệnh", "web": "Trang web"}
NEEDS_ACTION_LIMIT = 30


@dataclass
class Row:
    """One unit in the overview and the list."""

    progress: UnitProgress
    depth: int
    deadline: datetime
    late: bool

    @property
    def unit(self) -> Unit:
        return self.progress.unit

    @property
    def status_title(self) -> str:
        return status_title(self.progress.status)


@dataclass
class Standing:
    campaign: Campaign
    rows: list[Row]
    zone: object
    now: datetime
    tally: dict[str, int] = field(default_factory=dict)
    snapshot: Snapshot | None = None


def standing(
    session: Session,
    actor: Actor,
    now: datetime,
    cache: ProgressCache,
    campaign_code: str | None = None,
) -> Standing:
    """Every unit of the actor's scope in the campaign shown (`campaign_code`, else the only
    or latest open one), in the export's tree order."""
    campaign = page_campaign(session, campaign_code)
    snapshot = cache.get(session, campaign)
    minute = now.replace(second=0, microsecond=0)
    return cache.derived(
        snapshot,
        ("standing", actor.scope_unit_id, minute),
        lambda: _standing(session, actor, minute, campaign, snapshot),
    )


def _standing(
    session: Session, actor: Actor, now: datetime, campaign: Campaign, snapshot: Snapshot
) -> Standing:
    allowed = scope_unit_ids(session, actor)
    rows = []
    for item, depth in snapshot.ordered:
        if allowed is not None and item.unit.id not in allowed:
            continue
        deadline = snapshot.deadlines.of(item.code)
        late = not counts(item.status) and now >= deadline
        rows.append(Row(item, depth, deadline, late))
    tally = {
        SubmissionStatus.SUBMITTED: 0,
        SubmissionStatus.IN_PROGRESS: 0,
        SubmissionStatus.NOT_STARTED: 0,
        "late": 0,
    }
    for row in rows:
        status = row.progress.status
        if counts(status):
            tally[SubmissionStatus.SUBMITTED] += 1
        elif status == SubmissionStatus.NOT_STARTED:
            tally[SubmissionStatus.NOT_STARTED] += 1
        else:
            tally[SubmissionStatus.IN_PROGRESS] += 1
        tally["late"] += row.late
    return Standing(campaign, rows, campaign_spec(campaign).zone, now, tally, snapshot)


def overview(
    session: Session, actor: Actor, now: datetime, cache: ProgressCache, campaign_code=None
) -> dict:
    state = standing(session, actor, now, cache, campaign_code)
    return cache.derived(
        state.snapshot, ("overview", actor.scope_unit_id, state.now), lambda: _overview(state)
    )


def _overview(state: Standing) -> dict:
    now = state.now
    campaign, zone = state.campaign, state.zone
    left = days_left(campaign.deadline, now, zone)
    bars = []
    by_group: dict[str | None, Counter] = {}
    for row in state.rows:
        status = row.progress.status
        key = SubmissionStatus.SUBMITTED if counts(status) else status
        key = SubmissionStatus.IN_PROGRESS if key == SubmissionStatus.RETURNED else key
        by_group.setdefault(row.progress.group, Counter())[key] += 1
    for group in sorted(by_group, key=group_rank):
        tally = by_group[group]
        bars.append(
            GroupBar(
                group_title(group),
                tally[SubmissionStatus.SUBMITTED],
                tally[SubmissionStatus.IN_PROGRESS],
                tally[SubmissionStatus.NOT_STARTED],
            )
        )
    days, cumulative = _submissions_per_day(state, campaign, zone)
    needing = sorted((row for row in state.rows if _needs_action(row)), key=_longest_waiting)
    return {
        "standing": state,
        "deadline_text": format_deadline(campaign.deadline, zone),
        "days_left": left,
        "bars": group_bars(bars),
        "line": submissions_line(
            days,
            cumulative,
            len(state.rows),
            campaign.deadline.astimezone(zone).date(),
            now.astimezone(zone).date(),
        ),
        "needing": needing[:NEEDS_ACTION_LIMIT],
        "waited": lambda row: waited_text(waiting_since(row), now),
        "day": lambda moment: until_text(moment, zone),
        "needing_total": len(needing),
    }


def group_rank(group: str | None) -> tuple:
    return (GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER), group or "")


def _needs_action(row: Row) -> bool:
    return (
        row.progress.status in (SubmissionStatus.SUBMITTED, SubmissionStatus.RETURNED) or row.late
    )


def waiting_since(row: Row) -> datetime | None:
    """Since when a unit has waited for the secretariat or been late: a report waiting for
    approval since it was sent, a late unit since its deadline, a returned one since its last
    activity."""
    status = row.progress.status
    if status == SubmissionStatus.SUBMITTED:
        return row.progress.submitted_at
    if row.late:
        return row.deadline
    return row.progress.last_activity_at


def _longest_waiting(row: Row) -> tuple:
    """The one waiting longest first; a report waiting for approval before a late unit."""
    since = waiting_since(row)
    rank = 0 if row.progress.status == SubmissionStatus.SUBMITTED else 1 if row.late else 2
    return (since.timestamp() if since else float("inf"), rank, row.unit.code)


def _submissions_per_day(state: Standing, campaign: Campaign, zone) -> tuple[list[date], list[int]]:
    """From the campaign's creation (at most 60 days back) to the deadline, or today if later."""
    submitted = [
        row.progress.submitted_at.astimezone(zone).date()
        for row in state.rows
        if counts(row.progress.status) and row.progress.submitted_at
    ]
    deadline = campaign.deadline.astimezone(zone).date()
    today = state.now.astimezone(zone).date()
    end = max(deadline, today)
    start = min([campaign.created_at.astimezone(zone).date(), *submitted])
    start = max(start, end - timedelta(days=60))
    per_day = Counter(max(day, start) for day in submitted)
    days, cumulative, running = [], [], 0
    day = start
    while day <= end:
        running += per_day.get(day, 0)
        days.append(day)
        cumulative.append(running)
        day += timedelta(days=1)
    return days, cumulative


# --- one unit ----------------------------------------------------------------------------------


@dataclass
class AnswerView:
    question: Question
    section: str | None
    shown: str
    state: str  # answered | na | missing
    note: str | None
    history: list[dict]


def unit_page(
    session: Session,
    actor: Actor,
    now: datetime,
    code: str,
    cache: ProgressCache,
    campaign_code: str | None = None,
) -> dict | None:
    """Everything about one unit of the actor's scope; None when it is outside (or unknown)."""
    state = standing(session, actor, now, cache, campaign_code)
    row = next((r for r in state.rows if r.unit.code.upper() == code.strip().upper()), None)
    if row is None:
        return None
    campaign, unit = state.campaign, row.unit
    form = campaign_form(campaign)
    submission = session.exec(
        select(Submission).where(
            Submission.campaign_id == campaign.id, Submission.unit_id == unit.id
        )
    ).first()
    answers: dict[str, Answer] = {}
    history: dict[str, list[AnswerHistory]] = {}
    if submission is not None:
        answers = {
            a.question_key: a
            for a in session.exec(select(Answer).where(Answer.submission_id == submission.id))
        }
        for change in session.exec(
            select(AnswerHistory)
            .where(AnswerHistory.submission_id == submission.id)
            .order_by(col(AnswerHistory.at), col(AnswerHistory.id))
        ):
            history.setdefault(change.question_key, []).append(change)
    people = _contact_names(session, history)
    parent, children = review.relatives(state, row)
    views, last_section = [], None
    for question in form.questions_for(unit.level):
        section = _section_title(form, question)
        answer = answers.get(question.key)
        views.append(
            AnswerView(
                question=question,
                section=section if section != last_section else None,
                shown=_shown(
                    question,
                    answer.value if answer else None,
                    bool(answer and answer.not_applicable),
                ),
                state=_state(answer),
                note=answer.note if answer else None,
                history=[
                    {
                        "old": _shown(
                            question,
                            h.old_value,
                            bool(h.old_not_applicable),
                            first=h.old_not_applicable is None and h.old_value is None,
                        ),
                        "new": _shown(question, h.new_value, h.new_not_applicable),
                        "note_only": h.old_value == h.new_value
                        and bool(h.old_not_applicable) == h.new_not_applicable,
                        "note": h.note,
                        "who": people.get(h.contact_id, "—"),
                        "when": format_moment(h.at, state.zone),
                        "channel": channel_title(h.channel),
                    }
                    for h in history.get(question.key, [])
                ],
            )
        )
        last_section = section
    officers = session.exec(
        select(Contact)
        .where(Contact.unit_id == unit.id, Contact.role == "officer")
        .order_by(Contact.id)
    ).all()
    invites = session.exec(
        select(Invite)
        .where(Invite.unit_id == unit.id, Invite.role == "officer")
        .order_by(col(Invite.created_at).desc())
    ).all()
    return {
        "standing": state,
        "row": row,
        "unit": unit,
        "submission": submission,
        "answers": views,
        "officers": [
            {
                "name": c.display_name or f"#{c.id}",
                "channel": channel_title(c.channel),
                "active": c.active,
                "last_seen": format_moment(c.last_seen_at, state.zone)
                if c.last_seen_at
                else "chưa",
            }
            for c in officers
        ],
        "invites": [
            {
                "code": f"mã #{invite.id}",  # only the code's hash is kept
                "created": format_moment(invite.created_at, state.zone),
                "state": _invite_state(invite, now, state.zone),
            }
            for invite in invites[:10]
        ],
        "deadline_text": review.deadline_text(row, campaign.deadline, state.zone),
        "lateness": review.lateness_text(row, now),
        "resubmissions": review.resubmission_text(
            review.returns_count(session, unit.id, campaign.created_at), row.progress.status
        ),
        "findings": review.family_findings(session, form, state, row),
        "warnings": review.confirmed_warnings(form, unit.level, answers, lambda _key: 0),
        "notes": [(view.question, view.note) for view in views if view.note],
        "parent": parent,
        "children": children,
        "live_invite": next((i for i in invites if live_invite(i, now)), None),
        "extend_min": extend_min(row.deadline, now, state.zone),
        "extended": row.deadline != campaign.deadline,
        "last_activity": format_moment(row.progress.last_activity_at, state.zone)
        if row.progress.last_activity_at
        else "chưa có",
        "submitted_at": format_moment(row.progress.submitted_at, state.zone)
        if row.progress.submitted_at
        else None,
        "signed": [
            {
                "id": report.id,
                "name": report.file_name,
                "size": _file_size(report.size),
                "when": format_moment(report.received_at, state.zone),
                "who": sender or "—",
            }
            for report, sender in unit_signed_reports(session, campaign, unit.id)
        ],
        "log": [
            _log_entry(action, u, state.zone)
            for action, u in list_actions(session, unit_ids={unit.id}, limit=20)
        ],
    }


def live_invite(invite: Invite, now: datetime) -> bool:
    return invite.used_at is None and invite.expires_at > now


def extend_min(deadline: datetime, now: datetime, zone) -> str:
    """The first day Gia hạn may give: not before today, and after the current deadline (a
    deadline at 00:00 of the 11th already runs to the end of the 10th)."""
    today = now.astimezone(zone).date()
    current = (deadline - timedelta(microseconds=1)).astimezone(zone).date()
    return max(today, current + timedelta(days=1)).isoformat()


def _file_size(size: int) -> str:
    """43 -> "43 byte" (as the workbook says), 1 234 567 -> "1,2 MB" (decimal comma)."""
    if size < 1024:
        return f"{size} byte"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB".replace(".", ",")


def _section_title(form: Form, question: Question) -> str | None:
    """ "Mục 4.3. Kết quả giải quyết đơn thư khiếu nại", numbered as the Phụ lục numbers it."""
    try:
        return f"Mục {question.section}. {form.section(question.section).title}"
    except (KeyError, ValueError, StopIteration):
        return None


def _state(answer: Answer | None) -> str:
    if answer is None or (answer.value is None and not answer.not_applicable):
        return "missing"
    return "na" if answer.not_applicable else "answered"


def _shown(
    question: Question, value: dict | None, not_applicable: bool, *, first: bool = False
) -> str:
    if first:
        return "(chưa có)"
    if not_applicable:
        return "Không áp dụng"
    if value is None:
        return "Chưa trả lời"
    try:
        return format_value(question.kind, value, unit=question.unit)
    except ValueError:
        return str(value)


def _contact_names(session: Session, history: dict[str, list[AnswerHistory]]) -> dict[int, str]:
    ids = {h.contact_id for changes in history.values() for h in changes if h.contact_id}
    if not ids:
        return {}
    rows = session.exec(select(Contact.id, Contact.display_name).where(col(Contact.id).in_(ids)))
    return {contact_id: name or f"#{contact_id}" for contact_id, name in rows}


def _invite_state(invite: Invite, now: datetime, zone) -> str:
    if invite.used_at is not None:
        return f"đã dùng lúc {format_moment(invite.used_at, zone)}"
    if invite.expires_at <= now:
        return "hết hạn"
    return f"còn hiệu lực đến {format_moment(invite.expires_at, zone)}"


# --- the action log ------------------------------------------------------------------------------


def action_log(session: Session, actor: Actor, now: datetime, *, surface: str, action: str) -> dict:
    campaign = page_campaign(session, None)  # for its time zone only
    zone = campaign_spec(campaign).zone
    allowed = scope_unit_ids(session, actor)
    entries = list_actions(
        session,
        unit_ids=allowed,
        surface=surface if surface in SURFACE_TITLES else None,
        action=action if action in ACTION_TITLES else None,
    )
    return {
        "entries": [_log_entry(a, u, zone) for a, u in entries],
        "surfaces": list(SURFACE_TITLES.items()),
        "actions": list(ACTION_TITLES.items()),
        "surface": surface,
        "action": action,
    }


def _log_entry(action, unit: Unit | None, zone) -> dict:
    detail = action.detail or ""
    if action.action == "invite":
        detail = role_title(detail)
    return {
        "when": format_moment(action.at, zone),
        "who": action.actor,
        "surface": SURFACE_TITLES.get(action.surface, action.surface),
        "what": ACTION_TITLES.get(action.action, action.action),
        "unit": unit,
        "detail": detail,
    }
