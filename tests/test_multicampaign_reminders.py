"""Reminders with several campaigns (issue #22), on real SQLite and PostgreSQL: two open
campaigns whose reminders fall on the same day are each sent once, each naming its campaign; a
draft and a closed campaign are never reminded. The world is `tests.test_reminders`'s, with a
second open campaign (ct38-2030, same deadline, units DV-A and DV-B), a draft and a closed one.
"""

from __future__ import annotations

import yaml
from sqlalchemy import select, update

from bot.reminders.ticks import tick
from conversations.campaigns import load_campaign
from storage.models import Campaign, OutboxMessage, ReminderLog
from storage.repository import save_campaign
from tests.test_reminders import build_world, campaign_file, vn


def load_other(world, tmp_path, code: str, title: str, state: str) -> None:
    path = campaign_file(tmp_path, "2030-03-15T00:00:00+07:00", {})
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw.update(code=code, title=title, participants={"units": ["DV-A", "DV-B"]})
    other = tmp_path / f"{code}.yaml"
    other.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with world.database.transaction() as session:
        save_campaign(session, load_campaign(other), vn(3, 1))
        session.execute(update(Campaign).where(Campaign.code == code).values(state=state))


def reminders_of(world, person: str) -> list[tuple[str, str]]:
    """(campaign code, text) of every reminder queued for a person, in order."""
    with world.database.transaction() as session:
        rows = session.execute(
            select(Campaign.code, OutboxMessage.payload)
            .join(ReminderLog, ReminderLog.outbox_id == OutboxMessage.id)
            .join(Campaign, Campaign.id == ReminderLog.campaign_id)
            .where(ReminderLog.contact_id == world.ids[person], OutboxMessage.kind == "reminder")
            .order_by(OutboxMessage.id)
        ).all()
    return [(code, payload["text"]) for code, payload in rows]


def test_two_open_campaigns_on_one_day_are_reminded_once_each(database, tmp_path):
    world = build_world(database, tmp_path)
    load_other(world, tmp_path, "ct38-2030", "Sơ kết Quy chế dân chủ ở cơ sở năm 2030", "open")
    load_other(world, tmp_path, "nhap-2030", "Đợt còn soạn thảo", "draft")
    load_other(world, tmp_path, "dong-2030", "Đợt đã đóng", "closed")
    for moment in (vn(3, 7, 7, 59), vn(3, 7, 8, 0), vn(3, 7, 8, 1), vn(3, 7, 9, 0)):
        tick(database, moment)  # a second runner or a restart: nothing twice
    tick(database, vn(3, 7, 8, 0), memo=set())
    a1 = reminders_of(world, "a1")
    assert [code for code, _ in a1] == ["ct37-2030", "ct38-2030"]
    assert "Sơ kết Quy chế dân chủ ở cơ sở năm 2030" in a1[1][1]
    assert "Kiểm tra việc thực hiện Chỉ thị 37-CT/TU" in a1[0][1]
    assert "Sơ kết" not in a1[0][1]
    # DV-C takes part in ct37-2030 only; the draft and the closed campaign reach nobody.
    assert [code for code, _ in reminders_of(world, "c1")] == []  # submitted from the start
    assert [code for code, _ in reminders_of(world, "b1")] == ["ct37-2030", "ct38-2030"]
    with database.transaction() as session:
        slots = session.execute(
            select(Campaign.code).join(ReminderLog, ReminderLog.campaign_id == Campaign.id)
        ).scalars()
        assert set(slots) == {"ct37-2030", "ct38-2030"}
