"""What the web page keeps between requests is never older than it may be, on SQLite and
PostgreSQL: a list's HTML (shared by every viewer of a scope) shows an action on the next load
and a chat answer within a second; each viewer keeps their own header and scope; the shared
progress tree is read once by requests that need it at the same moment, and is not served from
before an action while another request rebuilds it. Time is a clock the tests move; threads
meet on events, never on sleeps."""

from __future__ import annotations

import threading

from bot.use_cases import OPERATOR
from bot.web.staff import progress_cache
from bot.web.staff.pages import standing
from bot.web.staff.progress_cache import RECHECK_AFTER, ProgressCache
from storage.repository import current_campaign
from tests.web.conftest import CSRF, set_status
from tests.web.test_workspace_web import CONFIRMED, codes_in, signed_in

WAIT = 30  # seconds; only a broken lock would make a thread wait this long


def moved_clock(browser) -> list[float]:
    """Give the page's shared cache a monotonic clock the test moves."""
    moment = [1000.0]
    browser.staff.progress = ProgressCache(monotonic=lambda: moment[0])
    return moment


async def test_a_listed_page_shows_an_action_here_at_once_and_an_answer_within_a_second(
    web, seeded, database, clock
):
    browser = await signed_in(web, seeded["province"])
    moment = moved_clock(browser)
    waiting = "/web/don-vi?trang-thai=submitted"
    assert sorted(codes_in(await (await browser.get(waiting)).text())) == ["DU-TRIHAI", "HU-NP"]
    await browser.get("/web/don-vi/HU-NP/duyet")
    done = await browser.post("/web/don-vi/HU-NP/duyet", {**CONFIRMED, "trang-thai": "submitted"})
    assert done.status == 303
    assert codes_in(await (await browser.get(waiting)).text()) == ["DU-TRIHAI"]  # same minute

    set_status(database, clock, "HU-BACAI", "submitted")  # an officer submits, in the chat
    moment[0] += RECHECK_AFTER
    assert sorted(codes_in(await (await browser.get(waiting)).text())) == ["DU-TRIHAI", "HU-BACAI"]


async def test_viewers_share_a_list_but_each_keeps_their_own_header_and_scope(web, seeded):
    lan = await signed_in(web, seeded["province"])
    hung = await signed_in(web, seeded["district"])
    province_page = await (await lan.get("/web/don-vi")).text()
    district_page = await (await hung.get("/web/don-vi")).text()
    again = await (await lan.get("/web/don-vi")).text()
    assert "Lan" in province_page and "Hùng" not in province_page
    assert "Hùng" in district_page and "Lan" not in district_page
    assert "HU-NH" in codes_in(province_page) and "HU-NH" not in codes_in(district_page)
    assert set(codes_in(district_page)) < set(codes_in(province_page))
    csrf = {CSRF.search(page).group(1) for page in (province_page, district_page)}
    assert len(csrf) == 2 and CSRF.search(again).group(1) == CSRF.search(province_page).group(1)


def _submitted(database, clock, cache) -> int:
    with database.transaction() as session:
        return standing(session, OPERATOR, clock(), cache).tally["submitted"]


def _in_thread(work) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(work()), daemon=True)
    thread.start()
    return thread, out


def test_requests_needing_a_check_at_the_same_moment_read_the_fingerprint_once(
    database, clock, seeded, monkeypatch
):
    moment = [100.0]
    cache = ProgressCache(monotonic=lambda: moment[0])
    assert _submitted(database, clock, cache) == 3
    moment[0] += RECHECK_AFTER  # a check is due
    reads, entered, release = [], threading.Event(), threading.Event()
    real = progress_cache.progress_fingerprint

    def slow_fingerprint(session, campaign_id):
        reads.append(campaign_id)
        entered.set()
        assert release.wait(WAIT)
        return real(session, campaign_id)

    monkeypatch.setattr(progress_cache, "progress_fingerprint", slow_fingerprint)
    first, first_out = _in_thread(lambda: _submitted(database, clock, cache))
    assert entered.wait(WAIT)
    others = [_in_thread(lambda: _submitted(database, clock, cache)) for _ in range(4)]
    release.set()
    for thread, _out in [(first, first_out), *others]:
        thread.join(WAIT)
    assert [out for _thread, out in [(first, first_out), *others]] == [[3]] * 5
    assert len(reads) == 1


def test_while_another_request_rebuilds_after_an_action_the_old_tree_is_not_served(
    database, clock, seeded, monkeypatch
):
    moment = [100.0]
    cache = ProgressCache(monotonic=lambda: moment[0])
    assert _submitted(database, clock, cache) == 3
    set_status(database, clock, "HU-BACAI", "submitted")  # an action from this server …
    cache.invalidate()  # … which the route reports once it has committed
    entered, release = threading.Event(), threading.Event()
    real = progress_cache._take

    def slow_take(*args):
        entered.set()
        assert release.wait(WAIT)
        return real(*args)

    monkeypatch.setattr(progress_cache, "_take", slow_take)
    rebuilding, rebuilt = _in_thread(lambda: _submitted(database, clock, cache))
    assert entered.wait(WAIT)
    with database.transaction() as session:
        assert cache.vouched(current_campaign(session)) is None  # the page after the action
    redirected, shown = _in_thread(lambda: _submitted(database, clock, cache))
    release.set()
    rebuilding.join(WAIT)
    redirected.join(WAIT)
    assert rebuilt == shown == [4]
    with database.transaction() as session:
        assert cache.vouched(current_campaign(session)) is not None
