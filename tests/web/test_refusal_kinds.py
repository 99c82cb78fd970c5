"""Each kind of refusal, mapped once per surface: the chat's wording, the command line's exit
code, the web's HTTP status — and a refusal changes nothing."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.cli.refusals import EXIT_CODES
from bot.secretariat import refusal_reply
from bot.web.staff.routes import HTTP_STATUS
from conversations.errors import (
    BadValue,
    DomainError,
    ErrorKind,
    NotAllowedNow,
    NotFound,
    OutOfScope,
)
from storage.models import StaffAction
from tests.test_cli import db, run  # noqa: F401 — the command line's fixtures
from tests.test_service import Chat, link, new_invite
from tests.web.conftest import add_contact, set_status, status_of


def _actions(database) -> int:
    with database.transaction() as session:
        return len(session.exec(select(StaffAction)).all())


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_kind_has_a_mapping_on_every_surface(kind):
    assert kind in EXIT_CODES and kind in HTTP_STATUS
    assert refusal_reply(DomainError("lý do", kind)).text.startswith("Không thực hiện được: lý do.")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (NotFound("không có đơn vị mã 'XX'"), "Không thực hiện được: không có đơn vị mã 'XX'."),
        (
            OutOfScope("không có đơn vị mã 'HU-NH'"),
            "Không thực hiện được: không có đơn vị mã 'HU-NH'.",
        ),
        (
            NotAllowedNow("báo cáo chưa nộp nên chưa duyệt được"),
            "Không thực hiện được: báo cáo chưa nộp nên chưa duyệt được.\n"
            "Gõ /status để xem tình trạng hiện nay.",
        ),
        (
            BadValue("cần ghi lý do trả lại"),
            "Không thực hiện được: cần ghi lý do trả lại.\nGõ /help để xem cách dùng các lệnh.",
        ),
    ],
)
def test_the_chat_words_each_kind(error, expected):
    assert refusal_reply(error).text == expected


def test_chat_commands_refused_by_kind(service, database, clock):
    province = link(service, database, clock, "sec", role="secretariat")
    district = Chat(service, "district")
    district.send(f"/start {new_invite(database, clock, 'HU-NP', 'secretariat')}")
    district.send("có")
    set_status(database, clock, "HU-NH", "submitted")
    before = _actions(database)
    # not found and out of scope read the same: a district cannot probe the province
    assert province.say("/duyet XX") == "Không thực hiện được: không có đơn vị mã 'XX'."
    assert district.say("/duyet HU-NH") == "Không thực hiện được: không có đơn vị mã 'HU-NH'."
    assert province.say("/duyet HU-NP") == (
        "Không thực hiện được: báo cáo chưa nộp nên chưa duyệt được.\n"
        "Gõ /status để xem tình trạng hiện nay."
    )
    assert status_of(database, "HU-NH") == "submitted"
    assert _actions(database) == before


def test_cli_exit_codes_by_kind(run, db, clock):  # noqa: F811
    assert run("approve", "XX")[:1] == (1,)  # not found
    code, _, err = run("approve", "HU-NP")  # state
    assert (code, err.strip()) == (1, "baocao: báo cáo chưa nộp nên chưa duyệt được")
    add_contact(db, clock, "Lan")
    add_contact(db, clock, "Hùng")
    code, _, err = run("web-link")  # bad value: which of the two?
    assert code == 1 and "có nhiều cán bộ tổng hợp, chọn một bằng --contact" in err
    assert _actions(db) == 0
    assert all(code == 1 for code in EXIT_CODES.values())  # 2 stays «the command was miswritten»


async def test_web_statuses_by_kind(web, seeded, database):
    province, district = await web(), await web()
    await province.sign_in(seeded["province"])
    await district.sign_in(seeded["district"])
    await province.get("/web/")
    await district.get("/web/")
    before = _actions(database)
    confirmed = {"xac-nhan": "co"}
    assert (await province.post("/web/don-vi/XX/duyet", confirmed)).status == 404  # not found
    assert (await district.post("/web/don-vi/HU-NH/tra-lai", {"ly_do": "x"})).status == 404
    state = await province.post("/web/don-vi/DU-PHUOCDAN/duyet", confirmed)  # not submitted yet
    page = await state.text()
    assert state.status == 409 and "chưa nộp nên chưa duyệt được" in page
    assert 'id="tinh-trang">đang điền<' in page  # the unit page, showing where it stands
    bad = await province.post("/web/don-vi/DU-PHUOCDAN/gia-han", {"ngay": "31/02"})
    assert bad.status == 400 and "ngày gia hạn không hợp lệ" in await bad.text()
    blank = await province.post("/web/don-vi/HU-NP/tra-lai", {"ly_do": "  "})
    assert blank.status == 400 and "cần ghi lý do trả lại" in await blank.text()
    assert _actions(database) == before
    assert status_of(database, "DU-PHUOCDAN") == "in_progress"
    assert status_of(database, "HU-NP") == "submitted"


async def test_an_approved_report_is_not_extended(web, seeded, database):
    browser = await web()
    await browser.sign_in(seeded["province"])
    await browser.get("/web/don-vi/HU-NH")
    response = await browser.post("/web/don-vi/HU-NH/gia-han", {"ngay": "2022-07-15"})
    assert response.status == 409
    assert "báo cáo đã được duyệt nên không cần gia hạn" in await response.text()
    assert "(đã gia hạn)" not in await (await browser.get("/web/don-vi/HU-NH")).text()
