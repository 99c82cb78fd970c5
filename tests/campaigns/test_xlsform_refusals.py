"""Broken XLSForms are refused with the sheet, row and column named, in Vietnamese, and nothing
is stored (real SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
import zipfile

import pytest
from sqlalchemy import func
from sqlmodel import select

from exports.xlsform_read import XLSFormError, read_xlsform
from storage.campaign_life import create_draft
from storage.models import Campaign
from tests.campaigns.sample_form import CHOICES, SETTINGS, SURVEY, write_form


def _survey(row: int, column: int, value) -> list[list]:
    """SURVEY with the cell at spreadsheet row `row` (1 = header), column index `column` set."""
    rows = copy.deepcopy(SURVEY)
    line = rows[row - 1]
    line.extend([""] * (column + 1 - len(line)))
    line[column] = value
    return rows


def _without(rows: list[list], row: int) -> list[list]:
    return [r for n, r in enumerate(rows, start=1) if n != row]


BROKEN = {
    "unknown type": (
        {"survey": _survey(5, 0, "geopoint")},
        "trang «survey», dòng 5, cột «type»: loại «geopoint» chưa được hỗ trợ",
    ),
    "missing label": (
        {"survey": _survey(6, 2, "")},
        "trang «survey», dòng 6, cột «label»: cần nhãn",
    ),
    "bad name": (
        {"survey": _survey(4, 1, "Số họp")},
        "trang «survey», dòng 4, cột «name»: tên chỉ gồm chữ thường",
    ),
    "duplicate name": (
        {"survey": _survey(5, 1, "meetings")},
        "trang «survey», dòng 5, cột «name»: tên «meetings» bị trùng",
    ),
    "unknown choice list": (
        {"survey": _survey(7, 0, "select_one yes_no")},
        "trang «survey», dòng 7, cột «type»: không có danh sách lựa chọn «yes_no»",
    ),
    "eval in a constraint": (
        {"survey": _survey(4, 5, "__import__('os').system('x')")},
        "trang «survey», dòng 4, cột «constraint»:",
    ),
    "relevant on another field": (
        {"survey": _survey(10, 7, "${meetings} > 3")},
        "trang «survey», dòng 10, cột «relevant»: chỉ hỗ trợ điều kiện theo ${unit_level}",
    ),
    "unknown level": (
        {"survey": _survey(11, 9, "thon")},
        "trang «survey», dòng 11, cột «levels»: cấp không có: thon",
    ),
    "unclosed group": (
        {"survey": _without(SURVEY, 12)},
        "trang «survey», dòng 2, cột «type»: begin_group không có end_group",
    ),
    "repeat without end": (
        {"survey": _without(SURVEY, 17)},
        "trang «survey», dòng 17, cột «type»: end_group không khớp",
    ),
    "unsupported column": (
        {
            "survey": _survey(4, 11, "x.jpg")[:0]
            + [[*SURVEY[0], "media::image"]]
            + _survey(4, 11, "x.jpg")[1:]
        },
        "trang «survey», dòng 4, cột «media::image»: cột này không được hỗ trợ",
    ),
    "bad deadline": (
        {"settings": {**SETTINGS, "deadline": "31/13/2026"}},
        "trang «settings», dòng 2, cột «deadline»: cần ngày dạng dd/mm/yyyy",
    ),
    "missing form_id": (
        {"settings": {k: v for k, v in SETTINGS.items() if k != "form_id"}},
        "trang «settings», dòng 2, cột «form_id»: cần điền ô này",
    ),
    "choice without a label": (
        {"choices": [*CHOICES, ["topics", "tv", None]]},
        "trang «choices», dòng 7, cột «label»: cần điền ô này",
    ),
    "calculation on an unknown field": (
        {"survey": _survey(9, 8, "${budget} div ${meeting_count}")},
        "câu tính 'per_meeting': công thức nhắc tới câu chưa có: meeting_count",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_form_is_refused_naming_where(tmp_path, case):
    parts, expected = BROKEN[case]
    path = write_form(tmp_path / "f.xlsx", **parts)
    with pytest.raises(XLSFormError) as refused:
        read_xlsform(path)
    assert expected in str(refused.value)


def test_a_workbook_without_a_survey_sheet(tmp_path):
    path = write_form(tmp_path / "f.xlsx", sheets=("choices", "settings"))
    with pytest.raises(XLSFormError, match="trang «survey»: thiếu trang này"):
        read_xlsform(path)


def test_a_file_that_is_not_excel(tmp_path):
    path = tmp_path / "f.xlsx"
    path.write_text("không phải Excel", encoding="utf-8")
    with pytest.raises(XLSFormError, match="không đọc được tệp Excel"):
        read_xlsform(path)


def test_a_form_that_unpacks_past_the_limit_is_refused_before_it_is_opened(tmp_path):
    """A few hundred KB of zip declaring 61 MB inside: refused from the sizes the zip declares."""
    path = write_form(tmp_path / "f.xlsx")
    with (
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as workbook,
        workbook.open("xl/media/padding.bin", "w") as padding,
    ):
        for _ in range(61):
            padding.write(bytes(1024 * 1024))
    assert path.stat().st_size < 1024 * 1024
    with pytest.raises(XLSFormError, match="khi giải nén lớn quá 60 MB"):
        read_xlsform(path)


def test_nothing_is_stored_when_refused(database, tmp_path, clock):
    """A refusal comes before any write; a good form in the same run still goes in alone."""
    before = _count(database)
    for case, (parts, _) in BROKEN.items():
        path = write_form(tmp_path / f"{case}.xlsx", **parts)
        with pytest.raises(XLSFormError), database.transaction() as session:
            create_draft(session, read_xlsform(path), clock())
    assert _count(database) == before
    with database.transaction() as session:
        create_draft(session, read_xlsform(write_form(tmp_path / "ok.xlsx")), clock())
    assert _count(database) == before + 1


def _count(database) -> int:
    with database.transaction() as session:
        return session.exec(select(func.count()).select_from(Campaign)).one()


def test_date_cells_and_a_kobo_language_column_are_read(tmp_path):
    """Excel date cells (deadline: the end of that day) and `label::Tiếng Việt (vi)` headers."""
    from datetime import datetime

    survey = [list(row) for row in SURVEY]
    survey[0][2] = "label::Tiếng Việt (vi)"
    settings = {
        **SETTINGS,
        "deadline": datetime(2026, 12, 31),
        "period_start": datetime(2026, 7, 1),
    }
    loaded = read_xlsform(write_form(tmp_path / "f.xlsx", survey=survey, settings=settings))
    assert loaded.spec.deadline.isoformat() == "2027-01-01T00:00:00+07:00"
    assert loaded.spec.period_start.isoformat() == "2026-07-01"
    assert loaded.form.question("meetings").label == "Số cuộc họp"
    timed = {**SETTINGS, "deadline": datetime(2026, 12, 31, 17, 0)}
    loaded = read_xlsform(write_form(tmp_path / "g.xlsx", settings=timed))
    assert loaded.spec.deadline.isoformat() == "2026-12-31T17:00:00+07:00"
