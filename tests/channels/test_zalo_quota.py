"""Tests of the monthly message counter behind the Zalo quota (storage.quota), on real SQLite and
PostgreSQL: the warning and the cap are each reported once a month, refusals are not counted,
forced messages are, and a refused message can be given back.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import inspect

from storage.database import open_database
from storage.quota import give_back, take, usage, warn_threshold

KEY = {"channel": "zalo", "account": "1234"}


def book(database, clock, month: str = "2022-06", cap: int = 5, force: bool = False):
    with database.transaction() as session:
        return take(session, **KEY, month=month, cap=cap, now=clock(), force=force)


def test_warn_threshold_is_80_percent_rounded_up() -> None:
    assert warn_threshold(3000) == 2400
    assert warn_threshold(10) == 8
    assert warn_threshold(7) == 6
    assert warn_threshold(1) == 1


def test_warning_and_cap_are_reported_once(database, clock) -> None:
    results = [book(database, clock) for _ in range(7)]
    assert [r.allowed for r in results] == [True] * 5 + [False] * 2
    assert [r.sent for r in results] == [1, 2, 3, 4, 5, 5, 5]
    assert [r.warn for r in results] == [False, False, False, True, False, False, False]
    assert [r.capped for r in results] == [False, False, False, False, True, False, False]
    forced = book(database, clock, force=True)
    assert forced.allowed and forced.sent == 6 and not forced.capped
    with database.transaction() as session:
        assert usage(session, **KEY, month="2022-06") == 6


def test_months_and_accounts_are_counted_apart(database, clock) -> None:
    for _ in range(5):
        book(database, clock)
    assert not book(database, clock).allowed
    july = book(database, clock, month="2022-07")
    assert july.allowed and july.sent == 1
    with database.transaction() as session:
        other = take(session, channel="zalo", account="9999", month="2022-06", cap=5, now=clock())
    assert other.allowed and other.sent == 1


def test_a_refused_message_is_given_back(database, clock) -> None:
    book(database, clock)
    book(database, clock)
    with database.transaction() as session:
        give_back(session, **KEY, month="2022-06")
        give_back(session, **KEY, month="2022-06")
        give_back(session, **KEY, month="2022-06")  # never below zero
        give_back(session, **KEY, month="2099-01")  # no row: nothing happens
    with database.transaction() as session:
        assert usage(session, **KEY, month="2022-06") == 0


def test_lowering_the_cap_mid_month_reports_the_cap_at_the_first_refusal(database, clock) -> None:
    for _ in range(3):
        book(database, clock, cap=100)
    refused = book(database, clock, cap=2)
    assert not refused.allowed and refused.capped and refused.sent == 3
    assert not book(database, clock, cap=2).capped


def test_the_count_is_kept_in_the_database(database, database_url, clock) -> None:
    book(database, clock)
    clock.advance(days=1)
    book(database, clock)
    reopened = open_database(database_url)
    try:
        assert "monthly_quota" in inspect(reopened.engine).get_table_names()
        with reopened.transaction() as session:
            assert usage(session, **KEY, month="2022-06") == 2
    finally:
        reopened.dispose()


def test_concurrent_bookings_never_pass_the_cap(database, clock) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: book(database, clock, cap=10), range(24)))
    assert sum(r.allowed for r in results) == 10
    assert sum(r.warn for r in results) == 1
    assert sum(r.capped for r in results) == 1
    with database.transaction() as session:
        assert usage(session, **KEY, month="2022-06") == 10
