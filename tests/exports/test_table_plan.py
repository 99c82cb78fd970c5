"""The consolidated table split into biểu (`exports.table_plan`), and the biểu sheets it gives.

The plan alone: whole Mục per biểu, small neighbours together, a wide Mục alone and cut into
pages after whole questions, every question in exactly one biểu; then the workbook: one sheet per
biểu, the same units numbered 1..N on each, every figure column of the form once.
"""

from __future__ import annotations

from conversations.forms import load_form, parse_form
from exports.figures import form_columns, printed_title, question_columns
from exports.table_plan import (
    PAGE_HEIGHT,
    ROOM,
    UNIT_COLUMNS,
    ends_a_page,
    printed_width,
    section_heading,
    table_plan,
    totals_table,
)
from storage.repository import UnitRow
from tests.exports.conftest import NOW, Summary, bieu_sheets, find_row, open_workbook

CT37 = load_form("ct37_phuluc.yaml")


def _form(sections: list[tuple[str, str]], questions: list[tuple[str, str, str]]):
    return parse_form(
        {
            "key": "thu",
            "title": "Biểu mẫu thử",
            "levels": ["tinh", "huyen"],
            "sections": [{"key": key, "title": title} for key, title in sections],
            "questions": [
                {"key": key, "section": section, "label": f"Câu {key}", "type": kind}
                for key, section, kind in questions
            ],
        },
        source="test",
    )


def _width(table) -> float:
    return sum(printed_width(column.width) for column in table.columns)


def _check_plan(form) -> list:
    """What holds for any form: every question once, with all its columns, in the form's order
    within its section; whole sections; numbered labels that are valid sheet names; page cuts
    between questions."""
    tables = table_plan(form)
    keys = [question.key for table in tables for question in table.questions]
    assert sorted(keys) == sorted(q.key for q in form.questions)  # each exactly once
    position = {question.key: index for index, question in enumerate(form.questions)}
    seen_sections: set[str] = set()
    for number, table in enumerate(tables, start=1):
        assert table.label == f"Biểu số {number:02}" and len(table.label) <= 31
        for section in table.sections:  # a section's questions together, in the form's order
            order = [
                position[question.key]
                for question in table.questions
                if form.top_section(question.section).key == section.key
            ]
            assert order == sorted(order)
        tops = {form.top_section(question.section).key for question in table.questions}
        assert tops == {section.key for section in table.sections}
        assert not tops & seen_sections  # a Mục is never split between two biểu
        seen_sections |= tops
        assert [(c.question.key, c.part) for c in table.columns] == [
            (q.key, c.part) for q in table.questions for c in question_columns(q)
        ]
        for cut in table.breaks:  # a page ends after a whole question
            before, after = table.columns[cut - UNIT_COLUMNS - 1], table.columns[cut - UNIT_COLUMNS]
            assert before.question is not after.question
        if not table.breaks:
            assert _width(table) <= ROOM + 0.01  # one page wide at 100 %
    return tables


def test_the_ct37_phu_luc_is_three_bieu():
    tables = _check_plan(CT37)
    assert [[s.key for s in table.sections] for table in tables] == [["1", "2", "3"], ["4"], ["5"]]
    assert tables[0].title == (
        "Mục 1. Văn bản chỉ đạo, triển khai; Mục 2. Công tác kiểm tra; "
        "Mục 3. Công tác cải cách hành chính, cải cách thủ tục hành chính"
    )
    assert tables[1].title.startswith("Mục 4. Công tác tiếp dân, đối thoại với Nhân dân")
    assert tables[2].title == "Mục 5. Giám sát, phản biện của MTTQ, các tổ chức chính trị - xã hội"
    assert not tables[0].breaks and not tables[2].breaks
    # Mục 4 is three pages wide, cut after whole questions: 4.1 and the province's dialogues |
    # the other dialogues and 4.3 | 4.4–4.5
    pages = [len(tables[1].breaks) + 1]
    assert pages == [3]
    first_after_cut = [tables[1].columns[cut - UNIT_COLUMNS].question for cut in tables[1].breaks]
    assert [question.key for question in first_after_cut] == [
        "dialogue_district_party",
        "denunciations",
    ]
    # a narrow biểu widens its columns to the page, never more than four times
    assert tables[2].columns[0].width > 4 * 7 and _width(tables[2]) <= ROOM


def test_tiny_sections_share_a_bieu_and_a_wide_one_stands_alone():
    sections = [(str(n), f"Phần {n}") for n in range(1, 13)]
    questions = [(f"q{n}", str(n), "integer") for n in range(1, 13)]
    questions[5:6] = [(f"w{n}", "6", "ratio") for n in range(12)]  # section 6: too wide
    tables = _check_plan(_form(sections, questions))
    groups = [[s.key for s in table.sections] for table in tables]
    assert ["6"] in groups  # alone, cut into pages
    wide = tables[groups.index(["6"])]
    assert wide.breaks
    assert len(tables) < len(sections)  # no biểu of a single one-column section when it fits
    assert all(len(group) > 1 for group in groups if group != ["6"])


def test_a_form_without_sections_is_one_bieu_cut_into_pages():
    questions = [(f"q{n}", "0", "pair") for n in range(30)]
    tables = _check_plan(_form([("0", "Thông tin chung")], questions))
    assert len(tables) == 1 and len(tables[0].breaks) >= 2
    assert tables[0].title == "Thông tin chung"  # no "Mục 0."
    assert section_heading(CT37.section("4")).startswith("Mục 4. ")


def test_questions_of_one_section_given_apart_stay_together():
    sections = [("0", "Thông tin chung"), ("1", "Một"), ("2", "Hai")]
    questions = [("a", "1", "integer"), ("b", "0", "integer"), ("c", "1", "text")]
    questions += [("d", "2", "text"), ("e", "0", "integer")]
    tables = _check_plan(_form(sections, questions))
    for table in tables:
        if "b" in [q.key for q in table.questions]:
            assert "e" in [q.key for q in table.questions]


def test_the_signers_block_is_moved_to_a_new_page_rather_than_cut():
    rows = int(PAGE_HEIGHT // 15)  # exactly one page of 15-point rows
    assert not ends_a_page([15.0] * (rows - 8), (2, 3), 100)  # 120 points left: it fits
    assert ends_a_page([15.0] * (rows - 4), (2, 3), 100)  # 60 points left
    # the second page starts with the repeated header rows (2 and 3: 60 points)
    second = [15.0, 30.0, 30.0] + [15.0] * (rows - 5) + [15.0] * (rows - 4 - 8)
    assert not ends_a_page(second, (2, 3), 100)
    assert ends_a_page(second + [15.0] * 4, (2, 3), 100)


def test_the_word_reports_totals_table_follows_the_bieu():
    assert totals_table(CT37) == (
        "Biểu số 04",
        "(Số liệu của từng đơn vị: Biểu số 01 đến Biểu số 03 kèm theo.)",
    )
    one = _form([("1", "Một")], [("a", "1", "integer")])
    assert totals_table(one) == ("Biểu số 02", "(Số liệu của từng đơn vị: Biểu số 01 kèm theo.)")


def test_every_bieu_numbers_the_same_units_1_to_n_and_every_figure_is_printed_once(store):
    store.add_units(
        *(
            UnitRow(f"XA-{n:02}", f"Đảng ủy xã Số {n}", "xa", "HU-NP", "tu_kiem_tra")
            for n in range(1, 6)
        )
    )
    store.answers("HU-NP", {"inspection_teams": {"value": 5}, "supervisions": {"value": 2}})
    store.submit("HU-NP")
    from bot.documents.workbooks import export_bytes

    _, data = export_bytes(store.database, now=NOW, unit_sheets=False)
    workbook = open_workbook(data)
    sheets = bieu_sheets(workbook)
    assert [ws.title for ws in sheets] == ["Biểu số 01", "Biểu số 02", "Biểu số 03"]
    for ws in sheets:
        top = find_row(ws, 1, "STT")
        end = find_row(ws, 2, "Toàn tỉnh")
        numbers = [ws.cell(row, 1).value for row in range(top + 3, end)]
        units = [number for number in numbers if isinstance(number, int)]
        assert units == list(range(1, 19)), ws.title  # 13 units + 5 communes: 1..18, no gap
        groups = [number for number in numbers if isinstance(number, str)]
        assert groups == ["I", "II", "III"] or groups == ["I", "II"], ws.title
    summary = Summary(workbook)  # checks the rows are the same on every biểu
    top = find_row(sheets[0], 1, "STT")
    titles = [
        summary.cell(top + 1, c).value for c in range(UNIT_COLUMNS + 1, summary.max_column + 1)
    ]
    printed = {title for title in titles if title}
    assert len([t for t in titles if t]) == len(CT37.questions)  # each question's title once
    for question in CT37.questions:
        label = printed_title(question)
        if question.section != CT37.top_section(question.section).key:
            label = f"{question.section}. {label}"
        assert label in printed, label
    assert summary.max_column - UNIT_COLUMNS == len(form_columns(CT37))
