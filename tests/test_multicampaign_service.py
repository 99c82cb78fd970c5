"""Several campaigns in the chat, through the real service on SQLite and PostgreSQL (issue #22):
a draft is invisible to officers, a closed campaign refuses answers, two open ones are asked for,
kept apart and switched between with «/dot» or «đợt»; the secretariat's /status, /export and
/remind take a campaign code and ask for one when several are open."""

from __future__ import annotations

from sqlmodel import select

from storage.models import Answer, Campaign, Submission, Unit
from tests.test_service import _load_campaign_for, link

LATER = "2030-07-05T00:00:00+07:00"
TITLE_2030 = "Kiểm tra việc thực hiện Chỉ thị 37-CT/TU"  # the copy keeps the bundled title


def set_state(database, clock, code: str, state: str) -> None:
    with database.transaction() as session:
        campaign = session.exec(select(Campaign).where(Campaign.code == code)).one()
        campaign.state = state
        session.add(campaign)


def answers(database, unit_code: str) -> list[tuple[str, str, dict]]:
    with database.transaction() as session:
        rows = session.exec(
            select(Campaign.code, Answer.question_key, Answer.value)
            .join(Submission, Submission.id == Answer.submission_id)
            .join(Campaign, Campaign.id == Submission.campaign_id)
            .join(Unit, Unit.id == Submission.unit_id)
            .where(Unit.code == unit_code)
        ).all()
    return sorted(rows)


def test_a_draft_is_invisible_and_a_closed_campaign_refuses_answers(
    service, database, clock, tmp_path
):
    _load_campaign_for(database, clock, tmp_path, "nhap-2030", LATER, ["HU-NP"])
    set_state(database, clock, "nhap-2030", "draft")
    chat = link(service, database, clock, "np", "HU-NP")
    reply = chat.say("/cau 3")
    assert "[Đợt:" not in reply and "đợt báo cáo cần điền" not in reply  # one campaign: as before
    chat.say("5")
    set_state(database, clock, "ct37-2022", "closed")
    refused = chat.say("7")
    assert refused == (
        "Đợt báo cáo «Kiểm tra việc thực hiện Chỉ thị 37-CT/TU» đã kết thúc, trợ lý không nhận "
        "thêm trả lời. Cần bổ sung số liệu, đề nghị đồng chí liên hệ Ban Dân vận."
    )
    assert answers(database, "HU-NP") == [("ct37-2022", "inspection_teams", {"value": 5})]


def test_two_open_campaigns_are_asked_for_kept_apart_and_switched(
    service, database, clock, tmp_path
):
    _load_campaign_for(database, clock, tmp_path, "ct37-2030", LATER, ["HU-NP"])
    chat = link(service, database, clock, "np", "HU-NP")
    menu = chat.send("/cau 3")[-1]  # not an answer: the officer is asked first
    assert menu.context == "dot" and menu.numbered
    assert [(c.id, c.keyword) for c in menu.choices] == [("ct37-2030", "1"), ("ct37-2022", "2")]
    assert chat.say("bảy").startswith("Đề nghị đồng chí chọn đợt báo cáo trước khi trả lời.")
    picked = chat.send(choice="ct37-2030", context="dot")
    assert all(reply.text.startswith(f"[Đợt: {TITLE_2030}]\n") for reply in picked)
    chat.send("/cau 3")
    chat.send("4")
    assert chat.say("/dot").startswith("Ban Thường vụ Huyện ủy Ninh Phước đang có 2 đợt")
    chat.say("2")  # typed number picks the bundled campaign
    chat.send("/cau 3")
    chat.send("8")
    chat.say("đợt")  # the word alone switches too
    chat.say("ct37-2030")  # and a code picks
    chat.send("/cau 4")
    chat.send("1")
    assert answers(database, "HU-NP") == [
        ("ct37-2022", "inspection_teams", {"value": 8}),
        ("ct37-2030", "inspected_units", {"value": 1}),
        ("ct37-2030", "inspection_teams", {"value": 4}),
    ]
    assert chat.say("/dot ct37-2022").startswith("[Đợt: ")  # «/dot CODE» switches at once
    status = chat.say("/status")
    assert "Ninh Phước" in status
    # The picked campaign closes: the officer is told and goes on with the other one.
    set_state(database, clock, "ct37-2022", "closed")
    moved = chat.send("9")
    assert moved[0].text.startswith("Đợt báo cáo «Kiểm tra việc thực hiện Chỉ thị 37-CT/TU» đã kết")
    assert not any(reply.text.startswith("[Đợt:") for reply in moved)  # one open again
    assert ("ct37-2022", "inspection_teams", {"value": 9}) not in answers(database, "HU-NP")


def test_secretariat_commands_take_a_campaign_code(service, database, clock, tmp_path):
    _load_campaign_for(database, clock, tmp_path, "ct37-2030", LATER, ["HU-NP"])
    staff = link(service, database, clock, "s1", role="secretariat")
    several = "Đang mở nhiều đợt báo cáo: ct37-2030, ct37-2022. Đề nghị ghi rõ mã đợt, ví dụ: "
    assert staff.say("/status") == several + "/status ct37-2030"
    assert staff.say("/export") == several + "/export ct37-2030"
    assert staff.say("/remind") == several + "/remind ct37-2030"
    assert staff.say("/duyet HU-NP") == several + "/duyet ct37-2030"
    # With the campaign named, the staff action applies to that campaign's report only.
    refused = staff.say("/duyet ct37-2030 HU-NP")
    assert refused.startswith("Không thực hiện được:") and "chưa nộp" in refused
    only_np = staff.say("/status ct37-2030")
    assert "Ninh Phước" in only_np and "Ninh Hải" not in only_np
    assert "Ninh Hải" in staff.say("/status ct37-2022")
    export = staff.send("/export ct37-2030 HU-NP")[0]
    assert export.text == "Phụ lục của Ban Thường vụ Huyện ủy Ninh Phước"
    with database.transaction() as session:
        campaign = session.exec(select(Campaign).where(Campaign.code == "ct37-2030")).one()
        assert export.attachment.campaign_id == campaign.id
    assert staff.say("/remind ct37-2030").startswith("Đã xếp lịch gửi")
