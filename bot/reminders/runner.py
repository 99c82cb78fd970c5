"""Running the reminder ticks in `baocao run`, in exactly one process per database.

APScheduler 3 drives ticks every minute plus one at start, with an in-memory job store (the
decision of what is due comes from our tables, see `bot.reminders.ticks.tick`). Only one process
runs them: on PostgreSQL the one holding an advisory lock (others retry each minute), on SQLite the
one holding an exclusive lock file next to the database (others say so once and run without
reminders)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Connection, text

from bot.clock import Clock
from bot.reminders.ticks import SPREAD_RATE, TickResult, tick
from storage.database import Database


class Wakeable(Protocol):
    def wake(self) -> None: ...


log = logging.getLogger(__name__)

TICK_SECONDS = 60
WAKE_EVERY = 1.0
LOCK_RETRY_LOG_EVERY = timedelta(minutes=30)
REFUSED_TEXT = "Một tiến trình khác đang chạy bộ nhắc hạn; tiến trình này không gửi nhắc hạn."
WAITING_TEXT = (
    "Một tiến trình khác đang giữ bộ nhắc hạn (khóa PostgreSQL); "
    "tiến trình này chờ và thử lại mỗi phút."
)
LOCK_KEY = int.from_bytes(hashlib.sha256(b"baocao.reminders").digest()[:8], "big", signed=True)


# --- one runner: advisory lock (PostgreSQL) or lock file (SQLite) ------------------------------


class RunnerLock:
    """Held by at most one process per database while it runs the reminder ticks."""

    held: bool = False
    retries: bool = True  # a process that did not get it tries again each tick

    def ensure(self) -> bool:
        """Hold the lock if possible; True while this process holds it."""
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError


class AlwaysHeld(RunnerLock):
    """An in-memory SQLite database cannot be shared with another process."""

    def ensure(self) -> bool:
        self.held = True
        return True

    def release(self) -> None:
        self.held = False


class FileLock(RunnerLock):
    """`flock` on "<database file>.scheduler.lock", non-blocking, held while the file is open."""

    retries = False

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = None

    def ensure(self) -> bool:
        if self.held:
            return True
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._handle, self.held = handle, True
        return True

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
        self._handle, self.held = None, False


class AdvisoryLock(RunnerLock):
    """`pg_try_advisory_lock` on a dedicated connection kept open while this process runs."""

    def __init__(self, database: Database, key: int = LOCK_KEY) -> None:
        self.database = database
        self.key = key
        self._connection: Connection | None = None

    def ensure(self) -> bool:
        if self.held and self._alive():
            return True
        self._drop()
        connection = self.database.engine.connect()
        try:
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
            ).scalar()
            connection.commit()  # the lock is per session: no transaction is left open
        except Exception:
            connection.close()
            raise
        if not got:
            connection.close()
            return False
        self._connection, self.held = connection, True
        return True

    def _alive(self) -> bool:
        try:
            assert self._connection is not None
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
            return True
        except Exception:
            log.warning("mất kết nối giữ khóa nhắc hạn; thử giành lại")
            return False

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.invalidate()
            with contextlib.suppress(Exception):
                self._connection.close()
        self._connection, self.held = None, False

    def release(self) -> None:
        if self._connection is not None and self.held:
            with contextlib.suppress(Exception):
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                self._connection.commit()
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
        self._connection, self.held = None, False


def runner_lock(database: Database) -> RunnerLock:
    if not database.is_sqlite:
        return AdvisoryLock(database)
    path = database.engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return AlwaysHeld()
    return FileLock(Path(path).resolve().with_name(Path(path).name + ".scheduler.lock"))


# --- the scheduler ---------------------------------------------------------------------------


class ReminderRunner:
    """What `start_scheduler` returns: runs ticks while holding the lock; `shutdown` stops it."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        outbox: Wakeable,
        lock: RunnerLock,
        rate: float = SPREAD_RATE,
    ) -> None:
        self.rate = rate
        self.database = database
        self.clock = clock
        self.outbox = outbox
        self.lock = lock
        self.memo: set = set()
        self.scheduler: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ticks = 0
        self.last: TickResult | None = None
        self._waiting_logged_at: datetime | None = None
        self._ticked = asyncio.Event()
        self.background: list[asyncio.Task] | None = None
        self._waker: asyncio.Task | None = None
        self._wake_until = 0.0

    async def run_once(self) -> TickResult | None:
        """One scheduled tick: (re)check the lock, decide in a worker thread, wake the outbox."""
        try:
            holding = await asyncio.to_thread(self.lock.ensure)
            if not holding:
                self._log_waiting()
                return None
            self._waiting_logged_at = None
            result = await asyncio.to_thread(
                tick, self.database, self.clock(), memo=self.memo, rate=self.rate
            )
            if result.queued:
                self.outbox.wake()
                self.keep_waking(result.due_until)
            self.last = result
            return result
        except Exception:  # a database hiccup must not stop the reminders for good
            log.exception("nhắc hạn: lượt kiểm tra bị lỗi; sẽ thử lại")
            return None
        finally:
            self.ticks += 1
            self._ticked.set()

    async def wait_ticks(self, count: int, timeout: float = 10) -> None:
        """Wait until `count` ticks have run (for tests: event-driven, nothing polls)."""
        while self.ticks < count:
            self._ticked.clear()
            await asyncio.wait_for(self._ticked.wait(), timeout)

    def _log_waiting(self) -> None:
        now = datetime.now(UTC)
        if self._waiting_logged_at is None or now - self._waiting_logged_at > LOCK_RETRY_LOG_EVERY:
            log.info(WAITING_TEXT)
            self._waiting_logged_at = now

    def keep_waking(self, until: datetime | None) -> None:
        """Wake the outbox each second while staggered reminders fall due (its own sweep is
        slower), so that they leave at the pace they were spread at."""
        if until is None:
            return
        seconds = (until - self.clock()).total_seconds()
        if seconds <= 0:
            return
        loop = asyncio.get_running_loop()
        self._wake_until = max(self._wake_until, loop.time() + seconds + WAKE_EVERY)
        if self._waker is None or self._waker.done():
            self._waker = loop.create_task(self._waking())
            if self.background is not None:
                self.background.append(self._waker)

    async def _waking(self) -> None:
        loop = asyncio.get_running_loop()
        while loop.time() < self._wake_until:
            await asyncio.sleep(WAKE_EVERY)
            self.outbox.wake()

    def start(self, interval: float = TICK_SECONDS) -> None:
        self.loop = asyncio.get_running_loop()
        self.scheduler = AsyncIOScheduler(timezone=UTC)  # memory job store: the tables decide
        self.scheduler.add_job(
            self.run_once,
            IntervalTrigger(seconds=interval, timezone=UTC),
            id="baocao-reminders",
            next_run_time=datetime.now(UTC),  # one run at start
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(interval)),
        )
        self.scheduler.start()

    def shutdown(self, wait: bool = False) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        if self._waker is not None:
            self._waker.cancel()
        self.lock.release()


def start_scheduler(
    database: Database,
    clock: Clock,
    outbox: Wakeable,
    background: list[asyncio.Task] | None = None,
    *,
    send_rate: float | None = None,
):
    """Called by `baocao run`: start the reminder ticks, or return None if another process has
    them (SQLite). On PostgreSQL a process without the lock keeps trying each minute. Reminders
    fall due a little slower than `send_rate`, the outbox's pace."""
    lock = runner_lock(database)
    try:
        holding = lock.ensure()
    except Exception:  # lock file not writable, or PostgreSQL unreachable right now
        if not lock.retries:
            log.exception("nhắc hạn: không mở được tệp khóa; tiến trình này không gửi nhắc hạn.")
            return None
        log.exception("nhắc hạn: chưa giành được khóa; sẽ thử lại mỗi phút")
        holding = False
    if not holding:
        if not lock.retries:
            log.warning(REFUSED_TEXT)
            return None
        log.info(WAITING_TEXT)
    send_rate = send_rate or SPREAD_RATE / 0.96
    runner = ReminderRunner(database, clock, outbox, lock, min(SPREAD_RATE, send_rate * 0.96))
    runner.background = background
    runner.start()
    return runner
