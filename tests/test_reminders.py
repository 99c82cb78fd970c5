"""Deadline reminders on real SQLite and PostgreSQL: an injected clock walks a campaign from ten
days before its deadline to five days after, calling `tick()` minute by minute around the
reminder hours and hour by hour elsewhere, and the tests assert who got what, and when, from the
outbox and the reminder log. Nothing sleeps: time is a `FakeClock` or a datetime handed to tick.

The world: four units of level "huyen" (20 questions each) take part in campaign ct37-2030
(deadline "trước ngày 15/3/2030", so the last day is Thursday 14/3):

    DV-A  a1 (Telegram), a2 (Zalo), a3 (console: never pushed to) — 11 answers, never submits
    DV-B  b1 (Telegram) — submits on 12/3, between the before:3 and before:1 slots
    DV-C  c1 (Telegram) — submitted from the start; returned by the secretariat on 13/3
    DV-D  d1 (Telegram) — blocked the bot (inactive): never reminded, listed in the digest
    s1    secretariat (Telegram) — gets the digest
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select, text, update
from sqlmodel import Session

import bot.reminders.ticks as reminders
from bot.app import CHANNEL_TRAITS, build_app
from bot.cli import commands as cli
from bot.clock import FakeClock
from bot.messaging import Inbound, Outbound
from bot.outbox import Outbox, Pacer, Undeliverable
from bot.reminders.runner import REFUSED_TEXT, AdvisoryLock, FileLock, runner_lock, start_scheduler
from bot.reminders.ticks import tick, unit_standings
from bot.service import Service
from bot.use_cases import Desk, return_report
from conversations.campaigns import BUNDLED_CAMPAIGN, load_campaign
from conversations.choices import CHOICES
from conversations.forms import BUNDLED_FORMS
from storage.database import Database, open_database
from storage.models import Answer, Campaign, Contact, OutboxMessage, ReminderLog, Unit
from storage.progress import campaign_progress
from storage.repository import (
    campaign_form,
    save_campaign,
    submission_for,
    unit_by_code,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
LEVEL = "huyen"
UNITS = ("DV-A", "DV-B", "DV-C", "DV-D")
PEOPLE = [  # name, unit, channel, role, active
    ("a1", "DV-A", "telegram", "officer", True),
    ("a2", "DV-A", "zalo", "officer", True),
    ("a3", "DV-A", "console", "officer", True),
    ("b1", "DV-B", "telegram", "officer", True),
    ("c1", "DV-C", "telegram", "officer", True),
    ("d1", "DV-D", "telegram", "officer", False),
    ("s1", None, "telegram", "secretariat", True),
]


def vn(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2030, month, day, hour, minute, second, tzinfo=VN)


# --- the world -------------------------------------------------------------------------------


@dataclass
class World:
    database: Database
    campaign_id: int
    ids: dict[str, int]  # person → contact id

    @property
    def names(self) -> dict[int, str]:
        return {contact_id: name for name, contact_id in self.ids.items()}


def campaign_file(tmp_path: Path, deadline: str, reminders_: dict) -> Path:
    raw = yaml.safe_load(BUNDLED_CAMPAIGN.read_text(encoding="utf-8"))
    raw.update(
        code="ct37-2030",
        deadline=deadline,
        form=str(BUNDLED_FORMS / "ct37_phuluc.yaml"),
        participants={"units": list(UNITS)},
    )
    raw["reminders"].update(reminders_)
    path = tmp_path / "ct37-2030.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def build_world(
    database: Database,
    tmp_path: Path,
    *,
    deadline: str = "2030-03-15T00:00:00+07:00",
    extra_units: int = 0,
    **schedule,
) -> World:
    now = vn(3, 1)
    with database.transaction() as session:
        units = {}
        for code in UNITS:
            unit = Unit(code=code, name=f"Đơn vị {code[-1]}", level=LEVEL, group="tu_kiem_tra")
            session.add(unit)
            units[code] = unit
        session.flush()
        campaign = save_campaign(
            session, load_campaign(campaign_file(tmp_path, deadline, schedule)), now
        )
        keys = [q.key for q in campaign_form(campaign).questions_for(LEVEL)]
        assert len(keys) == 18
        ids = {}
        for name, code, channel, role, active in PEOPLE:
            contact = Contact(
                channel=channel,
                external_id=name,
                chat_id=f"chat-{name}",
                display_name=f"Cán bộ {name.upper()}",
                role=role,
                unit_id=units[code].id if code else None,
                active=active,
                created_at=now,
            )
            session.add(contact)
            session.flush()
            ids[name] = contact.id
        started = submission_for(session, campaign, units["DV-A"])
        started.status = "in_progress"
        session.flush()
        for key in keys[:11]:
            session.add(
                Answer(submission_id=started.id, question_key=key, value={"v": 1}, updated_at=now)
            )
        done = submission_for(session, campaign, units["DV-C"])
        done.status, done.submitted_at = "submitted", now
        for index in range(extra_units):
            unit = Unit(code=f"X{index:03d}", name=f"Đơn vị X{index}", level=LEVEL)
            session.add(unit)
            session.flush()
            for n in (1, 2):
                name = f"x{index}-{n}"
                contact = Contact(
                    channel="telegram",
                    external_id=name,
                    chat_id=f"chat-{name}",
                    display_name=name,
                    unit_id=unit.id,
                    created_at=now,
                )
                session.add(contact)
                session.flush()
                ids[name] = contact.id
        if extra_units:
            spec_path = campaign_file(tmp_path, deadline, schedule)
            raw = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
            raw["participants"]["units"] += [f"X{i:03d}" for i in range(extra_units)]
            spec_path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
            campaign = save_campaign(session, load_campaign(spec_path), now)
        campaign_id = campaign.id
        session.execute(  # the bundled 2022 round, when seeded, is over
            update(Campaign).where(Campaign.code == "ct37-2022").values(state="closed")
        )
    return World(database, campaign_id, ids)


def submit(world: World, code: str, when: datetime) -> None:
    with world.database.transaction() as session:
        campaign = session.get(Campaign, world.campaign_id)
        submission = submission_for(session, campaign, unit_by_code(session, code))
        submission.status, submission.submitted_at = "submitted", when
        session.add(submission)


def send_back(world: World, code: str, when: datetime) -> None:
    """The secretariat returns a report (as /tralai does): status returned and a notice."""
    with world.database.transaction() as session:
        return_report(session, when, Desk(), unit_code=code, reason="Thiếu số liệu mục 4")


# --- walking the clock ------------------------------------------------------------------------


def moments(start: datetime, end: datetime, focus=("07:00", "08:00", "22:00")) -> list[datetime]:
    """Every hour, and every minute from 5 before to 5 after each focus time of each day."""
    found = set()
    moment = start
    while moment <= end:
        found.add(moment)
        moment += timedelta(hours=1)
    day = start.date()
    while day <= end.date():
        for hhmm in focus:
            centre = datetime.combine(day, time.fromisoformat(hhmm), tzinfo=VN)
            for minute in range(-5, 6):
                candidate = centre + timedelta(minutes=minute)
                if start <= candidate <= end:
                    found.add(candidate)
        day += timedelta(days=1)
    return sorted(found)


def last_outbox_id(database: Database) -> int:
    with database.transaction() as session:
        return session.execute(select(func.coalesce(func.max(OutboxMessage.id), 0))).scalar()


def walk(
    world: World, start: datetime, end: datetime, events=(), memo: set | None = None
) -> list[tuple[str, str, str]]:
    """Tick at every moment; return (local time of the tick, person, kind) of each new message."""
    queue = sorted(events, key=lambda event: event[0])
    sent = []
    last = last_outbox_id(world.database)
    for now in moments(start, end):
        while queue and queue[0][0] <= now:
            when, action = queue.pop(0)
            action(world, when)
        tick(world.database, now, memo=memo)
        with world.database.transaction() as session:
            rows = session.execute(
                select(OutboxMessage.id, OutboxMessage.contact_id, OutboxMessage.kind)
                .where(OutboxMessage.id > last, OutboxMessage.kind.in_(["reminder", "digest"]))
                .order_by(OutboxMessage.id)
            ).all()
        for row_id, contact_id, kind in rows:
            sent.append((f"{now:%d/%m %H:%M}", world.names[contact_id], kind))
            last = max(last, row_id)
    return sent


def at(when: str, *people: str) -> list[tuple[str, str, str]]:
    return [(when, p, "digest" if p == "s1" else "reminder") for p in people]


def logged(world: World) -> list[tuple[str, str, str, bool]]:
    """(slot, person, status, has an outbox row) of every reminder log row."""
    with world.database.transaction() as session:
        rows = session.execute(
            select(
                ReminderLog.slot, ReminderLog.contact_id, ReminderLog.status, ReminderLog.outbox_id
            )
            .where(ReminderLog.campaign_id == world.campaign_id)
            .order_by(ReminderLog.id)
        ).all()
    return [(slot, world.names[c], status, outbox is not None) for slot, c, status, outbox in rows]


def payload_of(world: World, person: str, slot: str) -> dict:
    with world.database.transaction() as session:
        return session.execute(
            select(OutboxMessage.payload)
            .join(ReminderLog, ReminderLog.outbox_id == OutboxMessage.id)
            .where(ReminderLog.contact_id == world.ids[person], ReminderLog.slot == slot)
        ).scalar_one()


def count(database: Database, model) -> int:
    with database.transaction() as session:
        return session.execute(select(func.count()).select_from(model)).scalar()


# --- the walk -------------------------------------------------------------------------------------


def test_a_campaign_walked_from_ten_days_before_to_five_after(database, tmp_path):
    world = build_world(database, tmp_path)
    sent = walk(
        world,
        vn(3, 5),
        vn(3, 20),
        events=[
            (vn(3, 12, 10), lambda w, t: submit(w, "DV-B", t)),
            (vn(3, 13, 12), lambda w, t: send_back(w, "DV-C", t)),
        ],
    )
    assert sent == (
        at("07/03 08:00", "a1", "a2", "b1", "s1")
        + at("11/03 08:00", "a1", "a2", "b1", "s1")
        + at("13/03 08:00", "a1", "a2", "s1")  # DV-B submitted on the 12th
        + at("14/03 08:00", "a1", "a2", "c1", "s1")  # DV-C returned on the 13th: reminded again
        + at("15/03 08:00", "a1", "a2", "c1", "s1")
        + at("16/03 08:00", "a1", "a2", "c1", "s1")
        + at("17/03 08:00", "a1", "a2", "c1", "s1")
    )
    slots = [slot for slot, *_ in logged(world)]
    assert sorted(set(slots), key=slots.index) == [
        f"{prefix}{kind}"
        for kind in (
            "before:7:2030-03-07T08:00+07:00",
            "before:3:2030-03-11T08:00+07:00",
            "before:1:2030-03-13T08:00+07:00",
            "before:0:2030-03-14T08:00+07:00",
            "overdue:1:2030-03-15T08:00+07:00",
            "overdue:2:2030-03-16T08:00+07:00",
            "overdue:3:2030-03-17T08:00+07:00",
        )
        for prefix in ("", "digest:")
    ]
    assert all(status == "queued" and has_row for _, _, status, has_row in logged(world))
    assert count(database, ReminderLog) == len(sent)

    first = payload_of(world, "a1", "before:7:2030-03-07T08:00+07:00")
    assert first["text"].splitlines()[1:] == [
        "Hạn nộp: trước ngày 15/3/2030 — còn 7 ngày.",
        "Đơn vị A còn 7/18 câu chưa trả lời.",
        "Gõ «tiếp» để điền tiếp ngay tại đây.",
    ]
    assert Outbound.from_payload(first).choices == (CHOICES["continue"],)
    assert first["context"] == ""
    assert payload_of(world, "a2", "before:7:2030-03-07T08:00+07:00") == first
    returned = payload_of(world, "c1", "before:0:2030-03-14T08:00+07:00")["text"]
    assert "hôm nay là ngày cuối" in returned and "đã được trả lại để sửa" in returned
    overdue = payload_of(world, "a1", "overdue:2:2030-03-16T08:00+07:00")["text"]
    assert overdue.startswith("Quá hạn nộp báo cáo") and "đã quá hạn 2 ngày" in overdue

    digest = payload_of(world, "s1", "digest:before:7:2030-03-07T08:00+07:00")["text"]
    assert "Đã nộp 1/4 · đang điền 1 · chưa bắt đầu 2." in digest
    assert "Đợt nhắc này: 3 tin tới cán bộ của 2 đơn vị." in digest
    assert (
        " • Đơn vị D (DV-D): chưa bắt đầu, còn 18/18 câu — không có cán bộ nào nhận được tin"
        in (digest.splitlines())
    )
    assert " • Cán bộ D1 (DV-D, telegram)" in digest.splitlines()
    late = payload_of(world, "s1", "digest:overdue:3:2030-03-17T08:00+07:00")["text"]
    assert "Còn 3 đơn vị chưa nộp:" in late and "(DV-B)" not in late


def test_a_long_running_runner_with_a_memo_sends_the_same(database, tmp_path):
    world = build_world(database, tmp_path)
    memo: set = set()
    sent = walk(world, vn(3, 6), vn(3, 12), memo=memo)
    assert sent == at("07/03 08:00", "a1", "a2", "b1", "s1") + at(
        "11/03 08:00", "a1", "a2", "b1", "s1"
    )
    assert (world.campaign_id, "before:7:2030-03-07T08:00+07:00") in memo


def test_quiet_hours_defer_a_22h_schedule_to_7h_and_nothing_is_sent_at_night(database, tmp_path):
    world = build_world(database, tmp_path, hour="22:00")
    sent = walk(world, vn(3, 5), vn(3, 20))
    officers = ("a1", "a2", "b1", "s1")
    assert sent == (
        at("08/03 07:00", *officers)
        + at("12/03 07:00", *officers)
        + at("14/03 07:00", *officers)
        # before:0 would fall at 07:00 on the 15th, after the deadline: dropped
        + at("16/03 07:00", *officers)
        + at("17/03 07:00", *officers)
        + at("18/03 07:00", *officers)
    )
    with database.transaction() as session:
        created = session.execute(
            select(OutboxMessage.created_at).where(OutboxMessage.kind == "reminder")
        ).scalars()
        assert all(7 <= moment.astimezone(VN).hour < 21 for moment in created)


def test_a_big_slot_just_before_quiet_hours_finishes_the_next_morning(database, tmp_path):
    build_world(database, tmp_path, hour="20:59", extra_units=40)
    # one reminder a second (instead of 24): 83 reminders take till 21:00:22
    assert tick(database, vn(3, 7, 20, 59), rate=1.0).queued == 3 + 80 + 1
    with database.transaction() as session:
        due = sorted(
            session.execute(
                select(OutboxMessage.not_before).where(OutboxMessage.kind == "reminder")
            ).scalars()
        )
    assert due[0] == vn(3, 7, 20, 59) and due[59] == vn(3, 7, 20, 59, 59)
    assert due[60:] == [vn(3, 8, 7)] * 23  # never inside 21:00-07:00


def test_weekends_false_sends_on_working_days_only(database, tmp_path):
    # deadline Monday 18/3: the last day is Sunday 17/3
    world = build_world(database, tmp_path, deadline="2030-03-18T00:00:00+07:00", weekends=False)
    sent = walk(world, vn(3, 8), vn(3, 23))
    officers = ("a1", "a2", "b1", "s1")
    assert sent == (
        at("08/03 08:00", *officers)  # before:7, Sunday 10/3 → Friday 8/3
        + at("14/03 08:00", *officers)  # before:3, Thursday
        + at("15/03 08:00", *officers)  # before:1 (Sat) and before:0 (Sun) → one, Friday
        + at("18/03 08:00", *officers)
        + at("19/03 08:00", *officers)
        + at("20/03 08:00", *officers)
    )
    assert "before:0:2030-03-15T08:00+07:00" in {slot for slot, *_ in logged(world)}


# --- exactly once --------------------------------------------------------------------------------


def test_a_restart_in_the_middle_of_a_slot_sends_nothing_twice(database, database_url, tmp_path):
    world = build_world(database, tmp_path)
    assert tick(database, vn(3, 7, 8)).queued == 4
    assert tick(database, vn(3, 7, 8)).queued == 0
    fresh = open_database(database_url)  # a new process: new engine, no memory of its own
    try:
        for moment in (vn(3, 7, 8), vn(3, 7, 8, 1), vn(3, 7, 13)):
            result = tick(fresh, moment)
            assert (result.queued, result.skipped) == (0, 0)
    finally:
        fresh.dispose()
    assert count(database, OutboxMessage) == count(database, ReminderLog) == 4
    assert {person for _, person, _, _ in logged(world)} == {"a1", "a2", "b1", "s1"}


def test_a_crash_between_deciding_and_queuing_loses_nothing(database, tmp_path, monkeypatch):
    world = build_world(database, tmp_path)
    real = reminders.queue_messages

    def dies_after_the_officers(session, **kwargs):
        queued = real(session, **kwargs)
        if kwargs["kind"] == "digest":
            raise RuntimeError("process killed")
        return queued

    monkeypatch.setattr(reminders, "queue_messages", dies_after_the_officers)
    with pytest.raises(RuntimeError):
        tick(database, vn(3, 7, 8))
    assert count(database, OutboxMessage) == count(database, ReminderLog) == 0
    monkeypatch.undo()
    assert tick(database, vn(3, 7, 8, 1)).queued == 4  # the next tick (or process) does it all
    assert len(logged(world)) == 4


def test_downtime_inside_the_grace_sends_the_missed_slot_once(database, tmp_path):
    world = build_world(database, tmp_path)  # grace_hours: 6
    assert tick(database, vn(3, 7, 7)).queued == 0
    # down from 07:00 to 12:00: the 08:00 slot is still useful
    result = tick(database, vn(3, 7, 12))
    assert result.queued == 4
    assert tick(database, vn(3, 7, 12, 1)).queued == 0
    with database.transaction() as session:
        created = set(session.execute(select(OutboxMessage.created_at)).scalars())
    assert created == {vn(3, 7, 12)}
    assert {slot for slot, *_ in logged(world)} == {
        "before:7:2030-03-07T08:00+07:00",
        "digest:before:7:2030-03-07T08:00+07:00",
    }


def test_each_slot_decided_is_logged_with_its_campaign_and_how_long_it_took(
    database, tmp_path, caplog
):
    build_world(database, tmp_path)
    with caplog.at_level(logging.INFO, logger="bot.reminders.ticks"):
        tick(database, vn(3, 7, 8))
    lines = [r for r in caplog.records if r.getMessage().startswith("nhắc hạn")]
    assert lines and lines[0].campaign and all(r.campaign == lines[0].campaign for r in lines)
    assert all(isinstance(r.duration, float) and r.duration >= 0 for r in lines)


def test_downtime_past_the_grace_skips_and_logs_the_slot(database, tmp_path):
    world = build_world(database, tmp_path)
    tick(database, vn(3, 7, 7))
    result = tick(database, vn(3, 7, 15))  # 7 hours late: more than grace_hours
    assert (result.queued, result.skipped) == (0, 4)
    assert count(database, OutboxMessage) == 0
    assert logged(world) == [
        ("before:7:2030-03-07T08:00+07:00", "a1", "skipped", False),
        ("before:7:2030-03-07T08:00+07:00", "a2", "skipped", False),
        ("before:7:2030-03-07T08:00+07:00", "b1", "skipped", False),
        ("digest:before:7:2030-03-07T08:00+07:00", "s1", "skipped", False),
    ]
    assert tick(database, vn(3, 7, 15, 1)).skipped == 0  # logged once
    assert tick(database, vn(3, 11, 8)).queued == 4  # the next slot goes out as usual


def test_downtime_across_slots_only_the_latest_useful_one_is_sent(database, tmp_path):
    world = build_world(database, tmp_path, grace_hours=48)
    # with a 48-hour grace, a process started at 07:00 on the 13th still catches before:3 up
    assert tick(database, vn(3, 13, 7)).queued == 4
    result = tick(database, vn(3, 14, 9))  # before:1 (13/3 08:00) was overtaken by before:0
    assert (result.queued, result.skipped) == (4, 4)
    statuses = {
        (slot.split(":")[0] + ":" + slot.split(":")[1], status)
        for slot, _, status, _ in logged(world)
        if not slot.startswith("digest")
    }
    assert statuses == {("before:3", "queued"), ("before:1", "skipped"), ("before:0", "queued")}
    # a much longer downtime: slots older than a day are ignored, not logged
    other = build_world_again(database, tmp_path)
    tick(database, vn(3, 6))
    assert tick(database, vn(3, 11, 9)).queued == 4
    assert not any(slot.startswith("before:7") for slot, *_ in logged(other))


def build_world_again(database: Database, tmp_path: Path) -> World:
    """The same world with the reminder log emptied (a second scenario in one test)."""
    with database.transaction() as session:
        session.execute(ReminderLog.__table__.delete())
        session.execute(OutboxMessage.__table__.delete())
        campaign = session.execute(select(Campaign).where(Campaign.code == "ct37-2030")).scalar()
        contacts = {c.external_id: c.id for c in session.execute(select(Contact)).scalars()}
    return World(database, campaign.id, contacts)


def test_the_bundled_2022_campaign_sends_nothing_in_2026(database):
    # the fixture loaded the bundled CT37 campaign (deadline 05/7/2022) and its units
    with database.transaction() as session:
        unit = unit_by_code(session, "HU-NP")
        created = datetime(2022, 6, 1, tzinfo=UTC)
        session.add(
            Contact(
                channel="telegram",
                external_id="o",
                chat_id="o",
                unit_id=unit.id,
                created_at=created,
            )
        )
        session.add(
            Contact(
                channel="telegram",
                external_id="s",
                chat_id="s",
                role="secretariat",
                created_at=created,
            )
        )
    start = datetime(2026, 1, 1, 8, tzinfo=VN)
    memo: set = set()
    for day in range(365):
        for hour in (0, 8, 12):
            result = tick(database, start + timedelta(days=day, hours=hour - 8), memo=memo)
            assert (result.queued, result.skipped, result.outcomes) == (0, 0, [])
    assert count(database, OutboxMessage) == count(database, ReminderLog) == 0
    # not vacuous: the same data, on the morning of before:7 in 2022, does get a reminder
    assert tick(database, datetime(2022, 6, 27, 8, tzinfo=VN)).queued == 2


def test_concurrent_ticks_of_one_slot_queue_each_reminder_once(database_url, tmp_path, monkeypatch):
    one = open_database(database_url)
    two = open_database(database_url)
    try:
        world = build_world(one, tmp_path, extra_units=40)
        # as if both processes had checked the log before either wrote: only the uniqueness
        # rule (ON CONFLICT DO NOTHING) stands between them and a duplicate
        monkeypatch.setattr(reminders, "decided_slots", lambda *args, **kwargs: set())
        barrier = threading.Barrier(2)

        def run(database: Database):
            barrier.wait()
            return tick(database, vn(3, 7, 8))

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(run, [one, two]))
        expected = 3 + 80 + 1  # a1, a2, b1, two per extra unit, the digest
        assert sum(r.queued for r in results) == expected
        assert tick(one, vn(3, 7, 8, 1)).queued == 0
        with one.transaction() as session:
            rows = session.execute(
                select(ReminderLog.contact_id, ReminderLog.slot, ReminderLog.outbox_id)
            ).all()
            outbox_ids = set(session.execute(select(OutboxMessage.id)).scalars())
        assert len(rows) == len({(c, s) for c, s, _ in rows}) == expected
        assert {o for _, _, o in rows} == outbox_ids  # no orphan outbox row, none missing
        assert len(world.ids) == 7 + 80
    finally:
        one.dispose()
        two.dispose()


# --- who gets what -------------------------------------------------------------------------------


class RecordingSender:
    """A channel's sender that records what it was asked to send; some chats have blocked us."""

    def __init__(self, monotonic, blocked=()) -> None:
        self.monotonic = monotonic
        self.blocked = set(blocked)
        self.sent: list[tuple[float, str, Outbound]] = []

    async def send(self, chat_id: str, outbound: Outbound) -> None:
        if chat_id in self.blocked:
            raise Undeliverable("Forbidden: bot was blocked by the user", blocked=True)
        self.sent.append((self.monotonic(), chat_id, outbound))


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now = max(self.now, self.now + seconds)  # time only moves on; nothing really waits
        await asyncio.sleep(0)


async def test_reminders_are_paced_by_the_outbox_and_a_block_shows_in_the_digest(
    database, tmp_path
):
    world = build_world(database, tmp_path, extra_units=30)
    assert tick(database, vn(3, 7, 8)).queued == 3 + 60 + 1
    with database.transaction() as session:
        due = sorted(session.execute(select(OutboxMessage.not_before)).scalars())
    assert due[-1] - due[0] == timedelta(seconds=62 / reminders.SPREAD_RATE)  # staggered
    monotonic = FakeMonotonic()
    sender = RecordingSender(monotonic, blocked={"chat-b1"})
    clock = FakeClock(vn(3, 7, 8, 1).astimezone(UTC))
    outbox = Outbox(
        database,
        {"telegram": sender, "zalo": sender},
        Pacer(25, 1.0),
        clock,
        monotonic=monotonic,
        sleep=monotonic.sleep,
    )
    outbox.submit(await asyncio.to_thread(outbox.claim_due))
    await outbox.drain(timeout=10)
    chats = [chat for _, chat, _ in sender.sent]
    assert len(chats) == len(set(chats)) == 3 + 60  # b1 blocked the bot
    # 25 messages per second at most: the outbox waited (fake time) at least that long
    assert monotonic.now - 1000.0 >= (len(chats) - 1) / 25 - 1e-6
    reminder = next(o for _, chat, o in sender.sent if chat == "chat-a1")
    assert reminder.choices == (CHOICES["continue"],) and reminder.context == ""
    with database.transaction() as session:
        blocked = session.get(Contact, world.ids["b1"])
        assert blocked.active is False
    tick(database, vn(3, 11, 8))
    people = {person for slot, person, _, _ in logged(world) if slot.startswith("before:3")}
    assert "b1" not in people and "a1" in people
    digest = payload_of(world, "s1", "digest:before:3:2030-03-11T08:00+07:00")["text"]
    assert " • Cán bộ B1 (DV-B, telegram)" in digest.splitlines()
    assert "(DV-B): chưa bắt đầu, còn 18/18 câu — không có cán bộ nào nhận được tin" in digest


def test_standings_agree_with_campaign_progress(database, tmp_path):
    world = build_world(database, tmp_path)
    send_back(world, "DV-C", vn(3, 2))
    with database.transaction() as session:
        campaign = session.get(Campaign, world.campaign_id)
        unit = unit_by_code(session, "DV-B")
        submission = submission_for(session, campaign, unit)
        submission.status = "in_progress"
        session.flush()
        now = vn(3, 2)
        session.add(
            Answer(
                submission_id=submission.id,
                question_key="complaints",
                not_applicable=True,
                updated_at=now,
            )
        )
        session.add(
            Answer(
                submission_id=submission.id,
                question_key="dialogue_province_gov",
                value={"v": 1},
                updated_at=now,
            )
        )  # not asked of a district
    with database.transaction() as session:
        campaign = session.get(Campaign, world.campaign_id)
        progress = campaign_progress(session, campaign)
        total, submitted, standings, _ = unit_standings(session, campaign)
    assert total == len(progress) == 4
    assert submitted == sum(p.done for p in progress) == 0
    assert (
        {p.unit.code: (p.status, p.answered, p.total) for p in progress if not p.done}
        == {s.code: (s.status, s.answered, s.total) for s in standings.values()}
        == {
            "DV-A": ("in_progress", 11, 18),
            "DV-B": ("in_progress", 1, 18),
            "DV-C": ("returned", 0, 18),
            "DV-D": ("not_started", 0, 18),
        }
    )


# --- by hand: /remind and `baocao remind` -------------------------------------------------------


def test_remind_through_the_service_queues_now_once_and_the_officer_continues(database, tmp_path):
    world = build_world(database, tmp_path)
    clock = FakeClock(vn(3, 10, 10, 15).astimezone(UTC))
    service = Service(database, clock, CHANNEL_TRAITS)

    def say(person: str, number: int, **what) -> list[dict]:
        inbound = Inbound("telegram", f"chat-{person}", person, f"u-{number}", **what)
        return [row.payload for row in service.handle(inbound)]

    [reply] = say("s1", 1, text="/remind")
    assert reply["text"] == "Đã xếp lịch gửi 3 tin nhắc tới các đơn vị chưa nộp."
    assert logged(world) == [
        ("manual:2030-03-10T10:15+07:00", person, "queued", True) for person in ("a1", "a2", "b1")
    ]
    with database.transaction() as session:
        rows = session.execute(
            select(OutboxMessage.status, OutboxMessage.claimed_at, OutboxMessage.payload).where(
                OutboxMessage.kind == "reminder"
            )
        ).all()
    assert [(status, claimed) for status, claimed, _ in rows] == [("pending", None)] * 3
    assert "còn 4 ngày" in rows[0][2]["text"]
    [again] = say("s1", 2, text="/remind")  # a double tap in the same minute
    assert again["text"] == "Đã xếp lịch gửi 0 tin nhắc tới các đơn vị chưa nộp."
    # the officer presses «Tiếp tục điền» on the reminder: it is never stale
    replies = say("a1", 3, choice="continue", context="")
    assert replies and "cũ" not in replies[0]["text"]
    assert "Câu 12/18" in replies[0]["text"]  # the first question DV-A has not answered


def test_remind_inside_quiet_hours_waits_for_the_morning(database, tmp_path):
    build_world(database, tmp_path)
    clock = FakeClock(vn(3, 10, 22, 30).astimezone(UTC))
    service = Service(database, clock, CHANNEL_TRAITS)
    service.handle(Inbound("telegram", "chat-s1", "s1", "u-1", text="/remind"))
    with database.transaction() as session:
        due = sorted(
            session.execute(
                select(OutboxMessage.not_before).where(OutboxMessage.kind == "reminder")
            ).scalars()
        )
    assert due[0] == vn(3, 11, 7) and len(due) == 3


def test_baocao_remind_dry_run_prints_and_changes_nothing(
    database, database_url, tmp_path, monkeypatch, capsys
):
    build_world(database, tmp_path)
    clock = FakeClock(vn(3, 10, 10, 15).astimezone(UTC))
    monkeypatch.setenv("BAOCAO_DATABASE_URL", database_url)
    monkeypatch.setattr(cli, "build_app", lambda settings: build_app(settings, clock=clock))
    assert cli.main(["remind", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "DV-A | Cán bộ A1 | telegram | còn 7/18 câu; còn 4 ngày",
        "DV-A | Cán bộ A2 | zalo | còn 7/18 câu; còn 4 ngày",
        "DV-B | Cán bộ B1 | telegram | còn 18/18 câu; còn 4 ngày",
        "(thử) 3 tin nhắc sẽ được gửi cho đợt ct37-2030; chưa gửi gì, không thay đổi gì.",
    ]
    assert count(database, OutboxMessage) == count(database, ReminderLog) == 0
    assert cli.main(["remind", "--dry-run", "--unit", "dv-b"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert count(database, OutboxMessage) == 0

    assert cli.main(["remind", "--unit", "DV-A"]) == 0
    assert capsys.readouterr().out.startswith("Đã xếp lịch gửi 2 tin nhắc")
    assert count(database, OutboxMessage) == count(database, ReminderLog) == 2

    assert cli.main(["remind", "--unit", "NOPE"]) == 1
    assert "không có đơn vị mã 'NOPE'" in capsys.readouterr().err


# --- one runner ---------------------------------------------------------------------------------


def test_two_runners_on_postgresql_only_one_holds_the_advisory_lock(postgres_url):
    one, two = open_database(postgres_url), open_database(postgres_url)
    first, second = runner_lock(one), runner_lock(two)
    try:
        assert isinstance(first, AdvisoryLock) and isinstance(second, AdvisoryLock)
        assert first.ensure() is True
        assert second.ensure() is False
        assert first.ensure() is True  # still held: its connection answers
        first.release()
        assert second.ensure() is True
        assert first.ensure() is False
        # the holder's connection dies (server restart, network): the lock goes with it
        pid = second._connection.execute(text("SELECT pg_backend_pid()")).scalar()
        second._connection.commit()
        with one.engine.connect() as admin:
            # with a timeout, PostgreSQL (14+) answers once the backend has really gone
            admin.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
            admin.commit()
        assert first.ensure() is True
        assert second.ensure() is False
    finally:
        first.release()
        second.release()
        one.dispose()
        two.dispose()


def test_a_second_sqlite_runner_is_refused(sqlite_url):
    one, two = open_database(sqlite_url), open_database(sqlite_url)
    first, second = runner_lock(one), runner_lock(two)
    try:
        assert isinstance(first, FileLock)
        assert first.path.name == "baocao.db.scheduler.lock"
        assert first.ensure() is True
        assert second.ensure() is False
        first.release()
        assert second.ensure() is True
    finally:
        first.release()
        second.release()
        one.dispose()
        two.dispose()


class WakeRecorder:
    def __init__(self) -> None:
        self.wakes = 0
        self.woken = asyncio.Event()

    def wake(self) -> None:
        self.wakes += 1
        self.woken.set()


async def test_the_scheduler_ticks_at_start_and_a_second_sqlite_process_refuses(
    sqlite_url, tmp_path, caplog
):
    database = open_database(sqlite_url)
    other = open_database(sqlite_url)
    build_world(database, tmp_path)
    clock = FakeClock(vn(3, 7, 8).astimezone(UTC))
    outbox = WakeRecorder()
    background: list[asyncio.Task] = []
    runner = start_scheduler(database, clock, outbox, background)
    try:
        await runner.wait_ticks(1)
        assert runner.last.queued == 4 and outbox.wakes >= 1
        [job] = runner.scheduler.get_jobs()
        assert isinstance(job.trigger, IntervalTrigger)
        assert job.trigger.interval == timedelta(minutes=1)
        with caplog.at_level(logging.INFO, logger="bot.reminders.runner"):
            refused = start_scheduler(other, clock, outbox, [])
        assert refused is None
        assert REFUSED_TEXT in caplog.text
        # /remind in this process wakes the outbox once its transaction has committed
        outbox.woken.clear()
        clock.set(vn(3, 7, 9).astimezone(UTC))
        service = Service(database, clock, CHANNEL_TRAITS)
        await asyncio.to_thread(
            service.handle, Inbound("telegram", "chat-s1", "s1", "u-1", text="/remind")
        )
        await asyncio.wait_for(outbox.woken.wait(), 5)
    finally:
        runner.shutdown(wait=False)
        for task in background:
            task.cancel()
    assert runner_lock(other).ensure() is True  # released on shutdown: another may take over
    database.dispose()
    other.dispose()


async def test_a_postgresql_process_without_the_lock_waits_and_takes_over(postgres_url, tmp_path):
    one, two = open_database(postgres_url), open_database(postgres_url)
    build_world(one, tmp_path)
    clock = FakeClock(vn(3, 7, 8).astimezone(UTC))
    first = start_scheduler(one, clock, WakeRecorder(), [])
    second = start_scheduler(two, clock, WakeRecorder(), [])
    try:
        await first.wait_ticks(1)
        await second.wait_ticks(1)
        assert first.last.queued == 4
        assert second.last is None and not second.lock.held  # did not tick
        first.shutdown(wait=False)
        clock.set(vn(3, 11, 8).astimezone(UTC))
        result = await second.run_once()  # its next scheduled run, without waiting a minute
        assert result is not None and result.queued == 4 and second.lock.held
    finally:
        first.shutdown(wait=False)
        second.shutdown(wait=False)
        one.dispose()
        two.dispose()
    assert count_rows(postgres_url) == 8


def count_rows(url: str) -> int:
    database = open_database(url, upgrade=False)
    try:
        with Session(database.engine) as session:
            return session.execute(select(func.count()).select_from(ReminderLog)).scalar()
    finally:
        database.dispose()
