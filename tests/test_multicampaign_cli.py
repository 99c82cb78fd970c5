"""The command line with several open campaigns (issue #22): `--campaign CODE` on status,
export, report, remind and chat; without it and with several open, one Vietnamese line naming
the codes, exit code 1 and nothing done; with one open, that one (as before)."""

from __future__ import annotations

import json
from io import StringIO

from sqlmodel import select

from bot.cli.console import run_console
from storage.models import Answer, Campaign, Submission, Unit
from tests.test_cli import campaign_file, database_url, db, run  # noqa: F401 (fixtures)

SEVERAL = "baocao: đang mở nhiều đợt báo cáo (ct38-2030, ct37-2022); chọn một: --campaign MÃ_ĐỢT"
TITLE = "Sơ kết Quy chế dân chủ ở cơ sở năm 2030"


def load_second(run, tmp_path) -> None:  # noqa: F811
    path = campaign_file(
        tmp_path,
        code="ct38-2030",
        title=TITLE,
        deadline="2030-07-05T00:00+07:00",
        participants={"units": ["HU-NH"]},
    )
    assert run("campaign", "load", path)[0] == 0


def test_several_open_campaigns_need_campaign_and_it_selects_one(run, db, tmp_path):  # noqa: F811
    load_second(run, tmp_path)
    for command in (
        ("status",),
        ("export", "-o", str(tmp_path / "t.xlsx")),
        ("report", "--consolidated", "-o", str(tmp_path / "t.docx")),
        ("remind", "--dry-run"),
        ("remind",),
    ):
        code, out, err = run(*command)
        assert (code, out, err.strip()) == (1, "", SEVERAL), command
    assert not (tmp_path / "t.xlsx").exists()

    code, out, err = run("status", "--campaign", "ct38-2030", "--json")
    assert (code, err) == (0, "")
    (record,) = json.loads(out)
    assert (record["campaign"], record["title"]) == ("ct38-2030", TITLE)
    assert [unit["code"] for unit in record["units"]] == ["HU-NH"]
    code, out, _ = run("status", "--campaign", "ct37-2022")
    assert code == 0 and "Kiểm tra việc thực hiện Chỉ thị 37-CT/TU" in out and TITLE not in out
    code, out, err = run("export", "--campaign", "ct38-2030", "-o", str(tmp_path / "t.xlsx"))
    assert (code, err) == (0, "") and (tmp_path / "t.xlsx").stat().st_size > 0
    code, out, _ = run("remind", "--dry-run", "--campaign", "ct38-2030")
    assert code == 0 and "cho đợt ct38-2030" in out
    code, out, err = run("status", "--campaign", "khong-co")
    assert (code, out, err.strip()) == (1, "", "baocao: không có đợt báo cáo 'khong-co'")

    with db.transaction() as session:  # one open again: nothing to name
        campaign = session.exec(select(Campaign).where(Campaign.code == "ct37-2022")).one()
        campaign.state = "closed"
        session.add(campaign)
    code, out, _ = run("status", "--json")
    assert code == 0 and [r["campaign"] for r in json.loads(out)] == ["ct38-2030"]


def answers_by_campaign(database, unit_code: str) -> dict[str, dict]:
    with database.transaction() as session:
        rows = session.exec(
            select(Campaign.code, Answer.question_key, Answer.value)
            .join(Submission, Submission.id == Answer.submission_id)
            .join(Campaign, Campaign.id == Submission.campaign_id)
            .join(Unit, Unit.id == Submission.unit_id)
            .where(Unit.code == unit_code)
        ).all()
    found: dict[str, dict] = {}
    for code, key, value in rows:
        found.setdefault(code, {})[key] = value
    return found


def test_console_chat_with_campaign_and_with_the_numbered_menu(run, db, tmp_path, clock):  # noqa: F811
    from bot.app import build_app
    from bot.settings import load_settings

    load_second(run, tmp_path)
    app = build_app(load_settings(), clock=clock)
    try:
        out = StringIO()
        lines = StringIO("/cau 3\n4\n")
        code = run_console(
            app.service, unit_code="HU-NH", operator="op", campaign_code="ct38-2030",
            stdin=lines, out=out,
        )  # fmt: skip
        assert code == 0
        assert f"[Đợt: {TITLE}]" in out.getvalue()
        assert answers_by_campaign(db, "HU-NH") == {"ct38-2030": {"inspection_teams": {"value": 4}}}

        out = StringIO()  # without --campaign: asked, as numbered lines; «2» picks CT37
        lines = StringIO("2\n/cau 3\n6\n")
        assert (
            run_console(app.service, unit_code="HU-NH", operator="op2", stdin=lines, out=out) == 0
        )
        printed = out.getvalue()
        assert "Ban Thường vụ Huyện ủy Ninh Hải đang có 2 đợt báo cáo cần điền" in printed
        assert f"1. {TITLE} (trước ngày 05/7/2030)" in printed
        assert "2. Kiểm tra việc thực hiện Chỉ thị 37-CT/TU (trước ngày 05/7/2022)" in printed
        assert answers_by_campaign(db, "HU-NH")["ct37-2022"] == {"inspection_teams": {"value": 6}}
    finally:
        app.close()


def test_console_chat_refuses_a_campaign_not_open_or_without_the_unit(run, db, tmp_path):  # noqa: F811
    load_second(run, tmp_path)
    code, out, err = run("chat", "--unit", "HU-NP", "--campaign", "ct38-2030")
    assert (code, err.strip()) == (1, "baocao: đơn vị 'HU-NP' không có trong đợt báo cáo ct38-2030")
    with db.transaction() as session:
        campaign = session.exec(select(Campaign).where(Campaign.code == "ct38-2030")).one()
        campaign.state = "draft"
        session.add(campaign)
    code, out, err = run("chat", "--unit", "HU-NH", "--campaign", "ct38-2030")
    assert (code, err.strip()) == (1, "baocao: đợt báo cáo ct38-2030 không mở để điền (draft)")
