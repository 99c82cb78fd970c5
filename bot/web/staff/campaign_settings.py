"""A draft campaign's settings on the web page: who takes part (levels, groups, units), the
deadline and the reminder days; the form's fields and what they are read into.

What is read here is only the shape of the input (a date, whole numbers, unit codes); whether
the settings make sense is `storage.campaign_life.update_draft`'s to say, with the same checks
an imported XLSForm's settings get.
"""

from __future__ import annotations

import re
from datetime import time, timedelta

from sqlmodel import Session, select

from bot.web.inputs import BadInput, parse_day
from conversations.campaigns import CampaignSpec
from conversations.forms import Form
from conversations.labels import GROUP_TITLES, LEVEL_TITLES
from exports.xlsform_settings import parse_moment
from storage.models import Unit

LEVEL_FIELD, GROUP_FIELD = "cap-", "khoi-"
_UNIT_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
MAX_UNITS = 500


def settings_form(session: Session, form: Form, spec: CampaignSpec) -> dict:
    """The fields of the settings form, filled with the draft's current settings."""
    chosen = spec.participants
    groups = sorted(set(session.exec(select(Unit.group).where(Unit.group.is_not(None))).all()))
    local = spec.deadline.astimezone(spec.zone)
    last_day = local.date() - timedelta(days=1) if local.time() == time(0) else local.date()
    return {
        "levels": [
            {
                "field": f"{LEVEL_FIELD}{i}",
                "value": lv,
                "title": LEVEL_TITLES.get(lv, lv),
                "checked": lv in chosen.levels,
            }
            for i, lv in enumerate(form.levels)
        ],  # fmt: skip
        "groups": [
            {
                "field": f"{GROUP_FIELD}{i}",
                "value": g,
                "title": GROUP_TITLES.get(g, g),
                "checked": g in chosen.groups,
            }
            for i, g in enumerate(groups)
        ],  # fmt: skip
        "units": " ".join(chosen.units),
        "deadline": last_day.isoformat(),
        "days": ", ".join(str(d) for d in spec.reminders.days_before),
    }


def changes_from(fields: dict[str, str]) -> dict:
    """The spec changes the posted settings form asks for; `BadInput` (400) when malformed."""
    units = [code for code in re.split(r"[\s,;]+", fields.get("don-vi", "")) if code]
    if len(units) > MAX_UNITS or any(not _UNIT_CODE.fullmatch(code) for code in units):
        raise BadInput("Mã đơn vị không hợp lệ: chỉ gồm chữ không dấu, số, «-», «_», «.».")
    day = parse_day(fields.get("han", ""), "hạn nộp")
    days_text = fields.get("nhac", "").strip()
    if not re.fullmatch(r"(\d{1,3}\s*[,;\s]\s*)*\d{1,3}|", days_text):
        raise BadInput("Ngày nhắc: ghi các số ngày trước hạn, cách nhau bằng dấu phẩy (7, 3, 1).")
    return {
        "participants": {
            "levels": _chosen(fields, LEVEL_FIELD),
            "groups": _chosen(fields, GROUP_FIELD),
            "units": units,
        },
        "deadline": parse_moment(day.isoformat(), end_of_day=True).isoformat(),
        "reminders": {"days_before": [int(d) for d in re.findall(r"\d+", days_text)]},
    }


def _chosen(fields: dict[str, str], prefix: str) -> list[str]:
    return [value for key, value in fields.items() if key.startswith(prefix) and value]
