"""A campaign's life: imported as a draft, opened, closed, archived, and copied for a new period.

Only an open campaign is answered and reminded; a closed one can still be exported. Each
transition is one conditional UPDATE (`WHERE state = :expected`), so two staff members acting at
once cannot both win, on SQLite and PostgreSQL alike; a refused transition says why, in
Vietnamese. A new campaign (import, copy) relies on the unique campaign code for the same reason.
"""

from __future__ import annotations

from datetime import date, datetime

import yaml
from pydantic import ValidationError
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from conversations.campaigns import CampaignSpec, LoadedCampaign
from conversations.errors import ErrorKind
from conversations.statuses import CampaignState
from storage import repository
from storage.models import Campaign, Unit
from storage.repository import (
    StorageError,
    campaign_by_code,
    campaign_form,
    campaign_spec,
    save_campaign,
    unknown_participants,
)

STATE_NAMES = {
    CampaignState.DRAFT: "bản nháp",
    CampaignState.OPEN: "đang mở",
    CampaignState.CLOSED: "đã đóng",
    CampaignState.ARCHIVED: "đã lưu trữ",
}
# action -> (the state it starts from, the state it leads to, the verb for messages)
TRANSITIONS = {
    "open": (CampaignState.DRAFT, CampaignState.OPEN, "mở"),
    "close": (CampaignState.OPEN, CampaignState.CLOSED, "đóng"),
    "archive": (CampaignState.CLOSED, CampaignState.ARCHIVED, "lưu trữ"),
}


def _exists(session: Session, code: str) -> bool:
    return session.exec(select(Campaign.id).where(Campaign.code == code)).first() is not None


def create_draft(session: Session, loaded: LoadedCampaign, now: datetime) -> Campaign:
    """Store a new campaign in state draft; refused when the code is taken."""
    code = loaded.spec.code
    if _exists(session, code):
        raise StorageError(f"đã có đợt báo cáo mã '{code}'; chọn mã khác (--code)")
    try:
        with session.begin_nested():
            campaign = save_campaign(session, loaded, now)
            campaign.state = CampaignState.DRAFT.value
            session.add(campaign)
            session.flush()
    except IntegrityError:
        raise StorageError(f"đã có đợt báo cáo mã '{code}'; chọn mã khác (--code)") from None
    return campaign


def change_state(session: Session, code: str, action: str, now: datetime) -> Campaign:
    """Apply `action` (open, close, archive) if the campaign is in the state it starts from."""
    expected, target, verb = TRANSITIONS[action]
    campaign = repository.current_campaign(session, code)
    result = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.state == expected.value)
        .values(state=target.value, updated_at=now)
    )
    if result.rowcount != 1:
        session.refresh(campaign)
        state = CampaignState(campaign.state)
        if state is target:
            reason = f"đợt báo cáo '{code}' {STATE_NAMES[state]} rồi"
        else:
            reason = (
                f"không thể {verb} đợt báo cáo '{code}': đợt đang ở trạng thái "
                f"«{STATE_NAMES[state]}», chỉ {verb} được đợt «{STATE_NAMES[expected]}»"
            )
        raise StorageError(reason, ErrorKind.STATE)
    repository._CAMPAIGNS.clear()
    session.refresh(campaign)
    return campaign


def copy_campaign(
    session: Session,
    code: str,
    new_code: str,
    deadline: datetime,
    now: datetime,
    *,
    period_start: date | None = None,
    period_end: date | None = None,
) -> Campaign:
    """A draft repeating `code` for a new period: same form, participants and documents."""
    source = repository.current_campaign(session, code)
    raw = campaign_spec(source).model_dump(mode="json")
    raw.update(code=new_code, deadline=deadline.isoformat())
    if period_start is not None:
        raw["period_start"] = period_start.isoformat()
    if period_end is not None:
        raw["period_end"] = period_end.isoformat()
    try:
        spec = CampaignSpec.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        raise StorageError(f"mã đợt mới '{new_code}' không hợp lệ: {first['msg']}") from None
    if spec.period_start and spec.period_end and spec.period_start > spec.period_end:
        raise StorageError("ngày bắt đầu kỳ báo cáo phải trước ngày kết thúc")
    loaded = LoadedCampaign(
        spec=spec,
        form=campaign_form(source),
        spec_text=yaml.safe_dump(raw, allow_unicode=True, sort_keys=False),
        form_text=source.form_yaml,
    )
    return create_draft(session, loaded, now)


def update_draft(session: Session, code: str, changes: dict, now: datetime) -> Campaign:
    """Change a draft's settings (`changes`: spec fields as JSON values, e.g. `participants`,
    `deadline`, `reminders`), checked as an imported spec is; refused once it is no draft."""
    campaign = campaign_by_code(session, code)
    raw = campaign_spec(campaign).model_dump(mode="json")
    for key, value in changes.items():
        raw[key] = {**raw[key], **value} if isinstance(value, dict) else value
    try:
        spec = CampaignSpec.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise StorageError(f"cài đặt không hợp lệ ({where}): {first['msg']}") from None
    unknown = unknown_participants(session, spec.participants)
    levels = set(spec.participants.levels) - set(campaign_form(campaign).levels)
    if levels:
        unknown.append("cấp " + ", ".join(sorted(levels)))
    if unknown:
        raise StorageError("chưa có trong danh sách đơn vị: " + "; ".join(unknown))
    text = yaml.safe_dump(
        spec.model_dump(mode="json", exclude_defaults=True), allow_unicode=True, sort_keys=False
    )
    result = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.state == CampaignState.DRAFT.value)
        .values(spec_yaml=text, deadline=spec.deadline, updated_at=now)
    )
    if result.rowcount != 1:
        session.refresh(campaign)
        state = STATE_NAMES[CampaignState(campaign.state)]
        raise StorageError(
            f"đợt báo cáo '{code}' đang ở trạng thái «{state}»; chỉ sửa cài đặt được khi đợt "
            "còn là «bản nháp»",
            ErrorKind.STATE,
        )
    repository._CAMPAIGNS.clear()
    session.refresh(campaign)
    return campaign


def campaign_facts(session: Session, campaign: Campaign) -> dict:
    """State, number of questions and of participating units (the CLI's and the web's list)."""
    spec = campaign_spec(campaign)
    units = session.exec(select(Unit.code, Unit.group, Unit.level)).all()
    participants = sum(spec.participants.includes(c, g, lv) for c, g, lv in units)
    return {
        "state": campaign.state,
        "questions": len(campaign_form(campaign).questions),
        "participants": participants,
    }
