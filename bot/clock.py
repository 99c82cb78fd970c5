"""The one clock: every "now" in baocao comes from here; tests move time instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def monotonic() -> float:
    """Seconds on the monotonic clock, looked up at each call (not bound at import), so a test
    can start it anywhere, at 0 as on a machine booted a moment ago. Its value means nothing on
    its own: compare two readings, never a reading with a fixed number such as 0."""
    return time.monotonic()


class FakeClock:
    """A clock that stands still until moved (for tests and benchmarks)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment
