"""The outbox: pacing arithmetic, claiming rows exactly once across processes, and delivery
outcomes (sent, retried after 429 / 5xx, blocked contact deactivated), on SQLite and PostgreSQL.

Time is fake: the outbox's `sleep` only advances a counter, so nothing waits for real.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.messaging import Outbound
from bot.outbox import Outbox, Pacer, RetryLater, Undeliverable
from storage.hot_path import enqueue
from storage.models import Contact, OutboxMessage
from tests.fakes.virtual_time import VirtualTime


def test_pacer_spaces_sends_overall_and_per_chat():
    pacer = Pacer(rate=25, chat_interval=1.0)
    slots = [pacer.reserve(f"chat{i}", 0.0) for i in range(50)]
    assert slots[0] == 0.0
    assert slots[-1] == pytest.approx(49 / 25)
    assert all(b - a == pytest.approx(0.04) for a, b in zip(slots, slots[1:], strict=False))
    same_chat = [pacer.reserve("busy", 10.0) for _ in range(3)]
    assert same_chat == pytest.approx([10.0, 11.0, 12.0])


def test_pacer_holds_everything_after_a_flood_answer():
    pacer = Pacer(rate=25, chat_interval=0)
    pacer.hold_all(30.0)
    assert pacer.reserve("a", 1.0) == 30.0


class ScriptedSender:
    """Fails as told for the first calls, then records successful sends."""

    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.failures = list(failures or [])
        self.sent: list[tuple[str, str]] = []

    async def send(self, chat_id: str, outbound: Outbound) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((chat_id, outbound.text))


def _queue(database, clock, texts, *, chat="42", contact_id=None, claimed=False):
    with database.transaction() as session:
        return [
            enqueue(
                session,
                channel="test",
                chat_id=chat,
                payload=Outbound(text).to_payload(),
                now=clock(),
                contact_id=contact_id,
                claimed=claimed,
            )
            for text in texts
        ]


def _contact(database, clock, chat: str) -> int:
    with database.transaction() as session:
        contact = Contact(channel="test", external_id=chat, chat_id=chat, created_at=clock())
        session.add(contact)
        session.flush()
        return contact.id


def _statuses(database) -> dict[int, str]:
    with database.transaction() as session:
        return {row.id: row.status for row in session.exec(select(OutboxMessage))}


def _outbox(database, clock, sender, virtual=None) -> Outbox:
    virtual = virtual or VirtualTime()
    return Outbox(
        database,
        {"test": sender},
        Pacer(25, 1.0),
        clock,
        monotonic=virtual.monotonic,
        sleep=virtual.sleep,
    )


async def test_pending_rows_are_claimed_once_across_processes(database, clock):
    rows = _queue(database, clock, ["một", "hai", "ba"])
    first = _outbox(database, clock, ScriptedSender())
    second = _outbox(database, clock, ScriptedSender())
    claimed_first = await asyncio.to_thread(first.claim_due)
    claimed_second = await asyncio.to_thread(second.claim_due)
    assert [r.id for r in claimed_first] == [r.id for r in rows]
    assert claimed_second == []


async def test_a_stale_claim_is_taken_over_but_a_live_one_is_kept(database, clock):
    _queue(database, clock, ["treo"], claimed=True)  # claimed by a process that then died
    survivor = _outbox(database, clock, ScriptedSender())
    assert await asyncio.to_thread(survivor.claim_due) == []
    clock.advance(minutes=3)
    taken = await asyncio.to_thread(survivor.claim_due)
    assert [r.payload["text"] for r in taken] == ["treo"]
    # While it waits in this process's memory, its claim is refreshed at every sweep.
    survivor._known.update(r.id for r in taken)
    clock.advance(minutes=3)
    await asyncio.to_thread(survivor.claim_due)
    other = _outbox(database, clock, ScriptedSender())
    assert await asyncio.to_thread(other.claim_due) == []


async def test_delivery_in_order_with_pacing_and_recorded_as_sent(database, clock):
    sender = ScriptedSender()
    virtual = VirtualTime()
    outbox = _outbox(database, clock, sender, virtual)
    outbox.submit(_queue(database, clock, ["một", "hai", "ba"], claimed=True))
    await outbox.drain(timeout=5)
    assert sender.sent == [("42", "một"), ("42", "hai"), ("42", "ba")]
    assert sum(virtual.slept) == pytest.approx(2.0)  # one per second into the same chat
    assert set(_statuses(database).values()) == {"sent"}


async def test_flood_and_server_errors_are_retried(database, clock):
    sender = ScriptedSender([RetryLater(7, flood=True), RetryLater(2)])
    virtual = VirtualTime()
    outbox = _outbox(database, clock, sender, virtual)
    outbox.submit(_queue(database, clock, ["kiên nhẫn"], claimed=True))
    await outbox.drain(timeout=5)
    assert sender.sent == [("42", "kiên nhẫn")]
    assert 7 in virtual.slept and 2 in virtual.slept
    assert outbox.stats["retried"] == 2
    with database.transaction() as session:
        (row,) = session.exec(select(OutboxMessage)).all()
        assert (row.status, row.attempts, row.sent_at) == ("sent", 3, clock())


async def test_outcomes_of_one_batch_are_recorded_each_as_it_went(database, clock):
    contact_id = _contact(database, clock, "9")
    sender = ScriptedSender()
    outbox = _outbox(database, clock, sender)
    ok = _queue(database, clock, ["một", "hai"], chat="1", claimed=True)
    blocked = _queue(database, clock, ["ba"], chat="9", contact_id=contact_id, claimed=True)

    async def send(chat_id: str, outbound: Outbound) -> None:
        if chat_id == "9":
            raise Undeliverable("Forbidden: bot was blocked by the user", blocked=True)
        sender.sent.append((chat_id, outbound.text))

    sender.send = send
    outbox.submit(ok + blocked)
    await outbox.drain(timeout=5)
    with database.transaction() as session:
        rows = {r.id: r for r in session.exec(select(OutboxMessage))}
        assert [(rows[r.id].status, rows[r.id].attempts) for r in ok] == [("sent", 1)] * 2
        assert all(rows[r.id].sent_at == clock() for r in ok)
        assert (rows[blocked[0].id].status, rows[blocked[0].id].sent_at) == ("failed", None)
        assert session.get(Contact, contact_id).active is False


async def test_blocked_contact_is_deactivated_and_not_retried(database, clock):
    contact_id = _contact(database, clock, "42")
    sender = ScriptedSender([Undeliverable("Forbidden: bot was blocked by the user", blocked=True)])
    outbox = _outbox(database, clock, sender)
    outbox.submit(_queue(database, clock, ["a", "b"], contact_id=contact_id, claimed=True)[:1])
    await outbox.drain(timeout=5)
    assert sender.sent == []
    with database.transaction() as session:
        assert session.get(Contact, contact_id).active is False
        (row,) = session.exec(select(OutboxMessage).where(OutboxMessage.status == "failed")).all()
        assert row.error.startswith("blocked")


async def test_a_message_is_given_up_after_repeated_failures(database, clock):
    sender = ScriptedSender([RetryLater(1)] * 10)
    outbox = _outbox(database, clock, sender)
    outbox.submit(_queue(database, clock, ["không tới"], claimed=True))
    await outbox.drain(timeout=5)
    assert sender.sent == []
    assert set(_statuses(database).values()) == {"failed"}


async def test_rows_not_yet_due_wait(database, clock):
    with database.transaction() as session:
        row = enqueue(
            session,
            channel="test",
            chat_id="1",
            payload=Outbound("sáng mai").to_payload(),
            now=clock(),
            claimed=False,
        )
        stored = session.get(OutboxMessage, row.id)
        stored.not_before = clock() + timedelta(hours=1)
        session.add(stored)
    outbox = _outbox(database, clock, ScriptedSender())
    assert await asyncio.to_thread(outbox.claim_due) == []
    clock.advance(hours=1)
    assert len(await asyncio.to_thread(outbox.claim_due)) == 1
