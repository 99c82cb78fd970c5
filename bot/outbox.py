"""Delivering the outbox: paced, retried while useful, recorded as it happens, never sent twice
by two processes.

Rows are written in the same transaction as the change that caused them. A process delivers the
rows it created itself right after commit (`submit`), and a sweep claims the rest: rows queued
unclaimed (reminders, notices, re-queued failures) and rows whose process died mid-send.

Claims carry the claiming process (`claimant`) and a short lease, renewed at every sweep while the
process lives. Another process takes a claim over once its lease has run out, or at once when the
claimant ran on this machine and is gone (a `kill -9`, a crash).

Each outcome is committed right after its send, and the next send into the same chat waits for
that record: after a crash at most the sends in flight at that instant go out again (the Bot
APIs offer no idempotency key to prevent even that).

Pacing (`Pacer`) keeps to Telegram's published limits: about 25 messages/s for the bot and one per
second into one chat. A 429 holds every send to that chat (a flood 429 every send) until its
`retry_after` has passed, sends already waiting for their slot included. Transient failures (5xx,
network, timeouts) are tried again with back-off for as long as the message is useful
(`useful_for`); only answers we do not understand count against `MAX_ATTEMPTS`. A blocked bot
(403) marks the contact inactive instead of retrying.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from bot.channels.base import Sender
from bot.clock import monotonic as monotonic_clock
from bot.messaging import Outbound, RetryLater, Undeliverable
from storage.database import Database, is_locked, without_waiting
from storage.hot_path import QueuedMessage, mark_sent
from storage.models import OutboxMessage
from storage.outbox_store import (
    claim_due,
    claimants_holding,
    mark_blocked,
    mark_failed,
    redact_sent,
    release_claims,
    renew_leases,
)

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=15)
SWEEP_EVERY = 2.0  # seconds: new unclaimed rows, expired leases, lease renewal
MAX_ATTEMPTS = 6  # answers we do not understand (transient failures and 429s do not count)
BACKOFF_FIRST = 1.0
BACKOFF_CAP = 60.0
USEFUL_FOR = timedelta(hours=24)


def backoff(failures: int) -> float:
    """Seconds to wait after the `failures`-th failure in a row: 1, 2, 4 … capped at 60."""
    return min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** max(0, failures - 1))


def machine_key() -> str:
    """Names this host and PID namespace: two processes with the same key can see each other's
    process ids (so one can tell that the other has died)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return hashlib.sha256(f"{socket.gethostname()}|{namespace}".encode()).hexdigest()[:12]


def new_claimant() -> str:
    """A fresh id for this process's claims: machine key, process id, random part."""
    return f"{machine_key()}/{os.getpid()}/{secrets.token_hex(6)}"


def died_here(claimant: str, machine: str) -> bool:
    """True if `claimant` was a process on this machine that no longer runs."""
    parts = claimant.split("/")
    if len(parts) != 3 or parts[0] != machine or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False  # an earlier Outbox in this very process (tests): its lease decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, or not ours to ask: wait for the lease
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


class Pacer:
    """Books send slots: at most `rate` per second overall and one per `chat_interval` per chat,
    never before a hold (a 429's retry_after, a back-off) on that chat or on everything."""

    def __init__(self, rate: float, chat_interval: float) -> None:
        self.spacing = 1.0 / rate
        self.chat_interval = chat_interval
        self.next_global = 0.0
        self.next_in_chat: dict[str, float] = {}
        self.held_all = 0.0
        self.held_chat: dict[str, float] = {}

    def reserve(self, chat: str, now: float) -> float:
        """Book and return the earliest moment (same clock as `now`) this chat may send."""
        slot = max(now, self.next_global, self.next_in_chat.get(chat, 0.0), self.held_until(chat))
        self.next_global = slot + self.spacing
        self.next_in_chat[chat] = slot + self.chat_interval
        if len(self.next_in_chat) > 50_000:
            self.next_in_chat = {k: v for k, v in self.next_in_chat.items() if v > now}
            self.held_chat = {k: v for k, v in self.held_chat.items() if v > now}
        return slot

    def held_until(self, chat: str) -> float:
        return max(self.held_all, self.held_chat.get(chat, 0.0))

    def hold_chat(self, chat: str, until: float) -> None:
        self.held_chat[chat] = max(self.held_chat.get(chat, 0.0), until)

    def hold_all(self, until: float) -> None:
        self.held_all = max(self.held_all, until)
        self.next_global = max(self.next_global, until)


@dataclass
class _Queued:
    row_id: int
    outbound: Outbound
    contact_id: int | None
    useful_until: datetime
    attempts: int = 0  # sends tried
    unknown_failures: int = 0  # counted against MAX_ATTEMPTS
    failures_in_row: int = 0  # transient ones, for the back-off


@dataclass
class Outbox:
    database: Database
    senders: dict[str, Sender]
    pacer: Pacer
    clock: Callable[[], datetime]
    monotonic: Callable[[], float] = monotonic_clock
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    sweep_every: float = SWEEP_EVERY
    lease: timedelta = LEASE
    useful_for: timedelta = USEFUL_FOR
    claimant: str = field(default_factory=new_claimant)
    _queues: dict[tuple[str, str], deque[_Queued]] = field(default_factory=dict)
    _workers: dict[tuple[str, str], asyncio.Task] = field(default_factory=dict)
    _known: set[int] = field(default_factory=set)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _idle: asyncio.Event = field(default_factory=asyncio.Event)
    _outcomes: list[tuple[_Queued, str, asyncio.Future]] = field(default_factory=list)
    _recorder: asyncio.Task | None = None
    stats: dict[str, int] = field(
        default_factory=lambda: {"sent": 0, "retried": 0, "failed": 0, "held_429": 0}
    )
    # Hears each send's latency, by channel (`bot.metrics`).
    observe_send: Callable[[str, float], None] | None = None

    def submit(self, rows: list[OutboxMessage] | list[QueuedMessage]) -> None:
        """Queue rows this process has claimed; delivery starts at once."""
        now = self.clock()
        for row in rows:
            if row.channel not in self.senders or row.id in self._known:
                continue
            self._known.add(row.id)
            key = (row.channel, row.chat_id)
            due = getattr(row, "not_before", None) or now
            queued = _Queued(
                row.id, Outbound.from_payload(row.payload), row.contact_id, due + self.useful_for
            )
            self._queues.setdefault(key, deque()).append(queued)
            if key not in self._workers:
                self._idle.clear()
                self._workers[key] = asyncio.create_task(self._deliver_chat(key))

    def wake(self) -> None:
        """Sweep now (new unclaimed rows were queued, e.g. reminders)."""
        self._wake.set()

    async def run(self) -> None:
        """Sweep (the first one at once) for unclaimed rows and expired claims until cancelled."""
        while True:
            try:
                rows = await asyncio.to_thread(self.claim_due, list(self._known))
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

    async def close(self) -> None:
        """Stop delivering (after `drain`): what is still queued goes back to pending at once, so
        the next process need not wait for the lease."""
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if self._recorder is not None:
            await asyncio.gather(self._recorder, return_exceptions=True)
        try:
            with self.database.transaction() as session:
                release_claims(session, claimant=self.claimant, held=list(self._known))
        except Exception:  # the next process takes them over when the lease runs out
            log.exception("outbox: could not hand back undelivered rows")
        self._known.clear()

    def claim_due(self, held: list[int] | None = None) -> list[OutboxMessage]:
        """Renew the leases of the rows held here (`held`, taken on the event loop); claim due
        rows no live process is delivering."""
        now = self.clock()
        machine = self.claimant.split("/", 1)[0]
        held = list(self._known) if held is None else held
        with self.database.transaction() as session:
            renew_leases(session, claimant=self.claimant, held=held, now=now)
            others = claimants_holding(session, channels=list(self.senders), exclude=self.claimant)
            return claim_due(
                session,
                channels=list(self.senders),
                now=now,
                lease_expired_before=now - self.lease,
                claimant=self.claimant,
                dead=[other for other in others if died_here(other, machine)],
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
                # Committed before the next send into this chat: a crash re-sends at most
                # the one message in flight here.
                await self._record_outcome(item, outcome)
                queue.popleft()
        finally:
            self._workers.pop(key, None)
            self._queues.pop(key, None)
            self._check_idle()

    async def _record_outcome(self, item: _Queued, outcome: str) -> None:
        future = asyncio.get_running_loop().create_future()
        self._outcomes.append((item, outcome, future))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_outcomes())
        await asyncio.shield(future)

    def _check_idle(self) -> None:
        if (
            not self._workers
            and not self._outcomes
            and (self._recorder is None or self._recorder.done())
        ):
            self._idle.set()

    async def _record_outcomes(self) -> None:
        """Write outcomes as they come: what piles up while one batch is written goes next."""
        try:
            while self._outcomes:
                batch, self._outcomes = self._outcomes, []
                pairs = [(item, outcome) for item, outcome, _ in batch]
                try:
                    if self.database.is_sqlite:
                        # One short write: cheaper on the loop than a thread hop (as
                        # `bot.dispatch.ChannelHost` runs SQLite batches); but never a wait
                        # there for a lock another connection holds.
                        try:
                            with without_waiting():
                                self._record(pairs)
                        except Exception as error:
                            if not is_locked(error):
                                raise
                            await asyncio.to_thread(self._record, pairs)
                    else:
                        await asyncio.to_thread(self._record, pairs)
                except Exception:  # the database is away: keep the outcomes, try again
                    log.exception("outbox: recording %d outcome(s) failed", len(batch))
                    self._outcomes = batch + self._outcomes
                    await self.sleep(1.0)
                    continue
                for item, _, future in batch:
                    self._known.discard(item.row_id)
                    if not future.done():
                        future.set_result(None)
                await asyncio.sleep(0)  # let the next outcomes gather
        finally:
            self._recorder = None
            self._check_idle()

    async def _wait_turn(self, chat: str) -> None:
        """Wait for this chat's paced slot; a hold that came in meanwhile (a 429 seen by another
        send) is honoured by waiting again."""
        while True:
            now = self.monotonic()
            held = self.pacer.held_until(chat)
            if held > now:  # booked only once the hold is over, so others keep their pace
                await self.sleep(held - now)
                continue
            slot = self.pacer.reserve(chat, now)
            if slot > now:
                await self.sleep(slot - now)
            if self.pacer.held_until(chat) <= self.monotonic():
                return

    async def _attempt(self, channel: str, chat_id: str, item: _Queued) -> str | None:
        """Try once; return the final status, or None to try again."""
        if self.clock() > item.useful_until:  # e.g. after a day-long outage: stale by now
            self.stats["failed"] += 1
            return f"failed: không còn hữu ích sau {item.attempts} lần thử"
        chat = f"{channel}:{chat_id}"
        await self._wait_turn(chat)
        item.attempts += 1
        started = time.perf_counter()
        try:
            await self.senders[channel].send(chat_id, item.outbound)
        except RetryLater as retry:
            self.stats["retried"] += 1
            now = self.monotonic()
            if retry.throttled:
                self.stats["held_429"] += 1
                item.failures_in_row = 0
                self.pacer.hold_chat(chat, now + retry.seconds)
                if retry.flood:
                    self.pacer.hold_all(now + retry.seconds)
                return None
            if retry.unknown:
                item.unknown_failures += 1
                if item.unknown_failures >= MAX_ATTEMPTS:
                    self.stats["failed"] += 1
                    return f"failed: {retry}"
            item.failures_in_row += 1
            self.pacer.hold_chat(chat, now + backoff(item.failures_in_row))
            return None
        except Undeliverable as error:
            self.stats["failed"] += 1
            return f"blocked: {error}" if error.blocked else f"failed: {error}"
        except Exception as error:  # unknown failure: keep the row, give up after a few tries
            log.warning("send on %s failed: %s", channel, type(error).__name__)
            item.unknown_failures += 1
            if item.unknown_failures >= MAX_ATTEMPTS:
                self.stats["failed"] += 1
                return f"failed: {type(error).__name__}"
            item.failures_in_row += 1
            self.pacer.hold_chat(chat, self.monotonic() + backoff(item.failures_in_row))
            return None
        finally:
            if self.observe_send is not None:
                self.observe_send(channel, time.perf_counter() - started)
        self.stats["sent"] += 1
        return "sent"

    def _record(self, batch: list[tuple[_Queued, str]]) -> None:
        now = self.clock()
        with self.database.unit_of_work() as tx:
            sent = [(item.row_id, item.attempts) for item, outcome in batch if outcome == "sent"]
            mark_sent(tx, sent, now)
            for item, outcome in batch:
                if outcome == "sent":
                    if item.outbound.secrets:  # rare: the ORM session is made on demand
                        redact_sent(tx.session, item.row_id, item.outbound.redacted().to_payload())
                    continue
                # Failures are rare: the ORM session is made on demand.
                mark_failed(tx.session, item.row_id, outcome[:500], item.attempts)
                if outcome.startswith("blocked") and item.contact_id:
                    mark_blocked(tx.session, item.contact_id)
