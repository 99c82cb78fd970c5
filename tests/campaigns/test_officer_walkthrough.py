"""An imported XLSForm, opened, answered by an officer through the service exactly as a channel
would send it (real SQLite and PostgreSQL): the note, a select, several choices, a date, a
decimal, a constraint with its message, a list one line per item, the level rules, submission."""

from __future__ import annotations

from sqlmodel import select

from exports.xlsform_read import read_xlsform
from storage.campaign_life import change_state, create_draft
from storage.models import Answer, Submission
from storage.repository import current_campaign, submission_for, unit_by_code
from tests.campaigns.sample_form import write_form
from tests.test_service import Chat, new_invite


def open_sample(database, clock, tmp_path) -> None:
    with database.transaction() as session:
        create_draft(session, read_xlsform(write_form(tmp_path / "f.xlsx")), clock())
    with database.transaction() as session:
        change_state(session, "dv-2026", "open", clock())


def answers(database, unit_code: str) -> dict:
    with database.transaction() as session:
        unit = unit_by_code(session, unit_code)
        campaign = current_campaign(session, "dv-2026")
        rows = session.exec(
            select(Answer)
            .join(Submission, Submission.id == Answer.submission_id)
            .where(Submission.unit_id == unit.id, Submission.campaign_id == campaign.id)
        ).all()
        return {row.question_key: row.value for row in rows}


def test_an_officer_answers_an_imported_form_and_submits(service, database, clock, tmp_path):
    open_sample(database, clock, tmp_path)
    officer = Chat(service, "officer-np")
    officer.send(f"/start {new_invite(database, clock, 'HU-NP')}")
    officer.send("có")
    first = officer.say("/dot dv-2026")  # CT37 is open too: the officer picks the new form
    assert "Câu 1/6 — Mục 1. Tình hình chung" in first  # a district: no tinh or xa questions
    assert "Số liệu tính đến hết kỳ báo cáo." in first  # the note comes with the question
    assert "Số cuộc họp" in first and "Đếm cả họp trực tuyến" in first
    refused = officer.say("600")
    assert "Không quá 500 cuộc họp" in refused and "Câu 1/6" in refused
    assert "Đã ghi câu 1: 12" in (second := officer.say("12"))
    assert "Kinh phí (triệu đồng)" in second
    assert "Cần một số" in officer.say("khoảng ba chục")
    assert "Đã ghi câu 2: 30,5" in (third := officer.say("30,5"))
    assert "Ngày họp gần nhất" in third
    assert "Ngày này không có thật" in officer.say("31/02/2026")
    fourth = officer.say("15/11/2026")
    assert "Đã ghi câu 3: 15/11/2026" in fourth
    assert "1. Có; 2. Không" in fourth
    assert "Chưa có lựa chọn này" in officer.say("3")
    fifth = officer.say("1")
    assert "Đã ghi câu 4: Có" in fifth and "Hình thức tuyên truyền" in fifth
    sixth = officer.say("3, hop")
    assert "Đã ghi câu 5: Họp dân, Mạng xã hội" in sixth
    assert "Mỗi dòng một mục: Tên hoạt động; Số người tham dự" in sixth
    assert "Dòng 2: Số người tham dự" in officer.say("Hội nghị tập huấn; 120\nMít tinh; nhiều")
    assert "Đã ghi câu 6: 2 mục" in officer.say("Hội nghị tập huấn; 120\nMít tinh; 1.300")
    officer.send("nộp")
    assert "Đã nộp báo cáo" in officer.say("có")
    assert answers(database, "HU-NP") == {
        "meetings": {"value": 12},
        "budget": {"value": 30.5},
        "held_on": {"value": "2026-11-15"},
        "has_plan": {"value": "yes", "label": "Có"},
        "channels": {"values": ["hop", "mxh"], "labels": ["Họp dân", "Mạng xã hội"]},
        "events": {
            "items": [
                {
                    "raw": "Hội nghị tập huấn; 120",
                    "event_name": "Hội nghị tập huấn",
                    "event_people": 120,
                },
                {"raw": "Mít tinh; 1.300", "event_name": "Mít tinh", "event_people": 1300},
            ]
        },
    }
    with database.transaction() as session:
        campaign = current_campaign(session, "dv-2026")
        status = submission_for(session, campaign, unit_by_code(session, "HU-NP")).status
    assert status == "submitted"


def test_a_commune_is_asked_its_own_question(service, database, clock, tmp_path):
    open_sample(database, clock, tmp_path)
    officer = Chat(service, "officer-xa")
    officer.send(f"/start {new_invite(database, clock, 'DU-PHUOCDAN')}")
    officer.send("có")
    assert "Câu 1/7" in officer.say("/dot dv-2026")  # the commune also gets «Số thôn»
    for text in ("1", "0", "01/01/2026", "2", "1"):
        reply = officer.say(text)
    assert "Số thôn" in reply
    assert "Đã ghi câu 6: 4 thôn" in officer.say("4 thôn")


def test_only_an_open_campaign_is_answered(service, database, clock, tmp_path):
    with database.transaction() as session:
        create_draft(session, read_xlsform(write_form(tmp_path / "f.xlsx")), clock())
    early = Chat(service, "officer-nh")
    early.send(f"/start {new_invite(database, clock, 'HU-NH')}")
    assert "Câu 1/18" in early.say("có")  # the draft reaches nobody: CT37 is still asked
    with database.transaction() as session:
        change_state(session, "dv-2026", "open", clock())
    officer = Chat(service, "officer-np")
    officer.send(f"/start {new_invite(database, clock, 'HU-NP')}")
    assert "đang có 2 đợt báo cáo cần điền" in officer.say("có")  # open now, beside CT37
    assert "Câu 1/6 — Mục 1. Tình hình chung" in officer.say("/dot dv-2026")
    with database.transaction() as session:
        change_state(session, "dv-2026", "close", clock())
        change_state(session, "ct37-2022", "close", clock())
    closed = officer.say("12")
    assert "đã kết thúc, trợ lý không nhận thêm trả lời" in closed
    assert answers(database, "HU-NP") == {}


def test_a_required_question_must_be_answered_before_submitting(service, database, clock, tmp_path):
    open_sample(database, clock, tmp_path)
    officer = Chat(service, "officer-np")
    officer.send(f"/start {new_invite(database, clock, 'HU-NP')}")
    officer.send("có")
    officer.send("/dot dv-2026")
    assert "Câu 2/6" in officer.say("bỏ qua")  # «Số cuộc họp» is required, skipped for now
    officer.say("30,5")
    refused = officer.say("nộp")
    assert "Chưa nộp được: còn 1 câu chưa trả lời (1)" in refused
    officer.say("1")
    officer.say("12")
    officer.send("nộp")
    assert "Đã nộp báo cáo" in officer.say("có")
