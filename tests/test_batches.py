"""Messages that arrive together share one transaction, each still all-or-nothing.

`Service.handle_batch` on real SQLite and PostgreSQL (one failing message is undone alone, a
failed commit undoes all, a repeated update is applied once), and `ChannelHost.dispatch`
(`bot.dispatch`) gathering concurrent dispatches into batches and answering each waiter with its
own outcome.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Connection
from sqlmodel import select

import bot.service as service_module
from bot.dispatch import ChannelHost
from bot.messaging import Inbound, Outbound
from storage.models import Invite, OutboxMessage, ProcessedInbound
from tests.test_service import Chat, count, link, stored_answers


def inbound(user: str, inbound_id: str, text: str) -> Inbound:
    return Inbound("telegram", f"chat-{user}", user, inbound_id, text=text, display_name=user)


def claimed(database, inbound_id: str) -> bool:
    with database.transaction() as session:
        found = session.exec(
            select(ProcessedInbound).where(ProcessedInbound.inbound_id == inbound_id)
        ).first()
        return found is not None


def fail_replies_to(monkeypatch, chat_id: str):
    """Make writing a reply to one chat fail (a message that fails midway); returns the real
    `enqueue`, to put back."""
    real_enqueue = service_module.enqueue

    def enqueue(tx, **kwargs):
        if kwargs["chat_id"] == chat_id:
            raise RuntimeError("đĩa đầy")
        return real_enqueue(tx, **kwargs)

    monkeypatch.setattr(service_module, "enqueue", enqueue)
    return real_enqueue


def test_a_failing_message_is_undone_alone(service, database, clock, monkeypatch):
    link(service, database, clock, "an")
    link(service, database, clock, "binh", unit_code="DU-PHUOCDAN")
    link(service, database, clock, "chi", role="secretariat")
    code_before = count(database, Invite)
    real_enqueue = fail_replies_to(monkeypatch, "chat-binh")
    batch = [
        inbound("an", "b1", "/tiep"),
        inbound("chi", "b2", "/invite HU-NP"),  # ORM writes inside a savepoint
        inbound("binh", "b3", "/tiep"),  # fails after its own writes
        inbound("an", "b4", "/xem"),
    ]
    outcomes = service.handle_batch(batch)
    assert [type(o).__name__ for o in outcomes] == ["list", "list", "RuntimeError", "list"]
    assert [claimed(database, i) for i in ("b1", "b2", "b3", "b4")] == [True, True, False, True]
    assert count(database, Invite) == code_before + 1  # the secretary's invite was kept
    texts = [Outbound.from_payload(row.payload).text for row in outcomes[1]]
    assert "Mã mời cho Ban Thường vụ Huyện ủy Ninh Phước" in texts[0]
    # Delivered again (the channel retries), the failed message is applied in full.
    monkeypatch.setattr(service_module, "enqueue", real_enqueue)
    (retried,) = service.handle_batch([batch[2]])
    assert Outbound.from_payload(retried[0].payload).text.startswith("Câu 1/")
    assert claimed(database, "b3")


def test_answers_of_a_batch_are_stored_and_a_repeat_is_applied_once(service, database, clock):
    link(service, database, clock, "an")
    Chat(service, "an").send("/tiep")
    before = count(database, OutboxMessage)
    outcomes = service.handle_batch(
        [inbound("an", "r1", "không áp dụng"), inbound("an", "r1", "không áp dụng")]
    )
    assert len(outcomes[0]) == 1 and outcomes[1] == []
    assert count(database, OutboxMessage) == before + 1
    assert list(stored_answers(database).values()) == [(None, True)]


def test_a_failed_commit_keeps_nothing_of_the_batch(service, database, clock, monkeypatch):
    link(service, database, clock, "an")
    link(service, database, clock, "binh", unit_code="DU-PHUOCDAN")

    def commit(connection):
        raise RuntimeError("mất kết nối khi ghi")

    monkeypatch.setattr(Connection, "commit", commit)
    outcomes = service.handle_batch([inbound("an", "f1", "/tiep"), inbound("binh", "f2", "/tiep")])
    monkeypatch.undo()
    assert [type(o).__name__ for o in outcomes] == ["RuntimeError", "RuntimeError"]
    assert not claimed(database, "f1") and not claimed(database, "f2")


class _RecordingService:
    """Wraps the real service to see how the host groups messages."""

    def __init__(self, service) -> None:
        self.service = service
        self.batches: list[list[str]] = []

    def handle_batch(self, inbounds):
        self.batches.append([i.inbound_id for i in inbounds])
        return self.service.handle_batch(inbounds)


class _Outbox:
    def __init__(self) -> None:
        self.submitted: list = []

    def submit(self, rows) -> None:
        self.submitted.extend(rows)


async def test_the_host_gathers_concurrent_messages_into_batches(
    service, database, clock, monkeypatch
):
    for user in ("an", "binh", "chi"):
        link(service, database, clock, user, unit_code="HU-NP" if user == "an" else "HU-NH")
    recorder = _RecordingService(service)

    outbox = _Outbox()
    host = ChannelHost(
        service=recorder,
        outbox=outbox,
        web=None,
        attachments=None,
        secretariat_chats=list,
        button_contexts=set,
        meter=None,
        on_loop_thread=database.is_sqlite,
        batch_limit=2,
    )
    await asyncio.gather(
        host.dispatch(inbound("an", "h1", "/tiep")),
        host.dispatch(inbound("binh", "h2", "/tiep")),
        host.dispatch(inbound("chi", "h3", "/tiep")),
    )
    assert recorder.batches == [["h1", "h2"], ["h3"]]
    assert sorted(row.chat_id for row in outbox.submitted) == ["chat-an", "chat-binh", "chat-chi"]
    # A message that fails raises in its own waiter only.
    fail_replies_to(monkeypatch, "chat-binh")
    outcomes = await asyncio.gather(
        host.dispatch(inbound("an", "h4", "/xem")),
        host.dispatch(inbound("binh", "h5", "/xem")),
        return_exceptions=True,
    )
    assert outcomes[0] is None and isinstance(outcomes[1], RuntimeError)
    assert recorder.batches[-1] == ["h4", "h5"]
    assert claimed(database, "h4") and not claimed(database, "h5")
