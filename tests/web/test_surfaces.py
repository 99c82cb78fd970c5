"""The web page's sign-in link and the district secretariat from the chat and the command line:
`/web`, `baocao web-link [--contact ID]`, `baocao invite --role secretariat --scope`, and a
district secretariat's scope in the chat commands (the same check as on the web page)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.app import build_app
from bot.cli import commands as cli
from storage.models import Contact, StaffAction, WebSignIn
from storage.reminder_store import load_audience
from storage.repository import current_campaign
from storage.staff_store import redeem_sign_in, token_hash
from tests.test_service import Chat, link, new_invite
from tests.web.conftest import add_contact, set_status, status_of


@pytest.fixture
def run(sqlite_url, clock, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_USERNAME", "ZALO_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BAOCAO_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("BAOCAO_PUBLIC_URL", "https://baocao.example.vn")
    monkeypatch.setattr(cli, "build_app", lambda settings: build_app(settings, clock=clock))

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    return run


def test_web_link_from_the_command_line(run, sqlite_url, clock):
    from storage.database import open_database

    assert run("units", "list")[0] == 0
    database = open_database(sqlite_url)
    try:
        code, _, err = run("web-link")
        assert code == 1 and "chưa có cán bộ tổng hợp nào" in err
        first = add_contact(database, clock, "Lan")
        code, out, _ = run("web-link")
        assert code == 0 and "Liên kết đăng nhập cho Lan" in out
        token = out.split("https://baocao.example.vn/web/vao/")[1].split()[0]
        second = add_contact(database, clock, "Hùng", unit="HU-NP")
        code, _, err = run("web-link")
        assert code == 1 and f"{first} (Lan)" in err and "--contact" in err
        assert run("web-link", "--contact", str(second))[0] == 0
        assert run("web-link", "--contact", "999")[0] == 1
        officer = add_contact(database, clock, "Anh", role="officer", unit="HU-NP")
        code, _, err = run("web-link", "--contact", str(officer))
        assert code == 1 and "không có cán bộ tổng hợp mã số" in err
        with database.transaction() as session:
            stored = session.exec(select(WebSignIn)).all()
            assert token not in {row.token_hash for row in stored}  # only hashes are kept
            assert token_hash(token) in {row.token_hash for row in stored}
            assert redeem_sign_in(session, token, clock()) == first
            assert redeem_sign_in(session, token, clock()) is None
    finally:
        database.dispose()


def test_invite_a_district_secretariat_with_a_scope(run, sqlite_url):
    from storage.database import open_database

    code, out, _ = run("invite", "--role", "secretariat", "--scope", "HU-NP")
    assert code == 0 and "phụ trách Ban Thường vụ Huyện ủy Ninh Phước" in out
    code, _, err = run("invite", "--scope", "HU-NP", "HU-NP")
    assert code == 1 and "--scope chỉ dùng với --role secretariat" in err
    code, _, err = run("invite", "--role", "secretariat", "--scope", "KHONG-CO")
    assert code == 1 and "không có đơn vị mã 'KHONG-CO'" in err
    database = open_database(sqlite_url)
    try:
        with database.transaction() as session:
            actions = session.exec(select(StaffAction)).all()
            assert [(a.action, a.surface, a.detail) for a in actions] == [
                ("invite", "cli", "secretariat")
            ]
    finally:
        database.dispose()


def test_web_in_the_chat_gives_a_single_use_link_to_the_secretariat_only(service, database, clock):
    secretary = link(service, database, clock, "sec", role="secretariat")
    reply = secretary.say("/web")
    assert "/web/vao/" in reply and "một lần, trong 10 phút" in reply
    officer = link(service, database, clock, "anh")
    assert "/web/vao/" not in officer.say("/web")
    with database.transaction() as session:
        (row,) = session.exec(select(WebSignIn)).all()
        contact = session.get(Contact, row.contact_id)
        assert contact.role == "secretariat"


def test_a_district_secretariat_acts_only_within_its_district_in_the_chat(service, database, clock):
    chat = Chat(service, "district")
    code = new_invite(database, clock, "HU-NP", "secretariat")
    chat.send(f"/start {code}")
    assert chat.say("có").startswith("Đã liên kết")
    for unit in ("HU-NP", "HU-NH", "DU-PHUOCDAN"):
        set_status(database, clock, unit, "submitted")
    assert chat.say("/duyet HU-NH") == "Không thực hiện được: không có đơn vị mã 'HU-NH'."
    assert chat.say("/tralai HU-NH sai") == "Không thực hiện được: không có đơn vị mã 'HU-NH'."
    assert status_of(database, "HU-NH") == "submitted"
    assert chat.say("/duyet DU-PHUOCDAN").startswith("Đã duyệt báo cáo")
    assert status_of(database, "DU-PHUOCDAN") == "approved"
    assert chat.say("/invite HU-NH").startswith("Không thực hiện được")
    status = chat.say("/status")
    assert "Đã nộp 2/2" in status and "Ninh Hải" not in status  # its two units only
    assert chat.say("/export").startswith("Không thực hiện được: bảng tổng hợp là của cả tỉnh")
    assert chat.say("/export HU-NH") == "Không thực hiện được: không có đơn vị mã 'HU-NH'."
    assert "Mã mời cho Ban Thường vụ Huyện ủy Ninh Phước" in chat.say("/invite HU-NP")
    with database.transaction() as session:
        surfaces = {(a.action, a.surface) for a in session.exec(select(StaffAction))}
        assert surfaces == {("approve", "chat"), ("invite", "chat")}


def test_reminders_name_a_unit_its_own_deadline_and_spare_it_until_then(database, clock):
    from datetime import datetime, timedelta

    from bot import use_cases
    from bot.reminders.ticks import Spread, _act, load_audience, remind_now
    from conversations.reminder_plan import Decision, Slot
    from storage.models import OutboxMessage
    from storage.repository import current_campaign

    add_contact(database, clock, "Chi", role="officer", unit="DU-PHUOCDAN")
    add_contact(database, clock, "Dũng", role="officer", unit="HU-NH")
    with database.transaction() as session:
        campaign = current_campaign(session)
        zone = use_cases.campaign_spec(campaign).zone
        use_cases.extend_deadline(
            session,
            clock(),
            unit_code="DU-PHUOCDAN",
            deadline=datetime(2022, 7, 21, tzinfo=zone),
        )
        assert remind_now(session, campaign, clock(), unit_code="DU-PHUOCDAN") == 1
    with database.transaction() as session:
        (reminder,) = session.exec(
            select(OutboxMessage).where(OutboxMessage.chat_id == "chat-Chi")
        ).all()
        assert "21/7/2022" in reminder.payload["text"]
    # Past the campaign's deadline a scheduled «overdue» round spares the extended unit only.
    with database.transaction() as session:
        campaign = current_campaign(session)
        now = campaign.deadline + timedelta(days=1)
        slot = Slot("overdue", 1, now)
        audience = load_audience(session, campaign)
        assert {"DU-PHUOCDAN", "HU-NH"} <= {p.unit.code for p in audience.officers}
        queued = _act(
            session, campaign, Decision(slot, "send"), slot.key, audience, now, Spread(now)
        )
        reminded = session.exec(
            select(OutboxMessage.chat_id).where(OutboxMessage.kind == "reminder")
        ).all()
        assert queued == len(audience.officers) - 1
        assert sorted(reminded).count("chat-Chi") == 1  # the manual reminder only
        assert "chat-Dũng" in reminded


def test_the_province_digest_goes_to_the_province_secretariat_only(service, database, clock):
    province = link(service, database, clock, "tinh", role="secretariat")
    district = Chat(service, "huyen")
    district.send(f"/start {new_invite(database, clock, 'HU-NP', 'secretariat')}")
    assert district.say("có").startswith("Đã liên kết")
    with database.transaction() as session:
        audience = load_audience(session, current_campaign(session))
        chats = [recipient.chat_id for recipient in audience.secretariat]
    assert chats == [f"chat-{province.user}"]
