"""The `settings` sheet of an XLSForm: the campaign's code, title, deadline, period, issuer,
receiver, participants and document heading, read into a `CampaignSpec`; and Vietnam-time dates
as staff type them (also for `baocao campaign copy --deadline`)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from conversations.campaigns import CampaignSpec
from exports.xlsform_rows import Row, fail

ZONE = "Asia/Ho_Chi_Minh"
SETTINGS_COLUMNS = {
    "form_id", "form_title", "version", "campaign_title", "form_subtitle", "submit_incomplete",
    "deadline", "period_start", "period_end", "issued_by", "receiver",
    "participant_groups", "participant_levels", "participant_units", "form_levels",
}  # fmt: skip
_DAY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2}))?$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{2})(?::\d{2})?)?$")


def read_settings(rows: list[Row]) -> dict[str, str]:
    if not rows:
        raise fail("settings", 2, None, "cần một dòng thiết lập (form_id, form_title, deadline)")
    row = rows[0]
    for column in row.cells:
        if column not in SETTINGS_COLUMNS and not column.startswith("document_"):
            raise fail("settings", row.number, column, "cột này không được hỗ trợ")
    values = {column: row.text(column) for column in row.cells}
    for column, value in row.cells.items():
        if isinstance(value, datetime) and value.time() != time(0, 0):
            values[column] = value.strftime("%d/%m/%Y %H:%M")
        elif isinstance(value, date):  # a date cell (openpyxl gives it at midnight)
            values[column] = value.strftime("%d/%m/%Y")
    for column in ("form_id", "form_title", "deadline"):
        if not values.get(column):
            raise fail("settings", row.number, column, "cần điền ô này")
    values["_row"] = str(row.number)
    return values


def parse_moment(text: str, *, end_of_day: bool) -> datetime | None:
    """A Vietnam-time date ("05/7/2022", "2022-07-05") or date and time ("05/7/2022 17:00");
    a date alone means the end of that day (00:00 of the next) when `end_of_day`."""
    text = text.strip()
    match = _DAY.match(text)
    if match:
        day, month, year, hour, minute = match.groups()
    else:
        match = _ISO.match(text)
        if not match:
            return None
        year, month, day, hour, minute = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), tzinfo=ZoneInfo(ZONE))
    except ValueError:
        return None
    if hour is not None:
        if int(hour) > 23 or int(minute) > 59:
            return None
        return moment.replace(hour=int(hour), minute=int(minute))
    return moment + timedelta(days=1) if end_of_day else moment


def campaign_spec_of(settings: dict[str, str], code: str | None) -> CampaignSpec:
    row = int(settings["_row"])
    deadline = parse_moment(settings["deadline"], end_of_day=True)
    if deadline is None:
        raise fail("settings", row, "deadline", "cần ngày dạng dd/mm/yyyy (có thể kèm giờ HH:MM)")
    raw: dict[str, Any] = {
        "code": code or settings["form_id"],
        "title": settings.get("campaign_title") or settings["form_title"],
        "issued_by": settings.get("issued_by", ""),
        "receiver": settings.get("receiver", ""),
        "form": "xlsform",
        "deadline": deadline,
        "timezone": ZONE,
        "participants": {
            "groups": settings.get("participant_groups", "").split(),
            "units": settings.get("participant_units", "").split(),
            "levels": settings.get("participant_levels", "").split(),
        },
    }
    for column in ("period_start", "period_end"):
        if settings.get(column):
            moment = parse_moment(settings[column], end_of_day=False)
            if moment is None or moment.time() != time(0, 0):
                raise fail("settings", row, column, "cần ngày dạng dd/mm/yyyy")
            raw[column] = moment.date()
    document = {}
    for column, value in settings.items():
        if column.startswith("document_"):
            field = column.removeprefix("document_")
            document[field] = value.split("\n") if field.endswith("recipients") else value
    if document:
        raw["document"] = document
    try:
        return CampaignSpec.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        column = {"code": "form_id", "title": "form_title"}.get(
            str(first["loc"][0]), str(first["loc"][0])
        )
        raise fail("settings", row, column, first["msg"]) from None
