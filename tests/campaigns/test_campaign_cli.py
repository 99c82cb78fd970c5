"""`baocao campaign import|export-form|open|close|archive|copy|list` on real SQLite and PostgreSQL:
an XLSForm becomes a draft campaign, its life cycle moves by conditional updates and says why it
refuses, a copy repeats it for a new period, and CT37 survives a round trip through XLSForm."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from sqlmodel import select

import bot.cli.commands as cli
from bot.app import build_app
from conversations.campaigns import BUNDLED_CAMPAIGN, load_campaign
from storage.campaign_life import change_state
from storage.database import open_database
from storage.models import Campaign
from storage.repository import StorageError, campaign_form, campaign_spec, current_campaign
from tests.campaigns.sample_form import write_form


@pytest.fixture
def run(database_url, clock, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_USERNAME", "ZALO_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BAOCAO_DATABASE_URL", database_url)
    monkeypatch.setattr(cli, "build_app", lambda settings: build_app(settings, clock=clock))

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = cli.main(list(args))
        except SystemExit as exit:
            code = exit.code
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    return run


@pytest.fixture
def db(run, database_url):
    assert run("units", "list")[0] == 0
    database = open_database(database_url)
    yield database
    database.dispose()


def state_of(db, code: str) -> str:
    with db.transaction() as session:
        return session.exec(select(Campaign.state).where(Campaign.code == code)).one()


def test_import_creates_a_draft_and_list_shows_it(run, db, tmp_path):
    code, out, err = run("campaign", "import", str(write_form(tmp_path / "f.xlsx")))
    assert (code, err) == (0, "")
    assert "Đã nhập đợt báo cáo dv-2026 (8 câu hỏi), trạng thái bản nháp" in out
    assert state_of(db, "dv-2026") == "draft"
    listing = {r["code"]: r for r in json.loads(run("campaign", "list", "--json")[1])}
    mine = listing["dv-2026"]
    assert (mine["state"], mine["questions"]) == ("draft", 8)
    assert mine["title"] == "Báo cáo công tác dân vận 6 tháng cuối năm 2026"
    assert mine["deadline"] == "2026-12-31T17:00:00+00:00"  # end of 31/12 in Vietnam
    # participant_levels tinh huyen xa: every bundled unit but the so_nganh ones
    assert 0 < mine["participants"] < listing["ct37-2022"]["participants"]
    assert listing["ct37-2022"]["state"] == "open"
    assert "dv-2026        hạn nộp trước ngày 01/1/2027" in run("campaign", "list")[1]


def test_import_twice_is_refused_and_another_code_is_accepted(run, db, tmp_path):
    form = str(write_form(tmp_path / "f.xlsx"))
    assert run("campaign", "import", form)[0] == 0
    code, _, err = run("campaign", "import", form)
    assert code == 1 and "đã có đợt báo cáo mã 'dv-2026'" in err
    assert run("campaign", "import", form, "--code", "dv-2026b")[0] == 0
    assert state_of(db, "dv-2026b") == "draft"


def test_life_cycle_and_its_refusals(run, db, tmp_path):
    run("campaign", "import", str(write_form(tmp_path / "f.xlsx")))
    code, _, err = run("campaign", "close", "dv-2026")
    assert code == 1
    assert err.strip().endswith(
        "không thể đóng đợt báo cáo 'dv-2026': đợt đang ở trạng thái «bản nháp», "
        "chỉ đóng được đợt «đang mở»"
    )
    assert run("campaign", "archive", "dv-2026")[0] == 1
    code, out, _ = run("campaign", "open", "dv-2026")
    assert (code, out.strip()) == (0, "Đợt báo cáo dv-2026 nay đang mở.")
    code, _, err = run("campaign", "open", "dv-2026")
    assert code == 1 and "đợt báo cáo 'dv-2026' đang mở rồi" in err
    assert run("campaign", "close", "dv-2026")[0] == 0
    assert state_of(db, "dv-2026") == "closed"
    assert run("campaign", "open", "dv-2026")[0] == 1
    assert run("campaign", "archive", "dv-2026")[0] == 0
    assert state_of(db, "dv-2026") == "archived"
    code, _, err = run("campaign", "open", "khong-co")
    assert code == 1 and "không có đợt báo cáo 'khong-co'" in err


def test_a_transition_is_conditional_on_the_state_read(db, clock, run, tmp_path):
    """Two staff open the same draft: the second update finds the state changed and loses."""
    run("campaign", "import", str(write_form(tmp_path / "f.xlsx")))
    with db.transaction() as session:
        change_state(session, "dv-2026", "open", clock())
    with db.transaction() as session:
        campaign = current_campaign(session, "dv-2026")
        # as if read before the other's commit: the row says open now, the update expects draft
        with pytest.raises(StorageError, match="đang mở rồi"):
            change_state(session, "dv-2026", "open", clock())
        assert campaign.state == "open"
    with db.transaction() as session:
        done = session.execute(
            update(Campaign)
            .where(Campaign.code == "dv-2026", Campaign.state == "draft")
            .values(state="open", updated_at=datetime(2026, 1, 1, tzinfo=UTC))
        )
        assert done.rowcount == 0


def test_copy_repeats_a_campaign_for_a_new_period(run, db):
    code, out, err = run(
        "campaign", "copy", "ct37-2022", "--code", "ct37-2023", "--deadline", "05/7/2023",
        "--period-start", "01/6/2022", "--period-end", "30/5/2023",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert "Đã tạo đợt ct37-2023 (bản nháp) từ đợt ct37-2022." in out
    with db.transaction() as session:
        old, new = current_campaign(session, "ct37-2022"), current_campaign(session, "ct37-2023")
        assert new.state == "draft"
        assert campaign_form(new) == campaign_form(old)
        spec = campaign_spec(new)
        assert spec.participants == campaign_spec(old).participants
        assert spec.deadline.isoformat() == "2023-07-06T00:00:00+07:00"
        assert (spec.period_start.isoformat(), spec.period_end.isoformat()) == (
            "2022-06-01",
            "2023-05-30",
        )
        assert (new.title, new.receiver) == (old.title, old.receiver)
    code, _, err = run(
        "campaign", "copy", "ct37-2022", "--code", "ct37-2023", "--deadline", "1/1/2024"
    )
    assert code == 1 and "đã có đợt báo cáo mã 'ct37-2023'" in err
    code, _, err = run("campaign", "copy", "ct37-2022", "--code", "x", "--deadline", "31/2/2024")
    assert code == 1 and "--deadline: cần ngày dạng dd/mm/yyyy" in err
    code, _, err = run(
        "campaign", "copy", "ct37-2022", "--code", "y", "--deadline", "1/1/2024",
        "--period-start", "01/6/2023", "--period-end", "30/5/2023",
    )  # fmt: skip
    assert code == 1 and "ngày bắt đầu kỳ báo cáo phải trước ngày kết thúc" in err
    with db.transaction() as session:
        codes = set(session.exec(select(Campaign.code)).all())
    assert codes == {"ct37-2022", "ct37-2023"}


def test_ct37_round_trip_through_xlsform(run, db, tmp_path):
    """export-form then import under another code: the same questions, checks, levels, labels."""
    target = tmp_path / "ct37.xlsx"
    code, out, err = run("campaign", "export-form", "ct37-2022", "--output", str(target))
    assert (code, err) == (0, "")
    assert "18 câu hỏi" in out or "câu hỏi" in out
    assert run("campaign", "import", str(target), "--code", "ct37-ban-sao")[0] == 0
    original = load_campaign(BUNDLED_CAMPAIGN)
    with db.transaction() as session:
        copy = current_campaign(session, "ct37-ban-sao")
        form, spec = campaign_form(copy), campaign_spec(copy)
    assert form.sections == original.form.sections
    assert form.levels == original.form.levels
    assert (form.title, form.subtitle) == (original.form.title, original.form.subtitle)
    assert len(form.questions) == len(original.form.questions)
    for mine, theirs in zip(form.questions, original.form.questions, strict=True):
        assert set(mine.levels) == set(theirs.levels), mine.key
        assert mine.model_dump(exclude={"levels"}) == theirs.model_dump(exclude={"levels"})
    assert spec.model_dump(exclude={"code", "form", "outline"}) == original.spec.model_dump(
        exclude={"code", "form", "outline"}
    )
    # a second round trip of the imported copy writes the same workbook content
    again = tmp_path / "again.xlsx"
    assert run("campaign", "export-form", "ct37-ban-sao", "--output", str(again))[0] == 0


def test_export_form_refuses_a_bad_output(run, db, tmp_path):
    code, _, err = run("campaign", "export-form", "ct37-2022", "--output", str(tmp_path / "f.csv"))
    assert code == 1 and "phải có đuôi .xlsx" in err
