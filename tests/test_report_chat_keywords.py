"""Issue #20, the written report in the chat, through the service on real SQLite and
PostgreSQL: the words «tạm dừng», «phụ lục», «báo cáo», «điểm N», «xem» and «giúp» do what they
say in every state (a Đề cương point, its review, a Phụ lục question with a documents list, the
Phụ lục review) and are never stored as text; a restart resumes at the half-written point;
points are named by the plan's marks; a percentage takes two decimals.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.service import Service
from bot.use_cases import Desk
from conversations.narrative import narrative_key
from conversations.parsing import parse_answer
from conversations.text import shorten
from tests.conftest import CHANNEL_TRAITS
from tests.test_service import Chat, link, stored_answers


def writing(service, database, clock):
    """An officer at point I.1 of the Đề cương with one text written."""
    chat = link(service, database, clock, "anh")
    chat.send("/baocao")
    chat.send("Huyện có 9 xã, thị trấn.")
    return chat


def unchanged(database, before: dict) -> None:
    assert stored_answers(database) == before


def test_pause_help_and_review_while_writing_store_nothing(service, database, clock):
    chat = writing(service, database, clock)
    before = stored_answers(database)

    paused = chat.say("tạm dừng")
    assert paused.startswith("Đã tạm dừng ở điểm I.1; phần đã viết được lưu.")
    unchanged(database, before)

    helped = chat.say("giúp")
    assert "«tạm dừng»" in helped and "«điểm III.4.1»" in helped
    unchanged(database, before)

    review = chat.say("xem")
    assert review.startswith("Phần lời văn của Ban Thường vụ Huyện ủy Ninh Phước: 1/")
    unchanged(database, before)

    # After a pause the next text is written again, where the officer stopped.
    chat.say("báo cáo")
    chat.say("tạm dừng")
    resumed = chat.say("Dân số khoảng 140 nghìn người.")
    assert resumed.startswith("Tiếp tục viết điểm I.1.")
    text = stored_answers(database)[narrative_key("I.1")][0]["text"]
    assert text == "Huyện có 9 xã, thị trấn.\nDân số khoảng 140 nghìn người."


def test_points_by_their_mark_or_order_from_the_report_and_the_phu_luc(service, database, clock):
    chat = writing(service, database, clock)
    before = stored_answers(database)
    assert chat.say("điểm III.4.1").startswith("Đề cương — điểm III.4.1 (")
    assert chat.say("Điểm 5").startswith("Đề cương — điểm II.3 (5/")
    missing = chat.say("điểm IX.9")
    assert missing.startswith("Không có điểm IX.9. Đề cương có")
    unchanged(database, before)

    # From the Phụ lục, «điểm N» opens the report at that point.
    assert chat.say("phụ lục").startswith("Câu 1/18")
    assert chat.say("điểm III.4.1").startswith("Đề cương — điểm III.4.1 (")
    unchanged(database, before)


def test_keywords_at_a_documents_question_are_never_read_as_a_document(service, database, clock):
    chat = link(service, database, clock, "anh")
    assert chat.say("/tiep").startswith("Câu 1/18")  # a list of documents
    before = stored_answers(database)

    assert chat.say("phụ lục").startswith("Câu 1/18")
    assert chat.say("tạm dừng").startswith("Đã lưu mọi câu trả lời.")
    assert chat.say("giúp").startswith("HƯỚNG DẪN")
    assert chat.say("xem").startswith("XEM LẠI")
    unchanged(database, before)

    opened = chat.send("báo cáo")
    assert opened[1].text.startswith("Dự thảo báo cáo của đơn vị")
    assert "Đề cương — điểm I.1 (1/" in opened[1].text
    unchanged(database, before)


def test_keywords_in_the_reviews(service, database, clock):
    chat = writing(service, database, clock)
    before = stored_answers(database)
    chat.say("xem")  # the Đề cương review
    assert chat.say("tạm dừng").startswith("Đã tạm dừng ở phần lời văn của báo cáo")
    assert "«giúp»" in chat.say("giúp")
    assert chat.say("phụ lục").startswith("Câu 1/18")
    assert chat.say("xem").startswith("XEM LẠI")  # the Phụ lục review
    assert chat.say("tạm dừng").startswith("Đã lưu mọi câu trả lời.")
    assert chat.say("giúp").startswith("HƯỚNG DẪN")
    assert chat.say("điểm 2").startswith("Đề cương — điểm I.2 (2/")
    unchanged(database, before)


def test_a_restart_resumes_at_the_half_written_point(database, clock):
    desk = Desk(bot_usernames={"telegram": "baocao_test_bot"})
    chat = writing(Service(database, clock, CHANNEL_TRAITS, desk), database, clock)
    chat.send("xong")
    chat.send("Những thuận lợi: cấp ủy quan tâm;")  # point I.2, not finished

    # The process restarts: a new service on the same database, the officer writes /start.
    restarted = Chat(Service(database, clock, CHANNEL_TRAITS, desk), "anh")
    shown = restarted.say("/start")
    assert shown.startswith("Đề cương — điểm I.2 (2/")
    assert "Đã viết:\nNhững thuận lợi: cấp ủy quan tâm;" in shown
    assert restarted.say("khó khăn: địa bàn rộng.").startswith("Đã ghi vào điểm I.2")
    text = stored_answers(database)[narrative_key("I.2")][0]["text"]
    assert text == "Những thuận lợi: cấp ủy quan tâm;\nkhó khăn: địa bàn rộng."


def test_the_review_names_points_by_the_plans_marks(service, database, clock):
    chat = writing(service, database, clock)
    review = chat.say("xem")
    assert "I.1. Khái quát đặc điểm, tình hình chung của cơ quan, đơn vị, địa phương:" in review
    assert "III.4.1. Kết quả tiếp công dân — (chưa viết)" in review
    assert ".:" not in review
    assert "tại bàn" not in review and "tự ghi" not in review


@pytest.mark.parametrize(
    ("typed", "stored", "echo"),
    [("90,25%", 90.25, "90,25%"), ("90.25", 90.25, "90,25%"), ("85,5", 85.5, "85,5%")],
)
def test_a_percentage_takes_two_decimals(typed, stored, echo):
    parsed = parse_answer("percent", typed)
    assert parsed.value == {"value": stored}
    assert parsed.echo == echo


@given(st.lists(st.sampled_from(["Chỉ", "thị", "37-CT/TU", "12.345", "ngày", "05/6/2017"])))
def test_shortening_never_cuts_inside_a_word_or_a_number(words):
    text = " ".join(words)
    short = shorten(text, 20)
    assert len(short) <= 20
    if short != text:
        kept = short.removesuffix("…").split()
        assert kept == words[: len(kept)] or len(words[0]) >= 20
