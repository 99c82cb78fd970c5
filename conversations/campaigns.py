"""Campaigns as data: one reporting round (title, form, deadline, reminders, who takes part).

A campaign file names its form; both are validated on load and problems raise `FormError` with one
line naming the file. Time arithmetic that every channel shows ("còn 3 ngày") lives here, taking
`now` from the caller.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from conversations.forms import BUNDLED_FORMS, Form, FormError, load_form
from conversations.outline import load_outline, resolve_outline_path

BUNDLED_CAMPAIGN = BUNDLED_FORMS / "ct37_campaign.yaml"
BUNDLED_UNITS = BUNDLED_FORMS / "ct37_units.csv"
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _parse_clock(value: str) -> time:
    match = _CLOCK.match(value.strip())
    if not match:
        raise ValueError(f"giờ '{value}' phải có dạng HH:MM")
    return time(int(match.group(1)), int(match.group(2)))


class ReminderSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days_before: list[int] = Field(default_factory=lambda: [7, 3, 1, 0])
    hour: str = "08:00"
    quiet_hours: str | None = "21:00-07:00"
    weekends: bool = True
    overdue_days: int = 3
    grace_hours: float = 6

    @field_validator("hour")
    @classmethod
    def _valid_hour(cls, value: str) -> str:
        _parse_clock(value)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _valid_quiet(cls, value: str | None) -> str | None:
        if value:
            start, _, end = value.partition("-")
            _parse_clock(start)
            _parse_clock(end)
        return value

    @field_validator("days_before")
    @classmethod
    def _valid_days(cls, value: list[int]) -> list[int]:
        if any(day < 0 for day in value):
            raise ValueError("days_before không được âm")
        return sorted(set(value), reverse=True)

    @property
    def send_time(self) -> time:
        return _parse_clock(self.hour)

    def quiet_window(self) -> tuple[time, time] | None:
        if not self.quiet_hours:
            return None
        start, _, end = self.quiet_hours.partition("-")
        return _parse_clock(start), _parse_clock(end)


class Participants(BaseModel):
    model_config = ConfigDict(extra="forbid")
    groups: list[str] = Field(default_factory=list)
    units: list[str] = Field(default_factory=list)
    levels: list[str] = Field(default_factory=list)  # empty: every level

    def includes(
        self, unit_code: str, unit_group: str | None, unit_level: str | None = None
    ) -> bool:
        if self.levels and unit_level is not None and unit_level not in self.levels:
            return False
        if not self.groups and not self.units:
            return True
        return unit_code in self.units or (unit_group is not None and unit_group in self.groups)


class DocumentHeading(BaseModel):
    """Who issues and signs the printed documents (Hướng dẫn 36-HD/VPTW): all text, no code.

    `superior`/`body`/`place`/`recipients`/`signer_*` are for the consolidated table; a unit's
    Phụ lục takes its own from the unit list and falls back to `unit_signer_for`.
    """

    model_config = ConfigDict(extra="forbid")
    superior: str = ""
    body: str = ""
    place: str = ""
    party: str = "ĐẢNG CỘNG SẢN VIỆT NAM"
    number: str = ""
    attached_to: str = ""
    deadline_text: str = ""
    recipients: list[str] = Field(default_factory=list)
    signer_for: str = ""
    signer_title: str = ""
    signer_name: str = ""
    unit_signer_for: str = ""
    unit_recipients: list[str] = Field(default_factory=list)


class CampaignSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    title: str
    issued_by: str = ""
    receiver: str = ""
    form: str
    outline: str | None = None  # the Đề cương báo cáo, e.g. ct37_decuong.yaml
    deadline: datetime
    timezone: str = "Asia/Ho_Chi_Minh"
    period_start: date | None = None
    period_end: date | None = None
    reminders: ReminderSchedule = Field(default_factory=ReminderSchedule)
    participants: Participants = Field(default_factory=Participants)
    document: DocumentHeading = Field(default_factory=DocumentHeading)

    @field_validator("code")
    @classmethod
    def _valid_code(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}", value):
            raise ValueError("mã đợt chỉ gồm chữ, số, '.', '-', '_' (tối đa 40 ký tự)")
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"múi giờ '{value}' không tồn tại") from None
        return value

    @field_validator("deadline")
    @classmethod
    def _aware_deadline(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("hạn nộp phải ghi cả múi giờ, ví dụ 2022-07-05T00:00:00+07:00")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class LoadedCampaign(BaseModel):
    """A campaign file with its form, both validated, plus the raw texts to store."""

    spec: CampaignSpec
    form: Form
    spec_text: str
    form_text: str


def load_campaign(path: str | Path) -> LoadedCampaign:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
        raw = yaml.safe_load(text)
    except FileNotFoundError:
        raise FormError(f"{path}: không tìm thấy tệp đợt báo cáo") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise FormError(f"{path}: không đọc được YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise FormError(f"{path}: tệp đợt báo cáo phải là một bảng khóa: giá trị")
    try:
        spec = CampaignSpec.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise FormError(f"{path}: {where}: {first['msg']}") from None
    form_path = Path(spec.form)
    if not form_path.is_absolute() and (path.parent / form_path).exists():
        form_path = path.parent / form_path
    form = load_form(form_path)
    if spec.outline:
        load_outline(resolve_outline_path(spec.outline, path.parent), form)  # checked on load
    form_file = form_path if form_path.exists() else BUNDLED_FORMS / form_path
    return LoadedCampaign(
        spec=spec, form=form, spec_text=text, form_text=form_file.read_text(encoding="utf-8-sig")
    )


def days_left(deadline: datetime, now: datetime, zone: ZoneInfo) -> int:
    """Whole calendar days from today (local) to the deadline's day; negative once overdue.

    A deadline at 00:00 means "before that day", so its last working day is the day before.
    """
    local_deadline = deadline.astimezone(zone)
    last_day = local_deadline.date()
    if local_deadline.timetz().replace(tzinfo=None) == time(0, 0):
        last_day -= timedelta(days=1)
    return (last_day - now.astimezone(zone).date()).days
