"""When deadline reminders are due and what they say: pure functions, no database, `now` given.

A campaign's `reminders:` block becomes a list of `Slot`s, each with a stable identity string
that the reminder log stores once per contact:

    before:7:2030-03-07T08:00+07:00     7 days before the last day, at the configured hour
    before:0:2030-03-14T08:00+07:00     the last day ("trước ngày 15/3" → the 14th)
    overdue:1:2030-03-15T08:00+07:00    the first day after the deadline (daily, overdue_days)
    digest:before:7:2030-03-07T08:00+07:00   the secretariat's digest of the same morning
    manual:2030-03-10T10:15+07:00       `/remind` or `baocao remind`, to the minute

The time in the identity is the moment the slot is due after the rules below, in the campaign's
time zone:

1. the day: last day − N (`before`) or last day + N (`overdue`), at `hour`;
2. `weekends: false`: a `before` slot on Saturday/Sunday moves back to the Friday (so it still
   comes before the deadline), an `overdue` slot moves forward to the Monday;
3. quiet hours (e.g. 21:00-07:00): a slot inside them is deferred to the end of the quiet period;
   if that lands on a weekend with `weekends: false` it moves on to the Monday;
4. a `before` slot that ends up at or after the deadline is dropped; slots landing on the same
   moment are merged (one message, the one that was not moved or the nearest to the deadline).

`decide` tells which slots a tick must act on: a slot whose time has come is sent while it is
still useful — less than `grace_hours` after its time and before the next slot's time — and only
outside quiet hours (a catch-up waits for the quiet period to end). A slot that is no longer useful
is skipped (logged, not sent). Slots older than `LOOKBACK` (or the grace, if longer) are ignored
altogether, so a campaign whose deadline is long past does nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from conversations.campaigns import ReminderSchedule, days_left
from conversations.messages import format_deadline
from conversations.statuses import SubmissionStatus

LOOKBACK = timedelta(hours=24)
MIN_GRACE = timedelta(minutes=5)
SATURDAY = 5


@dataclass(frozen=True)
class Slot:
    """One scheduled reminder moment: `kind` is "before" or "overdue", `offset` in days."""

    kind: str
    offset: int
    at: datetime
    moved: bool = False

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.offset}:{_minute(self.at)}"

    @property
    def digest_key(self) -> str:
        return f"digest:{self.key}"


@dataclass(frozen=True)
class Decision:
    slot: Slot
    action: str  # "send" | "skip"


def _minute(moment: datetime) -> str:
    return moment.replace(second=0, microsecond=0).isoformat(timespec="minutes")


def manual_key(now: datetime, zone: ZoneInfo) -> str:
    """The slot of a reminder asked for by hand: one per minute, so a double tap sends once."""
    return f"manual:{_minute(now.astimezone(zone))}"


def last_day(deadline: datetime, zone: ZoneInfo) -> date:
    """The last calendar day to report: a deadline at 00:00 means "before that day"."""
    local = deadline.astimezone(zone)
    day = local.date()
    if local.time() == time(0, 0):
        day -= timedelta(days=1)
    return day


# --- quiet hours ------------------------------------------------------------------------


def in_quiet(moment: datetime, schedule: ReminderSchedule, zone: ZoneInfo) -> bool:
    window = schedule.quiet_window()
    if window is None or window[0] == window[1]:
        return False
    start, end = window
    clock = moment.astimezone(zone).time().replace(tzinfo=None)
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end


def after_quiet(moment: datetime, schedule: ReminderSchedule, zone: ZoneInfo) -> datetime:
    """`moment` itself, or the end of the quiet period it falls in."""
    if not in_quiet(moment, schedule, zone):
        return moment
    _, end = schedule.quiet_window()  # type: ignore[misc]
    local = moment.astimezone(zone)
    day = local.date()
    if local.time().replace(tzinfo=None) >= end:
        day += timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone)


# --- the schedule ---------------------------------------------------------------------------


def _off_weekend(day: date, forward: bool) -> date:
    while day.weekday() >= SATURDAY:
        day += timedelta(days=1 if forward else -1)
    return day


def _place(
    day: date, kind: str, schedule: ReminderSchedule, zone: ZoneInfo
) -> tuple[datetime, bool]:
    moved = False
    if not schedule.weekends and day.weekday() >= SATURDAY:
        day, moved = _off_weekend(day, forward=kind == "overdue"), True
    moment = datetime.combine(day, schedule.send_time, tzinfo=zone)
    deferred = after_quiet(moment, schedule, zone)
    if deferred != moment:
        moment, moved = deferred, True
        if not schedule.weekends and moment.weekday() >= SATURDAY:
            day = _off_weekend(moment.date(), forward=True)
            moment = datetime.combine(day, moment.timetz().replace(tzinfo=None), tzinfo=zone)
    return moment, moved


def plan_slots(schedule: ReminderSchedule, deadline: datetime, zone: ZoneInfo) -> list[Slot]:
    """Every officer slot of a campaign, in time order (digests share these moments)."""
    final = last_day(deadline, zone)
    slots: list[Slot] = []
    for offset in schedule.days_before:
        at, moved = _place(final - timedelta(days=offset), "before", schedule, zone)
        if at < deadline:
            slots.append(Slot("before", offset, at, moved))
    for offset in range(1, schedule.overdue_days + 1):
        at, moved = _place(final + timedelta(days=offset), "overdue", schedule, zone)
        if at > deadline:
            slots.append(Slot("overdue", offset, at, moved))
    merged: dict[datetime, Slot] = {}
    for slot in sorted(slots, key=lambda s: (s.at, s.moved, s.kind == "overdue", s.offset)):
        merged.setdefault(slot.at, slot)
    return sorted(merged.values(), key=lambda s: s.at)


def grace_of(schedule: ReminderSchedule) -> timedelta:
    return max(timedelta(hours=schedule.grace_hours), MIN_GRACE)


def decide(
    slots: list[Slot], now: datetime, schedule: ReminderSchedule, zone: ZoneInfo
) -> list[Decision]:
    """The slots a tick at `now` must send or skip (see the module docstring)."""
    grace = grace_of(schedule)
    lookback = max(grace, LOOKBACK)
    quiet = in_quiet(now, schedule, zone)
    decisions = []
    for index, slot in enumerate(slots):
        if slot.at > now or now - slot.at >= lookback:
            continue
        following = slots[index + 1].at if index + 1 < len(slots) else None
        useful = now - slot.at < grace and (following is None or now < following)
        if not useful:
            decisions.append(Decision(slot, "skip"))
        elif not quiet:
            decisions.append(Decision(slot, "send"))
    return decisions


# --- texts ------------------------------------------------------------------------------------


def vn_number(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def deadline_phrase(deadline: datetime, zone: ZoneInfo) -> str:
    """The deadline as every text writes it (`messages.format_deadline`)."""
    return format_deadline(deadline, zone)


def when_phrase(deadline: datetime, now: datetime, zone: ZoneInfo) -> str:
    left = days_left(deadline, now, zone)
    if now >= deadline:
        return f"đã quá hạn {max(-left, 1)} ngày"
    if left <= 0:
        return "hôm nay là ngày cuối"
    return f"còn {left} ngày"


@dataclass(frozen=True)
class UnitStanding:
    """What a reminder says about one unit (plain data taken from the progress table)."""

    code: str
    name: str
    status: str
    answered: int
    total: int
    reachable: bool = True

    @property
    def open_count(self) -> int:
        return self.total - self.answered


def officer_text(
    *, title: str, deadline: datetime, now: datetime, zone: ZoneInfo, unit: UnitStanding
) -> str:
    """The reminder an officer reads on the phone; it is sent with the «tiếp» choice."""
    head, overdue = _officer_head(title, deadline, now, zone)
    lines = [head]
    if unit.status == SubmissionStatus.RETURNED:
        lines.append(f"Báo cáo của {unit.name} đã được trả lại để sửa và chưa nộp lại.")
    if unit.open_count > 0:
        lines.append(f"{unit.name} còn {unit.open_count}/{unit.total} câu chưa trả lời.")
    else:
        lines.append(f"{unit.name} đã trả lời đủ {unit.total} câu nhưng chưa nộp báo cáo.")
    if overdue:
        lines.append("Đề nghị đồng chí hoàn thành và nộp ngay.")
    if unit.open_count > 0:
        lines.append("Gõ «tiếp» để điền tiếp ngay tại đây.")
    else:
        lines.append("Gõ «tiếp» để xem lại và nộp ngay tại đây.")
    return "\n".join(lines)


@lru_cache(maxsize=64)
def _officer_head(
    title: str, deadline: datetime, now: datetime, zone: ZoneInfo
) -> tuple[str, bool]:
    overdue = now >= deadline
    head = "Quá hạn nộp báo cáo" if overdue else "Nhắc hạn nộp báo cáo"
    when = f"{deadline_phrase(deadline, zone)} — {when_phrase(deadline, now, zone)}"
    return f"{head}: {title}\nHạn nộp: {when}.", overdue


def officer_summary(unit: UnitStanding, deadline: datetime, now: datetime, zone: ZoneInfo) -> str:
    """One short line for `baocao remind --dry-run`."""
    return f"còn {unit.open_count}/{unit.total} câu; {when_phrase(deadline, now, zone)}"


STATE_WORDS = {
    SubmissionStatus.NOT_STARTED: "chưa bắt đầu",
    SubmissionStatus.IN_PROGRESS: "đang điền",
    SubmissionStatus.RETURNED: "bị trả lại",
}


@dataclass(frozen=True)
class BlockedContact:
    name: str
    unit_code: str
    channel: str


def digest_text(
    *,
    title: str,
    deadline: datetime,
    now: datetime,
    zone: ZoneInfo,
    total_units: int,
    submitted: int,
    missing: list[UnitStanding],
    reminded_contacts: int,
    reminded_units: int,
    blocked: list[BlockedContact],
    limit: int = 20,
) -> str:
    """The secretariat's digest: counts, the units at risk (or overdue), unreachable contacts."""
    overdue = now >= deadline
    in_progress = sum(1 for u in missing if u.status != SubmissionStatus.NOT_STARTED)
    not_started = len(missing) - in_progress
    lines = [
        f"Tổng hợp nhắc hạn: {title}",
        f"Hạn nộp: {deadline_phrase(deadline, zone)} — {when_phrase(deadline, now, zone)}.",
        f"Đã nộp {vn_number(submitted)}/{vn_number(total_units)} · đang điền "
        f"{vn_number(in_progress)} · chưa bắt đầu {vn_number(not_started)}.",
        f"Đợt nhắc này: {vn_number(reminded_contacts)} tin tới cán bộ của "
        f"{vn_number(reminded_units)} đơn vị.",
    ]
    if missing:
        lines.append("")
        lines.append(
            f"Còn {vn_number(len(missing))} đơn vị chưa nộp:"
            if overdue
            else "Đơn vị có nguy cơ trễ hạn (chưa nộp, nhiều câu còn trống trước):"
        )
        ordered = sorted(
            missing, key=lambda u: (u.status != SubmissionStatus.NOT_STARTED, -u.open_count, u.code)
        )
        for unit in ordered[:limit]:
            note = "" if unit.reachable else " — không có cán bộ nào nhận được tin"
            lines.append(
                f" • {unit.name} ({unit.code}): {STATE_WORDS.get(unit.status, unit.status)}, "
                f"còn {unit.open_count}/{unit.total} câu{note}"
            )
        if len(ordered) > limit:
            lines.append(f" … và {vn_number(len(ordered) - limit)} đơn vị khác (gõ /status).")
        unreachable = sum(1 for u in missing if not u.reachable)
        if unreachable:
            lines.append(
                f"{vn_number(unreachable)} đơn vị chưa nộp không có cán bộ nào nhận được tin nhắc:"
                " đề nghị liên hệ trực tiếp."
            )
    else:
        lines.append("Tất cả đơn vị đã nộp.")
    if blocked:
        lines.append("")
        lines.append(f"Liên hệ đã chặn trợ lý (không nhận được tin): {vn_number(len(blocked))}")
        for contact in blocked[:limit]:
            lines.append(f" • {contact.name} ({contact.unit_code}, {contact.channel})")
        if len(blocked) > limit:
            lines.append(f" … và {vn_number(len(blocked) - limit)} liên hệ khác.")
    return "\n".join(lines)
