"""The pure reminder plan: slot times and identities, quiet hours, weekends, grace, texts."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from conversations.campaigns import ReminderSchedule
from conversations.reminder_plan import (
    BlockedContact,
    UnitStanding,
    after_quiet,
    decide,
    digest_text,
    in_quiet,
    last_day,
    manual_key,
    officer_text,
    plan_slots,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
DEADLINE = datetime(2030, 3, 15, tzinfo=VN)  # Friday: "trước ngày 15/3", last day Thursday 14/3
TITLE = "Kiểm tra việc thực hiện Chỉ thị 37-CT/TU"


def vn(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2030, month, day, hour, minute, tzinfo=VN)


def keys(schedule: ReminderSchedule, deadline: datetime = DEADLINE) -> list[str]:
    return [slot.key for slot in plan_slots(schedule, deadline, VN)]


def test_default_schedule_counts_days_from_the_last_day():
    assert last_day(DEADLINE, VN).isoformat() == "2030-03-14"
    assert keys(ReminderSchedule()) == [
        "before:7:2030-03-07T08:00+07:00",
        "before:3:2030-03-11T08:00+07:00",
        "before:1:2030-03-13T08:00+07:00",
        "before:0:2030-03-14T08:00+07:00",
        "overdue:1:2030-03-15T08:00+07:00",
        "overdue:2:2030-03-16T08:00+07:00",
        "overdue:3:2030-03-17T08:00+07:00",
    ]


def test_a_deadline_during_the_day_keeps_that_day_and_drops_slots_after_it():
    deadline = vn(3, 15, 7, 30)  # before 08:00 on the 15th: the 08:00 slot of that day is late
    slots = keys(ReminderSchedule(days_before=[1, 0], overdue_days=1), deadline)
    assert slots == ["before:1:2030-03-14T08:00+07:00", "overdue:1:2030-03-16T08:00+07:00"]


def test_quiet_hours_defer_to_their_end_and_a_deferral_past_the_deadline_is_dropped():
    schedule = ReminderSchedule(hour="22:00")
    assert keys(schedule) == [
        "before:7:2030-03-08T07:00+07:00",
        "before:3:2030-03-12T07:00+07:00",
        "before:1:2030-03-14T07:00+07:00",
        # before:0 would be 15/3 07:00, after the deadline: the overdue notice takes over
        "overdue:1:2030-03-16T07:00+07:00",
        "overdue:2:2030-03-17T07:00+07:00",
        "overdue:3:2030-03-18T07:00+07:00",
    ]
    assert in_quiet(vn(3, 1, 21), schedule, VN) and in_quiet(vn(3, 1, 6, 59), schedule, VN)
    assert not in_quiet(vn(3, 1, 7), schedule, VN) and not in_quiet(vn(3, 1, 20, 59), schedule, VN)
    assert after_quiet(vn(3, 1, 23), schedule, VN) == vn(3, 2, 7)
    assert after_quiet(vn(3, 2, 3), schedule, VN) == vn(3, 2, 7)
    assert after_quiet(vn(3, 2, 9), schedule, VN) == vn(3, 2, 9)


def test_a_daytime_quiet_window_and_no_quiet_hours():
    lunch = ReminderSchedule(hour="12:00", quiet_hours="11:30-13:30")
    assert keys(lunch)[0] == "before:7:2030-03-07T13:30+07:00"
    assert keys(ReminderSchedule(hour="23:00", quiet_hours=None))[0].endswith("T23:00+07:00")


def test_weekends_false_moves_before_slots_to_friday_and_overdue_slots_to_monday():
    deadline = vn(3, 18)  # Monday: last day Sunday 17/3
    schedule = ReminderSchedule(weekends=False)
    assert keys(schedule, deadline) == [
        "before:7:2030-03-08T08:00+07:00",  # Sunday 10/3 → Friday 8/3
        "before:3:2030-03-14T08:00+07:00",
        "before:0:2030-03-15T08:00+07:00",  # Sat (before:1) and Sun (before:0) → one on Friday
        "overdue:1:2030-03-18T08:00+07:00",
        "overdue:2:2030-03-19T08:00+07:00",
        "overdue:3:2030-03-20T08:00+07:00",
    ]
    friday_deadline = vn(3, 16)  # Saturday: last day Friday 15/3
    # overdue Sat (1), Sun (2) and Mon (3) all land on Monday: one message, the unmoved one,
    # whose offset is the real number of days overdue
    assert keys(schedule, friday_deadline)[-2:] == [
        "before:0:2030-03-15T08:00+07:00",
        "overdue:3:2030-03-18T08:00+07:00",
    ]
    assert all(s.at.weekday() < 5 for s in plan_slots(schedule, friday_deadline, VN))
    assert keys(ReminderSchedule(weekends=True), deadline)[0] == "before:7:2030-03-10T08:00+07:00"


def test_quiet_deferral_onto_a_weekend_moves_on_to_monday():
    schedule = ReminderSchedule(hour="22:00", weekends=False, days_before=[], overdue_days=1)
    # last day Thursday 14/3; overdue:1 nominal Friday 22:00 → Saturday 07:00 → Monday 07:00
    assert keys(schedule) == ["overdue:1:2030-03-18T07:00+07:00"]


def test_slot_and_manual_identities():
    slot = plan_slots(ReminderSchedule(), DEADLINE, VN)[0]
    assert slot.digest_key == "digest:before:7:2030-03-07T08:00+07:00"
    assert manual_key(
        vn(
            3,
            10,
            10,
            15,
        )
        + timedelta(seconds=42),
        VN,
    ) == ("manual:2030-03-10T10:15+07:00")
    assert len("digest:overdue:30:2030-03-17T08:00+07:00") <= 60  # fits ReminderLog.slot


def actions(schedule: ReminderSchedule, now: datetime) -> list[tuple[str, str]]:
    slots = plan_slots(schedule, DEADLINE, VN)
    return [
        (d.slot.key.split(":")[0] + ":" + d.slot.key.split(":")[1], d.action)
        for d in decide(slots, now, schedule, VN)
    ]


def test_decide_sends_due_slots_within_grace_and_before_the_next_one():
    schedule = ReminderSchedule()  # grace 6 h
    assert actions(schedule, vn(3, 7, 7, 59)) == []
    assert actions(schedule, vn(3, 7, 8)) == [("before:7", "send")]
    assert actions(schedule, vn(3, 7, 13, 59)) == [("before:7", "send")]
    assert actions(schedule, vn(3, 7, 14)) == [("before:7", "skip")]  # grace over
    assert actions(schedule, vn(3, 8, 7, 59)) == [("before:7", "skip")]  # still logged
    assert actions(schedule, vn(3, 8, 8)) == []  # older than a day: ignored
    assert actions(schedule, vn(3, 11, 9)) == [("before:3", "send")]


def test_decide_skips_a_slot_overtaken_by_the_next_one():
    schedule = ReminderSchedule(grace_hours=48)
    assert actions(schedule, vn(3, 13, 20)) == [("before:1", "send")]
    assert actions(schedule, vn(3, 14, 9)) == [("before:1", "skip"), ("before:0", "send")]


def test_decide_waits_for_the_end_of_quiet_hours_before_catching_up():
    schedule = ReminderSchedule(hour="20:00", grace_hours=12)
    assert actions(schedule, vn(3, 7, 20, 30)) == [("before:7", "send")]
    assert actions(schedule, vn(3, 7, 22)) == []  # due, useful, but quiet: wait
    assert actions(schedule, vn(3, 8, 7)) == [("before:7", "send")]
    assert actions(schedule, vn(3, 8, 8)) == [("before:7", "skip")]


def test_a_campaign_long_past_has_nothing_to_decide():
    schedule = ReminderSchedule()
    slots = plan_slots(schedule, datetime(2022, 7, 5, tzinfo=VN), VN)
    moment = datetime(2026, 1, 1, tzinfo=VN)
    for hour in range(0, 24 * 400, 7):
        assert decide(slots, moment + timedelta(hours=hour), schedule, VN) == []


def standing(status="in_progress", answered=13, total=22, code="HU-NP", reachable=True):
    return UnitStanding(code, "Huyện ủy Ninh Phước", status, answered, total, reachable)


def test_officer_text_says_campaign_deadline_days_left_and_what_is_open():
    text = officer_text(title=TITLE, deadline=DEADLINE, now=vn(3, 7, 8), zone=VN, unit=standing())
    assert text.splitlines() == [
        f"Nhắc hạn nộp báo cáo: {TITLE}",
        "Hạn nộp: trước ngày 15/3/2030 — còn 7 ngày.",
        "Huyện ủy Ninh Phước còn 9/22 câu chưa trả lời.",
        "Gõ «tiếp» để điền tiếp ngay tại đây.",
    ]
    last = officer_text(title=TITLE, deadline=DEADLINE, now=vn(3, 14, 8), zone=VN, unit=standing())
    assert "hôm nay là ngày cuối" in last


def test_officer_text_overdue_returned_and_fully_answered():
    unit = standing(status="returned", answered=22)
    text = officer_text(title=TITLE, deadline=DEADLINE, now=vn(3, 16, 8), zone=VN, unit=unit)
    assert text.startswith(f"Quá hạn nộp báo cáo: {TITLE}\n")
    assert "đã quá hạn 2 ngày" in text
    assert "đã được trả lại để sửa" in text
    assert "đã trả lời đủ 22 câu nhưng chưa nộp" in text
    assert "Đề nghị đồng chí hoàn thành và nộp ngay." in text
    assert text.endswith("Gõ «tiếp» để xem lại và nộp ngay tại đây.")
    later = datetime(2030, 3, 15, 17, tzinfo=VN)
    with_hour = officer_text(title=TITLE, deadline=later, now=vn(3, 15, 8), zone=VN, unit=unit)
    assert "trước 17:00 ngày 15/3/2030 — hôm nay là ngày cuối" in with_hour


def test_digest_lists_units_at_risk_first_caps_the_list_and_reports_blocked_contacts():
    missing = [standing("in_progress", 20, code=f"X{i:02d}") for i in range(25)]
    missing.append(standing("not_started", 0, code="ZZ", reachable=False))
    text = digest_text(
        title=TITLE,
        deadline=DEADLINE,
        now=vn(3, 7, 8),
        zone=VN,
        total_units=1230,
        submitted=1204,
        missing=missing,
        reminded_contacts=1234,
        reminded_units=25,
        blocked=[BlockedContact("Cán bộ D", "DV-D", "telegram")],
    )
    lines = text.splitlines()
    assert lines[2] == "Đã nộp 1.204/1.230 · đang điền 25 · chưa bắt đầu 1."
    assert lines[3] == "Đợt nhắc này: 1.234 tin tới cán bộ của 25 đơn vị."
    assert lines[6].startswith(" • Huyện ủy Ninh Phước (ZZ): chưa bắt đầu, còn 22/22 câu")
    assert lines[6].endswith("không có cán bộ nào nhận được tin")
    assert " … và 6 đơn vị khác (gõ /status)." in lines
    assert "Liên hệ đã chặn trợ lý (không nhận được tin): 1" in lines
    assert " • Cán bộ D (DV-D, telegram)" in lines
    overdue = digest_text(
        title=TITLE,
        deadline=DEADLINE,
        now=vn(3, 15, 8),
        zone=VN,
        total_units=3,
        submitted=2,
        missing=[standing()],
        reminded_contacts=1,
        reminded_units=1,
        blocked=[],
    )
    assert "Còn 1 đơn vị chưa nộp:" in overdue and "đã quá hạn 1 ngày" in overdue
