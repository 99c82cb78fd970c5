"""What channels are handed (`ChannelHost`): the way in to the service and out to the outbox.

`receive` is the way in for one platform update: it is applied, tried again with back-off, or
(failing for good, as `storage.inbound_faults.is_transient` tells) set aside after a few tries so
that the updates behind it go on. A database that is away is waited for, never a reason to set
anything aside.

Messages dispatched together (a batch of polled updates, webhook calls arriving at once) are
applied in one transaction (`Service.handle_batch`): one commit instead of one per message, each
message still all-or-nothing in its own savepoint. The host also answers the few questions a
channel has about the world (secretariat chats, button contexts, an export as file or link, a
quota meter) through functions the composition root gives it, so channels never touch storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.channels.base import Attachments, Channel, Meter, Pause, Receipt, backoff, redact
from bot.messaging import Inbound, RoleChange
from bot.outbox import Outbox
from bot.service import Service
from storage.database import is_locked, without_waiting
from storage.inbound_faults import describe, is_transient

log = logging.getLogger(__name__)

BATCH_LIMIT = 100  # messages per transaction; getUpdates returns at most 100 at a time
PERSISTENT_ATTEMPTS = 3  # tries of an update failing for good before it is set aside
RETRY_FIRST = 0.5  # seconds before the second try; doubling up to RETRY_CAP
RETRY_CAP = 30.0


@dataclass
class ChannelHost:
    service: Service
    outbox: Outbox
    web: web.Application
    attachments: Attachments
    secretariat_chats: Callable[[str], list[str]]
    button_contexts: Callable[[], set[str]]
    meter: Callable[[str, str], Meter]
    on_loop_thread: bool = True  # SQLite: batches run on the loop (see `_take_batch`)
    in_flight: set[asyncio.Task] = field(default_factory=set)
    batch_limit: int = BATCH_LIMIT
    persistent_attempts: int = PERSISTENT_ATTEMPTS
    retry_first: float = RETRY_FIRST
    channels: dict[str, Channel] = field(default_factory=dict)
    loop: asyncio.AbstractEventLoop | None = None
    # Updates by (channel, outcome): received, applied, set_aside, not_applied (`bot.metrics`).
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    # SQLite batches that found the write lock taken wait in a thread, one after another in
    # arrival order; while any waits, later batches queue behind it rather than on the loop.
    _thread_turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    _threaded: int = 0
    _waiting: list[tuple[Inbound, asyncio.Future]] = field(default_factory=list)

    # --- in: batches to the service ----------------------------------------------------------

    async def dispatch(self, inbound: Inbound) -> None:
        """Apply one message (with whatever else is waiting); raise if it could not be."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((inbound, future))
        if len(self._waiting) == 1:
            asyncio.get_running_loop().call_soon(self._take_batch)
        await future

    async def receive(
        self,
        inbound: Inbound,
        payload: Callable[[], dict],
        *,
        pause: Pause,
        transient_attempts: int | None = None,
        tried: Callable[[bool], None] | None = None,
    ) -> Receipt:
        """Apply one update; see `bot.channels.base.Host.receive`.

        Failures that will recur count towards `persistent_attempts`, then the update is set
        aside. Transient ones (and a set-aside that could not be written) wait, for ever or for
        `transient_attempts` tries (a webhook call, which the platform will repeat). `pause`
        waits between tries and says whether to go on; `tried` hears of every attempt.
        """
        receipt = await self._receive(inbound, payload, pause, transient_attempts, tried)
        self._count(inbound.channel, "received")
        self._count(inbound.channel, receipt.name.lower())
        return receipt

    def _count(self, channel: str, outcome: str) -> None:
        key = (channel, outcome)
        self.counts[key] = self.counts.get(key, 0) + 1

    async def _receive(
        self,
        inbound: Inbound,
        payload: Callable[[], dict],
        pause: Pause,
        transient_attempts: int | None,
        tried: Callable[[bool], None] | None,
    ) -> Receipt:
        failures = persistent = waited = 0
        while True:
            try:
                await self.dispatch(inbound)
            except Exception as error:
                failures += 1
                if tried is not None:
                    tried(False)
                kind, message = describe(error)
                log.warning(
                    "%s: cập nhật %s chưa xử lý được (lần %d): %s: %s",
                    inbound.channel,
                    inbound.inbound_id,
                    failures,
                    kind,
                    redact(message)[:300],
                    extra={"channel": inbound.channel, "chat": inbound.chat_id},
                )
                if is_transient(error):
                    waited += 1
                else:
                    persistent += 1
                    if persistent >= self.persistent_attempts:
                        receipt = await self._set_aside(inbound, payload, error, failures)
                        if receipt is not None:
                            return receipt
                        waited += 1
                if transient_attempts is not None and waited >= transient_attempts:
                    return Receipt.NOT_APPLIED
            else:
                if tried is not None:
                    tried(True)
                return Receipt.APPLIED
            if not await pause(backoff(failures, first=self.retry_first, cap=RETRY_CAP)):
                return Receipt.NOT_APPLIED

    async def _set_aside(
        self, inbound: Inbound, payload: Callable[[], dict], error: Exception, attempts: int
    ) -> Receipt | None:
        """Keep the update for a replay; None when the database is away (wait and try again).

        If keeping it fails for good too, it is let go with an error in the log: one update must
        never make the channel deaf."""
        try:
            raw = payload()
            if self.on_loop_thread and not self._threaded:
                try:
                    with without_waiting():
                        queued = self.service.set_aside(inbound, raw, error, attempts)
                except Exception as failure:
                    if not is_locked(failure):
                        raise
                    queued = await asyncio.to_thread(
                        self.service.set_aside, inbound, raw, error, attempts
                    )
            else:
                queued = await asyncio.to_thread(
                    self.service.set_aside, inbound, raw, error, attempts
                )
        except Exception as failure:
            kind, message = describe(failure)
            transient = is_transient(failure)
            log.log(
                logging.WARNING if transient else logging.ERROR,
                "%s: %s cập nhật %s: %s: %s",
                inbound.channel,
                "chưa để riêng được" if transient else "không để riêng được, bỏ qua",
                inbound.inbound_id,
                kind,
                redact(message)[:300],
            )
            return None if transient else Receipt.DROPPED
        kind, message = describe(error)
        log.error(
            "%s: đã để riêng cập nhật %s sau %d lần lỗi (%s: %s); xem: baocao inbound list",
            inbound.channel,
            inbound.inbound_id,
            attempts,
            kind,
            redact(message)[:300],
            extra={"channel": inbound.channel, "chat": inbound.chat_id},
        )
        self.outbox.submit(queued)  # the apology in turn with the chat's other replies
        return Receipt.SET_ASIDE

    def _take_batch(self) -> None:
        batch, self._waiting = self._waiting[: self.batch_limit], self._waiting[self.batch_limit :]
        if self._waiting:
            asyncio.get_running_loop().call_soon(self._take_batch)
        if self.on_loop_thread and not self._threaded:
            # SQLite runs one writer at a time and a batch takes well under a millisecond per
            # message: running it on the loop avoids a thread hop and the GIL hand-offs it
            # causes on every socket send. It never waits there for a lock another connection
            # holds (the reminders, a command): it fails at once and the batch waits in a thread.
            with without_waiting():
                outcomes = self._handle_batch(batch)
            if not all(is_locked(outcome) for outcome in outcomes):
                self._settle(batch, outcomes)
                return
        if self.on_loop_thread:
            self._threaded += 1  # at once: a later batch must not overtake this one
            self.track(self._wait_in_thread(batch))
        else:
            self.track(self._run_in_thread(batch))

    async def _run_in_thread(self, batch: list[tuple[Inbound, asyncio.Future]]) -> None:
        self._settle(batch, await asyncio.to_thread(self._handle_batch, batch))

    async def _wait_in_thread(self, batch: list[tuple[Inbound, asyncio.Future]]) -> None:
        """SQLite, the write lock taken elsewhere: wait for it off the loop, in arrival order."""
        try:
            async with self._thread_turn:
                await self._run_in_thread(batch)
        finally:
            self._threaded -= 1

    def _handle_batch(self, batch: list[tuple[Inbound, asyncio.Future]]) -> list:
        try:
            return self.service.handle_batch([inbound for inbound, _ in batch])
        except Exception as error:  # not expected (failures come back as outcomes)
            return [error] * len(batch)

    def _settle(self, batch: list[tuple[Inbound, asyncio.Future]], outcomes: list) -> None:
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Exception):
                if not future.done():
                    future.set_exception(outcome)
                continue
            # Delivered even if the waiting task was cancelled: the rows are committed.
            self.outbox.submit(outcome)
            if not future.done():
                future.set_result(None)

    def track(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run a dispatch in the background, remembered so that a stop can wait for it."""
        task = asyncio.create_task(coroutine)
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)
        return task

    # --- out: events from the service, wake-ups for the outbox --------------------------------

    def role_changed(self, change: RoleChange) -> None:
        """From the service (any thread, after commit): let the channel reflect it."""
        self._on_loop(self._tell_channel, change)

    def _tell_channel(self, change: RoleChange) -> None:
        channel = self.channels.get(change.channel)
        if channel is not None:
            channel.on_role_change(change)

    def wake_outbox(self) -> None:
        """Sweep the outbox now (from any thread): new unclaimed rows were committed."""
        self._on_loop(self.outbox.wake)

    def _on_loop(self, function: Callable, *args: Any) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(function, *args)

    def announce_username(self, channel: str, username: str) -> None:
        self.service.desk.bot_usernames.setdefault(channel, username)
