"""Virtual time for the outbox: its monotonic clock and sleep, where waiting moves time at once."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable


class VirtualTime:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class EventTime:
    """Discrete-event virtual time: each `sleep` waits for its own moment, and `run_until` moves
    time to the earliest sleeper whenever nothing else can run, so concurrent waits overlap as
    they would on a real clock (unlike `VirtualTime`, where every wait adds up)."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._order), future))
        await future

    async def run_until(self, done: Callable[[], bool], *, limit: float = 10.0) -> None:
        """Let everything run, moving time whenever all are asleep, until `done()` (at most
        `limit` real seconds)."""
        async with asyncio.timeout(limit):
            while not done():
                for _ in range(20):  # let ready tasks (and finished I/O callbacks) run
                    await asyncio.sleep(0)
                if done():
                    return
                self._sleepers = [s for s in self._sleepers if not s[2].done()]
                heapq.heapify(self._sleepers)
                if not self._sleepers:
                    await asyncio.sleep(0.001)  # waiting for real I/O
                    continue
                moment, _, future = heapq.heappop(self._sleepers)
                self.now = max(self.now, moment)
                future.set_result(None)
