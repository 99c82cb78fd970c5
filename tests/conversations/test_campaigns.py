"""Tests for conversations.campaigns: the bundled CT37 campaign file, the checks on a campaign
file (aware deadline, real timezone, HH:MM hours) and the "days left" arithmetic around the
CT37 deadline ("trước ngày 05/7/2022").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from conversations.campaigns import BUNDLED_CAMPAIGN, days_left, load_campaign
from conversations.forms import BUNDLED_FORMS, FormError

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
DEADLINE = datetime(2022, 7, 5, 0, 0, tzinfo=VIETNAM)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=VIETNAM)


def test_bundled_campaign_loads_with_its_form():
    loaded = load_campaign(BUNDLED_CAMPAIGN)
    spec = loaded.spec
    assert spec.code == "ct37-2022"
    assert "Chỉ thị 37-CT/TU" in spec.title
    assert spec.issued_by.startswith("Kế hoạch số 131-KH/TU")
    assert spec.receiver == "Ban Dân vận Tỉnh ủy"
    assert spec.deadline == DEADLINE
    assert spec.deadline.utcoffset() == timedelta(hours=7)
    assert spec.zone == VIETNAM
    assert str(spec.period_start) == "2017-05-11"
    assert str(spec.period_end) == "2022-05-30"
    assert spec.reminders.days_before == [7, 3, 1, 0]
    assert spec.reminders.send_time.hour == 8
    assert spec.participants.groups == ["kiem_tra_truc_tiep", "tu_kiem_tra"]
    assert loaded.form.key == "ct37_phuluc"
    assert len(loaded.form.questions) == 24
    assert loaded.form_text == (BUNDLED_FORMS / "ct37_phuluc.yaml").read_text(encoding="utf-8")
    assert loaded.spec_text == BUNDLED_CAMPAIGN.read_text(encoding="utf-8")


def test_participants_by_group_or_code():
    participants = load_campaign(BUNDLED_CAMPAIGN).spec.participants
    assert participants.includes("HU-NP", "kiem_tra_truc_tiep")
    assert participants.includes("HU-BACAI", "tu_kiem_tra")
    assert not participants.includes("X", "other_group")
    assert not participants.includes("X", None)


def campaign_file(tmp_path: Path, **changes: object) -> Path:
    raw = yaml.safe_load(BUNDLED_CAMPAIGN.read_text(encoding="utf-8"))
    raw["form"] = str(BUNDLED_FORMS / "ct37_phuluc.yaml")
    for key, value in changes.items():
        if key == "reminders":
            raw["reminders"].update(value)
        else:
            raw[key] = value
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def campaign_error(path: Path) -> str:
    with pytest.raises(FormError) as caught:
        load_campaign(path)
    message = str(caught.value)
    assert str(path) in message
    assert "\n" not in message
    return message


def test_copy_with_absolute_form_path_loads(tmp_path):
    loaded = load_campaign(
        campaign_file(tmp_path, code="ct37-2023", deadline="2023-07-05T00:00+07:00")
    )
    assert loaded.spec.code == "ct37-2023"
    assert loaded.spec.deadline == datetime(2023, 7, 5, tzinfo=VIETNAM)


def test_naive_deadline_is_refused(tmp_path):
    message = campaign_error(campaign_file(tmp_path, deadline="2022-07-05T00:00:00"))
    assert "deadline" in message
    assert "múi giờ" in message


def test_unknown_timezone_is_refused(tmp_path):
    message = campaign_error(campaign_file(tmp_path, timezone="Asia/Atlantis"))
    assert "timezone" in message
    assert "Asia/Atlantis" in message


@pytest.mark.parametrize("hour", ["25:00", "8h", "08:60", ""])
def test_bad_reminder_hour_is_refused(tmp_path, hour):
    message = campaign_error(campaign_file(tmp_path, reminders={"hour": hour}))
    assert "reminders.hour" in message


def test_bad_quiet_hours_and_negative_days(tmp_path):
    assert "quiet_hours" in campaign_error(
        campaign_file(tmp_path, reminders={"quiet_hours": "21:00-7"})
    )
    assert "days_before" in campaign_error(
        campaign_file(tmp_path, reminders={"days_before": [3, -1]})
    )


def test_bad_code_unknown_field_and_missing_form(tmp_path):
    assert "code" in campaign_error(campaign_file(tmp_path, code="ct 37/2022"))
    assert "colour" in campaign_error(campaign_file(tmp_path, colour="red"))
    with pytest.raises(FormError, match="absent.yaml"):
        load_campaign(campaign_file(tmp_path, form=str(tmp_path / "absent.yaml")))


def test_not_a_mapping_and_bad_yaml(tmp_path):
    path = tmp_path / "campaign.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    assert "bảng khóa" in campaign_error(path)
    path.write_text("code: [ct37\n", encoding="utf-8")
    assert "YAML" in campaign_error(path)


def test_a_broken_form_named_by_the_campaign_is_reported(tmp_path):
    form = tmp_path / "form.yaml"
    form.write_text("- not a form\n", encoding="utf-8")
    with pytest.raises(FormError, match="form.yaml"):
        load_campaign(campaign_file(tmp_path, form=str(form)))


# --- days left --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(2022, 6, 20, 8, 0), 14),
        (local(2022, 7, 3, 23, 59), 1),
        (local(2022, 7, 4, 0, 0), 0),  # the last day before "trước ngày 05/7"
        (local(2022, 7, 4, 23, 59), 0),
        (local(2022, 7, 5, 0, 0), -1),  # the deadline itself: overdue
        (local(2022, 7, 5, 8, 0), -1),
        (local(2022, 7, 8, 8, 0), -4),
    ],
)
def test_days_left_around_the_ct37_deadline(now, expected):
    assert days_left(DEADLINE, now, VIETNAM) == expected


def test_days_left_counts_local_calendar_days_not_utc_ones():
    # 2022-07-04 18:00 UTC is already 2022-07-05 01:00 in Vietnam.
    assert days_left(DEADLINE, datetime(2022, 7, 4, 18, 0, tzinfo=UTC), VIETNAM) == -1
    # 2022-07-04 16:59 UTC is 2022-07-04 23:59 in Vietnam: still the last day.
    assert days_left(DEADLINE, datetime(2022, 7, 4, 16, 59, tzinfo=UTC), VIETNAM) == 0
    # The deadline may be written in any offset: 17:00 UTC on 4 July is the same instant.
    utc_deadline = datetime(2022, 7, 4, 17, 0, tzinfo=UTC)
    assert days_left(utc_deadline, local(2022, 7, 4, 12, 0), VIETNAM) == 0


def test_a_deadline_during_the_day_keeps_that_day():
    afternoon = datetime(2022, 7, 5, 17, 0, tzinfo=timezone(timedelta(hours=7)))
    assert days_left(afternoon, local(2022, 7, 5, 9, 0), VIETNAM) == 0
    assert days_left(afternoon, local(2022, 7, 4, 9, 0), VIETNAM) == 1
    assert days_left(afternoon, local(2022, 7, 6, 9, 0), VIETNAM) == -1
