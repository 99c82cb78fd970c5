"""Retention on real SQLite and PostgreSQL: only the payloads of messages delivered longer ago
than the retention and the ids of updates processed longer ago go, in small batches; undelivered
messages, recent ones, answers, their history and the staff action log stay. `baocao db prune`
does the same from the command line.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import func, select

import bot.cli.commands as cli
from storage.models import Answer, AnswerHistory, OutboxMessage, ProcessedInbound, StaffAction
from storage.retention import prune
from tests.test_service import link

DAYS = 400


def outbox_row(session, clock, text: str, status: str, age_days: int) -> None:
    moment = clock() - timedelta(days=age_days)
    session.add(
        OutboxMessage(
            channel="telegram",
            chat_id="42",
            payload={"text": text},
            status=status,
            not_before=moment,
            created_at=moment,
            sent_at=moment if status == "sent" else None,
        )
    )


def test_prune_removes_only_old_delivered_payloads_and_old_update_ids(service, database, clock):
    officer = link(service, database, clock, "anh")  # answers, history, processed ids
    officer.send("Xong")
    with database.transaction() as session:
        for n in range(5):
            outbox_row(session, clock, f"cũ {n}", "sent", DAYS + 1 + n)
        outbox_row(session, clock, "mới", "sent", DAYS - 1)
        outbox_row(session, clock, "chưa gửi", "pending", DAYS + 10)
        outbox_row(session, clock, "bỏ cuộc", "failed", DAYS + 10)
        for n in range(3):
            session.add(
                ProcessedInbound(
                    channel="zalo", inbound_id=f"old-{n}", at=clock() - timedelta(days=DAYS + 1)
                )
            )
        session.add(
            StaffAction(at=clock() - timedelta(days=DAYS * 3), surface="cli", action="approve")
        )

    def counted(session, table):
        return session.exec(select(func.count()).select_from(table)).one()

    with database.transaction() as session:
        before = {t.__name__: counted(session, t) for t in (Answer, AnswerHistory, StaffAction)}
        recent_ids = counted(session, ProcessedInbound) - 3
        messages = counted(session, OutboxMessage)

    done = prune(database, clock(), DAYS, batch=2)
    assert (done.payloads, done.updates) == (5, 3)
    with database.transaction() as session:
        rows = session.exec(select(OutboxMessage)).all()
        assert len(rows) == messages  # no row deleted: the reminder log may point at it
        texts = {"sent": [], "pending": [], "sending": [], "failed": []}
        for row in rows:
            texts[row.status].append(row.payload.get("text", "—"))
        assert sorted(texts["sent"]) == ["mới", "—", "—", "—", "—", "—"]
        assert "chưa gửi" in texts["pending"] and texts["failed"] == ["bỏ cuộc"]
        assert counted(session, ProcessedInbound) == recent_ids
        after = {t.__name__: counted(session, t) for t in (Answer, AnswerHistory, StaffAction)}
        assert after == before
    assert prune(database, clock(), DAYS, batch=2) == type(done)(0, 0)  # nothing left to do


def test_db_prune_on_the_command_line(database, database_url, clock, monkeypatch, capsys):
    with database.transaction() as session:
        outbox_row(session, clock, "rất cũ", "sent", 5000)
    monkeypatch.setenv("BAOCAO_DATABASE_URL", database_url)
    monkeypatch.setenv("BAOCAO_RETENTION_DAYS", "30")
    assert cli.main(["db", "prune"]) == 0
    assert capsys.readouterr().out == (
        "Đã xóa nội dung 1 tin đã gửi và 0 mã cập nhật cũ hơn 30 ngày.\n"
    )
    with database.transaction() as session:
        (row,) = session.exec(select(OutboxMessage)).all()
        assert row.payload == {} and row.status == "sent"
