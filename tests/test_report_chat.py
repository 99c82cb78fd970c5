"""Issue #14 part B through the service, on real SQLite and PostgreSQL: the officer writes the
Đề cương's points in the chat (several messages make one text, «xong», «bỏ qua», «quay lại»,
«xem», back to the Phụ lục), the texts are answers with history, locked on submission, and the
draft the chat sends (through the attachment resolver) carries them.
"""

from __future__ import annotations

import io

import docx
from sqlmodel import select

from bot.attachments import ExportResolver
from bot.documents.word_reports import REPORT_KIND
from bot.messaging import Attachment
from bot.use_cases import Desk
from conversations.narrative import narrative_key
from storage.models import AnswerHistory
from tests.test_service import link, stored_answers

LONG = "Tình hình chung của huyện ổn định. " * 200  # ~7 000 characters, more than one message


def test_the_officer_writes_points_in_the_chat(service, database, clock):
    chat = link(service, database, clock, "anh")
    replies = chat.send("/baocao")
    draft, shown = replies
    assert draft.attachment == Attachment(1, "HU-NP", kind=REPORT_KIND)
    assert "Đề cương — điểm I.1 (1/" in shown.text
    assert "I- ĐẶC ĐIỂM, TÌNH HÌNH" in shown.text
    assert "Khái quát đặc điểm, tình hình chung" in shown.text
    assert [c.keyword for c in shown.choices][:2] == ["xong", "bỏ qua"]

    assert chat.say("Huyện có 9 xã, thị trấn.").startswith("Đã ghi vào điểm I.1")
    chat.send(LONG)
    assert chat.say("xong").startswith("Đề cương — điểm I.2 (2/")
    assert "Đã để điểm I.2 bổ sung sau." in chat.say("bỏ qua")
    back = chat.say("quay lại")
    assert "Đề cương — điểm I.2 (2/" in back
    texts = stored_answers(database)
    written = texts[narrative_key("I.1")][0]["text"]
    assert written == "Huyện có 9 xã, thị trấn.\n" + LONG.strip()  # kept whole

    review = chat.say("xem")
    assert "Phần lời văn của Ban Thường vụ Huyện ủy Ninh Phước: 1/" in review
    assert "I.2. Những thuận lợi, khó khăn" in review
    assert LONG.strip() in review  # shown back whole; the channel splits it at its limit

    # Back to the Phụ lục by its name; «báo cáo» resumes at point I.2.
    assert chat.say("phụ lục").startswith("Câu 1/18")
    assert chat.say("Xong").startswith("Đã ghi: không có văn bản nào.")
    resumed = chat.send("báo cáo")[1].text
    assert "Đề cương — điểm I.2 (2/" in resumed

    with database.transaction() as session:
        history = session.exec(
            select(AnswerHistory).where(AnswerHistory.question_key == narrative_key("I.1"))
        ).all()
    assert [row.raw_text for row in history] == ["Huyện có 9 xã, thị trấn.", LONG.strip()]


def test_a_stale_button_and_clearing_a_point(service, database, clock):
    chat = link(service, database, clock, "anh")
    first = chat.send("/baocao")[1]
    chat.send("Đoạn một.")
    chat.send("xong")
    stale = chat.say(choice="n-done", context=first.context)
    assert stale.startswith("Nút này thuộc một tin nhắn cũ.")
    chat.send("điểm 1")
    ask = chat.send("xóa")[0]
    assert ask.text.startswith("Xóa toàn bộ lời văn đã viết ở điểm I.1?")
    assert chat.say("không").startswith("Giữ nguyên lời văn.")
    chat.send("xóa")
    assert chat.say("có").startswith("Đã xóa lời văn của điểm này.")
    assert stored_answers(database)[narrative_key("I.1")] == (None, False)


def test_texts_lock_on_submission_and_the_draft_carries_them(service, database, clock):
    chat = link(service, database, clock, "anh")
    chat.send("/baocao")
    chat.send("Huyện có 9 xã, thị trấn; dân số khoảng 140 nghìn người.")
    chat.send("phụ lục")
    chat.send("nộp")
    assert chat.say("có").startswith("Đã nộp báo cáo")
    locked = chat.send("/baocao")
    assert locked[0].attachment is not None
    assert "phần lời văn đã khóa" in locked[1].text
    assert "phần lời văn đã khóa" in chat.say("Thêm một câu nữa.")
    assert narrative_key("I.1") in stored_answers(database)
    texts = stored_answers(database)[narrative_key("I.1")][0]["text"]
    assert texts == "Huyện có 9 xã, thị trấn; dân số khoảng 140 nghìn người."

    resolver = ExportResolver(database, clock, Desk())
    built = resolver._build(Attachment(1, "HU-NP", kind=REPORT_KIND))
    assert "_bao-cao_HU-NP_" in built.filename and built.filename.endswith(".docx")
    document = docx.Document(io.BytesIO(built.data))
    paragraphs = [p.text for p in document.paragraphs]
    # the unit's text stands where the Đề cương's prompt was (the prompt is not printed)
    at = paragraphs.index("I- ĐẶC ĐIỂM, TÌNH HÌNH")
    assert paragraphs[at + 1] == "Huyện có 9 xã, thị trấn; dân số khoảng 140 nghìn người."
    assert "DỰ THẢO" not in document.sections[0].header.paragraphs[0].text  # submitted
