"""Tests for the `baocao` command line (bot.cli.commands.main), on SQLite (one round on PostgreSQL).

Configuration comes from the environment, as in production; the application's clock is the
FakeClock. Every user mistake must end with a clear line on stderr and a non-zero exit code,
never a traceback, and a refused unit file must import nothing.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from openpyxl import Workbook
from sqlmodel import select

import bot.cli.commands as cli
from bot.app import build_app
from conversations.campaigns import BUNDLED_CAMPAIGN
from conversations.forms import BUNDLED_FORMS
from storage.database import open_database
from storage.hot_path import write_answer
from storage.models import Invite, OutboxMessage, Unit
from storage.repository import current_campaign, submission_for, unit_by_code
from storage.tokens import invite_code_hash

HEADER = "code,name,level,parent_code,group\n"


@pytest.fixture
def database_url(request) -> str:
    """SQLite unless a test asks for PostgreSQL (each PostgreSQL database costs a second)."""
    kind = getattr(request, "param", "sqlite")
    return request.getfixturevalue("sqlite_url" if kind == "sqlite" else "postgres_url")


@pytest.fixture
def run(database_url, clock, tmp_path, monkeypatch, capsys):
    """Call `baocao ARGS…`; return (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_USERNAME", "ZALO_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BAOCAO_DATABASE_URL", database_url)
    monkeypatch.setattr(cli, "build_app", lambda settings: build_app(settings, clock=clock))

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = cli.main(list(args))
        except SystemExit as exit:  # argparse's --help
            code = exit.code
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    return run


@pytest.fixture
def db(run, database_url):
    """The database the CLI uses (seeded by a first command)."""
    assert run("units", "list")[0] == 0
    database = open_database(database_url)
    yield database
    database.dispose()


def unit_codes(database) -> dict[str, str | None]:
    with database.transaction() as session:
        units = session.exec(select(Unit)).all()
        by_id = {u.id: u.code for u in units}
        return {u.code: by_id.get(u.parent_id) for u in units}


def write_csv(tmp_path: Path, body: str, *, name="units.csv", bom=False) -> str:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8-sig" if bom else "utf-8")
    return str(path)


# --- help and usage ---------------------------------------------------------------------------


def test_help_is_vietnamese(run):
    code, out, _ = run("--help")
    assert code == 0
    assert "trợ lý thu thập số liệu báo cáo" in out
    for command in ("chat", "units", "invite", "campaign", "status", "export", "return"):
        assert command in out
    code, out, _ = run("units", "--help")
    assert (code, "nhập danh sách từ CSV hoặc XLSX" in out) == (0, True)


@pytest.mark.parametrize(
    "args", [["--help"], ["units", "--help"], ["invite", "--help"], ["export", "--help"]]
)
def test_help_has_no_english_left(run, args):
    code, out, _ = run(*args)
    assert code == 0
    assert out.startswith("Cách dùng: baocao")
    assert "\ntùy chọn:\n" in out
    assert "-h, --help" in out and "hiện hướng dẫn này rồi thoát" in out
    for english in ("usage", "positional arguments", "options:", "show this help message"):
        assert english not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["frobnicate"], "baocao: tham số LỆNH: không có lựa chọn 'frobnicate' (chọn một trong:"),
        ([], "baocao: thiếu tham số bắt buộc: LỆNH"),
        (["status", "--bogus"], "baocao: không hiểu tham số: --bogus"),
        (["export", "--output"], "baocao: tham số --output/-o cần một giá trị"),
    ],
)
def test_usage_mistakes_are_said_in_vietnamese(run, args, message):
    code, _, err = run(*args)
    assert code == 2
    assert err.startswith(message)


@pytest.mark.parametrize("args", [["frobnicate"], [], ["units"], ["units", "import"]])
def test_usage_mistakes_exit_2(run, args):
    code, out, err = run(*args)
    assert code == 2
    assert err.startswith("baocao: ")
    assert len(err.strip().splitlines()) == 1
    assert "baocao --help" in err


@pytest.mark.parametrize("url", ["mysql://x", "definitely not a url"])
def test_bad_database_url_is_one_clear_line(run, monkeypatch, url):
    monkeypatch.setenv("BAOCAO_DATABASE_URL", url)
    code, out, err = run("status")
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("baocao: ")
    assert "mysql" in err or "không hợp lệ" in err


def test_unreachable_postgresql_is_one_clear_line(run, monkeypatch):
    monkeypatch.setenv("BAOCAO_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    code, _, err = run("status")
    assert code == 1
    assert err.startswith("baocao: lỗi cơ sở dữ liệu")
    assert len(err.strip().splitlines()) == 1


def test_bad_setting_is_one_clear_line(run, monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "not-a-token")
    code, _, err = run("status")
    assert code == 1
    assert "TELEGRAM_BOT_TOKEN" in err
    assert "not-a-token" not in err
    assert len(err.strip().splitlines()) == 1


# --- units ------------------------------------------------------------------------------------


@pytest.mark.parametrize("bom", [False, True])
def test_units_import_csv(run, db, tmp_path, bom):
    path = write_csv(
        tmp_path,
        "HU-NP,Huyện ủy Ninh Phước (mới),huyen,,kiem_tra_truc_tiep\n"
        "DU-PHUOCHAU,Đảng ủy xã Phước Hậu,xa,hu-np,tu_kiem_tra\n",
        bom=bom,
    )
    code, out, err = run("units", "import", path)
    assert (code, err) == (0, "")
    assert out.strip() == "Đã nhập 2 đơn vị: 1 mới, 1 cập nhật."
    codes = unit_codes(db)
    assert len(codes) == 14
    assert codes["DU-PHUOCHAU"] == "HU-NP"
    with db.transaction() as session:
        assert unit_by_code(session, "HU-NP").name == "Huyện ủy Ninh Phước (mới)"


def test_units_import_xlsx(run, db, tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["code", "name", "level", "parent_code", "group"])
    sheet.append(["HU-MOI", "Huyện ủy Mới", "huyen", None, "tu_kiem_tra"])
    sheet.append(["XA-MOI", "Đảng ủy xã Mới", "xa", "HU-MOI", "tu_kiem_tra"])
    path = tmp_path / "units.xlsx"
    workbook.save(path)
    code, out, _ = run("units", "import", str(path))
    assert code == 0
    assert "2 mới" in out
    assert unit_codes(db)["XA-MOI"] == "HU-MOI"


BAD_FILES = {
    "wrong header": ("units.csv", b"ma,ten,cap\nA,B,xa\n", ["dòng 1: tiêu đề"]),
    "bad level": (
        "units.csv",
        (HEADER + "A,Đơn vị A,xa,,\nB,Đơn vị B,thon,,\n").encode(),
        ["dòng 3: cấp 'thon'"],
    ),
    "duplicate code": (
        "units.csv",
        (HEADER + "A,Đơn vị A,xa,,\nB,Đơn vị B,xa,,\nA,Lại A,xa,,\n").encode(),
        ["dòng 4: mã A trùng với dòng 2"],
    ),
    "unknown parent": (
        "units.csv",
        (HEADER + "A,Đơn vị A,xa,HU-ZZ,\n").encode(),
        ["dòng 2: không có đơn vị cấp trên mã HU-ZZ"],
    ),
    "self parent": (
        "units.csv",
        (HEADER + "A,Đơn vị A,xa,A,\n").encode(),
        ["dòng 2: đơn vị không thể là cấp trên của chính nó"],
    ),
    "cycle with a stored unit": (
        "units.csv",
        (HEADER + "HU-NP,Huyện ủy Ninh Phước,huyen,DU-PHUOCDAN,\n").encode(),
        ["dòng 2: cấp trên tạo thành vòng lặp (HU-NP → DU-PHUOCDAN → HU-NP)"],
    ),
    "not UTF-8": ("units.csv", (HEADER + "A,Đơn vị,xa,,\n").encode("utf-16"), ["UTF-8"]),
    "empty": ("units.csv", b"", ["tệp trống"]),
    "garbage .txt": ("units.txt", b"lorem ipsum; dolor\n\x01\x02 sit amet\n", ["dòng 1: tiêu đề"]),
    "good rows with one bad": (
        "units.csv",
        (HEADER + "NEW1,Mới 1,xa,,\nNEW2,Mới 2,xa,,\nNEW3,,xa,,\n").encode(),
        ["dòng 4: tên đơn vị trống"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_units_import_of_a_bad_file_imports_nothing(run, db, tmp_path, case):
    name, content, problems = BAD_FILES[case]
    path = tmp_path / name
    path.write_bytes(content)
    before = unit_codes(db)
    code, out, err = run("units", "import", str(path))
    assert code == 1
    assert out == ""
    assert err.startswith("baocao: không nhập tệp, chưa có gì thay đổi:")
    for problem in problems:
        assert problem in err
    assert unit_codes(db) == before


def test_units_list_json(run, db):
    code, out, _ = run("units", "list", "--json")
    assert code == 0
    units = {u["code"]: u for u in json.loads(out)}
    assert len(units) == 13
    assert units["DU-PHUOCDAN"] == {
        "code": "DU-PHUOCDAN",
        "name": "Đảng ủy thị trấn Phước Dân",
        "level": "xa",
        "parent_code": "HU-NP",
        "group": "kiem_tra_truc_tiep",
    }
    code, out, _ = run("units", "list")
    lines = out.splitlines()
    assert lines[0].split() == [
        "Mã",
        "Cấp",
        "Nhóm",
        "Tên",
        "đơn",
        "vị",
        "(↳",
        "đơn",
        "vị",
        "cấp",
        "trên)",
    ]
    assert lines[-1] == "Tổng cộng 13 đơn vị."
    phuoc_dan = next(line for line in lines if line.startswith("DU-PHUOCDAN"))
    assert phuoc_dan.split("  ")[0] == "DU-PHUOCDAN"
    assert " Xã " in phuoc_dan and " Kiểm tra trực tiếp " in phuoc_dan
    assert phuoc_dan.endswith("Đảng ủy thị trấn Phước Dân ↳ HU-NP")
    assert "kiem_tra_truc_tiep" not in out and " so_nganh " not in out


# --- invites ----------------------------------------------------------------------------------


def test_invite_json(run, db, clock):
    code, out, _ = run("invite", "hu-np", "--json")
    assert code == 0
    record = json.loads(out)
    assert set(record) == {"code", "unit", "role", "expires_at"}
    assert (record["unit"], record["role"]) == ("HU-NP", "officer")
    assert record["expires_at"] == (clock() + timedelta(days=30)).isoformat()
    with db.transaction() as session:
        invite = session.exec(select(Invite)).one()
        assert invite.code_hash == invite_code_hash(record["code"])  # the code itself is not kept
        assert invite.unit_id == unit_by_code(session, "HU-NP").id


def test_invite_with_a_telegram_link_and_its_validity(run, db, monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "baocao_bot")
    monkeypatch.setenv("BAOCAO_INVITE_DAYS", "7")
    code, out, _ = run("invite", "HU-NP", "--json")
    record = json.loads(out)
    assert record["telegram_link"] == f"https://t.me/baocao_bot?start={record['code']}"
    code, out, _ = run("invite", "HU-NP")
    assert code == 0
    assert out.startswith("Mã mời cho Ban Thường vụ Huyện ủy Ninh Phước: ")
    assert "Telegram: https://t.me/baocao_bot?start=" in out
    lines = out.splitlines()
    assert lines[2] == "Chuyển cho người nhận:"
    assert lines[3].startswith("  Bấm đường liên kết https://t.me/baocao_bot?start=")
    assert lines[4] == (
        "  Trợ lý hỏi lại tên Ban Thường vụ Huyện ủy Ninh Phước: bấm «Xác nhận» (hoặc gõ 1), rồi"
        " trả lời từng câu của Phụ lục trước ngày 05/7/2022."
    )
    assert len(lines) == 5


def test_invite_without_a_unit_is_one_line(run, db):
    code, out, err = run("invite")
    assert code in (1, 2)
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "mã đơn vị" in err
    code, _, err = run("invite", "XX")
    assert code == 1
    assert "không có đơn vị mã 'XX'" in err
    with db.transaction() as session:
        assert session.exec(select(Invite)).all() == []


def test_invite_for_the_secretariat(run, db):
    code, out, _ = run("invite", "--role", "secretariat", "--json")
    assert code == 0
    record = json.loads(out)
    assert (record["role"], record["unit"]) == ("secretariat", None)


# --- campaigns --------------------------------------------------------------------------------


def campaign_file(tmp_path: Path, *, form: Path | None = None, **changes) -> str:
    raw = yaml.safe_load(BUNDLED_CAMPAIGN.read_text(encoding="utf-8"))
    raw["form"] = str(form or (BUNDLED_FORMS / "ct37_phuluc.yaml").resolve())
    raw.update(changes)
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return str(path)


def test_campaign_load_and_list(run, db, tmp_path):
    path = campaign_file(
        tmp_path, code="ct37-2023", title="Đợt kiểm tra năm 2023", deadline="2023-07-05T00:00+07:00"
    )
    code, out, err = run("campaign", "load", path)
    assert (code, err) == (0, "")
    assert out.strip() == "Đã nạp đợt báo cáo ct37-2023: Đợt kiểm tra năm 2023"
    code, out, _ = run("campaign", "list", "--json")
    campaigns = json.loads(out)
    assert [c["code"] for c in campaigns] == ["ct37-2023", "ct37-2022"]
    assert campaigns[0]["deadline"] == "2023-07-04T17:00:00+00:00"
    assert campaigns[1]["form"] == "ct37_phuluc"
    assert campaigns[1]["issued_by"].startswith("Kế hoạch số 131-KH/TU")
    code, out, _ = run("campaign", "list")
    lines = out.splitlines()
    assert lines[0].startswith("ct37-2023      hạn nộp trước ngày 05/7/2023  Đợt kiểm tra năm 2023")
    assert lines[1].startswith(
        "ct37-2022      hạn nộp trước ngày 05/7/2022  Kiểm tra việc thực hiện"
    )
    assert "T17:00" not in out  # local time, never UTC ISO


def test_campaign_load_refuses_to_orphan_answers(run, db, tmp_path, clock):
    with db.transaction() as session:
        submission = submission_for(
            session, current_campaign(session), unit_by_code(session, "HU-NP")
        )
        write_answer(
            session, submission, key="supervisions", value={"value": 3}, not_applicable=False,
            raw="3", contact_id=None, channel="console", now=clock(), existing=None,
        )  # fmt: skip
    form = yaml.safe_load((BUNDLED_FORMS / "ct37_phuluc.yaml").read_text(encoding="utf-8"))
    form["questions"] = [q for q in form["questions"] if q["key"] != "supervisions"]
    form_path = tmp_path / "form.yaml"
    form_path.write_text(yaml.safe_dump(form, allow_unicode=True), encoding="utf-8")
    clock.advance(minutes=1)
    code, out, err = run("campaign", "load", campaign_file(tmp_path, form=form_path))
    assert code == 1
    assert "supervisions" in err
    assert len(err.strip().splitlines()) == 1
    with db.transaction() as session:
        assert "supervisions" in current_campaign(session).form_yaml


def test_campaign_load_refuses_groups_and_units_that_do_not_exist(run, db, tmp_path):
    participants = {"groups": ["tu_kiem_tra", "nhom_go_nham"], "units": ["HU-NP", "HU-KHONGCO"]}
    path = campaign_file(tmp_path, code="ct37-2023", participants=participants)
    code, out, err = run("campaign", "load", path)
    assert (code, out) == (1, "")
    assert err.strip().splitlines() == [
        "baocao: đợt báo cáo nêu nhóm nhom_go_nham; đơn vị HU-KHONGCO — chưa có trong danh sách "
        "đơn vị (nhập danh sách trước: baocao units import TỆP, hoặc sửa tệp đợt báo cáo)"
    ]
    _, out, _ = run("campaign", "list", "--json")
    assert [c["code"] for c in json.loads(out)] == ["ct37-2022"]


@pytest.mark.parametrize("character", ["\x00", "\x0b"])
def test_campaign_file_with_a_control_character(run, db, tmp_path, character):
    path = Path(campaign_file(tmp_path, title="Kiểm tra"))
    path.write_text(path.read_text(encoding="utf-8").replace("Kiểm tra", "Kiểm" + character))
    code, out, err = run("campaign", "load", str(path))
    assert (code, out) == (1, "")
    assert err.startswith("baocao: ") and "không đọc được YAML" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("problem", ["missing", "naive deadline"])
def test_campaign_load_of_a_bad_file(run, db, tmp_path, problem):
    if problem == "missing":
        path = str(tmp_path / "absent.yaml")
    else:
        path = campaign_file(tmp_path, deadline="2022-07-05T00:00:00")
    code, _, err = run("campaign", "load", path)
    assert code == 1
    assert err.startswith("baocao: ")
    assert len(err.strip().splitlines()) == 1


# --- status and return -----------------------------------------------------------------------


def test_status_json_and_text(run, db, clock):
    with db.transaction() as session:
        campaign = current_campaign(session)
        submission = submission_for(session, campaign, unit_by_code(session, "HU-NP"))
        write_answer(
            session, submission, key="supervisions", value={"value": 3}, not_applicable=False,
            raw="3", contact_id=None, channel="console", now=clock(), existing=None,
        )  # fmt: skip
        submission.status = "in_progress"
        done = submission_for(session, campaign, unit_by_code(session, "DU-TRIHAI"))
        done.status, done.submitted_at = "submitted", clock()
        session.add_all([submission, done])
    code, out, _ = run("status", "--json")
    assert code == 0
    (record,) = json.loads(out)
    assert record["campaign"] == "ct37-2022"
    assert record["timezone"] == "Asia/Ho_Chi_Minh"
    assert (record["submitted"], record["in_progress"], record["not_started"]) == (1, 1, 11)
    units = {u["code"]: u for u in record["units"]}
    assert len(units) == 13
    assert (units["HU-NP"]["answered"], units["HU-NP"]["total"]) == (1, 18)
    assert units["DU-TRIHAI"]["submitted_at"] == clock().isoformat()
    code, out, _ = run("status")
    assert "Đã nộp 1/13 · đang điền 1 · chưa bắt đầu 11" in out
    assert "(còn 14 ngày)" in out


def test_return_a_submitted_report(run, db, clock):
    with db.transaction() as session:
        submission = submission_for(
            session, current_campaign(session), unit_by_code(session, "HU-NP")
        )
        submission.status, submission.submitted_at = "submitted", clock()
        session.add(submission)
    code, out, err = run("return", "HU-NP", "--reason", "Thiếu mục 4")
    assert (code, err) == (0, "")
    assert out.strip() == "Đã trả lại báo cáo của Ban Thường vụ Huyện ủy Ninh Phước."
    with db.transaction() as session:
        submission = submission_for(
            session, current_campaign(session), unit_by_code(session, "HU-NP")
        )
        assert (submission.status, submission.return_reason) == ("returned", "Thiếu mục 4")
        assert session.exec(select(OutboxMessage)).all() == []  # no officer linked yet
    code, _, err = run("return", "HU-NP")
    assert code == 1
    assert "chưa nộp" in err
    code, _, err = run("return", "XX")
    assert (code, "không có đơn vị mã 'XX'" in err) == (1, True)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_round_of_commands_on_postgresql(run, db, tmp_path, clock):
    path = write_csv(
        tmp_path, "HU-MOI,Huyện ủy Mới,huyen,,tu_kiem_tra\nXA-MOI,Xã Mới,xa,HU-MOI,tu_kiem_tra\n"
    )
    assert run("units", "import", path)[0] == 0
    bad = write_csv(tmp_path, "A,Đơn vị A,xa,B,\nB,Đơn vị B,xa,A,\n", name="bad.csv")
    code, _, err = run("units", "import", bad)
    assert (code, "dòng 2: cấp trên tạo thành vòng lặp" in err) == (1, True)
    assert unit_codes(db)["XA-MOI"] == "HU-MOI"
    assert len(unit_codes(db)) == 15
    record = json.loads(run("invite", "XA-MOI", "--json")[1])
    assert (record["unit"], record["role"]) == ("XA-MOI", "officer")
    with db.transaction() as session:
        submission = submission_for(
            session, current_campaign(session), unit_by_code(session, "XA-MOI")
        )
        submission.status, submission.submitted_at = "submitted", clock()
        session.add(submission)
    (status,) = json.loads(run("status", "--json")[1])
    assert (status["submitted"], len(status["units"])) == (1, 15)
    assert run("return", "XA-MOI", "--reason", "Sửa câu 3")[0] == 0
    (status,) = json.loads(run("status", "--json")[1])
    assert status["submitted"] == 0


def test_chat_with_an_unknown_unit_is_one_line(run, db):
    code, out, err = run("chat", "--unit", "XX")
    assert code == 1
    assert err.strip() == "baocao: không có đơn vị mã 'XX'"


def test_approve_a_submitted_report(run, db, clock):
    code, _, err = run("approve", "HU-NP")
    assert (code, "chưa nộp nên chưa duyệt được" in err) == (1, True)
    with db.transaction() as session:
        submission = submission_for(
            session, current_campaign(session), unit_by_code(session, "HU-NP")
        )
        submission.status, submission.submitted_at = "submitted", clock()
        session.add(submission)
    code, out, err = run("approve", "HU-NP")
    assert (code, err) == (0, "")
    assert out.strip() == "Đã duyệt báo cáo của Ban Thường vụ Huyện ủy Ninh Phước."
    with db.transaction() as session:
        submission = submission_for(
            session, current_campaign(session), unit_by_code(session, "HU-NP")
        )
        assert submission.status == "approved"
    code, _, err = run("approve", "HU-NP")
    assert (code, "đã được duyệt rồi" in err) == (1, True)
