"""One rule for who is a unit's secretariat (the province's plus the district's above the unit),
used for the officers' notices, the Zalo quota alerts, the set-aside alert and the digest."""

from __future__ import annotations

from sqlmodel import select

from bot.app import CHANNEL_TRAITS
from bot.messaging import Inbound, Outbound
from bot.notify import notify, officers_of, secretariat_of
from bot.quota_gate import QUOTA_CONTEXT, MonthlyQuotaGate
from bot.service import Service
from storage.models import Contact, OutboxMessage
from storage.reminder_store import load_audience
from storage.repository import current_campaign, unit_by_code
from tests.web.conftest import add_contact


def _names(database, recipients) -> list[str]:
    with database.transaction() as session:
        return [session.get(Contact, r.contact_id).display_name for r in recipients]


def _unit_id(database, code: str) -> int:
    with database.transaction() as session:
        return unit_by_code(session, code).id


def _notices(database) -> list[tuple[str, str]]:
    with database.transaction() as session:
        rows = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == "notice").order_by(OutboxMessage.id)
        )
        return [(row.chat_id, row.payload.get("context", "")) for row in rows]


def _people(database, clock) -> None:
    add_contact(database, clock, "Lan")  # the province's secretariat
    add_contact(database, clock, "Hùng", unit="HU-NP")  # the district over Ninh Phước
    add_contact(database, clock, "Hải", unit="HU-NH")  # another district
    gone = add_contact(database, clock, "Cũ")  # blocked the bot
    add_contact(database, clock, "Anh", role="officer", unit="HU-NP")
    add_contact(database, clock, "Zalo", unit=None, channel="zalo")
    with database.transaction() as session:
        contact = session.get(Contact, gone)
        contact.active = False
        session.add(contact)


def test_the_secretariat_of_a_unit(database, clock):
    _people(database, clock)
    with database.transaction() as session:
        below_np = secretariat_of(session, unit_by_code(session, "DU-PHUOCDAN").id)
        of_np = secretariat_of(session, unit_by_code(session, "HU-NP").id)
        of_nh = secretariat_of(session, unit_by_code(session, "HU-NH").id)
        of_nothing = secretariat_of(session, None)
        officers = officers_of(session, unit_by_code(session, "HU-NP").id)
    assert _names(database, below_np) == ["Lan", "Hùng", "Zalo"]
    assert _names(database, of_np) == ["Lan", "Hùng", "Zalo"]
    assert _names(database, of_nh) == ["Lan", "Hải", "Zalo"]
    assert _names(database, of_nothing) == ["Lan", "Zalo"]
    assert _names(database, officers) == ["Anh"]


def test_notify_queues_one_unclaimed_notice_each(database, clock):
    _people(database, clock)
    with database.transaction() as session:
        unit_id = unit_by_code(session, "DU-PHUOCDAN").id
        queued = notify(session, secretariat_of(session, unit_id), Outbound("Có tệp mới"), clock())
    assert [(q.chat_id, q.status) for q in queued] == [
        ("chat-Lan", "pending"),
        ("chat-Hùng", "pending"),
        ("chat-Zalo", "pending"),
    ]
    assert _notices(database) == [("chat-Lan", ""), ("chat-Hùng", ""), ("chat-Zalo", "")]


async def test_quota_alerts_go_to_the_province_secretariat(database, clock):
    _people(database, clock)
    gate = MonthlyQuotaGate(database, clock, "zalo", "oa", cap=10, wake_outbox=lambda: None)
    for _ in range(7):
        assert await gate.take(Outbound("tin")) is None
    assert _notices(database) == []
    assert await gate.take(Outbound("tin")) is None  # 8/10: 80 %, the warning
    # The quota concerns no unit: the province's members only; on Zalo it may pass the cap.
    assert _notices(database) == [("chat-Lan", ""), ("chat-Zalo", QUOTA_CONTEXT)]


def test_the_set_aside_alert_and_the_digest_follow_the_same_rule(database, clock):
    _people(database, clock)
    service = Service(database, clock, CHANNEL_TRAITS)
    stranger = Inbound("telegram", "chat-1", "1", "u-1", text="xin chào")
    queued = service.set_aside(stranger, {}, ValueError("hỏng"), 3)
    assert [q.chat_id for q in queued] == ["chat-1", "chat-Lan", "chat-Zalo"]
    with database.transaction() as session:
        digest = load_audience(session, current_campaign(session)).secretariat
    assert [person.name for person in digest] == ["Lan", "Zalo"]
    assert _unit_id(database, "HU-NP")  # the districts exist, and are left out on purpose
