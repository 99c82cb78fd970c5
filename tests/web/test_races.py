"""Staff acting on one report at the same moment, through the real paths, on SQLite and
PostgreSQL: the use case in threads (each in its own transaction) and the web route.

Exactly one action wins; the others are refused with who did what and when, and leave no log
row and send no notice.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlmodel import select

from bot import use_cases
from bot.use_cases import Actor, Desk
from conversations.errors import DomainError, ErrorKind
from storage.models import OutboxMessage, StaffAction
from tests.web.conftest import set_status, status_of

PARALLEL = 10


def _officer_notices(database) -> list[str]:
    with database.transaction() as session:
        rows = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.chat_id == "chat-Anh", OutboxMessage.kind == "notice"
            )
        ).all()
        return [row.payload["text"] for row in rows]


def _logged(database, *actions: str) -> list[tuple[str, str]]:
    with database.transaction() as session:
        rows = session.exec(select(StaffAction).where(StaffAction.action.in_(actions))).all()
        return [(row.action, row.actor) for row in rows]


def _at_once(database, clock, calls):
    """Run each call in its own thread and write transaction, all released together; returns
    («ok», actor) or («refused», error) per call."""
    start = threading.Barrier(len(calls))
    desk = Desk()

    def act(call):
        name, run = call
        start.wait()
        try:
            with database.write_transaction() as session:
                run(session, clock(), desk, Actor("web", name))
        except DomainError as error:
            return "refused", error
        return "ok", name

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(act, calls))


def _approve(session, now, desk, actor):
    use_cases.approve_report(
        session, now, desk, unit_code="HU-NP", actor=actor, expected="submitted"
    )


def _return(session, now, desk, actor):
    use_cases.return_report(
        session,
        now,
        desk,
        unit_code="HU-NP",
        reason="Thiếu mục 4",
        actor=actor,
        expected="submitted",
    )


def test_ten_approvals_at_once_make_one(database, clock, seeded):
    outcomes = _at_once(database, clock, [(f"Cán bộ {i}", _approve) for i in range(PARALLEL)])
    winners = [who for kind, who in outcomes if kind == "ok"]
    refusals = [error for kind, error in outcomes if kind == "refused"]
    assert len(winners) == 1 and len(refusals) == PARALLEL - 1
    (winner,) = winners
    for error in refusals:
        assert error.kind is ErrorKind.STATE
        assert f"Báo cáo đã được {winner} duyệt lúc 08:00 ngày 20/6/2022" in str(error)
    assert status_of(database, "HU-NP") == "approved"
    assert _logged(database, "approve") == [("approve", winner)]
    (notice,) = _officer_notices(database)
    assert "đã được Ban Dân vận Tỉnh ủy duyệt" in notice


def test_approve_and_return_at_once_one_wins_and_the_officer_hears_it_once(database, clock, seeded):
    for round_ in range(3):
        set_status(database, clock, "HU-NP", "submitted")
        before = len(_officer_notices(database))
        outcomes = dict(
            _at_once(database, clock, [(f"Duyệt {round_}", _approve), (f"Trả {round_}", _return)])
        )
        assert sorted(outcomes) == ["ok", "refused"]
        winner, error = outcomes["ok"], outcomes["refused"]
        verb, status = (
            ("duyệt", "approved") if winner.startswith("Duyệt") else ("trả lại", "returned")
        )
        assert status_of(database, "HU-NP") == status
        assert error.kind is ErrorKind.STATE
        assert f"Báo cáo đã được {winner} {verb} lúc" in str(error)
        notices = _officer_notices(database)[before:]
        assert len(notices) == 1
        assert ("duyệt" in notices[0]) == (status == "approved")
        assert ("trả lại" in notices[0]) == (status == "returned")
    assert len(_logged(database, "approve", "return")) == 3


async def test_ten_approvals_through_the_web_make_one(web, seeded, database):
    browser = await web()
    await browser.sign_in(seeded["province"])
    await browser.get("/web/don-vi/HU-NP")
    posts = [
        browser.post("/web/don-vi/HU-NP/duyet", {"trang-thai": "submitted", "xac-nhan": "co"})
        for _ in range(PARALLEL)
    ]
    responses = await asyncio.gather(*posts)
    statuses = sorted(response.status for response in responses)
    assert statuses == [303] + [409] * (PARALLEL - 1)
    refused = next(r for r in responses if r.status == 409)
    page = await refused.text()
    assert "Báo cáo đã được Lan duyệt lúc" in page
    assert 'id="tinh-trang">đã duyệt<' in page  # the page shows the state it is in now
    assert _logged(database, "approve") == [("approve", "Lan")]
    assert len(_officer_notices(database)) == 1


async def test_approve_and_return_pressed_together_on_the_web(web, seeded, database):
    approver, returner = await web(), await web()
    await approver.sign_in(seeded["province"])
    await returner.sign_in(seeded["district"])
    await approver.get("/web/don-vi/HU-NP")
    await returner.get("/web/don-vi/HU-NP")
    approved, returned = await asyncio.gather(
        approver.post("/web/don-vi/HU-NP/duyet", {"trang-thai": "submitted", "xac-nhan": "co"}),
        returner.post("/web/don-vi/HU-NP/tra-lai", {"trang-thai": "submitted", "ly_do": "Sửa"}),
    )
    assert sorted([approved.status, returned.status]) == [303, 409]
    final = status_of(database, "HU-NP")
    assert final == ("approved" if approved.status == 303 else "returned")
    assert len(_logged(database, "approve", "return")) == 1
    assert len(_officer_notices(database)) == 1
    # Pressed again later on the page as it was, the older view is refused too.
    again = await returner.post(
        "/web/don-vi/HU-NP/tra-lai", {"trang-thai": "submitted", "ly_do": "Sửa"}
    )
    assert again.status == 409 and final == status_of(database, "HU-NP")
