"""Tests for conversations.engine: the pure dialogue state machine, stepped event by event.

Each test feeds `Text`/`Press` events to `step` and asserts the state and the effects after
every one (as in h11's tests). Question numbers are those a district (huyen) unit sees:
18 questions, e.g. 3 = inspection_teams, 5 = online_services_l34, 6 = online_services_l4.
A hypothesis test throws random event sequences at the engine and checks its invariants.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations.choices import CHOICES, render_choices_as_text
from conversations.engine import (
    EDITABLE_STATUSES,
    Answer,
    Dialogue,
    Press,
    Reply,
    SaveAnswer,
    State,
    SubmitReport,
    Text,
    context_of,
    step,
)
from conversations.forms import load_form, parse_form

NOW = datetime(2022, 6, 20, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam
FORM = load_form("ct37_phuluc.yaml")
HUYEN_KEYS = [q.key for q in FORM.questions_for("huyen")]
STALE = "Nút này thuộc một câu hỏi cũ"

# A valid answer for every question of the form, by kind.
VALID = {
    "documents": "12-KH/HU, ngày 05/6/2017, Kế hoạch triển khai Chỉ thị 37-CT/TU\nxong",
    "integer": "3",
    "percent": "85,5%",
    "pair": "12/345",
    "ratio": "45/50",
}


STORED = {
    "documents": {"items": []},
    "integer": {"value": 1},
    "percent": {"value": 50.0},
    "pair": {"times": 1, "people": 2},
    "ratio": {"done": 1, "total": 2},
}


def filled(keys: list[str]) -> dict[str, Answer]:
    """Stored answers of the right shape for `keys`."""
    return {k: Answer(dict(STORED[FORM.question(k).kind.value])) for k in keys}


def number(key: str) -> int:
    return HUYEN_KEYS.index(key) + 1


def fresh(level: str = "huyen", **changes) -> State:
    state = State(Dialogue(), {}, level, "not_started", "Ban Thường vụ Huyện ủy Ninh Phước")
    return replace(state, **changes)


def asking(key: str, answers: dict[str, Answer] | None = None, **changes) -> State:
    """A unit in the middle of the form, being asked `key`."""
    status = "in_progress" if answers else "not_started"
    state = fresh(answers=dict(answers or {}), status=status)
    return replace(state, dialogue=Dialogue(mode="asking", cursor=key), **changes)


def value(key: str, n: int) -> Answer:
    return Answer({"value": n})


class Walk:
    """Steps the engine and keeps the latest state and effects."""

    def __init__(self, state: State, form=FORM) -> None:
        self.state = state
        self.form = form
        self.effects: list = []

    def send(self, event: Text | Press | str) -> Walk:
        if isinstance(event, str):
            event = Text(event)
        before = self.state
        self.state, self.effects = step(self.state, event, self.form, NOW)
        assert before is not self.state
        return self

    @property
    def mode(self) -> str:
        return self.state.dialogue.mode

    @property
    def cursor(self) -> str | None:
        return self.state.dialogue.cursor

    @property
    def replies(self) -> list[Reply]:
        return [e for e in self.effects if isinstance(e, Reply)]

    @property
    def reply(self) -> Reply:
        (reply,) = self.replies
        return reply

    @property
    def text(self) -> str:
        return self.reply.text

    @property
    def saves(self) -> list[SaveAnswer]:
        return [e for e in self.effects if isinstance(e, SaveAnswer)]

    @property
    def choice_ids(self) -> list[str]:
        return [c.id for c in self.reply.choices]


def answer_all(walk: Walk, keys: list[str], except_keys: tuple[str, ...] = ()) -> None:
    """Answer every open question the engine asks, skipping those in `except_keys`."""
    for _ in range(len(keys) + 5):
        if walk.mode != "asking":
            return
        key = walk.cursor
        if key in except_keys:
            walk.send("bỏ qua")
        else:
            walk.send(VALID[FORM.question(key).kind.value])
    raise AssertionError("the walk did not reach the review")


# --- start and answering ------------------------------------------------------------------------


def test_first_input_introduces_and_asks_question_one():
    walk = Walk(fresh()).send("/start")
    assert walk.mode == "asking"
    assert walk.cursor == "docs_party"
    assert walk.saves == []
    assert walk.state.status == "not_started"
    assert "Ban Thường vụ Huyện ủy Ninh Phước" in walk.text
    assert "Phụ lục có 18 câu" in walk.text
    assert "Câu 1/18 — Mục 1. Văn bản chỉ đạo, triển khai" in walk.text
    assert walk.choice_ids == ["done", "na", "skip", "pause", "review"]  # no «back» at 1
    assert walk.reply.context == "q:docs_party" == context_of(walk.state.dialogue)


def test_any_text_at_start_begins_without_storing_it():
    walk = Walk(fresh()).send("12")
    assert (walk.mode, walk.cursor, walk.saves) == ("asking", "docs_party", [])


def test_answer_saves_and_moves_to_the_next_question():
    walk = Walk(asking("inspection_teams")).send("5")
    assert walk.saves == [SaveAnswer("inspection_teams", {"value": 5}, False, "5")]
    assert walk.state.answers["inspection_teams"] == Answer({"value": 5}, False)
    assert walk.state.status == "in_progress"
    assert walk.cursor == "inspected_units"
    assert walk.text.startswith("Đã ghi câu 3: 5 đoàn")
    assert "Câu 4/18 — Mục 2. Công tác kiểm tra" in walk.text
    assert walk.choice_ids == ["na", "skip", "back", "pause", "review"]
    assert walk.reply.context == "q:inspected_units"


@pytest.mark.parametrize(
    ("key", "text", "stored", "echo"),
    [
        ("satisfaction_pct", "85,5%", {"value": 85.5}, "85,5%"),
        ("reception_local_regular", "12/345", {"times": 12, "people": 345}, "12 lượt / 345"),
        ("complaints", "45/50", {"done": 45, "total": 50}, "45/50 đơn, đạt 90%"),
        ("complex_cases", "giải quyết 3, tổng 4", {"done": 3, "total": 4}, "3/4 vụ, đạt 75%"),
        ("supervisions", "123 cuộc", {"value": 123}, "123 cuộc"),
    ],
)
def test_answers_of_every_kind_are_echoed(key, text, stored, echo):
    walk = Walk(asking(key)).send(text)
    assert [(s.key, s.value, s.not_applicable) for s in walk.saves] == [(key, stored, False)]
    assert f"Đã ghi câu {number(key)}: {echo}" in walk.text
    assert walk.cursor == HUYEN_KEYS[number(key)]


def test_answering_the_last_open_question_shows_the_review():
    answers = filled([k for k in HUYEN_KEYS if k != "criticism_conferences"])
    walk = Walk(asking("criticism_conferences", answers)).send("2")
    assert walk.saves[0].key == "criticism_conferences"
    assert walk.mode == "review"
    assert "XEM LẠI" in walk.text
    assert "Đã trả lời 18/18 câu." in walk.text


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "text", "reason"),
    [
        ("inspection_teams", "mười hai", "Chưa thấy số nào"),
        ("inspection_teams", "khoảng 12", "Chưa hiểu “khoảng”"),
        ("inspection_teams", "-3", "không được âm"),
        ("satisfaction_pct", "120%", "không được vượt quá 100%"),
        ("complaints", "50/45", "không được lớn hơn tổng số"),
        ("inspection_teams", "99999999999", "Số quá lớn"),
        ("inspection_teams", "", "Chưa có câu trả lời"),
        ("inspection_teams", "   ", "Chưa có câu trả lời"),
        ("inspection_teams", "😀", "ký tự không hợp lệ"),
        ("inspection_teams", "12 " * 1700, "quá dài"),
        ("reception_local_regular", "12", "Cần đúng hai số"),
    ],
)
def test_bad_input_is_re_asked_with_the_reason_and_nothing_changes(key, text, reason):
    before = asking(key, {"docs_party": Answer({"items": []})})
    walk = Walk(before).send(text)
    assert walk.saves == []
    assert walk.state == before
    assert walk.text.startswith("Chưa ghi được: ")
    assert reason in walk.text
    assert "Ví dụ" in walk.text
    assert f"Câu {number(key)}/18" in walk.text
    assert walk.reply.context == f"q:{key}"


def test_a_5000_character_paste_is_refused_on_a_number_question():
    before = asking("supervisions")
    walk = Walk(before).send("1" * 5000)
    assert (walk.saves, walk.state) == ([], before)
    assert "quá dài" in walk.text


# --- not applicable ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        Text("không áp dụng"),
        Text("Không Áp Dụng"),
        Text("khong ap dung"),
        Text("kad"),
        Text("KAD"),
        Press("na", "q:inspection_teams"),
        Press("na"),
    ],
)
def test_not_applicable_is_stored_apart_from_zero(event):
    walk = Walk(asking("inspection_teams")).send(event)
    (save,) = walk.saves
    assert (save.key, save.value, save.not_applicable) == ("inspection_teams", None, True)
    assert save.raw
    assert walk.state.answers["inspection_teams"] == Answer(None, True)
    assert walk.text.startswith("Đã ghi câu 3: Không áp dụng.")
    assert walk.cursor == "inspected_units"


def test_zero_and_not_applicable_show_differently_in_the_review():
    walk = Walk(asking("inspection_teams")).send("0").send("kad").send("xem")
    assert walk.state.answers["inspection_teams"] == Answer({"value": 0}, False)
    assert walk.state.answers["inspected_units"] == Answer(None, True)
    assert "3. Số đoàn KT: 0 đoàn" in walk.text
    assert "4. Số đơn vị được KT: Không áp dụng" in walk.text


# --- skip, back, jump, pause ----------------------------------------------------------------


def test_skip_keeps_the_question_open_for_later():
    walk = Walk(asking("satisfaction_pct")).send("bỏ qua")
    assert walk.saves == []
    assert walk.state.dialogue.skipped == ["satisfaction_pct"]
    assert walk.cursor == "reception_local_regular"
    assert walk.text.startswith("Đã để câu này lại, trả lời sau.")
    answer_all(walk, HUYEN_KEYS)
    # The rest is answered: the review shows question 7 as skipped, not answered.
    assert walk.mode == "review"
    assert "7. Chỉ số hài lòng (%): (đã bỏ qua, chưa trả lời)" in walk.text
    assert "Đã trả lời 17/18 câu, còn 1 câu chưa trả lời." in walk.text
    assert "satisfaction_pct" not in walk.state.answers
    # «tiếp» from the review comes back to it; answering clears the skip mark.
    walk.send("tiếp")
    assert (walk.mode, walk.cursor) == ("asking", "satisfaction_pct")
    walk.send("70%")
    assert walk.saves[0].value == {"value": 70.0}
    assert walk.state.dialogue.skipped == []
    assert walk.mode == "review"
    assert "Đã trả lời 18/18 câu." in walk.text


def test_skipped_questions_are_listed_when_submitting():
    walk = Walk(asking("satisfaction_pct")).send("bo qua")
    answer_all(walk, HUYEN_KEYS)  # wraps round to questions 1-8 after question 20
    assert set(walk.state.answers) == set(HUYEN_KEYS) - {"satisfaction_pct"}
    walk.send("nộp")
    assert walk.mode == "confirm"
    assert walk.text.startswith("Còn 1 câu chưa trả lời: 7.")


def test_skip_on_an_answered_question_keeps_the_answer():
    walk = Walk(asking("inspection_teams", {"inspection_teams": value("x", 4)})).send(
        Press("skip", "q:inspection_teams")
    )
    assert walk.saves == []
    assert walk.state.dialogue.skipped == []
    assert walk.state.answers["inspection_teams"] == Answer({"value": 4})
    assert walk.text.startswith("Giữ nguyên câu trả lời.")
    assert walk.cursor == "inspected_units"


def test_back_goes_to_the_previous_question_showing_its_answer():
    walk = Walk(asking("inspected_units", {"inspection_teams": value("x", 4)})).send("quay lại")
    assert (walk.mode, walk.cursor, walk.saves) == ("asking", "inspection_teams", [])
    assert "Câu 3/18" in walk.text
    assert "Đang ghi: 4 đoàn." in walk.text
    walk.send(Press("back", "q:inspection_teams"))
    assert walk.cursor == "docs_state"
    walk.send("quay lai").send("quay lai")
    assert walk.cursor == "docs_party"
    assert walk.text.startswith("Đây đã là câu đầu tiên.")


def test_jump_to_a_question_by_number():
    walk = Walk(asking("inspection_teams")).send("câu 5")
    assert (walk.mode, walk.cursor, walk.saves) == ("asking", "online_services_l34", [])
    assert "Câu 5/18 — Mục 3" in walk.text
    assert walk.state.dialogue.return_to_review is False
    walk.send("10")  # not from the review: carries on with question 6
    assert walk.cursor == "online_services_l4"
    walk.send("cau 10")
    assert walk.cursor == "dialogue_district_party"
    walk.send("sửa 3")
    assert walk.cursor == "inspection_teams"


def test_jump_to_a_question_that_does_not_exist():
    before = asking("inspection_teams")
    walk = Walk(before).send("câu 21")
    assert walk.state == before
    assert walk.text.startswith("Không có câu 21. Phụ lục có 18 câu.")


def test_pause_then_any_input_resumes_at_the_same_question():
    walk = Walk(asking("satisfaction_pct")).send("tạm dừng")
    assert (walk.mode, walk.cursor, walk.saves) == ("paused", "satisfaction_pct", [])
    assert "câu 7" in walk.text
    assert walk.choice_ids == ["continue"]
    assert walk.reply.context == "q:satisfaction_pct"
    walk.send("90%")
    assert walk.saves[0].key == "satisfaction_pct"
    assert (walk.mode, walk.cursor) == ("asking", "reception_local_regular")


@pytest.mark.parametrize("event", [Text("tiếp"), Text("/tiep"), Press("continue", "q:complaints")])
def test_pause_then_continue_asks_the_same_question_again(event):
    walk = Walk(asking("complaints")).send("tam dung").send(event)
    assert (walk.mode, walk.cursor, walk.saves) == ("asking", "complaints", [])
    assert "Câu 14/18 — Mục 4.3. Kết quả giải quyết đơn thư khiếu nại" in walk.text


def test_pause_then_bad_input_resumes_with_the_reason():
    walk = Walk(asking("complaints")).send("tạm dừng").send("nhiều lắm")
    assert (walk.mode, walk.cursor, walk.saves) == ("asking", "complaints", [])
    assert walk.text.startswith("Chưa ghi được")


@pytest.mark.parametrize(
    ("level", "total", "number"),
    [("huyen", 18, 5), ("tinh", 24, 7), ("xa", 14, 5), ("so_nganh", 14, 5)],
)
def test_progress_text_counts_the_questions_of_the_level(level, total, number):
    walk = Walk(fresh(level=level)).send(f"câu {number}")
    assert walk.cursor == "online_services_l34"
    assert f"Câu {number}/{total} — Mục 3" in walk.text
    walk.send("xem")
    assert f"Đã trả lời 0/{total} câu" in walk.text


def test_a_commune_is_never_asked_district_or_province_questions():
    walk = Walk(fresh(level="xa")).send("/start")
    asked = []
    while walk.mode == "asking":
        asked.append(walk.cursor)
        walk.send("kad")
    assert asked == [q.key for q in FORM.questions_for("xa")]
    assert not any(k.startswith(("reception_province", "dialogue_province")) for k in asked)
    assert "dialogue_district_party" not in asked
    assert set(walk.state.answers) == set(asked)


# --- documents --------------------------------------------------------------------------------


def test_documents_several_per_message_then_xong():
    walk = Walk(fresh()).send("/start")
    walk.send("12-KH/HU, ngày 05/6/2017, Kế hoạch triển khai\n15-CV/HU, 01/7/2017, Công văn")
    (save,) = walk.saves
    assert [item["number"] for item in save.value["items"]] == ["12-KH/HU", "15-CV/HU"]
    assert save.value["items"][1]["date"] == "2017-07-01"
    assert (walk.mode, walk.cursor) == ("asking", "docs_party")
    assert walk.text.startswith("Đã ghi 2 văn bản (tổng 2):")
    assert walk.choice_ids[:2] == ["done", "clear"]
    walk.send("20-NQ/HU, ngày 10/8/2017, Nghị quyết")
    assert len(walk.saves[0].value["items"]) == 3
    assert "(tổng 3)" in walk.text
    walk.send("Xong")
    assert walk.saves == []
    assert walk.cursor == "docs_state"
    assert walk.text.startswith("Đã ghi 3 văn bản.")
    assert len(walk.state.answers["docs_party"].value["items"]) == 3


def test_documents_one_paste_ending_with_xong():
    walk = Walk(asking("docs_state")).send(
        "1520/QĐ-UBND, ngày 20/7/2017, Quyết định ban hành kế hoạch\n"
        "21/KH-UBND, 02/8/2017, Kế hoạch thực hiện\n"
        "xong"
    )
    (save,) = walk.saves
    assert [item["number"] for item in save.value["items"]] == ["1520/QĐ-UBND", "21/KH-UBND"]
    assert walk.cursor == "inspection_teams"
    assert "Đã ghi 2 văn bản (tổng 2)" in walk.text
    assert "Câu 3/18" in walk.text


def test_documents_xong_with_nothing_records_no_documents():
    walk = Walk(asking("docs_party")).send(Press("done", "q:docs_party"))
    assert walk.saves == [SaveAnswer("docs_party", {"items": []}, False, "Xong")]
    assert walk.text.startswith("Đã ghi: không có văn bản nào.")
    walk.send("xem")
    assert "1. VB cấp ủy Đảng: không có văn bản" in walk.text


def test_documents_clear_asks_first_then_empties_the_list_and_stays():
    walk = Walk(asking("docs_party")).send("12-KH/HU, ngày 05/6/2017, Kế hoạch")
    walk.send(Press("clear", "q:docs_party"))
    assert walk.saves == []
    assert walk.text == "Xóa cả 1 văn bản đã ghi ở câu 1?"
    assert [c.label for c in walk.reply.choices] == ["Xóa hết", "Không xóa"]
    assert walk.reply.numbered
    walk.send("không")
    assert walk.saves == []
    assert walk.text.startswith("Giữ nguyên danh sách văn bản.")
    assert len(walk.state.answers["docs_party"].value["items"]) == 1
    walk.send("xóa")
    assert walk.saves == []
    walk.send(Press("accept", "p:docs_party"))
    assert walk.saves == [SaveAnswer("docs_party", {"items": []}, False, "Xóa")]
    assert walk.cursor == "docs_party"
    assert walk.text.startswith("Đã xóa danh sách văn bản")
    walk.send("3-CT/HU, 01/02/2018, Chỉ thị").send("xoa").send("1")
    assert walk.saves[0].value == {"items": []}


def test_documents_xong_keeps_a_not_applicable_answer():
    walk = Walk(asking("docs_party", {"docs_party": Answer(None, True)})).send("xong")
    assert walk.saves == []
    assert walk.state.answers["docs_party"] == Answer(None, True)
    assert walk.cursor == "docs_state"


def test_clear_on_a_number_question_is_not_offered():
    before = asking("inspection_teams")
    walk = Walk(before).send(Press("clear", "q:inspection_teams"))
    assert walk.saves == []
    assert walk.text.startswith("Lựa chọn này không dùng được ở câu này.")


# --- review and editing -----------------------------------------------------------------------


def test_review_lists_every_question_with_numbers_and_answers():
    walk = Walk(fresh()).send("/start")
    answer_all(walk, HUYEN_KEYS)
    walk.send("xem")
    assert walk.mode == "review"
    assert walk.choice_ids == ["submit", "continue"]
    assert walk.reply.context == "review"
    for n, question in enumerate(FORM.questions_for("huyen"), start=1):
        assert f"\n{n}. {question.title}: " in walk.text
    document = "   – số 12-KH/HU, ngày 05/6/2017, trích yếu: Kế hoạch triển khai Chỉ thị 37-CT/TU"
    assert f"1. VB cấp ủy Đảng: 1 văn bản\n{document}\n" in walk.text
    assert "3. Số đoàn KT: 3 đoàn" in walk.text
    assert "7. Chỉ số hài lòng (%): 85,5%" in walk.text
    assert "8. Tiếp định kỳ (huyện, sở): 12 lượt / 345 lượt người" in walk.text
    assert "14. Khiếu nại: 45/50 đơn, đạt 90%" in walk.text
    assert "Mục 4. Công tác tiếp dân" in walk.text
    assert "19." not in walk.text


def test_edit_from_the_review_returns_to_the_review():
    walk = Walk(fresh()).send("/start")
    answer_all(walk, HUYEN_KEYS)
    walk.send("5")
    assert (walk.mode, walk.cursor) == ("asking", "online_services_l34")
    assert walk.state.dialogue.return_to_review is True
    assert "Đang ghi: 3 dịch vụ." in walk.text
    walk.send("30")
    assert walk.saves == [SaveAnswer("online_services_l34", {"value": 30}, False, "30")]
    assert walk.mode == "review"
    assert walk.state.dialogue.return_to_review is False
    assert walk.text.startswith("Đã ghi câu 5: 30 dịch vụ")
    assert "5. DVC trực tuyến mức 3, 4: 30 dịch vụ" in walk.text
    # «sửa 6» works as well, and a bad answer keeps the way back to the review.
    walk.send("sửa 6").send("abc")
    assert (walk.mode, walk.state.dialogue.return_to_review) == ("asking", True)
    walk.send("bỏ qua")
    assert walk.mode == "review"


def test_review_of_an_empty_form_and_continue():
    walk = Walk(fresh()).send("/start").send("xem")
    assert "Đã trả lời 0/18 câu, còn 18 câu chưa trả lời." in walk.text
    assert "(chưa trả lời)" in walk.text
    walk.send(Press("continue", "review"))
    assert (walk.mode, walk.cursor) == ("asking", "docs_party")


# --- submission -------------------------------------------------------------------------------


def test_submit_with_missing_questions_asks_to_confirm_listing_them():
    answers = filled(HUYEN_KEYS[2:17])
    walk = Walk(replace(asking("inspection_teams", answers))).send("nộp")
    assert walk.mode == "confirm"
    assert walk.saves == []
    assert "Còn 3 câu chưa trả lời: 1, 2, 18." in walk.text
    assert walk.choice_ids == ["confirm", "cancel"]
    assert walk.reply.numbered is True
    assert walk.reply.context == "confirm"
    walk.send("không")
    assert walk.mode == "review"
    walk.send("nop").send("có")
    assert walk.mode == "locked"
    assert walk.state.status == "submitted"
    assert walk.state.submitted_at == NOW
    assert SubmitReport() in walk.effects
    assert "Đã nộp báo cáo của Ban Thường vụ Huyện ủy Ninh Phước lúc 08:00 ngày 20/6/2022." in (
        walk.replies[-1].text
    )


def test_submit_refused_when_the_form_says_so():
    form = FORM.model_copy(update={"submit_incomplete": "refuse"})
    answers = filled(HUYEN_KEYS[1:])
    walk = Walk(asking("docs_party", answers), form=form).send("nộp")
    assert walk.mode == "review"
    assert walk.text.startswith("Chưa nộp được: còn 1 câu chưa trả lời (1).")
    assert SubmitReport() not in walk.effects
    walk.send("1").send("kad")  # answered: now it may be submitted
    assert walk.mode == "review"
    walk.send(Press("submit", "review"))
    assert walk.mode == "confirm"
    assert "chưa trả lời" not in walk.text
    walk.send(Press("confirm", "confirm"))
    assert walk.effects[0] == SubmitReport()
    assert walk.state.status == "submitted"


def test_confirm_accepts_numbers_and_buttons():
    walk = Walk(asking("docs_party")).send("nộp").send("2")
    assert walk.mode == "review"
    walk.send("nop").send("1")
    assert walk.state.status == "submitted"


def test_locked_report_rejects_answers_and_shows_a_read_only_review():
    walk = Walk(asking("inspection_teams")).send("4").send("nộp").send("có")
    locked = walk.state
    for event in [Text("5"), Text("kad"), Text("câu 3"), Press("na"), Text("bỏ qua"), Text("nộp")]:
        walk.send(event)
        assert walk.saves == []
        assert SubmitReport() not in walk.effects
        assert walk.state == locked
        assert "đã nộp lúc 08:00 ngày 20/6/2022 nên không sửa được nữa" in walk.text
    walk.send("xem")
    assert walk.mode == "locked"
    assert walk.reply.choices == ()
    assert "Báo cáo đã nộp, chỉ xem được." in walk.text
    assert "3. Số đoàn KT: 4 đoàn" in walk.text


def test_returned_report_opens_on_an_editable_review_and_can_be_resubmitted():
    submitted = Walk(asking("inspection_teams")).send("4").send("nộp").send("có").state
    returned = replace(submitted, status="returned")
    walk = Walk(returned).send("xem")
    assert walk.mode == "review"
    assert "Muốn sửa câu nào, gõ số câu" in walk.text
    walk.send("3")
    assert (walk.mode, walk.cursor) == ("asking", "inspection_teams")
    walk.send("6")
    assert walk.saves[0].value == {"value": 6}
    assert walk.state.status == "returned"
    assert walk.mode == "review"
    walk.send("nộp").send("có")
    assert walk.state.status == "submitted"
    assert SubmitReport() in walk.effects


def test_returned_report_takes_a_jump_straight_away():
    locked = replace(asking("inspection_teams"), dialogue=Dialogue(mode="locked"))
    walk = Walk(replace(locked, status="returned")).send("câu 4")
    assert (walk.mode, walk.cursor) == ("asking", "inspected_units")


# --- stale buttons ----------------------------------------------------------------------------


def test_a_button_from_an_old_question_does_not_act():
    before = asking("inspected_units", {"inspection_teams": value("x", 4)})
    walk = Walk(before).send(Press("na", "q:inspection_teams"))
    assert walk.saves == []
    assert walk.state == before
    assert walk.text.startswith(STALE)
    assert "Câu 4/18" in walk.text


def test_old_confirm_and_review_buttons_do_not_act():
    before = asking("inspection_teams")
    walk = Walk(before).send(Press("confirm", "confirm"))
    assert SubmitReport() not in walk.effects
    assert walk.state == before
    walk.send(Press("submit", "review"))
    assert walk.mode == "asking"
    assert walk.text.startswith(STALE)


def test_a_question_button_after_submitting_does_not_act():
    walk = Walk(asking("inspection_teams")).send("nộp").send("có")
    walk.send(Press("na", "q:inspection_teams"))
    assert walk.saves == []
    assert walk.mode == "locked"
    assert walk.text.startswith(STALE)


# --- the cross-question rule -------------------------------------------------------------------


def test_level_4_services_cannot_exceed_levels_3_and_4():
    walk = Walk(asking("online_services_l34")).send("10")
    assert walk.cursor == "online_services_l4"
    before = walk.state
    walk.send("12")
    assert walk.saves == []
    assert walk.state == before
    assert walk.text.startswith(
        "Chưa ghi được: Số dịch vụ mức độ 4 không được lớn hơn tổng số dịch vụ mức độ 3, 4"
    )
    assert "câu 5 «DVC trực tuyến mức 3, 4» đang là 10 dịch vụ" in walk.text
    walk.send("10")
    assert walk.saves[0].value == {"value": 10}


def test_lowering_levels_3_and_4_below_level_4_is_refused():
    answers = {"online_services_l34": value("x", 10), "online_services_l4": value("x", 8)}
    before = asking("online_services_l34", answers)
    walk = Walk(before).send("5")
    assert walk.saves == []
    assert walk.state == before
    assert "câu 6 «Trong đó mức 4» đang là 8 dịch vụ" in walk.text
    walk.send("8")
    assert walk.saves[0].value == {"value": 8}


@pytest.mark.parametrize(
    ("answers", "state"),
    [
        ({"online_services_l34": Answer(None, True)}, "đang ghi «Không áp dụng»"),
        ({}, "chưa có câu trả lời"),
    ],
)
def test_the_rule_asks_when_the_total_is_not_applicable_or_missing(answers, state):
    before = asking("online_services_l4", answers)
    walk = Walk(before).send("5")
    assert walk.saves == []
    assert walk.text == (
        "Xin đồng chí xem lại: Số dịch vụ mức độ 4 không được lớn hơn tổng số dịch vụ mức độ"
        f" 3, 4, nhưng câu 5 «DVC trực tuyến mức 3, 4» {state}.\nVẫn ghi 5 dịch vụ?"
    )
    walk.send("2")
    assert walk.saves == []
    assert walk.text.startswith("Chưa ghi. Đồng chí gửi lại số liệu.")
    assert walk.cursor == "online_services_l4"
    walk.send("5").send("vẫn ghi")
    assert walk.saves[0].value == {"value": 5}
    assert walk.text.startswith("Đã ghi câu 6: 5 dịch vụ")


def test_not_applicable_for_the_total_asks_when_its_part_has_a_figure():
    before = asking("online_services_l34", {"online_services_l4": value("x", 5)})
    walk = Walk(before).send("kad")
    assert walk.saves == []
    assert "Câu 6 «Trong đó mức 4» đang ghi 5 dịch vụ" in walk.text
    walk.send("1")
    assert walk.saves == [SaveAnswer("online_services_l34", None, True, "kad")]


# --- keywords without diacritics, help ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mode", "cursor"),
    [
        ("bo qua", "asking", "online_services_l4"),
        ("BỎ QUA", "asking", "online_services_l4"),
        ("quay lai", "asking", "inspected_units"),
        ("tam dung", "paused", "online_services_l34"),
        ("xem", "review", "online_services_l34"),
        ("xem lai", "review", "online_services_l34"),
        ("nop", "confirm", "online_services_l34"),
        ("/nop", "confirm", "online_services_l34"),
        ("khong ap dung", "asking", "online_services_l4"),
    ],
)
def test_keywords_work_without_diacritics(text, mode, cursor):
    walk = Walk(asking("online_services_l34")).send(text)
    assert (walk.mode, walk.cursor) == (mode, cursor)


def test_help_shows_the_guide_then_the_current_question():
    before = asking("complaints")
    walk = Walk(before).send("?")
    assert walk.text.startswith("HƯỚNG DẪN")
    assert "Câu 14/18" in walk.text
    assert walk.state == before


def test_choices_as_text_for_text_only_channels():
    walk = Walk(asking("inspection_teams")).send("nộp")
    assert render_choices_as_text(walk.reply.choices, True) == "1. Đồng ý nộp\n2. Chưa nộp"
    assert render_choices_as_text((CHOICES["na"], CHOICES["skip"]), False) == (
        "Gõ: kad (không áp dụng) · bỏ qua"
    )
    assert render_choices_as_text((), True) == ""


def test_dialogue_survives_json():
    walk = Walk(asking("complaints")).send("bỏ qua").send("câu 3")
    dialogue = walk.state.dialogue
    assert Dialogue.from_json(dialogue.to_json()) == dialogue
    assert Dialogue.from_json(None) == Dialogue()


def test_a_cursor_on_a_question_the_level_does_not_have_is_dropped():
    # A district unit re-levelled as a commune: its cursor points at a district question.
    state = replace(asking("dialogue_district_party"), level="xa")
    walk = Walk(state).send("5")
    assert walk.saves == []
    assert walk.cursor != "dialogue_district_party"
    assert walk.cursor in {q.key for q in FORM.questions_for("xa")}


# --- texts built once per form and level --------------------------------------------------------


def variant_form():
    """The bundled form with the same keys but other labels, section titles and levels."""
    raw = FORM.model_dump(by_alias=True, exclude_none=True)
    for section in raw["sections"]:
        section["title"] = f"Mục khác {section['key']}"
    for question in raw["questions"]:
        question.update(label=f"Nhãn khác của {question['key']}", help="Hướng dẫn khác.")
        question["levels"] = [] if question["levels"] == ["tinh"] else question["levels"]
    return parse_form(raw, source="variant")


VARIANT = variant_form()


def test_the_same_question_at_each_level_has_its_own_number_and_total():
    key = "dialogue_commune_party"
    for level in ["tinh", "huyen", "xa", "tinh", "xa", "huyen"]:
        walk = Walk(replace(asking("complex_cases"), level=level)).send("câu 1")
        keys = [q.key for q in FORM.questions_for(level)]
        walk.send(f"câu {keys.index(key) + 1}")
        assert walk.cursor == key
        assert f"Câu {keys.index(key) + 1}/{len(keys)} — Mục 4.2." in walk.text


def test_two_forms_with_the_same_keys_ask_their_own_texts():
    for form in [FORM, VARIANT, FORM, VARIANT]:
        walk = Walk(asking("inspection_teams"), form=form).send("5")
        assert walk.cursor == "inspected_units"
        own = form.question("inspected_units")
        other = (VARIANT if form is FORM else FORM).question("inspected_units")
        assert own.label in walk.text
        assert other.label not in walk.text
        assert form.section("2").title in walk.text
        total = len(form.questions_for("huyen"))
        assert f"Câu 4/{total}" in walk.text


def test_a_question_shows_its_current_answer_only_once_answered():
    walk = Walk(asking("denunciations")).send("quay lại")
    assert walk.cursor == "complaints"
    assert "Đang ghi" not in walk.text
    walk.send("45/50").send("quay lại")
    assert walk.cursor == "complaints"
    assert "Đang ghi: 45/50 đơn, đạt 90%." in walk.text
    assert walk.text.startswith("Câu ")
    another_unit = Walk(asking("denunciations")).send("quay lại")
    assert another_unit.cursor == "complaints"
    assert "Đang ghi" not in another_unit.text


def test_the_prefix_is_not_kept_with_the_question_text():
    first = Walk(asking("inspection_teams")).send("5")
    again = Walk(asking("online_services_l34")).send("quay lại")
    assert first.cursor == again.cursor == "inspected_units"
    assert first.text.startswith("Đã ghi câu 3: 5 đoàn\n\nCâu 4/18")
    assert again.text.startswith("Câu 4/18")
    assert again.text == first.text.split("\n\n", 1)[1]


TEXTS = [
    "kad", "không áp dụng", "bỏ qua", "bo qua", "quay lại", "tạm dừng", "xong", "Xong", "xóa",
    "xem", "nộp", "nop", "tiếp", "/tiep", "/start", "có", "co", "không", "1", "2", "3", "7",
    "20", "25", "câu 1", "câu 2", "câu 8", "cau 24", "sửa 7", "5", "0", "-1", "abc", "150%",
    "85,5%", "45/50", "50/45", "12/345", "", "   ", "😀", "x" * 5000, "99999999999", "?",
    "12-KH/HU, ngày 05/6/2017, Kế hoạch\nxong", "1520/QĐ-UBND, 20/7/2017, Quyết định",
    "xongg", "bỏ qa", "xóa 1", "sửa 1 3-CT/HU, 01/02/2018, Chỉ thị", "Báo cáo năm",
    "Công văn 245-CV/HU ngày 31/6/2021", "giữ", "bỏ", "vẫn ghi", "ghi chú: ước tính",
    "5 ghi chú: ước tính", "20/10", "999", "kad ghi chú: x",
]  # fmt: skip
CONTEXTS = ["", "review", "confirm", "locked", "link", "q:docs_party", "q:inspection_teams"]
STATUS_ORDER = {"not_started": 0, "in_progress": 1, "submitted": 2}
MODES = {"start", "asking", "paused", "review", "confirm", "locked"}


@st.composite
def events(draw):
    if draw(st.booleans()):
        return Text(draw(st.sampled_from(TEXTS) | st.sampled_from(TEXTS) | st.text(max_size=30)))
    choice = draw(st.sampled_from([*CHOICES, "help", "link_yes", "bogus"]))
    return Press(choice, draw(st.sampled_from([*CONTEXTS, "current"])))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    level=st.sampled_from(["tinh", "so_nganh", "huyen", "xa"]),
    sequence=st.lists(events(), max_size=40),
)
def test_random_sequences_keep_the_invariants(level, sequence):
    state = fresh(level=level)
    applicable = {q.key for q in FORM.questions_for(level)}
    submitted_answers = None
    for event in sequence:
        if isinstance(event, Press) and event.context == "current":
            event = Press(event.choice, context_of(state.dialogue))
        before = state
        state, effects = step(state, event, FORM, NOW)
        assert effects, "every input gets an answer"
        assert all(isinstance(e, Reply | SaveAnswer | SubmitReport) for e in effects)
        assert any(isinstance(e, Reply) and e.text.strip() for e in effects)
        assert set(state.answers) <= applicable
        assert state.dialogue.mode in MODES
        assert state.status in STATUS_ORDER
        assert STATUS_ORDER[state.status] >= STATUS_ORDER[before.status]
        assert set(state.dialogue.skipped) <= applicable
        saves = [e for e in effects if isinstance(e, SaveAnswer)]
        for save in saves:
            assert save.key in applicable
            assert state.answers[save.key] == Answer(save.value, save.not_applicable, save.note)
        if not saves:
            assert state.answers == before.answers
        if state.status == "submitted":
            assert state.status not in EDITABLE_STATUSES
            assert state.dialogue.mode == "locked"
            if submitted_answers is None:
                submitted_answers = dict(state.answers)
            assert state.answers == submitted_answers, "a submitted report never changes"
        if state.dialogue.mode in ("asking", "paused"):
            assert state.dialogue.cursor in applicable


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    form=st.sampled_from([FORM, VARIANT]),
    level=st.sampled_from(["tinh", "so_nganh", "huyen", "xa"]),
    unit_name=st.sampled_from(["Huyện ủy Ninh Phước", "Xã Phước Hậu"]),
    buttons=st.booleans(),
    sequence=st.lists(events(), max_size=30),
)
def test_texts_kept_between_steps_equal_texts_built_afresh(
    form, level, unit_name, buttons, sequence
):
    # `form` keeps what earlier examples built; a copy is a new object and starts empty.
    state = fresh(level=level, unit_name=unit_name, buttons=buttons)
    for event in sequence:
        if isinstance(event, Press) and event.context == "current":
            event = Press(event.choice, context_of(state.dialogue))
        kept = step(state, event, form, NOW)
        afresh = step(state, event, form.model_copy(), NOW)
        assert kept == afresh
        state = kept[0]
