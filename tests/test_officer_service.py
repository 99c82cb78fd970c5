"""Issue #13 through the service, on real SQLite and PostgreSQL: notes are stored with the
answer and its history, the opening names the round, and a late submission says so in the
confirmation and in both /status replies.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from storage.models import Answer, AnswerHistory, UnitDeadline
from storage.repository import current_campaign, unit_by_code
from tests.test_service import HU_NP, Chat, link, new_invite, stored_answers


def test_a_note_is_stored_with_the_answer_and_its_history(service, database, clock):
    chat = link(service, database, clock, "anh")
    chat.send("Xong")
    chat.send("kad")
    reply = chat.say("5 ghi chú: gồm cả đoàn liên ngành")
    assert reply.startswith("Đã ghi câu 3: 5 đoàn")
    with database.transaction() as session:
        answer = session.exec(select(Answer).where(Answer.question_key == "inspection_teams")).one()
        assert (answer.value, answer.note) == ({"value": 5}, "gồm cả đoàn liên ngành")
        history = session.exec(
            select(AnswerHistory).where(AnswerHistory.question_key == "inspection_teams")
        ).one()
        assert history.note == "gồm cả đoàn liên ngành"
    chat.send("quay lại")
    assert "Ghi chú: gồm cả đoàn liên ngành" in chat.say("xem")


def test_the_opening_names_the_plan_the_deadline_and_the_period(service, database, clock):
    chat = Chat(service, "anh")
    chat.send(f"/start {new_invite(database, clock)}")
    opening = chat.say("có")
    assert opening.startswith(f"Đã liên kết với {HU_NP}.\n\nKính chào đồng chí!\nThực hiện")
    assert "Kế hoạch số 131-KH/TU" in opening
    assert "gửi Ban Dân vận Tỉnh ủy trước ngày 05/7/2022." in opening
    assert "Số liệu tính từ ngày 11/5/2017 đến ngày 30/5/2022." in opening
    assert "Phụ lục có 18 câu, mất khoảng 20 phút." in opening
    assert "Bấm «Xong» khi đã đủ." in opening  # Telegram shows the choices as buttons
    chat.send("tạm dừng")
    assert chat.say("/tiep").startswith("Câu 1/18")  # nothing answered: no progress greeting
    chat.send("Xong")
    chat.send("tạm dừng")
    assert chat.say("/tiep").startswith(
        "Kính chào đồng chí. Đồng chí đã trả lời 1/18 câu; tiếp tục từ câu 2."
    )


def test_a_late_submission_says_so_everywhere(service, database, clock):
    secretary = link(service, database, clock, "thu", role="secretariat")
    officer = link(service, database, clock, "anh")
    officer.send("Xong")
    clock.set(datetime(2022, 7, 7, 3, 0, tzinfo=UTC))  # 10:00 on 07/7; due before 05/7
    officer.send("nộp")
    done = officer.say("có")
    assert done.startswith(
        f"Đã nộp báo cáo của {HU_NP} lúc 10:00 ngày 07/7/2022 (nộp muộn 3 ngày)."
    )
    assert officer.say("/status").startswith(f"{HU_NP}: đã nộp (nộp muộn 3 ngày), đã trả lời 1/18")
    status = secretary.say("/status")
    assert "Hạn nộp: trước ngày 05/7/2022" in status
    assert f"Nộp muộn:\n • {HU_NP} (HU-NP): nộp muộn 3 ngày" in status
    assert stored_answers(database)["docs_party"] == ({"items": []}, False)


def test_a_unit_given_more_time_is_not_told_it_is_late(service, database, clock):
    """Gia hạn: the officer's confirmation, their /status and the secretariat's /status all
    measure the unit against its own deadline."""
    secretary = link(service, database, clock, "thu", role="secretariat")
    officer = link(service, database, clock, "anh")
    with database.transaction() as session:
        session.add(
            UnitDeadline(
                campaign_id=current_campaign(session).id,
                unit_id=unit_by_code(session, "HU-NP").id,
                deadline=datetime(2022, 7, 11, 17, 0, tzinfo=UTC),  # before 12/7 in Vietnam
                set_at=clock(),
            )
        )
    officer.send("Xong")
    clock.set(datetime(2022, 7, 7, 3, 0, tzinfo=UTC))  # after the campaign's deadline
    officer.send("nộp")
    done = officer.say("có")
    assert done.startswith(f"Đã nộp báo cáo của {HU_NP} lúc 10:00 ngày 07/7/2022.")
    assert "nộp muộn" not in done
    assert "nộp muộn" not in officer.say("/status")
    assert "Nộp muộn:" not in secretary.say("/status")
