"""Tests for conversations.outline: the bundled Đề cương (sections I–VI in the plan's words,
figures tied to the Phụ lục), the checks on an outline file, and the figure sentences written
in Vietnamese number formats with "Không áp dụng" and unanswered questions named as such.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conversations.campaigns import BUNDLED_CAMPAIGN, load_campaign
from conversations.forms import BUNDLED_FORMS, FormError, load_form
from conversations.outline import (
    FigureSentence,
    Reading,
    figure_text,
    load_outline,
    parse_outline,
    sentence_text,
)

FORM = load_form("ct37_phuluc.yaml")
OUTLINE_FILE = BUNDLED_FORMS / "ct37_decuong.yaml"

# The Đề cương báo cáo of Kế hoạch 131-KH/TU, as the plan prints its section titles.
PLAN_SECTIONS = [
    "I- ĐẶC ĐIỂM, TÌNH HÌNH",
    "II- CÔNG TÁC LÃNH ĐẠO, CHỈ ĐẠO, TRIỂN KHAI",
    "III- KẾT QUẢ THỰC HIỆN CHỈ THỊ 37-CT/TU",
    "IV- ĐÁNH GIÁ CHUNG",
    "V- NHIỆM VỤ TRỌNG TÂM THỜI GIAN TỚI",
    "VI- ĐỀ XUẤT, KIẾN NGHỊ",
]


def raw_outline() -> dict:
    return yaml.safe_load(OUTLINE_FILE.read_text(encoding="utf-8"))


def test_bundled_outline_follows_the_plan():
    outline = load_outline("ct37_decuong.yaml", FORM)
    assert [section.heading for section in outline.sections] == PLAN_SECTIONS
    marks = [(point.key, point.mark) for _, point in outline.walk()]
    assert marks[:2] == [("I.1", "-"), ("I.2", "-")]
    assert [key for key, _ in marks if key.startswith("III.4.")] == [
        "III.4.1",
        "III.4.2",
        "III.4.3",
        "III.4.4",
    ]
    points = {point.key: point for _, point in outline.walk()}
    assert points["III.4.4"].text == (
        "Kết quả giải quyết các vụ việc khiếu kiện đông người, phức tạp, kéo dài"
    )
    assert points["III.4.4"].note == "(nêu số liệu cụ thể)"
    assert points["IV.3"].text == "Bài học kinh nghiệm."
    assert points["III.1.1.2"].mark == "+"
    assert outline.sections[4].points == [] and outline.sections[5].points == []


def test_figures_sit_in_the_points_the_plan_gives_them():
    outline = load_outline("ct37_decuong.yaml", FORM)
    points = {point.key: point for _, point in outline.walk()}

    def keys(point_key: str) -> set[str]:
        return {c.question for s in points[point_key].figures for c in s.clauses}

    assert keys("II.2") == {"docs_party", "docs_state"}  # the documents of section 1
    assert keys("II.3") == {"inspection_teams", "inspected_units"}  # section 2
    assert keys("III.5") == {q.key for q in FORM.questions if q.section == "3"}
    assert keys("III.7") == {q.key for q in FORM.questions if q.section == "5"}
    section_4 = {q.key for q in FORM.questions if q.section.startswith("4")}
    assert set().union(*(keys(f"III.4.{n}") for n in range(1, 5))) == section_4
    # every question of the Phụ lục is written somewhere, once
    assert sorted(outline.question_keys()) == sorted(q.key for q in FORM.questions)


def test_campaign_names_its_outline_and_checks_it_on_load(tmp_path):
    assert load_campaign(BUNDLED_CAMPAIGN).spec.outline == "ct37_decuong.yaml"
    raw = raw_outline()
    raw["sections"][1]["points"][1]["figures"][0]["clauses"][0]["question"] = "khong_co"
    (tmp_path / "de-cuong.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
    campaign = yaml.safe_load(BUNDLED_CAMPAIGN.read_text(encoding="utf-8"))
    campaign["outline"] = "de-cuong.yaml"  # beside the campaign file
    (tmp_path / "dot.yaml").write_text(yaml.safe_dump(campaign, allow_unicode=True), "utf-8")
    with pytest.raises(FormError) as error:
        load_campaign(tmp_path / "dot.yaml")
    assert str(error.value) == (
        f"{tmp_path / 'de-cuong.yaml'}: điểm 'II.2': "
        "câu 'khong_co' không có trong biểu mẫu ct37_phuluc"
    )


def _error(raw: object, form=FORM) -> str:
    with pytest.raises(FormError) as error:
        parse_outline(raw, form, source="dc.yaml")
    return str(error.value)


def _point(raw: dict, key: str) -> dict:
    def find(points: list[dict]) -> dict | None:
        for point in points:
            if point["key"] == key:
                return point
            found = find(point.get("points", []))
            if found:
                return found
        return None

    for section in raw["sections"]:
        found = find(section.get("points", []))
        if found:
            return found
    raise KeyError(key)


def test_outline_errors_name_the_file_and_the_point():
    raw = raw_outline()
    del _point(raw, "III.4.2")["text"]
    assert _error(raw) == "dc.yaml: điểm 'III.4.2', text: Field required"

    raw = raw_outline()
    _point(raw, "III.4.2")["key"] = "III.4.1"
    assert _error(raw) == "dc.yaml: điểm 'III.4.1': khóa bị trùng"

    raw = raw_outline()
    _point(raw, "III.7")["figures"][0]["clauses"][1]["text"] = "số Hội nghị phản biện"
    assert _error(raw) == (
        "dc.yaml: điểm 'III.7', câu 'criticism_conferences': lời văn thiếu {value}"
    )

    raw = raw_outline()
    _point(raw, "III.7")["figures"][0]["clauses"][0]["text"] = "Số cuộc: {so_cuoc}"
    assert _error(raw) == (
        "dc.yaml: điểm 'III.7', câu 'supervisions': chỗ điền {so_cuoc} không có; chỉ dùng {value}"
    )

    raw = raw_outline()
    raw["sections"][3]["title"] = None
    assert _error(raw).startswith("dc.yaml: mục 'IV', title: ")

    raw = raw_outline()
    raw["intro"] = "Thực hiện {ke_hoach}"
    assert _error(raw).startswith("dc.yaml: intro: chỗ điền {ke_hoach} không có")

    raw = raw_outline()
    raw["form"] = "bieu_mau_khac"
    assert _error(raw) == (
        "dc.yaml: đề cương dành cho biểu mẫu 'bieu_mau_khac', không phải 'ct37_phuluc'"
    )

    assert _error({"key": "x"}).startswith("dc.yaml: ")
    assert _error(["not", "a", "mapping"]) == "dc.yaml: tệp đề cương phải là một bảng khóa: giá trị"
    raw = raw_outline()
    raw["sections"] = []
    assert _error(raw).startswith("dc.yaml: sections: ")


def test_outline_file_errors(tmp_path: Path):
    with pytest.raises(FormError, match="không tìm thấy tệp đề cương"):
        load_outline(tmp_path / "khong-co.yaml")
    broken = tmp_path / "hong.yaml"
    broken.write_text("sections: [\n", encoding="utf-8")
    with pytest.raises(FormError, match=r"hong\.yaml: không đọc được YAML"):
        load_outline(broken)


# --- sentences -------------------------------------------------------------------------------


def test_figure_values_in_vietnamese_formats():
    def text(key: str, value: dict | None = None, **reading) -> str:
        return figure_text(FORM.question(key), Reading(value, **reading))

    assert text("inspected_units", {"value": 1234}) == "1.234 đơn vị"
    assert text("satisfaction_pct", {"value": 85.5}) == "85,5%"
    assert text("satisfaction_pct", {"value": 87.75, "average": True}) == "bình quân 87,8%"
    assert text("reception_local_regular", {"times": 24, "people": 1350}) == (
        "24 lượt / 1.350 lượt người"
    )
    assert text("complaints", {"done": 45, "total": 50}) == "45/50 đơn, đạt 90%"
    assert text("complex_cases", {"done": 0, "total": 0}) == "0/0 vụ, chưa có tỷ lệ"
    assert text("docs_party", {"items": [{"raw": "a"}, {"raw": "b"}]}) == "2 văn bản"
    assert text("docs_party", {"items": []}) == "không có văn bản"
    assert text("docs_party", {"count": 1200}) == "1.200 văn bản"
    assert text("inspection_teams", {"value": 0}) == "0 đoàn"
    assert text("inspection_teams", not_applicable=True) == "Không áp dụng"
    assert text("inspection_teams") == "(chưa trả lời)"
    assert text("inspection_teams", missing="(chưa có số liệu)") == "(chưa có số liệu)"
    assert text("inspection_teams", {"value": "mười"}) == "(chưa trả lời)"  # never a bad 0


def test_sentence_in_the_plans_words():
    outline = load_outline("ct37_decuong.yaml", FORM)
    points = {point.key: point for _, point in outline.walk()}
    answers = {
        "inspection_teams": Reading({"value": 12}),
        "inspected_units": Reading({"value": 1234}),
    }
    sentence = points["II.3"].figures[0]
    assert sentence_text(sentence, FORM, lambda q: answers[q.key]) == (
        "Tổng số đoàn kiểm tra: 12 đoàn; tổng số đơn vị cơ sở được kiểm tra: 1.234 đơn vị."
    )
    answers = {"inspection_teams": Reading(not_applicable=True), "inspected_units": Reading()}
    assert sentence_text(sentence, FORM, lambda q: answers[q.key]) == (
        "Tổng số đoàn kiểm tra: Không áp dụng; tổng số đơn vị cơ sở được kiểm tra: (chưa trả lời)."
    )


def test_a_question_not_asked_of_the_level_leaves_its_clause_out():
    sentence = FigureSentence.model_validate(
        {
            "lead": "chủ tịch UBND tỉnh:",
            "clauses": [
                {"question": "reception_province_regular", "text": "tiếp định kỳ {value}"},
                {"question": "inspection_teams"},
            ],
        }
    )

    def read(question):
        if question.key == "reception_province_regular":
            return Reading(asked=False)
        return Reading({"value": 3})

    assert sentence_text(sentence, FORM, read) == "Chủ tịch UBND tỉnh: 3 đoàn."
    assert sentence_text(sentence, FORM, lambda q: Reading(asked=False)) is None
