"""The staff pages' progress cache on a machine booted a moment ago: its monotonic clock reads
less than a second, and "never checked" must still mean "check now" (not "checked at 0 s")."""

from __future__ import annotations

from bot.use_cases import OPERATOR
from bot.web.staff.pages import standing
from bot.web.staff.progress_cache import ProgressCache
from tests.web.conftest import set_status


def test_an_action_here_is_seen_at_once_even_when_the_clock_reads_zero(database, clock, seeded):
    moment = [0.0]
    cache = ProgressCache(monotonic=lambda: moment[0])

    def submitted() -> int:
        with database.transaction() as session:
            return standing(session, OPERATOR, clock(), cache).tally["submitted"]

    assert submitted() == 3
    set_status(database, clock, "HU-BACAI", "submitted")
    cache.invalidate()  # what a route does after an action from this server
    moment[0] = 0.2
    assert submitted() == 4
