"""Virtual time for the outbox: its monotonic clock and sleep, where waiting moves time at once."""

from __future__ import annotations

import asyncio


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
