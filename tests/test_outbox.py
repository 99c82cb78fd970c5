"""The outbox: pacing arithmetic, claiming rows exactly once across processes, leases and their
take-over, and delivery outcomes (sent, retried after 429 / 5xx while useful, given up after a
few unknown failures, blocked contact deactivated), on SQLite and PostgreSQL.

Time is fake: the outbox's `sleep` only advances a counter, so nothing waits for real.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.messaging import Outbound
from bot.outbox import (
    Outbox,
    Pacer,
    RetryLater,
    Undeliverable,
    died_here,
    machine_key,
    new_claimant,
)
from storage.hot_path import enqueue
from storage.models import Contact, OutboxMessage
from tests.fakes.virtual_time import EventTime, VirtualTime


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


async def test_an_expired_lease_is_taken_over_but_a_live_one_is_kept(database, clock):
    with database.transaction() as session:  # claimed by a process elsewhere that then died
        enqueue(
            session,
            channel="test",
            chat_id="42",
            payload=Outbound("treo").to_payload(),
            now=clock(),
            claimant="elsewhere/1/abc",
        )
    survivor = _outbox(database, clock, ScriptedSender())
    assert await asyncio.to_thread(survivor.claim_due) == []
    clock.advance(seconds=14)
    assert await asyncio.to_thread(survivor.claim_due) == []
    clock.advance(seconds=2)
    taken = await asyncio.to_thread(survivor.claim_due)
    assert [r.payload["text"] for r in taken] == ["treo"]
    assert taken[0].claimed_by == survivor.claimant
    # While it waits in this process's memory, its lease is renewed at every sweep.
    survivor._known.update(r.id for r in taken)
    for _ in range(5):
        clock.advance(seconds=10)
        await asyncio.to_thread(survivor.claim_due)
        other = _outbox(database, clock, ScriptedSender())
        assert await asyncio.to_thread(other.claim_due) == []


async def test_claims_of_a_process_that_died_on_this_machine_are_taken_at_once(database, clock):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with database.transaction() as session:
        enqueue(
            session,
            channel="test",
            chat_id="42",
            payload=Outbound("mồ côi").to_payload(),
            now=clock(),
            claimant=f"{machine_key()}/{dead.pid}/abc",
        )
        enqueue(  # a live process on this machine keeps its claim until its lease runs out
            session,
            channel="test",
            chat_id="43",
            payload=Outbound("đang gửi").to_payload(),
            now=clock(),
            claimant=f"{machine_key()}/{os.getppid()}/def",
        )
    newcomer = _outbox(database, clock, ScriptedSender())
    taken = await asyncio.to_thread(newcomer.claim_due)
    assert [r.payload["text"] for r in taken] == ["mồ côi"]


def test_claimant_names_machine_and_process():
    claimant = new_claimant()
    assert claimant.startswith(f"{machine_key()}/{os.getpid()}/")
    assert len(claimant) <= 40
    assert new_claimant() != claimant
    assert not died_here(claimant, machine_key())
    assert not died_here("another-machine/1/abc", machine_key())


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
    assert virtual.slept == [7, 1]  # retry_after, then the first back-off step
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


async def test_unknown_failures_are_given_up_after_a_few_tries(database, clock):
    sender = ScriptedSender([RetryLater(5, unknown=True)] * 3 + [ValueError("?")] * 10)
    outbox = _outbox(database, clock, sender)
    outbox.submit(_queue(database, clock, ["không tới"], claimed=True))
    await outbox.drain(timeout=5)
    assert sender.sent == []
    with database.transaction() as session:
        (row,) = session.exec(select(OutboxMessage)).all()
        assert (row.status, row.attempts, row.error) == ("failed", 6, "failed: ValueError")


async def test_transient_failures_and_429s_never_count_against_the_cap(database, clock):
    failures = [RetryLater(2.0, reason="Bad Gateway")] * 12 + [RetryLater(3, throttled=True)] * 20
    sender = ScriptedSender(failures)
    virtual = VirtualTime()
    outbox = _outbox(database, clock, sender, virtual)
    outbox.submit(_queue(database, clock, ["vẫn tới"], claimed=True))
    await outbox.drain(timeout=5)
    assert sender.sent == [("42", "vẫn tới")]
    backoffs = virtual.slept[:12]
    assert backoffs == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60]  # doubling, capped at 60 s
    assert virtual.slept[12:] == [3] * 20
    with database.transaction() as session:
        (row,) = session.exec(select(OutboxMessage)).all()
        assert (row.status, row.attempts) == ("sent", 33)


async def test_a_message_no_longer_useful_is_given_up(database, clock):
    sender = ScriptedSender([RetryLater(1.0)] * 1000)
    virtual = VirtualTime()

    async def sleep(seconds: float) -> None:  # the wall clock moves with the outbox's time
        clock.advance(seconds=seconds)
        await virtual.sleep(seconds)

    outbox = Outbox(
        database,
        {"test": sender},
        Pacer(25, 1.0),
        clock,
        monotonic=virtual.monotonic,
        sleep=sleep,
        useful_for=timedelta(hours=1),
    )
    outbox.submit(_queue(database, clock, ["quá muộn"], claimed=True))
    await outbox.drain(timeout=5)
    assert sender.sent == []
    assert 3600 <= sum(virtual.slept) <= 3600 + 60
    with database.transaction() as session:
        (row,) = session.exec(select(OutboxMessage)).all()
        assert row.status == "failed" and "không còn hữu ích" in row.error


def test_a_hold_moves_slots_already_booked_when_they_are_asked_again():
    pacer = Pacer(1, 0.0)
    first = pacer.reserve("c", 0.0)
    waiting = pacer.reserve("c", 0.0)
    pacer.hold_chat("c", 30.0)
    assert (first, waiting) == (0.0, 1.0)
    assert pacer.held_until("c") == 30.0 and pacer.held_until("other") == 0.0
    assert pacer.reserve("c", waiting) == 30.0


@pytest.mark.parametrize("flood", [False, True])
async def test_a_429_holds_sends_already_waiting_for_their_slot(database, clock, flood):
    """Chats 2 and 3 are asleep until their paced slots when chat 1 meets a 429 (retry_after
    20): a flood 429 holds them too, however early their slot; a per-chat one only chat 1."""
    times: dict[str, float] = {}
    events = EventTime()
    answers = iter([RetryLater(20, throttled=True, flood=flood)])

    class Sender:
        async def send(self, chat_id: str, outbound: Outbound) -> None:
            if chat_id == "1" and (failure := next(answers, None)):
                raise failure
            times.setdefault(chat_id, events.now)

    outbox = Outbox(
        database,
        {"test": Sender()},
        Pacer(2, 1.0),  # slots 0.5 s apart: chats 2 and 3 wait when the 429 comes
        clock,
        monotonic=events.monotonic,
        sleep=events.sleep,
    )
    start = events.now
    for chat in ("1", "2", "3"):
        outbox.submit(_queue(database, clock, ["x"], chat=chat, claimed=True))
    await events.run_until(lambda: len(times) == 3 and not outbox._workers)
    assert times["1"] - start == pytest.approx(20)
    if flood:
        assert all(at - start >= 20 for at in times.values())
    else:
        assert (times["2"] - start, times["3"] - start) == pytest.approx((0.5, 1.0))


async def test_a_send_is_recorded_before_the_next_one_in_its_chat(database, clock):
    seen: list[dict[int, str]] = []

    class Sender:
        async def send(self, chat_id: str, outbound: Outbound) -> None:
            seen.append(_statuses(database))

    outbox = _outbox(database, clock, Sender())
    rows = _queue(database, clock, ["một", "hai", "ba"], claimed=True)
    outbox.submit(rows)
    await outbox.drain(timeout=5)
    ids = [r.id for r in rows]
    assert [[snapshot[i] for i in ids] for snapshot in seen] == [
        ["sending", "sending", "sending"],
        ["sent", "sending", "sending"],
        ["sent", "sent", "sending"],
    ]


async def test_a_stopping_process_hands_back_what_it_did_not_send(database, clock):
    sender = ScriptedSender([RetryLater(5.0)] * 100)
    outbox = _outbox(database, clock, sender)
    rows = _queue(database, clock, ["chờ"], claimed=True)
    with database.transaction() as session:
        session.get(OutboxMessage, rows[0].id).claimed_by = outbox.claimant
    outbox.submit(rows)
    await asyncio.sleep(0)
    await outbox.close()
    assert _statuses(database) == {rows[0].id: "pending"}
    successor = _outbox(database, clock, ScriptedSender())
    assert [r.id for r in await asyncio.to_thread(successor.claim_due)] == [rows[0].id]


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


async def test_a_row_found_after_its_useful_life_is_not_sent_but_kept_visible(database, clock):
    _queue(database, clock, ["hôm qua"])
    clock.advance(hours=25)  # the bot was down for a day
    sender = ScriptedSender()
    outbox = _outbox(database, clock, sender)
    outbox.submit(await asyncio.to_thread(outbox.claim_due))
    await outbox.drain(timeout=5)
    assert sender.sent == []
    with database.transaction() as session:
        (row,) = session.exec(select(OutboxMessage)).all()
        assert (row.status, row.attempts) == ("failed", 0)
        assert row.error == "failed: không còn hữu ích sau 0 lần thử"
