"""Members managed, not edited in the database (issue #19), on SQLite and PostgreSQL: removing a
member through the real service path and `baocao members`; writing to the bot never brings a
removed member back, a new invite does; removing ends their sessions and links at once."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from bot import members, use_cases
from bot.app import CHANNEL_TRAITS
from bot.service import STRANGER_TEXT, Service
from bot.use_cases import OPERATOR, Desk, contact_actor
from conversations.errors import DomainError
from storage.database import open_database
from storage.members import remove_member
from storage.models import Contact, StaffAction, WebSession, WebSignIn
from storage.repository import current_campaign, find_download, unit_by_code
from storage.staff_store import create_session, session_contact
from tests.test_cli import run  # noqa: F401  (the `baocao` runner fixture)
from tests.test_service import link, new_invite


def contact_of(database, user: str) -> Contact:
    with database.transaction() as session:
        return session.exec(select(Contact).where(Contact.external_id == user)).one()


def remove(database, clock, contact_id: int):
    with database.write_transaction() as session:
        return members.remove(session, clock(), OPERATOR, contact_id)


def test_a_removed_officer_who_writes_stays_removed_until_invited_again(service, database, clock):
    officer = link(service, database, clock, "an")
    contact_id = contact_of(database, "an").id
    removal = remove(database, clock, contact_id)
    assert (removal.member.id, removal.member.active) == (contact_id, False)

    for text in ("/tiep", "12", "/status", "xin chào", "gửi báo cáo"):
        clock.advance(hours=1)  # past the last-seen resolution: the contact row is refreshed
        assert officer.say(text) == STRANGER_TEXT, text
    contact = contact_of(database, "an")
    assert (contact.active, contact.removed_at) == (False, removal.member.removed_at)
    assert contact.last_seen_at == clock()  # still noted as seen, not re-activated

    # A new invite links them again: a member once more.
    code = new_invite(database, clock, "HU-NP")
    assert "Ban Thường vụ Huyện ủy Ninh Phước" in officer.say(f"/start {code}")
    assert officer.say("có").startswith("Đã liên kết với Ban Thường vụ Huyện ủy Ninh Phước.")
    contact = contact_of(database, "an")
    assert (contact.active, contact.removed_at) == (True, None)


def test_a_removed_secretariat_member_loses_commands_and_web_session(service, database, clock):
    secretary = link(service, database, clock, "sec", role="secretariat")
    assert "/web" in secretary.say("/help")
    contact_id = contact_of(database, "sec").id
    with database.transaction() as session:
        token = create_session(session, contact_id, clock(), timedelta(hours=12))
    with database.transaction() as session:
        assert session_contact(session, token, clock()).id == contact_id

    remove(database, clock, contact_id)
    for text in ("/web", "/status", "/export", "/invite HU-NP", "/duyet HU-NP"):
        assert secretary.say(text) == STRANGER_TEXT, text
    with database.transaction() as session:
        assert session_contact(session, token, clock()) is None
        assert session.exec(select(WebSignIn)).all() == []  # /web made no link


def test_removing_ends_every_session_and_link_at_once(service, database, clock):
    link(service, database, clock, "sec", role="secretariat")
    other = link(service, database, clock, "sec2", role="secretariat")
    contact_id = contact_of(database, "sec").id
    keep_id = contact_of(database, "sec2").id
    desk = Desk(public_url="http://bot.test")
    now = clock()
    with database.transaction() as session:
        contact = session.get(Contact, contact_id)
        campaign_id = current_campaign(session).id
        tokens = [create_session(session, contact_id, now, timedelta(hours=12)) for _ in range(2)]
        sign_in = use_cases.web_sign_in_link(session, now, desk, contact=contact, actor=OPERATOR)
        download = use_cases.download_link(
            session, now, desk, campaign_id=campaign_id, unit_id=None, contact_id=contact_id
        )
        kept = use_cases.download_link(
            session, now, desk, campaign_id=campaign_id, unit_id=None, contact_id=keep_id
        )
    removal = remove(database, clock, contact_id)
    assert (removal.sessions, removal.sign_in_links, removal.download_links) == (2, 1, 1)
    with database.transaction() as session:
        assert all(session_contact(session, t, now) is None for t in tokens)
        assert (
            use_cases.open_web_session(session, now, sign_in.split("/vao/")[1], timedelta(1))
            is None
        )
        assert find_download(session, download.split("/tai-ve/")[1], now) is None
        assert find_download(session, kept.split("/tai-ve/")[1], now) is not None  # not theirs
        ended = session.exec(select(WebSession).where(WebSession.contact_id == contact_id)).all()
        assert {row.ended_at for row in ended} == {now}
        (logged,) = session.exec(select(StaffAction).where(StaffAction.action == "remove_member"))
        assert (logged.surface, logged.actor) == ("cli", "dòng lệnh")
        assert logged.detail == f"#{contact_id} Cán bộ sec (cán bộ tổng hợp, telegram)"
    assert "/web" in other.say("/help")  # the other member is untouched


def test_removing_twice_records_one_removal_and_unknown_ids_are_refused(database, clock, service):
    link(service, database, clock, "an")
    contact_id = contact_of(database, "an").id
    with database.write_transaction() as session:
        assert remove_member(session, contact_id, clock()) is not None
        assert remove_member(session, contact_id, clock()) is None
        assert remove_member(session, 9999, clock()) is None
    for bad, reason in ((contact_id, "đã được gỡ trước đó"), (9999, "không có cán bộ mã số 9999")):
        try:
            remove(database, clock, bad)
        except DomainError as error:
            assert reason in str(error)
        else:
            raise AssertionError("a bad id was accepted")
    with database.transaction() as session:
        logged = session.exec(select(StaffAction).where(StaffAction.action == "remove_member"))
        assert len(logged.all()) == 0  # members.remove was refused both times; nothing logged


def test_a_district_secretariat_cannot_manage_members_and_no_one_removes_themselves(
    service, database, clock
):
    link(service, database, clock, "sec", role="secretariat")
    link(service, database, clock, "an")
    with database.write_transaction() as session:
        district = session.get(Contact, contact_of(database, "sec").id)
        district.unit_id = unit_by_code(session, "HU-NP").id  # a district secretariat
        actor = contact_actor(district, "web")
        for attempt in (
            lambda: members.members(session, actor),
            lambda: members.remove(session, clock(), actor, contact_of(database, "an").id),
        ):
            try:
                attempt()
            except DomainError as error:
                assert str(error) == members.PROVINCE_ONLY
            else:
                raise AssertionError("a district secretariat managed members")
        district.unit_id = None
        try:
            members.remove(session, clock(), contact_actor(district, "web"), district.id)
        except DomainError as error:
            assert "không tự gỡ chính mình" in str(error)
        else:
            raise AssertionError("removed themselves")
    assert contact_of(database, "an").active


def test_members_list_and_remove_on_the_command_line(run, database_url, clock):  # noqa: F811

    assert run("members", "list")[1].startswith("Chưa có cán bộ nào liên kết.")
    database = open_database(database_url)
    try:
        service = Service(database, clock, CHANNEL_TRAITS, Desk())
        link(service, database, clock, "sec", role="secretariat")
        link(service, database, clock, "an", channel="zalo")
        sec, an = contact_of(database, "sec").id, contact_of(database, "an").id

        code, out, _ = run("members", "list", "--json")
        assert code == 0
        records = {record["id"]: record for record in json.loads(out)}
        assert records[sec] | {"last_seen_at": None} == {
            "id": sec,
            "name": "Cán bộ sec",
            "role": "secretariat",
            "scope": "province",
            "unit": None,
            "channel": "telegram",
            "last_seen_at": None,
            "active": True,
            "removed_at": None,
        }
        assert (records[an]["role"], records[an]["unit"], records[an]["scope"]) == (
            "officer",
            "HU-NP",
            None,
        )
        assert records[an]["channel"] == "zalo" and records[an]["last_seen_at"]

        code, out, _ = run("members", "list")
        assert code == 0
        assert f"#{an} Cán bộ an (cán bộ đầu mối, zalo), đơn vị HU-NP" in out
        assert "cấp tỉnh" in out and "đang hoạt động" in out
        assert "Tổng cộng 2 người" in out

        code, out, err = run("members", "remove", str(an))
        assert (code, err) == (0, "")
        assert out.startswith(f"Đã gỡ #{an} Cán bộ an (cán bộ đầu mối, zalo): kết thúc 0 phiên")
        assert "cần mã mời mới" in out
        assert json.loads(run("members", "list", "--json")[1])[1]["removed_at"]
        assert "đã gỡ" in run("members", "list")[1]

        code, out, err = run("members", "remove", str(an))
        assert (code, out) == (1, "")
        assert err == f"baocao: cán bộ mã số {an} đã được gỡ trước đó\n"
        code, _, err = run("members", "remove", "4242")
        assert (code, err) == (1, "baocao: không có cán bộ mã số 4242\n")
        for bad in ("abc", "-1", "0", "1.5", "9" * 20, "²", "9" * 5000):
            code, out, err = run("members", "remove", bad)
            assert code == 2 and out == "" and "cần mã số cán bộ" in err, bad
        code, _, err = run("members", "remove")
        assert code == 2 and "SỐ" in err
        with database.transaction() as session:
            assert session.get(Contact, sec).active  # nothing else changed
    finally:
        database.dispose()
