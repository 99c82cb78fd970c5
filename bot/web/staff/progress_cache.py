"""The province-wide unit tree of the campaign shown, shared by every session of the web page.

Reading the progress of 10,000 units takes about a second, so the tree is kept in a
`ProgressCache` and rebuilt when the data's fingerprint changes (any answer, submission,
return, approval, reminder or deadline; see `storage.staff_store.progress_fingerprint`) or
after `MAX_AGE` at the latest. The fingerprint itself is read at most once a second, and at
once after an action on this page, so a change made elsewhere (an officer's answer, a chat
command) shows within a second and one made here on the next page. What pages derive from a
snapshot (per scope and minute: the rows, the overview, a list's HTML) is kept with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session

from bot.clock import monotonic as monotonic_clock
from bot.deadlines import campaign_deadlines
from exports.consolidation import Deadlines, UnitTree, level_order
from storage.models import Campaign
from storage.progress import UnitProgress, campaign_progress
from storage.repository import campaign_form
from storage.staff_store import progress_fingerprint

MAX_AGE = 30.0  # seconds; bounds staleness for changes the fingerprint cannot see (renames)
RECHECK_AFTER = 1.0  # seconds between two fingerprint checks; an action here checks at once


@dataclass(frozen=True)
class Snapshot:
    key: tuple
    taken: float
    ordered: list[tuple[UnitProgress, int]]
    deadlines: Deadlines


class ProgressCache:
    """The province-wide unit tree of the current campaign, rebuilt only when it changed.

    One request at a time reads the fingerprint (tens of milliseconds at 10,000 units); the
    others that need it wait for its answer rather than all reading it at once. A snapshot is
    vouched for (served without a check) only once it is installed, by a check that began
    under the current generation: the page an action redirects to never gets the tree from
    before the action, even while another request is rebuilding it."""

    def __init__(self, monotonic: Callable[[], float] = monotonic_clock) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._checking = threading.Lock()
        self._computing = threading.RLock()
        # The snapshot, the generation its last check began under and when (None: never
        # checked), replaced as one tuple so that a reader never pairs a snapshot with
        # another's check. An action here starts a new generation (`invalidate`), so a check
        # that began before it cannot vouch for after it.
        self._current: tuple[Snapshot | None, int, float | None] = (None, 0, None)
        self._generation = 0
        self._derived: dict[tuple, object] = {}

    def invalidate(self) -> None:
        """Check the fingerprint at the next read (after an action from this server)."""
        with self._lock:
            self._generation += 1

    def vouched(self, campaign: Campaign) -> Snapshot | None:
        """The snapshot a read may use without a check, or None when a check is due."""
        snapshot, generation, checked = self._current
        if (
            snapshot is None
            or snapshot.key[0] != campaign.id
            or checked is None
            or generation != self._generation
            or self._monotonic() - checked >= RECHECK_AFTER
        ):
            return None
        return snapshot

    def get(self, session: Session, campaign: Campaign) -> Snapshot:
        snapshot = self.vouched(campaign)
        if snapshot is not None:
            return snapshot
        with self._checking:
            snapshot = self.vouched(campaign)  # checked while this one waited
            if snapshot is not None:
                return snapshot
            generation, started = self._generation, self._monotonic()
            key = (campaign.id, campaign.updated_at, progress_fingerprint(session, campaign.id))
            snapshot = self._current[0]
            if snapshot is None or snapshot.key != key or started - snapshot.taken >= MAX_AGE:
                fresh = _take(session, campaign, key, started)
            else:
                fresh = None
            with self._lock:  # with `derived`'s writes: nothing kept for a replaced snapshot
                if fresh is not None:
                    snapshot, self._derived = fresh, {}
                self._current = (snapshot, generation, started)
            return snapshot

    def derived(self, snapshot: Snapshot, key: tuple, compute):
        """What a page computes from a snapshot (per scope and minute), kept as long as it."""
        full_key = (id(snapshot), *key)
        found = self._derived.get(full_key)
        if found is None:
            # One computation per key: twenty sessions opening the same list at once wait for
            # the first instead of each scanning 10,000 rows under the same interpreter lock.
            with self._computing:
                found = self._derived.get(full_key)
                if found is None:
                    found = compute()
                    with self._lock:
                        if self._current[0] is snapshot:
                            if len(self._derived) > 256:
                                self._derived.clear()
                            self._derived[full_key] = found
        return found


def _take(session: Session, campaign: Campaign, key: tuple, taken: float) -> Snapshot:
    form = campaign_form(campaign)
    progress = campaign_progress(session, campaign)
    tree = UnitTree(progress, level_order(form, progress))
    ordered = [(item, depth) for _group, members in tree.groups() for item, depth in members]
    return Snapshot(key, taken, ordered, campaign_deadlines(session, campaign))
