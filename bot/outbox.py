"""Delivering the outbox: paced, retried, never lost, never sent twice by two processes.

Rows are written in the same transaction as the change that caused them. A process delivers the
rows it created itself right after commit (`submit`), and a sweep claims the rest: rows queued
unclaimed (reminders, notices) and rows whose claim went stale because a process died mid-send.

Pacing (`Pacer`) keeps to Telegram's published limits: about 25 messages/s for the bot and one per
second into one chat; a 429 pauses every send for its `retry_after`. A blocked bot (403) marks the
contact inactive instead of retrying.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.channels.base import Sender
from bot.messaging import Outbound, RetryLater, Undeliverable
from storage.database import Database
from storage.hot_path import QueuedMessage, mark_sent
from storage.models import OutboxMessage
from storage.outbox_store import claim_due, mark_blocked, mark_failed

log = logging.getLogger(__name__)
STALE_CLAIM = timedelta(minutes=2)
MAX_ATTEMPTS = 6


class Pacer:
    """Books send slots: at most `rate` per second overall and one per `chat_interval` per chat."""

    def __init__(self, rate: float, chat_interval: float) -> None:
        self.spacing = 1.0 / rate
        self.chat_interval = chat_interval
        self.next_global = 0.0
        self.next_in_chat: dict[str, float] = {}

    def reserve(self, chat: str, now: float) -> float:
        """Book and return the earliest moment (same clock as `now`) this chat may send."""
        slot = max(now, self.next_global, self.next_in_chat.get(chat, 0.0))
        self.next_global = slot + self.spacing
        self.next_in_chat[chat] = slot + self.chat_interval
        if len(self.next_in_chat) > 50_000:
            self.next_in_chat = {k: v for k, v in self.next_in_chat.items() if v > now}
        return slot

    def hold_all(self, until: float) -> None:
        self.next_global = max(self.next_global, until)


@dataclass
class _Queued:
    row_id: int
    outbound: Outbound
    contact_id: int | None
    attempts: int = 0


@dataclass
class Outbox:
    database: Database
    senders: dict[str, Sender]
    pacer: Pacer
    clock: Callable[[], datetime]
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    sweep_every: float = 5.0
    _queues: dict[tuple[str, str], deque[_Queued]] = field(default_factory=dict)
    _workers: dict[tuple[str, str], asyncio.Task] = field(default_factory=dict)
    _known: set[int] = field(default_factory=set)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _idle: asyncio.Event = field(default_factory=asyncio.Event)
    _outcomes: list[tuple[_Queued, str]] = field(default_factory=list)
    _recorder: asyncio.Task | None = None
    stats: dict[str, int] = field(default_factory=lambda: {"sent": 0, "retried": 0, "failed": 0})

    def submit(self, rows: list[OutboxMessage] | list[QueuedMessage]) -> None:
        """Queue rows this process has claimed; delivery starts at once."""
        for row in rows:
            if row.channel not in self.senders or row.id in self._known:
                continue
            self._known.add(row.id)
            key = (row.channel, row.chat_id)
            queued = _Queued(row.id, Outbound.from_payload(row.payload), row.contact_id)
            self._queues.setdefault(key, deque()).append(queued)
            if key not in self._workers:
                self._idle.clear()
                self._workers[key] = asyncio.create_task(self._deliver_chat(key))

    def wake(self) -> None:
        """Sweep now (new unclaimed rows were queued, e.g. reminders)."""
        self._wake.set()

    async def run(self) -> None:
        """Sweep for unclaimed or stale rows until cancelled."""
        while True:
            try:
                rows = await asyncio.to_thread(self.claim_due)
                self.submit(rows)
            except Exception:  # a database hiccup must not stop delivery for good
                log.exception("outbox sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.sweep_every)
            self._wake.clear()

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until every queued message has been delivered or given up."""
        if self._workers or self._outcomes or self._recorder is not None:
            await asyncio.wait_for(self._idle.wait(), timeout)

    def claim_due(self) -> list[OutboxMessage]:
        """Claim due rows no process is delivering; refresh the claims of rows queued here."""
        now = self.clock()
        with self.database.transaction() as session:
            return claim_due(
                session,
                channels=list(self.senders),
                now=now,
                stale_before=now - STALE_CLAIM,
                known=list(self._known),
            )

    async def _deliver_chat(self, key: tuple[str, str]) -> None:
        channel, chat_id = key
        queue = self._queues[key]
        try:
            while queue:
                item = queue[0]
                outcome = await self._attempt(channel, chat_id, item)
                if outcome is None:
                    continue
                queue.popleft()
                self._outcomes.append((item, outcome))
                if self._recorder is None or self._recorder.done():
                    self._recorder = asyncio.create_task(self._record_outcomes())
        finally:
            self._workers.pop(key, None)
            self._queues.pop(key, None)
            self._check_idle()

    def _check_idle(self) -> None:
        if (
            not self._workers
            and not self._outcomes
            and (self._recorder is None or self._recorder.done())
        ):
            self._idle.set()

    async def _record_outcomes(self) -> None:
        """Write outcomes in batches: what piles up while one batch is written goes next."""
        try:
            while self._outcomes:
                batch, self._outcomes = self._outcomes, []
                if self.database.is_sqlite:
                    # One short write: cheaper on the loop than a thread hop (see Hub).
                    self._record(batch)
                    await asyncio.sleep(0)  # let the next outcomes gather
                else:
                    await asyncio.to_thread(self._record, batch)
                for item, _ in batch:
                    self._known.discard(item.row_id)
        finally:
            self._recorder = None
            self._check_idle()

    async def _attempt(self, channel: str, chat_id: str, item: _Queued) -> str | None:
        """Try once; return the final status, or None to try again."""
        slot = self.pacer.reserve(f"{channel}:{chat_id}", self.monotonic())
        delay = slot - self.monotonic()
        if delay > 0:
            await self.sleep(delay)
        try:
            await self.senders[channel].send(chat_id, item.outbound)
        except RetryLater as retry:
            item.attempts += 1
            self.stats["retried"] += 1
            if retry.flood:
                self.pacer.hold_all(self.monotonic() + retry.seconds)
            if item.attempts >= MAX_ATTEMPTS:
                return f"failed: {retry}"
            await self.sleep(retry.seconds)
            return None
        except Undeliverable as error:
            self.stats["failed"] += 1
            return f"blocked: {error}" if error.blocked else f"failed: {error}"
        except Exception as error:  # unknown failure: keep the row, give up after a few tries
            item.attempts += 1
            log.warning("send on %s failed: %s", channel, type(error).__name__)
            if item.attempts >= MAX_ATTEMPTS:
                return f"failed: {type(error).__name__}"
            await self.sleep(min(30.0, 0.5 * 2**item.attempts))
            return None
        self.stats["sent"] += 1
        return "sent"

    def _record(self, batch: list[tuple[_Queued, str]]) -> None:
        now = self.clock()
        with self.database.unit_of_work() as tx:
            sent = [
                (item.row_id, item.attempts + 1) for item, outcome in batch if outcome == "sent"
            ]
            mark_sent(tx, sent, now)
            for item, outcome in batch:
                if outcome == "sent":
                    continue
                # Failures are rare: the ORM session is made on demand.
                mark_failed(tx.session, item.row_id, outcome[:500], item.attempts + 1)
                if outcome.startswith("blocked") and item.contact_id:
                    mark_blocked(tx.session, item.contact_id)
