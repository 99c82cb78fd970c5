"""A unit's own deadline (Gia hạn) is the one its lateness is judged by, everywhere it shows:
the chat's /status, `baocao status --json`, and the consolidated workbook. One unit extended
past the campaign's deadline is not late; another, without an extension, is."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import build_app
from bot.cli import commands as cli
from bot.documents.workbooks import export_bytes
from bot.use_cases import status, unit_deadline
from storage.repository import current_campaign, unit_by_code
from storage.staff_store import set_unit_deadline
from tests.exports.conftest import NOW, Summary, open_workbook, unit_row

DEADLINE = datetime(2022, 7, 4, 17, 0, tzinfo=UTC)  # "trước ngày 05/7/2022", Vietnam time
EXTENDED = DEADLINE + timedelta(days=7)
SUBMITTED = DEADLINE + timedelta(days=2)
LATER = DEADLINE + timedelta(days=3)
HU_NP = "Ban Thường vụ Huyện ủy Ninh Phước"
HU_NH = "Ban Thường vụ Huyện ủy Ninh Hải"


def extend(database, code: str, deadline: datetime) -> None:
    with database.transaction() as session:
        campaign = current_campaign(session)
        assert campaign.deadline == DEADLINE
        set_unit_deadline(session, campaign.id, unit_by_code(session, code).id, deadline, NOW)


@pytest.fixture
def extended(store, database):
    """HU-NP and DU-TRIHAI extended a week; DU-TRIHAI and HU-NH submit two days after the
    campaign's deadline, HU-NP and TU-PRTC have not submitted three days after it."""
    extend(database, "HU-NP", EXTENDED)
    extend(database, "DU-TRIHAI", EXTENDED)
    for code in ("DU-TRIHAI", "HU-NH"):
        store.answers(code, {"inspection_teams": {"value": 1}})
        store.submit(code, at=SUBMITTED)
    return store


def test_the_chat_status_judges_each_unit_by_its_own_deadline(extended, database):
    with database.transaction() as session:
        text = status(session, LATER)
        campaign = current_campaign(session)
        assert unit_deadline(session, campaign, unit_by_code(session, "HU-NP")) == EXTENDED
        assert unit_deadline(session, campaign, unit_by_code(session, "HU-NH")) == DEADLINE
    lines = text.splitlines()
    late = lines[lines.index("Nộp muộn:") + 1 : lines.index("")]
    assert late == [f" • {HU_NH} (HU-NH): nộp muộn 2 ngày"]  # not DU-TRIHAI
    assert f" • {HU_NP} (HU-NP): chưa bắt đầu · gia hạn đến trước ngày 12/7/2022" in lines
    prtc = next(line for line in lines if "(TU-PRTC)" in line)
    assert prtc.endswith("chưa bắt đầu · quá hạn")


def test_status_json_leaves_the_extended_unit_out_of_late(
    extended, database, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("BAOCAO_DATABASE_URL", str(database.engine.url))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "build_app", lambda settings: build_app(settings, clock=lambda: LATER))
    assert cli.main(["status", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    record = records[0] if isinstance(records, list) else records
    assert "HU-NP" not in record["late"] and "TU-PRTC" in record["late"]
    units = {unit["code"]: unit for unit in record["units"]}
    assert units["HU-NP"]["late"] is False and units["TU-PRTC"]["late"] is True
    assert units["HU-NP"]["deadline"] == EXTENDED.isoformat()
    assert units["TU-PRTC"]["deadline"] == DEADLINE.isoformat()


def test_the_workbook_marks_only_the_unit_without_an_extension_late(extended):
    _, data = export_bytes(extended.database, now=LATER, unit_sheets=False)
    summary = Summary(open_workbook(data))
    assert summary.cell(unit_row(summary, HU_NH), 3).value == "đã nộp, nộp muộn 2 ngày"
    assert summary.cell(unit_row(summary, "Đảng ủy xã Tri Hải"), 3).value == "đã nộp"
