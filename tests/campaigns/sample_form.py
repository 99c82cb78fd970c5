"""A small XLSForm written with openpyxl for the campaign tests: every supported type, two groups,
a repeat, a constraint, a level rule (both ways), a note and a calculation."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

SURVEY = [
    ["type", "name", "label", "hint", "required", "constraint", "constraint_message",
     "relevant", "calculation", "levels", "unit"],
    ["begin_group", "chung", "Tình hình chung"],
    ["note", "intro", "Số liệu tính đến hết kỳ báo cáo."],
    ["integer", "meetings", "Số cuộc họp", "Đếm cả họp trực tuyến", "yes", ". <= 500",
     "Không quá 500 cuộc họp"],
    ["decimal", "budget", "Kinh phí (triệu đồng)"],
    ["date", "held_on", "Ngày họp gần nhất"],
    ["select_one yesno", "has_plan", "Đã có kế hoạch chưa?"],
    ["select_multiple topics", "channels", "Hình thức tuyên truyền"],
    ["calculate", "per_meeting", "Kinh phí bình quân một cuộc họp", "", "", "", "", "",
     "${budget} div ${meetings}"],
    ["text", "province_note", "Ý kiến của tỉnh", "", "", "", "", "${unit_level} = 'tinh'"],
    ["integer", "villages", "Số thôn", "", "", "", "", "", "", "xa", "thôn"],
    ["end_group"],
    ["begin_group", "hoat_dong", "Các hoạt động"],
    ["begin_repeat", "events", "Các hoạt động đã tổ chức"],
    ["text", "event_name", "Tên hoạt động"],
    ["integer", "event_people", "Số người tham dự"],
    ["end_repeat"],
    ["end_group"],
]  # fmt: skip
CHOICES = [
    ["list_name", "name", "label"],
    ["yesno", "yes", "Có"],
    ["yesno", "no", "Không"],
    ["topics", "loa", "Loa truyền thanh"],
    ["topics", "hop", "Họp dân"],
    ["topics", "mxh", "Mạng xã hội"],
]
SETTINGS = {
    "form_id": "dv-2026",
    "form_title": "Báo cáo công tác dân vận 6 tháng cuối năm 2026",
    "deadline": "31/12/2026",
    "period_start": "01/07/2026",
    "period_end": "31/12/2026",
    "issued_by": "Công văn số 12-CV/BDVTU",
    "receiver": "Ban Dân vận Tỉnh ủy",
    "participant_levels": "tinh huyen xa",
}


def write_form(
    path: Path,
    survey: list[list] | None = None,
    choices: list[list] | None = None,
    settings: dict | None = None,
    *,
    sheets: tuple[str, ...] = ("survey", "choices", "settings"),
) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    contents = {
        "survey": SURVEY if survey is None else survey,
        "choices": CHOICES if choices is None else choices,
        "settings": [list(s), list(s.values())]
        if (s := SETTINGS if settings is None else settings)
        else [],
    }
    for name in sheets:
        sheet = workbook.create_sheet(name)
        for row in contents[name]:
            sheet.append(row)
    workbook.save(path)
    return path
