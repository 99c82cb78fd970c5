"""Set-aside updates and invite guesses at the service, on SQLite and PostgreSQL.

Which failures are transient (one place); a set-aside update keeps its payload and error, its
sender gets one apology, the secretariat one alert an hour even from two services sharing the
database; a replay applies it and removes it; migration 0005 goes down and up. Wrong invite
codes: five misses in fifteen minutes refuse the chat for fifteen minutes (a right code too),
the reply gives the time in Vietnam, the log names channel and chat but never the code.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import timedelta

import psycopg
from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlmodel import select

from bot.app import CHANNEL_TRAITS
from bot.messaging import Inbound
from bot.service import APOLOGY_TEXT, BAD_CODE_TEXT, Service
from storage.database import normalize_url
from storage.inbound_faults import describe, is_transient
from storage.invite_guesses import MISSES_ALLOWED
from storage.models import Contact, OutboxMessage, SetAsideInbound
from storage.repository import create_invite
from tests.storage.test_answer_note import migrate
from tests.test_service import Chat, new_invite


def test_transient_failures_are_told_apart_by_class():
    assert is_transient(OperationalError("SELECT 1", {}, Exception("server closed")))
    assert is_transient(sqlite3.OperationalError("database is locked"))
    assert is_transient(psycopg.OperationalError("connection refused"))
    assert is_transient(ConnectionRefusedError())
    assert not is_transient(DataError("INSERT", {}, Exception("NUL")))
    assert not is_transient(IntegrityError("INSERT", {}, Exception("duplicate")))
    assert not is_transient(psycopg.DataError("A string literal cannot contain NUL"))
    assert not is_transient(ValueError("bad"))


def test_an_error_is_described_by_its_first_line_only():
    error = DataError("INSERT INTO contact VALUES (%(name)s)", {"name": "secret"}, Exception("NUL"))
    kind, message = describe(error)
    assert kind == "DataError" and "secret" not in message and "\n" not in message


def stranger(number: int, text: str = "xin chào", channel: str = "telegram") -> Inbound:
    return Inbound(channel, f"chat-{number}", str(number), f"u-{number}", text=text)


def link_secretary(service: Service, database, clock) -> None:
    with database.transaction() as session:
        code = create_invite(
            session, role="secretariat", unit=None, now=clock(), valid_for=timedelta(days=1)
        ).code
    chat = Chat(service, "sec", "zalo")
    chat.send(code)
    chat.send("1")


def notices(database) -> list[OutboxMessage]:
    with database.transaction() as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "notice"))
        return list(rows)


def test_set_aside_keeps_the_update_apologises_and_alerts_once_an_hour(service, database, clock):
    link_secretary(service, database, clock)
    other = Service(database, clock, CHANNEL_TRAITS)  # a second process on the same database
    payload = {"update_id": 1, "message": {"text": "xin chào"}}
    queued = service.set_aside(stranger(1), payload, ValueError("hỏng"), 3)
    assert [(q.chat_id, q.payload["text"]) for q in queued][0] == ("chat-1", APOLOGY_TEXT)
    assert [q.chat_id for q in queued[1:]] == ["chat-sec"]
    assert "baocao inbound list" in queued[1].payload["text"]
    # Set aside again (a redelivery): no second apology; another one within the hour: no alert.
    assert service.set_aside(stranger(1), payload, ValueError("hỏng lần nữa"), 3) == []
    clock.advance(minutes=59)
    assert [q.chat_id for q in other.set_aside(stranger(2), {}, ValueError("x"), 3)] == ["chat-2"]
    clock.advance(minutes=2)
    assert [q.chat_id for q in other.set_aside(stranger(3), {}, ValueError("x"), 3)] == [
        "chat-3",
        "chat-sec",
    ]
    with database.transaction() as session:
        rows = {r.inbound_id: r for r in session.exec(select(SetAsideInbound))}
    first = rows["u-1"]
    assert first.payload == payload and first.inbound["text"] == "xin chào"
    assert (first.error_type, first.error, first.attempts) == ("ValueError", "hỏng lần nữa", 6)
    assert len(notices(database)) == 5


def test_with_no_secretariat_yet_the_hour_is_not_used_up(service, database, clock):
    assert [q.chat_id for q in service.set_aside(stranger(1), {}, ValueError("x"), 3)] == ["chat-1"]
    link_secretary(service, database, clock)
    queued = service.set_aside(stranger(2), {}, ValueError("x"), 3)
    assert [q.chat_id for q in queued] == ["chat-2", "chat-sec"]
    assert "(2 tin đang chờ)" in queued[1].payload["text"]


def test_a_replay_applies_the_update_once_and_removes_it(service, database, clock):
    service.set_aside(stranger(1, "/start SAIMA234"), {}, ValueError("hỏng"), 3)
    with database.transaction() as session:
        [row] = session.exec(select(SetAsideInbound)).all()
    [reply] = service.replay(row.id)
    assert reply.payload["text"] == BAD_CODE_TEXT and reply.status == "pending"
    with database.transaction() as session:
        assert session.exec(select(SetAsideInbound)).all() == []


def test_migration_0005_goes_down_and_up(database, database_url):
    database.dispose()
    migrate(database_url, "0004", down=True)
    engine = create_engine(normalize_url(database_url))
    try:
        tables = set(inspect(engine).get_table_names())
        assert not tables & {"set_aside_inbound", "alert_log", "invite_guesses"}
    finally:
        engine.dispose()
    migrate(database_url, "head")
    engine = create_engine(normalize_url(database_url))
    try:
        tables = set(inspect(engine).get_table_names())
        assert {"set_aside_inbound", "alert_log", "invite_guesses"} <= tables
    finally:
        engine.dispose()


# --- invite guesses ------------------------------------------------------------------------


def test_wrong_codes_start_a_cool_down_that_refuses_even_a_right_code(
    service, database, clock, caplog
):
    caplog.set_level(logging.WARNING, logger="bot.service")
    guesser = Chat(service, "777", "zalo")
    for n in range(MISSES_ALLOWED - 1):
        [reply] = guesser.send(f"/start SAIMA{n:03d}")
        assert reply.text == BAD_CODE_TEXT
    [reply] = guesser.send("/start SAIMA999")
    # 2022-06-20 08:00 in Vietnam, plus fifteen minutes.
    assert reply.text == (
        "Đồng chí đã nhập sai mã mời nhiều lần nên tạm thời chưa nhập được mã. "
        "Đề nghị thử lại sau 08:15 ngày 20/6/2022."
    )
    right = new_invite(database, clock)
    clock.advance(minutes=14)
    [reply] = guesser.send(f"/start {right}")
    assert "08:15 ngày 20/6/2022" in reply.text
    with database.transaction() as session:
        assert session.exec(select(Contact).where(Contact.external_id == "777")).all() == []
    # Another chat is not held back; after the cool-down the right code works.
    assert Chat(service, "778", "zalo").send("/start SAIMA000")[0].text == BAD_CODE_TEXT
    clock.advance(minutes=1)
    [offer] = guesser.send(f"/start {right}")
    assert [c.id for c in offer.choices] == ["link_yes", "link_no"]

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == MISSES_ALLOWED + 1
    assert all("kênh zalo, chat chat-777" in r.getMessage() for r in warnings[:MISSES_ALLOWED])
    assert "tạm khóa nhập mã" in warnings[MISSES_ALLOWED - 1].getMessage()
    assert "SAIMA" not in caplog.text and right not in caplog.text


def test_misses_spread_beyond_the_window_start_no_cool_down(service, clock):
    guesser = Chat(service, "779", "telegram")
    for n in range(MISSES_ALLOWED * 2):
        [reply] = guesser.send(f"SAIMA{n:03d}")
        assert reply.text == BAD_CODE_TEXT, n
        clock.advance(minutes=4)  # at most four misses in any fifteen minutes


def test_a_right_code_forgets_the_misses(service, database, clock):
    guesser = Chat(service, "780", "telegram")
    for n in range(MISSES_ALLOWED - 1):
        guesser.send(f"/start SAIMA{n:03d}")
    guesser.send(f"/start {new_invite(database, clock)}")
    guesser.send("không")  # declines the offer
    for n in range(MISSES_ALLOWED - 1):
        assert guesser.send(f"/start SAIMB{n:03d}")[0].text == BAD_CODE_TEXT
