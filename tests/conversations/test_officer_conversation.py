"""Issue #13, as an officer reads the conversation: documents, levels, plausibility, notes, words.

Each test steps the pure engine with what an officer types and reads the replies back, as in
test_engine.py. Two hypothesis properties close the file: a line typed at a document question
is stored exactly as shown back or not stored with a reason, and a slip of a keyword is never
stored as an answer.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conversations.choices import CHOICES, KEYWORDS, render_choices_as_text
from conversations.documents_list import describe_document
from conversations.engine import (
    Answer,
    CampaignBrief,
    Dialogue,
    Press,
    Reply,
    SaveAnswer,
    State,
    Text,
    step,
)
from conversations.forms import load_form
from conversations.messages import format_deadline, late_days, late_phrase
from conversations.parsing import normalize

FORM = load_form("ct37_phuluc.yaml")
NOW = datetime(2022, 6, 20, 1, 0, tzinfo=UTC)
DEADLINE = datetime.fromisoformat("2022-07-05T00:00:00+07:00")
CT37 = CampaignBrief(
    issued_by="Kế hoạch số 131-KH/TU, ngày 11/5/2022 của Ban Thường vụ Tỉnh ủy",
    receiver="Ban Dân vận Tỉnh ủy",
    deadline=DEADLINE,
    period_start=date(2017, 5, 11),
    period_end=date(2022, 5, 30),
)


def state(level="huyen", key=None, answers=None, **changes) -> State:
    mode = "asking" if key else "start"
    base = State(
        Dialogue(mode=mode, cursor=key),
        dict(answers or {}),
        level,
        "in_progress" if answers else "not_started",
        "Ban Thường vụ Huyện ủy Ninh Phước",
        campaign=CT37,
    )
    return replace(base, **changes)


class Chat:
    def __init__(self, start: State, now: datetime = NOW) -> None:
        self.state = start
        self.now = now
        self.effects: list = []

    def say(self, text: str | Press) -> str:
        event = text if isinstance(text, Press) else Text(text)
        self.state, self.effects = step(self.state, event, FORM, self.now)
        return "\n\n".join(e.text for e in self.effects if isinstance(e, Reply))

    @property
    def saves(self) -> list[SaveAnswer]:
        return [e for e in self.effects if isinstance(e, SaveAnswer)]

    @property
    def reply(self) -> Reply:
        (reply,) = [e for e in self.effects if isinstance(e, Reply)]
        return reply

    def items(self, key="docs_party") -> list[dict]:
        return self.state.answers[key].value["items"]


# --- document lists -----------------------------------------------------------------------


def test_a_stray_xongg_is_asked_about_not_stored_as_a_document():
    chat = Chat(state(key="docs_party", answers={"docs_party": Answer({"items": []})}))
    chat.say("12-KH/HU, ngày 05/6/2017, Kế hoạch triển khai")
    assert chat.say("xongg") == "Ý đồng chí là «xong»?"
    assert chat.saves == []
    assert [c.label for c in chat.reply.choices] == ["Đúng", "Không phải"]
    text = chat.say("có")
    assert text.startswith("Đã ghi 1 văn bản.")
    assert chat.state.dialogue.cursor == "docs_state"
    assert [i["number"] for i in chat.items()] == ["12-KH/HU"]


def test_each_line_is_read_into_its_parts_and_shown_back():
    chat = Chat(state(key="docs_party"))
    text = chat.say("Nghị quyết 05-NQ/HU, 12/4/2018, về nâng cao chất lượng công tác dân vận")
    (save,) = chat.saves
    assert save.value["items"] == [
        {
            "raw": "Nghị quyết 05-NQ/HU, 12/4/2018, về nâng cao chất lượng công tác dân vận",
            "number": "05-NQ/HU",
            "date": "2018-04-12",
            "summary": "Nghị quyết về nâng cao chất lượng công tác dân vận",
        }
    ]
    assert text.startswith(
        "Đã ghi 1 văn bản (tổng 1):\n1. số 05-NQ/HU, ngày 12/4/2018, trích yếu: Nghị quyết về"
        " nâng cao chất lượng công tác dân vận"
    )


def test_an_impossible_date_is_not_taken_silently():
    chat = Chat(state(key="docs_party"))
    text = chat.say("Công văn 245-CV/HU ngày 31/6/2021 về tiếp công dân")
    assert chat.saves == []
    assert (
        "«Công văn 245-CV/HU ngày 31/6/2021 về tiếp công dân»: ngày “31/6/2021” không có thật"
        in (text)
    )
    assert "Giữ dòng này như đã gõ (vào cột trích yếu), hay bỏ đi?" in text
    assert render_choices_as_text(chat.reply.choices, chat.reply.numbered) == (
        "1. Giữ như đã gõ\n2. Bỏ các dòng này"
    )
    text = chat.say("giữ")
    (save,) = chat.saves
    kept = save.value["items"][0]
    assert (kept["number"], kept["date"]) == ("245-CV/HU", None)
    assert kept["summary"] == "Công văn ngày 31/6/2021 về tiếp công dân"
    assert f"3. {describe_document(kept)}" not in text
    assert f"1. {describe_document(kept)}" in text


def test_a_line_without_number_or_date_is_kept_or_dropped_as_the_officer_says():
    chat = Chat(state(key="docs_party"))
    text = chat.say("12-KH/HU, ngày 05/6/2017, Kế hoạch\nBáo cáo tổng kết năm\nxong")
    (save,) = chat.saves
    assert [i["number"] for i in save.value["items"]] == ["12-KH/HU"]
    assert "«Báo cáo tổng kết năm»: không thấy số/ký hiệu và ngày ban hành" in text
    text = chat.say(Press("decline", "p:docs_party"))
    assert chat.saves == []
    assert text.startswith("Đã bỏ 1 dòng, không ghi.\n\nĐã ghi 1 văn bản.")
    assert chat.state.dialogue.cursor == "docs_state"  # the paste ended with «xong»


def test_remove_and_correct_one_document_by_its_number():
    docs = {
        "items": [
            {"raw": "a", "number": "1-KH/HU", "date": "2017-06-05", "summary": "Kế hoạch A"},
            {"raw": "b", "number": "2-KH/HU", "date": "2017-07-05", "summary": "Kế hoạch B"},
            {"raw": "c", "number": "3-KH/HU", "date": "2017-08-05", "summary": "Kế hoạch C"},
        ]
    }
    chat = Chat(state(key="docs_party", answers={"docs_party": Answer(docs)}))
    text = chat.say("xóa 2")
    assert text.startswith("Đã xóa văn bản 2: số 2-KH/HU, ngày 05/7/2017, trích yếu: Kế hoạch B.")
    assert [i["number"] for i in chat.items()] == ["1-KH/HU", "3-KH/HU"]
    text = chat.say("sửa 2 3-KH/HU, ngày 06/8/2017, Kế hoạch C (sửa)")
    assert text.startswith("Đã sửa văn bản 2: số 3-KH/HU, ngày 06/8/2017, trích yếu: Kế hoạch C")
    assert chat.items()[1]["date"] == "2017-08-06"
    before = chat.state
    text = chat.say("sửa 2 Kế hoạch ngày 31/6/2017")
    assert chat.saves == [] and chat.state.answers == before.answers
    assert text.startswith("Chưa sửa được văn bản 2: ngày “31/6/2017” không có thật.")
    text = chat.say("xóa 5")
    assert text.startswith("Không có văn bản 5: câu này chỉ có 2 văn bản.")


def test_reopening_shows_the_numbered_list_and_says_new_lines_are_added():
    docs = {"items": [{"raw": "a", "number": "1-KH/HU", "date": "2017-06-05", "summary": "A"}]}
    chat = Chat(state(key="docs_state", answers={"docs_party": Answer(docs)}))
    text = chat.say("quay lại")
    assert "Đang ghi 1 văn bản:\n1. số 1-KH/HU, ngày 05/6/2017, trích yếu: A\n" in text
    assert "Văn bản gửi thêm sẽ được thêm vào danh sách này." in text
    assert "Gửi câu trả lời mới để sửa" not in text
    chat.say("2-KH/HU, 01/7/2017, B")
    assert [i["number"] for i in chat.items()] == ["1-KH/HU", "2-KH/HU"]


def test_the_review_shows_the_documents():
    docs = {"items": [{"raw": "a", "number": "1-KH/HU", "date": "2017-06-05", "summary": "A"}]}
    chat = Chat(state(key="docs_state", answers={"docs_party": Answer(docs)}))
    text = chat.say("xem")
    assert "1. VB cấp ủy Đảng: 1 văn bản\n   – số 1-KH/HU, ngày 05/6/2017, trích yếu: A\n" in text


# --- keyword slips at every question ----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "typed", "meant"),
    [
        ("docs_party", "xongg", "xong"),
        ("docs_party", "xog", "xong"),
        ("inspection_teams", "bỏ qa", "bỏ qua"),
        ("complaints", "bo qa", "bỏ qua"),
        ("satisfaction_pct", "tạm dừg", "tạm dừng"),
        ("reception_local_regular", "quay lai j", "quay lại"),
    ],
)
def test_a_slip_of_a_keyword_is_confirmed_at_every_question(key, typed, meant):
    chat = Chat(state(key=key))
    assert chat.say(typed) == f"Ý đồng chí là «{meant}»?"
    assert chat.saves == []
    assert chat.state.dialogue.pending == {
        "kind": "keyword",
        "command": next(i for i, c in CHOICES.items() if c.keyword == meant),
    }
    text = chat.say("không")
    assert text.startswith("Chưa ghi gì. Đồng chí gửi lại câu trả lời.")
    assert chat.state.dialogue.cursor == key


# --- the right questions for each level --------------------------------------------------------


@pytest.mark.parametrize("level", ["huyen", "so_nganh", "xa"])
def test_one_stop_ratios_are_asked_of_the_province_only(level):
    asked = {q.key for q in FORM.questions_for(level)}
    assert not asked & {"one_stop_district_pct", "one_stop_dept_pct"}
    assert {"one_stop_district_pct", "one_stop_dept_pct"} <= {
        q.key for q in FORM.questions_for("tinh")
    }


def test_a_commune_is_not_asked_the_district_chairman_receptions():
    chat = Chat(state(level="xa"))
    chat.say("/start")
    asked = []
    while chat.state.dialogue.mode == "asking":
        asked.append(chat.state.dialogue.cursor)
        chat.say("kad")
    assert "reception_local_regular" not in asked
    for level in ("tinh", "huyen", "so_nganh"):
        assert "reception_local_regular" in {q.key for q in FORM.questions_for(level)}


def test_level_4_reads_as_a_question_and_headers_say_muc():
    chat = Chat(state(key="online_services_l34"))
    text = chat.say("10")
    assert "Câu 6/18 — Mục 3. Công tác cải cách hành chính" in text
    assert "\nTrong đó, số dịch vụ công trực tuyến mức độ 4\n" in text
    text = Chat(state(key="complaints")).say("câu 8")
    assert "Câu 8/18 — Mục 4.1. Công tác tiếp công dân" in text


# --- plausibility -----------------------------------------------------------------------------


def test_more_times_than_people_is_shown_back_and_kept_only_when_confirmed():
    chat = Chat(state(key="reception_local_regular"))
    text = chat.say("20/10")
    assert chat.saves == []
    assert text == (
        "Xin đồng chí xem lại: Số lượt tiếp lớn hơn số lượt người được tiếp (mỗi lượt tiếp có ít"
        " nhất một người).\nVẫn ghi 20 lượt / 10 lượt người? Nếu chưa đúng, gửi lại số liệu."
    )
    text = chat.say("10/20")  # typing a new figure instead is read as the answer
    assert chat.saves[0].value == {"times": 10, "people": 20}
    chat.say("quay lại")
    chat.say("20/10")
    chat.say("1")
    assert chat.saves[0].value == {"times": 20, "people": 10}


@pytest.mark.parametrize(("level", "limit", "title"), [("xa", 50, "xã"), ("huyen", 200, "huyện")])
def test_a_count_far_above_the_level_asks_with_the_limit_from_the_form(level, limit, title):
    chat = Chat(state(level=level, key="inspection_teams"))
    chat.say(str(limit))
    assert chat.saves[0].value == {"value": limit}
    chat = Chat(state(level=level, key="inspection_teams"))
    text = chat.say(str(limit + 1))
    assert chat.saves == []
    assert f"(thường không quá {limit} ở cấp {title})" in text
    chat.say("vẫn ghi")
    assert chat.saves[0].value == {"value": limit + 1}


def test_hard_rules_stay_refusals():
    answers = {"online_services_l34": Answer({"value": 10})}
    chat = Chat(state(key="online_services_l4", answers=answers))
    text = chat.say("12")
    assert text.startswith("Chưa ghi được: Số dịch vụ mức độ 4 không được lớn hơn")
    assert chat.state.dialogue.pending is None
    chat.say("1")  # not a confirmation: a new answer
    assert chat.saves[0].value == {"value": 1}


# --- notes ------------------------------------------------------------------------------------


def test_an_answer_carries_a_note_shown_in_the_review():
    chat = Chat(state(key="complaints"))
    text = chat.say("45/50 ghi chú: số liệu ước tính đến 30/5/2022")
    assert chat.saves == [
        SaveAnswer(
            "complaints",
            {"done": 45, "total": 50},
            False,
            "45/50",
            "số liệu ước tính đến 30/5/2022",
        )
    ]
    assert text.startswith("Đã ghi câu 14: 45/50 đơn, đạt 90%")
    text = chat.say("xem")
    assert "14. Khiếu nại: 45/50 đơn, đạt 90%\n   Ghi chú: số liệu ước tính đến 30/5/2022" in text


def test_a_note_alone_goes_with_the_answer_given_and_an_empty_note_removes_it():
    chat = Chat(state(key="inspection_teams", answers={"inspection_teams": Answer({"value": 4})}))
    text = chat.say("Ghi chú: gồm cả đoàn liên ngành")
    assert chat.saves == [
        SaveAnswer("inspection_teams", {"value": 4}, False, "Ghi chú", "gồm cả đoàn liên ngành")
    ]
    assert "Ghi chú: gồm cả đoàn liên ngành" in text
    chat.say("5")  # a new figure keeps the note
    assert chat.saves[0].note == "gồm cả đoàn liên ngành"
    chat.say("quay lại")
    chat.say("ghi chú:")
    assert chat.saves[0].note is None
    assert chat.state.answers["inspection_teams"] == Answer({"value": 5})


def test_a_note_without_an_answer_says_how():
    before = state(key="inspected_units")
    chat = Chat(before)
    text = chat.say("ghi chú: ước tính")
    assert chat.saves == []
    assert text.startswith("Câu 4 chưa có câu trả lời để ghi chú.")


def test_not_applicable_with_a_note():
    chat = Chat(state(key="satisfaction_pct"))
    chat.say("kad ghi chú: tỉnh chưa khảo sát")
    assert chat.saves == [SaveAnswer("satisfaction_pct", None, True, "kad", "tỉnh chưa khảo sát")]


# --- zero at a pair or ratio ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "stored", "echo"),
    [
        ("complaints", {"done": 0, "total": 0}, "0/0 đơn, chưa có tỷ lệ"),
        ("reception_local_adhoc", {"times": 0, "people": 0}, "0 lượt / 0 lượt người"),
    ],
)
def test_zero_at_a_ratio_or_pair_means_nothing_at_all(key, stored, echo):
    chat = Chat(state(key=key))
    hint = chat.say("câu 14" if key == "complaints" else "câu 9")
    assert "(không có: 0)" in hint
    text = chat.say("0")
    assert chat.saves[0].value == stored
    assert f"Đã ghi câu {14 if key == 'complaints' else 9}: {echo}" in text


# --- words and dates ----------------------------------------------------------------------------


def test_the_opening_names_the_plan_deadline_period_and_size():
    text = Chat(state()).say("/start")
    assert text.startswith(
        "Kính chào đồng chí!\nThực hiện Kế hoạch số 131-KH/TU, ngày 11/5/2022 của Ban Thường vụ"
        " Tỉnh ủy, đề nghị Ban Thường vụ Huyện ủy Ninh Phước báo cáo số liệu Phụ lục, gửi Ban"
        " Dân vận Tỉnh ủy trước ngày 05/7/2022.\nSố liệu tính từ ngày 11/5/2017 đến ngày"
        " 30/5/2022.\nPhụ lục có 18 câu, mất khoảng 20 phút."
    )


def test_resuming_greets_with_the_progress():
    answers = {k: Answer({"value": 1}) for k in ("inspection_teams", "inspected_units")}
    answers["docs_party"] = Answer({"items": []})
    chat = Chat(replace(state(key="online_services_l34", answers=answers)))
    chat.say("tạm dừng")
    text = chat.say("/tiep")
    assert text.startswith(
        "Kính chào đồng chí. Đồng chí đã trả lời 3/18 câu; tiếp tục từ câu 5.\n\nCâu 5/18"
    )


def test_the_keyword_line_is_short_without_repeated_words():
    chat = Chat(state(key="docs_party", answers={"docs_party": Answer({"items": [{}]})}))
    chat.say("quay lại")
    line = render_choices_as_text(chat.reply.choices, chat.reply.numbered)
    assert line == "Gõ: xong · xóa · kad (không áp dụng) · bỏ qua · tạm dừng · xem"
    words = [w for w in normalize(line).replace("·", " ").split() if w not in ("(", ")")]
    assert len(words) == len(set(words))


def test_with_buttons_the_text_says_press_not_type():
    typed = Chat(state(key="docs_state")).say("quay lại")
    pressed = Chat(state(key="docs_state", buttons=True)).say("quay lại")
    assert "Gõ «Xong» khi đã đủ." in typed
    assert "Bấm «Xong» khi đã đủ." in pressed


def test_the_secretariat_is_named_never_ban_thu_ky():
    chat = Chat(state(key="inspection_teams"))
    texts = [chat.say("4"), chat.say("nộp"), chat.say("có"), chat.say("5")]
    assert "Ban Dân vận Tỉnh ủy" in texts[1] and "Ban Dân vận Tỉnh ủy" in texts[3]
    assert not any("thư ký" in text for text in texts)


def test_after_a_skipped_question_answered_from_the_review_the_next_skipped_one_follows():
    keys = [q.key for q in FORM.questions_for("huyen")]
    stored = {
        "documents": {"items": []},
        "pair": {"times": 1, "people": 2},
        "ratio": {"done": 1, "total": 2},
    }
    answers = {
        k: Answer(stored.get(FORM.question(k).kind.value, {"value": 1}))
        for k in keys
        if k not in ("satisfaction_pct", "complaints")
    }
    skipped = Dialogue(mode="review", skipped=["satisfaction_pct", "complaints"])
    chat = Chat(state(answers=answers, dialogue=skipped))
    chat.say("7")
    text = chat.say("90%")
    assert text.startswith("Đã ghi câu 7: 90%\n\nCâu 14/18")
    assert chat.state.dialogue.cursor == "complaints"
    text = chat.say("45/50")
    assert chat.state.dialogue.mode == "review"
    assert "Đã trả lời 18/18 câu." in text


def test_one_formatter_for_the_deadline_and_late_submission():
    assert format_deadline(DEADLINE) == "trước ngày 05/7/2022"
    assert format_deadline(datetime(2022, 7, 4, 10, 0, tzinfo=UTC)) == "trước 17:00 ngày 04/7/2022"
    assert late_days(DEADLINE, datetime(2022, 7, 4, 16, 59, tzinfo=UTC)) == 0
    assert late_phrase(DEADLINE, datetime(2022, 7, 4, 16, 59, tzinfo=UTC)) == ""
    assert late_phrase(DEADLINE, datetime(2022, 7, 7, 3, 0, tzinfo=UTC)) == "nộp muộn 3 ngày"


def test_a_late_submission_says_so_when_submitted_and_when_locked():
    late = datetime(2022, 7, 7, 3, 0, tzinfo=UTC)  # 10:00 on 07/7, the deadline was 05/7
    chat = Chat(state(key="inspection_teams"), now=late)
    chat.say("nộp")
    text = chat.say("có")
    assert text.startswith(
        "Đã nộp báo cáo của Ban Thường vụ Huyện ủy Ninh Phước lúc 10:00 ngày 07/7/2022"
        " (nộp muộn 3 ngày). Cảm ơn đồng chí!"
    )
    assert "(nộp muộn 3 ngày) nên không sửa được nữa" in chat.say("5")


# --- properties -----------------------------------------------------------------------------------

DOCUMENT_PIECES = st.sampled_from(
    [
        "12-KH/HU", "05/QĐ-UBND", "Số 131-KH/TU", "ngày", "05/6/2017", "31/6/2021", "29/02/2023",
        "ngày 5 tháng 3 năm 2024", "Kế hoạch", "Nghị quyết", "về nâng cao", ",", ";", "-", "…",
        "xong", "xongg", "kad", "1.", "2021-2025", "Công văn",
    ]
)  # fmt: skip
ONE_LINE = st.one_of(
    st.lists(DOCUMENT_PIECES, min_size=1, max_size=7).map(" ".join),
    st.text(
        st.characters(
            blacklist_categories=("Cs",),
            blacklist_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
        ),
        min_size=1,
        max_size=60,
    ),
)


ALL_KEYWORDS = set().union(*KEYWORDS.values())  # the engine's own words
COMMAND = re.compile(r"^/?(?:cau|sua|xoa)\s*\d|^/|^\?$")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=ONE_LINE)
def test_a_line_at_a_document_question_is_stored_as_shown_back_or_refused_with_a_reason(line):
    words = normalize(line)
    assume(len(line.splitlines()) <= 1)
    assume(words not in ALL_KEYWORDS and not COMMAND.match(words))  # commands, not documents
    chat = Chat(state(key="docs_party"))
    text = chat.say(line)
    pending = chat.state.dialogue.pending
    if pending and pending["kind"] == "keyword":  # a slip of «xong», «kad»…: asked, not stored
        assert chat.saves == []
        assert text.startswith("Ý đồng chí là «")
        return
    if pending:  # not fully read: says what, stores nothing until the officer decides
        assert pending["kind"] == "lines"
        assert chat.saves == []
        assert "Chưa đọc được trọn 1 dòng sau:\n• «" in text
        text = chat.say("giữ")
    if chat.saves:
        (save,) = chat.saves
        assert save.key == "docs_party" and not save.not_applicable
        (item,) = save.value["items"]
        assert describe_document(item) in text
    else:
        assert text.startswith("Chưa ghi được: ")
        assert chat.state.answers == {}


KEYWORDS = ["xong", "bo qua", "quay lai", "tam dung", "khong ap dung", "kad", "xem", "nop", "tiep"]


@st.composite
def slips(draw):
    word = draw(st.sampled_from(KEYWORDS))
    position = draw(st.integers(0, len(word) - 1))
    letter = draw(st.sampled_from("abcdeghiklmnopqrstuvxy"))
    edit = draw(st.sampled_from(["insert", "delete", "replace", "swap"]))
    if edit == "insert":
        return word[:position] + letter + word[position:]
    if edit == "delete":
        return word[:position] + word[position + 1 :]
    if edit == "replace":
        return word[:position] + letter + word[position + 1 :]
    return (
        word[:position] + word[position + 1 : position + 2] + word[position] + word[position + 2 :]
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(slip=slips(), key=st.sampled_from([q.key for q in FORM.questions_for("huyen")]))
def test_no_keyword_slip_is_stored_as_an_answer(slip, key):
    assume(normalize(slip) not in ALL_KEYWORDS)
    chat = Chat(state(key=key))
    chat.say(slip)
    assert chat.saves == []
    assert chat.state.answers == {}
