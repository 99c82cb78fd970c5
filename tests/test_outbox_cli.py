"""Failed replies stay visible and can be sent again: `baocao outbox list|retry` and the count in
the secretariat's /status. Re-queued rows are picked up by the next sweep of a running bot."""

from __future__ import annotations

import asyncio
import json

from sqlmodel import select

from bot.messaging import Outbound
from storage.hot_path import enqueue
from storage.models import OutboxMessage
from storage.outbox_store import mark_failed
from tests.test_cli import database_url, db, run  # noqa: F401  (fixtures)
from tests.test_outbox import ScriptedSender, _outbox
from tests.test_service import link


def _write(database, clock, texts: list[str], *, fail: bool) -> list[int]:
    with database.transaction() as session:
        rows = [
            enqueue(
                session,
                channel="test",
                chat_id="77",
                payload=Outbound(text).to_payload(),
                now=clock(),
                claimed=False,
            )
            for text in texts
        ]
        for row in rows if fail else []:
            mark_failed(session, row.id, "failed: Bad Request: chat not found", 6)
    return [row.id for row in rows]


def test_failed_rows_are_listed_and_requeued(run, db, clock):  # noqa: F811
    failed = _write(db, clock, ["Câu 3/18: số đoàn kiểm tra", "Đã lưu."], fail=True)
    waiting = _write(db, clock, ["đang chờ"], fail=False)
    code, out, err = run("outbox", "list", "--failed", "--json")
    assert (code, err) == (0, "")
    records = json.loads(out)
    assert [r["id"] for r in records] == sorted(failed, reverse=True)
    assert records[-1]["preview"] == "Câu 3/18: số đoàn kiểm tra"
    assert records[-1]["error"] == "failed: Bad Request: chat not found"
    assert records[-1]["attempts"] == 6
    code, out, _ = run("outbox", "list")
    assert code == 0 and f"#{waiting[0]} test:77 pending" in out and f"#{failed[0]} " in out
    code, out, _ = run("status")
    assert "⚠ 2 tin nhắn chưa gửi được" in out

    code, out, err = run("outbox", "retry", str(failed[0]))
    assert (code, err) == (0, "")
    assert out.strip().startswith("Đã xếp lại 1 tin nhắn")
    code, out, _ = run("outbox", "retry", "--all-failed")
    assert out.strip().startswith("Đã xếp lại 1 tin nhắn")
    with db.transaction() as session:
        rows = {r.id: r for r in session.exec(select(OutboxMessage))}
    assert all(rows[i].status == "pending" and rows[i].error is None for i in failed)
    assert all(rows[i].not_before == clock() for i in failed)
    code, out, _ = run("outbox", "list", "--failed")
    assert out.strip() == "Không có tin nhắn nào chưa gửi được."
    assert "chưa gửi được" not in run("status")[1]


def test_retrying_a_row_that_is_not_failed_changes_nothing(run, db, clock):  # noqa: F811
    failed = _write(db, clock, ["a"], fail=True)
    waiting = _write(db, clock, ["b"], fail=False)
    code, out, err = run("outbox", "retry", str(failed[0]), str(waiting[0]), "999")
    assert code == 1 and out == ""
    assert err.startswith(f"baocao: không gửi lại được #{waiting[0]}, #999:")
    with db.transaction() as session:
        assert session.get(OutboxMessage, failed[0]).status == "failed"
    for args in (("outbox", "retry"), ("outbox", "retry", "1", "--all-failed")):
        code, _, err = run(*args)
        assert code == 1 and "cần số tin nhắn, hoặc --all-failed" in err


async def test_a_requeued_row_is_delivered_by_the_next_sweep(run, db, clock):  # noqa: F811
    failed = _write(db, clock, ["gửi lại"], fail=True)
    assert run("outbox", "retry", "--all-failed")[0] == 0
    sender = ScriptedSender()
    outbox = _outbox(db, clock, sender)
    outbox.submit(await asyncio.to_thread(outbox.claim_due))
    await outbox.drain(timeout=5)
    assert sender.sent == [("77", "gửi lại")]
    with db.transaction() as session:
        row = session.get(OutboxMessage, failed[0])
        assert (row.status, row.attempts) == ("sent", 7)


def test_the_secretariat_sees_how_many_replies_could_not_be_sent(service, database, clock):
    secretary = link(service, database, clock, "sec", role="secretariat")
    assert "chưa gửi được" not in secretary.say("/status")
    _write(database, clock, ["x", "y", "z"], fail=True)
    text = secretary.say("/status")
    assert text.splitlines()[-1].startswith("⚠ 3 tin nhắn chưa gửi được")
