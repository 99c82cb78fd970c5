"""Tests for bot.service (and the secretariat commands it routes) on SQLite and PostgreSQL.

Messages go in as `Inbound` exactly as a channel would build them; what comes out is read back
from the outbox rows. Each test gets a fresh database seeded with the CT37 campaign and units.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

import bot.service as service_module
from bot.app import CHANNEL_TRAITS
from bot.messaging import Inbound, Outbound, RoleChange
from bot.secretariat import HELP_TEXT, UNKNOWN_COMMAND_TEXT
from bot.service import BAD_CODE_TEXT, STRANGER_TEXT, Service
from conversations.campaigns import BUNDLED_CAMPAIGN, load_campaign
from conversations.forms import BUNDLED_FORMS
from storage.models import (
    Answer,
    AnswerHistory,
    Campaign,
    Contact,
    ConversationState,
    Invite,
    OutboxMessage,
    ProcessedInbound,
    Submission,
    Unit,
)
from storage.repository import (
    create_invite,
    current_campaign,
    save_campaign,
    submission_for,
    unit_by_code,
)
from storage.signed_reports import store_signed_report
from storage.tokens import invite_code_hash

HU_NP = "Ban Thường vụ Huyện ủy Ninh Phước"
_ids = itertools.count(1)


class Chat:
    """One person writing to the bot on one channel."""

    def __init__(self, service: Service, user: str, channel: str = "telegram", name: str = ""):
        self.service = service
        self.user = user
        self.channel = channel
        self.name = name or f"Cán bộ {user}"
        self.last_id = ""

    def send(self, text: str | None = None, *, choice: str | None = None, context: str = ""):
        self.last_id = f"u{next(_ids)}"
        return self.resend(self.last_id, text, choice=choice, context=context)

    def resend(self, inbound_id: str, text=None, *, choice=None, context=""):
        inbound = Inbound(
            self.channel,
            chat_id=f"chat-{self.user}",
            user_id=self.user,
            inbound_id=inbound_id,
            text=text,
            choice=choice,
            context=context,
            display_name=self.name,
        )
        rows = self.service.handle(inbound)
        return [Outbound.from_payload(row.payload) for row in rows]

    def say(self, text: str | None = None, **kwargs) -> str:
        """Send and return every reply's text, joined."""
        return "\n\n".join(reply.text for reply in self.send(text, **kwargs))


def count(database, model, *where) -> int:
    with database.transaction() as session:
        query = select(func.count()).select_from(model)
        for condition in where:
            query = query.where(condition)
        return session.exec(query).one()


def invite_row(session, code: str) -> Invite:
    return session.exec(select(Invite).where(Invite.code_hash == invite_code_hash(code))).one()


def new_invite(database, clock, unit_code: str | None = "HU-NP", role: str = "officer", **kw):
    with database.transaction() as session:
        unit = unit_by_code(session, unit_code) if unit_code else None
        invite = create_invite(
            session, role=role, unit=unit, now=clock(), valid_for=kw.get("valid", timedelta(30))
        )
        if "code" in kw:
            row = session.get(Invite, invite.id)
            row.code_hash = invite_code_hash(kw["code"])
            session.add(row)
            return kw["code"]
        return invite.code


def link(service, database, clock, user, unit_code="HU-NP", channel="telegram", role="officer"):
    chat = Chat(service, user, channel)
    code = new_invite(database, clock, unit_code if role == "officer" else None, role)
    chat.send(f"/start {code}")
    chat.send("có")
    return chat


def stored_answers(database, unit_code="HU-NP") -> dict:
    with database.transaction() as session:
        unit = unit_by_code(session, unit_code)
        rows = session.exec(
            select(Answer)
            .join(Submission, Submission.id == Answer.submission_id)
            .where(Submission.unit_id == unit.id)
        ).all()
        return {row.question_key: (row.value, row.not_applicable) for row in rows}


def submission_status(database, unit_code="HU-NP") -> str:
    with database.transaction() as session:
        unit = unit_by_code(session, unit_code)
        return submission_for(session, current_campaign(session), unit).status


# --- strangers and invites ----------------------------------------------------------------------


def test_a_stranger_gets_the_generic_text_and_nothing_is_stored(service, database):
    texts = ["xin chào", "/start", "12", "", "/status", "có", "/export", "Xong"]
    stranger = Chat(service, "999")
    for text in texts:
        assert [r.text for r in stranger.send(text)] == [STRANGER_TEXT], text
    assert [r.text for r in stranger.send(choice="link_yes", context="link")] == [STRANGER_TEXT]
    assert count(database, Contact) == 0
    assert count(database, Answer) == 0
    assert count(database, Submission) == 0
    # The replies themselves go through the outbox, addressed to the chat.
    with database.transaction() as session:
        rows = session.exec(select(OutboxMessage)).all()
        assert len(rows) == len(texts) + 1
        assert {(row.chat_id, row.contact_id, row.channel) for row in rows} == {
            ("chat-999", None, "telegram")
        }


def test_wrong_used_and_expired_codes_store_nothing(service, database, clock):
    used = new_invite(database, clock)
    link_chat = Chat(service, "first")
    link_chat.send(f"/start {used}")
    link_chat.send("có")
    expired = new_invite(database, clock, valid=timedelta(hours=1))
    clock.advance(hours=2)
    contacts = count(database, Contact)
    texts = ["/start ZZZZ2345", f"/start {used}", f"/start {expired}", "ZZZZ2345", used]
    for number, text in enumerate(texts):  # one chat each: five misses in one start a cool-down
        stranger = Chat(service, f"99{number}", "zalo")
        assert [r.text for r in stranger.send(text)] == [BAD_CODE_TEXT], text
    assert count(database, Contact) == contacts
    assert count(database, Contact, Contact.external_id.startswith("99")) == 0
    assert count(database, Invite, Invite.used_at.is_not(None)) == 1


def test_a_valid_code_names_the_unit_and_asks_to_confirm(service, database, clock):
    code = new_invite(database, clock)
    (reply,) = Chat(service, "100").send(f"/start {code}")
    assert f"cán bộ đầu mối của {HU_NP}" in reply.text
    assert [c.id for c in reply.choices] == ["link_yes", "link_no"]
    assert reply.context == "link"
    with database.transaction() as session:
        contact = session.exec(select(Contact)).one()
        invite = session.exec(select(Invite)).one()
        assert contact.unit_id is None
        assert contact.pending_invite_id == invite.id
        assert invite.used_at is None


CONFIRMATIONS = [
    {"text": "có"},
    {"text": "co"},
    {"text": "1"},
    {"choice": "link_yes", "context": "link"},
]


def test_confirming_links_the_contact_and_starts_the_form(service, database, clock):
    for number, confirm in enumerate(CONFIRMATIONS):
        code = new_invite(database, clock)
        chat = Chat(service, f"user-{number}")
        chat.send(f"/start {code}")
        replies = chat.send(**confirm)
        assert replies[0].text == f"Đã liên kết với {HU_NP}.", confirm
        assert "Nút này thuộc một câu hỏi cũ" not in replies[1].text, confirm
        assert "Câu 1/18 — Mục 1" in replies[1].text
        assert replies[1].context == "q:docs_party"
        with database.transaction() as session:
            contact = session.exec(select(Contact).where(Contact.external_id == chat.user)).one()
            invite = session.exec(
                select(Invite).where(Invite.code_hash == invite_code_hash(code))
            ).one()
            assert contact.unit_id == unit_by_code(session, "HU-NP").id
            assert (contact.role, contact.pending_invite_id) == ("officer", None)
            assert (invite.used_at, invite.used_by) == (clock(), contact.id)
    assert stored_answers(database) == {}


def test_declining_keeps_the_invite_unused(service, database, clock):
    for number, cancel in enumerate([{"text": "không"}, {"choice": "link_no", "context": "link"}]):
        code = new_invite(database, clock)
        chat = Chat(service, f"user-{number}")
        chat.send(f"/start {code}")
        assert chat.say(**cancel) == "Đã hủy. Mã mời chưa được dùng."
        assert chat.say("có") == STRANGER_TEXT
        with database.transaction() as session:
            assert (
                session.exec(select(Invite).where(Invite.code_hash == invite_code_hash(code)))
                .one()
                .used_at
                is None
            )
            contact = session.exec(select(Contact).where(Contact.external_id == chat.user)).one()
            assert (contact.unit_id, contact.pending_invite_id) == (None, None)
        # The right person can still use it.
        other = Chat(service, f"other-{number}")
        other.send(f"/start {code}")
        assert other.say("có").startswith(f"Đã liên kết với {HU_NP}.")


def test_a_zalo_style_bare_code(service, database, clock):
    new_invite(database, clock, code="ABCD2345")
    chat = Chat(service, "zalo-user", "zalo")
    assert HU_NP in chat.say("abcd2345")
    assert chat.say("1").startswith(f"Đã liên kết với {HU_NP}.")


def test_an_invite_used_meanwhile_is_refused_at_confirmation(service, database, clock):
    code = new_invite(database, clock)
    first, second = Chat(service, "1"), Chat(service, "2")
    first.send(f"/start {code}")
    second.send(f"/start {code}")
    first.send("có")
    assert second.say("có") == BAD_CODE_TEXT
    with database.transaction() as session:
        assert session.exec(select(Contact).where(Contact.external_id == "2")).one().unit_id is None


def test_a_secretariat_invite(service, database, clock):
    chat = Chat(service, "sec")
    code = new_invite(database, clock, None, "secretariat")
    assert "cán bộ tổng hợp của Ban Dân vận Tỉnh ủy" in chat.say(f"/start {code}")
    assert chat.say("có") == "Đã liên kết. " + HELP_TEXT
    with database.transaction() as session:
        contact = session.exec(select(Contact)).one()
        assert (contact.role, contact.unit_id) == ("secretariat", None)


# --- officers ---------------------------------------------------------------------------------


def test_two_contacts_of_a_unit_share_the_submission_and_history_says_who(service, database, clock):
    anh = link(service, database, clock, "anh")
    anh.send("Xong")  # question 1: no documents
    anh.send("kad")  # question 2
    binh = link(service, database, clock, "binh", channel="zalo")
    assert "Câu 3/18" in binh.say("/tiep")  # Bình starts where the unit is
    binh.send("4")
    clock.advance(minutes=10)
    anh.send("câu 3")
    anh.send("5")
    assert stored_answers(database) == {
        "docs_party": ({"items": []}, False),
        "docs_state": (None, True),
        "inspection_teams": ({"value": 5}, False),
    }
    with database.transaction() as session:
        assert session.exec(select(func.count()).select_from(Submission)).one() == 1
        ids = {c.external_id: c.id for c in session.exec(select(Contact))}
        history = session.exec(
            select(AnswerHistory)
            .where(AnswerHistory.question_key == "inspection_teams")
            .order_by(AnswerHistory.id)
        ).all()
        assert [
            (h.contact_id, h.channel, h.old_value, h.new_value, h.raw_text) for h in history
        ] == [
            (ids["binh"], "zalo", None, {"value": 4}, "4"),
            (ids["anh"], "telegram", {"value": 4}, {"value": 5}, "5"),
        ]
        assert history[1].at == clock()
        answer = session.exec(select(Answer).where(Answer.question_key == "inspection_teams")).one()
        assert (answer.updated_by, answer.channel) == (ids["anh"], "telegram")
    assert submission_status(database) == "in_progress"


def test_replaying_an_inbound_changes_nothing(service, database, clock):
    chat = link(service, database, clock, "anh")
    chat.send("Xong")
    assert chat.send("kad")
    before = (
        count(database, Answer),
        count(database, AnswerHistory),
        count(database, OutboxMessage),
    )
    with database.transaction() as session:
        state = session.exec(select(ConversationState)).one().state
    assert chat.resend(chat.last_id, "kad") == []
    assert chat.resend(chat.last_id, "7") == []
    after = (
        count(database, Answer),
        count(database, AnswerHistory),
        count(database, OutboxMessage),
    )
    assert after == before
    with database.transaction() as session:
        assert session.exec(select(ConversationState)).one().state == state
    assert stored_answers(database)["docs_state"] == (None, True)
    # The delivery was recorded once.
    assert count(database, ProcessedInbound, ProcessedInbound.inbound_id == chat.last_id) == 1


def test_a_restart_resumes_at_the_same_question(service, database, clock):
    chat = link(service, database, clock, "anh")
    chat.send("Xong")
    chat.send("kad")
    chat.send("3")
    restarted = Service(database, clock, CHANNEL_TRAITS)
    again = Chat(restarted, "anh")
    assert "Câu 4/18 — Mục 2" in again.say("/tiep")
    again.send("6")
    assert stored_answers(database)["inspected_units"] == ({"value": 6}, False)


def test_a_contact_on_another_channel_starts_where_the_unit_was(service, database, clock):
    telegram = link(service, database, clock, "anh")
    telegram.send("câu 7")
    telegram.send("tạm dừng")
    zalo = link(service, database, clock, "anh-zalo", channel="zalo")
    # Linking shows the unit's current question, not question 1.
    with database.transaction() as session:
        states = session.exec(select(ConversationState)).all()
        assert {s.state["cursor"] for s in states} == {"satisfaction_pct"}
    assert "Câu 7/18" in zalo.say("/tiep")
    zalo.send("90%")
    assert stored_answers(database)["satisfaction_pct"] == ({"value": 90.0}, False)


def test_a_contact_linked_to_another_unit_continues_that_unit(service, database, clock):
    chat = link(service, database, clock, "anh")
    chat.send("câu 7")
    chat.send("bỏ qua")
    code = new_invite(database, clock, "DU-TRIHAI")
    assert "Đảng ủy xã Tri Hải" in chat.say(f"/start {code}")
    replies = chat.say("có")
    assert replies.startswith("Đã liên kết với Đảng ủy xã Tri Hải.")
    assert "Câu 1/14 — Mục 1" in replies  # the commune's form, from its start
    chat.send("Xong")
    assert stored_answers(database, "DU-TRIHAI") == {"docs_party": ({"items": []}, False)}
    assert "(đã bỏ qua" not in chat.say("xem")  # nothing skipped in the commune's form
    with database.transaction() as session:
        state = session.exec(select(ConversationState)).one()
        tri_hai = submission_for(
            session, current_campaign(session), unit_by_code(session, "DU-TRIHAI")
        )
        assert state.submission_id == tri_hai.id


def test_officer_status_command(service, database, clock):
    chat = link(service, database, clock, "anh")
    chat.send("Xong")
    text = chat.say("/status")
    assert text.startswith(f"{HU_NP}: đang điền, đã trả lời 1/18 câu.")
    assert "(còn 14 ngày)" in text


def test_officer_secretariat_commands_are_unknown_commands(service, database, clock):
    chat = link(service, database, clock, "anh")
    chat.send("Xong")
    state_before = stored_answers(database)
    unknown = chat.send("/foo")
    assert [r.text for r in unknown] == [UNKNOWN_COMMAND_TEXT]
    for command in ["/export", "/export HU-NP", "/invite HU-NH", "/tralai HU-NP x", "/remind"]:
        assert chat.send(command) == unknown, command
    assert stored_answers(database) == state_before
    assert count(database, Invite) == 1  # only the one used to link


def test_officer_commands_of_the_engine_reach_the_engine(service, database, clock):
    chat = link(service, database, clock, "anh")
    chat.send("Xong")
    expected = {
        "/boqua": "Câu 3/18",
        "/quaylai": "Câu 2/18",
        "/kad": "Đã ghi câu 2: Không áp dụng.",
        "/tamdung": "Đã lưu mọi câu trả lời",
        "/tiep": "Câu 3/18",
        "/xem": "XEM LẠI",
        "/cau 5": "Câu 5/18",
        "/cau7": "Câu 7/18",
        "/sua3": "Câu 3/18",
        "/huongdan": "HƯỚNG DẪN",
    }
    for command, text in expected.items():
        reply = chat.say(command)
        assert text in reply, (command, reply)
    assert stored_answers(database)["docs_state"] == (None, True)


def test_every_reply_of_a_message_is_in_its_transaction(service, database, clock, monkeypatch):
    chat = link(service, database, clock, "anh")
    chat.send("Xong")
    before = (count(database, Answer), count(database, OutboxMessage))
    real_enqueue = service_module.enqueue
    calls = []

    def failing_enqueue(session, **kwargs):
        calls.append(kwargs)
        if len(calls) <= 2:
            return real_enqueue(session, **kwargs)
        raise RuntimeError("the disk is full")

    # Call 1: the reply to «/start CODE». Calls 2 and 3: «có» has two replies (linked, question 1);
    # the second fails after the first was written in the same transaction.
    monkeypatch.setattr(service_module, "enqueue", failing_enqueue)
    other = Chat(service, "binh")
    code = new_invite(database, clock)
    other.send(f"/start {code}")
    with pytest.raises(RuntimeError):
        other.send("có")
    assert len(calls) == 3
    assert calls[1]["payload"]["text"] == f"Đã liên kết với {HU_NP}."
    assert (count(database, Answer), count(database, OutboxMessage)) == (before[0], before[1] + 1)
    with database.transaction() as session:
        contact = session.exec(select(Contact).where(Contact.external_id == "binh")).one()
        assert contact.unit_id is None  # the link was rolled back with the outbox rows
        assert (
            session.exec(select(Invite).where(Invite.code_hash == invite_code_hash(code)))
            .one()
            .used_at
            is None
        )
        assert not session.exec(
            select(ProcessedInbound).where(ProcessedInbound.inbound_id == other.last_id)
        ).first()
    # Delivered again (the channel retries), the message is handled in full.
    monkeypatch.setattr(service_module, "enqueue", real_enqueue)
    replies = other.resend(other.last_id, "có")
    assert replies[0].text == f"Đã liên kết với {HU_NP}."
    assert len(replies) == 2


# --- secretariat ------------------------------------------------------------------------------


def test_secretariat_status_lists_counts_and_unsubmitted_units_by_group(service, database, clock):
    secretary = link(service, database, clock, "sec", role="secretariat")
    officer = link(service, database, clock, "anh")
    for _ in range(3):
        officer.send("kad")
    commune = link(service, database, clock, "xa", unit_code="DU-TRIHAI")
    commune.send("nộp")
    commune.send("có")
    text = secretary.say("/status")
    lines = text.splitlines()
    assert lines[0].startswith("Kiểm tra việc thực hiện Chỉ thị 37-CT/TU")
    assert lines[1] == "Hạn nộp: trước ngày 05/7/2022 (còn 14 ngày)"
    assert lines[2] == "Đã nộp 1/13 · đang điền 1 · chưa bắt đầu 11"
    assert "Chưa nộp:" in lines
    direct = lines.index("■ Kiểm tra trực tiếp")
    self_check = lines.index("■ Tự kiểm tra")
    assert direct < self_check
    assert f" • {HU_NP} (HU-NP): đang điền 3/18 câu" in lines[direct:self_check]
    assert "   ↳ Đảng ủy thị trấn Phước Dân (DU-PHUOCDAN): chưa bắt đầu" in lines
    assert lines.index("   ↳ Đảng ủy thị trấn Phước Dân (DU-PHUOCDAN): chưa bắt đầu") == (
        lines.index(f" • {HU_NP} (HU-NP): đang điền 3/18 câu") + 1
    )
    assert "DU-TRIHAI" not in text.split("\n\nBáo cáo có chữ ký")[0]  # submitted: not in the list
    assert " • Ban Thường vụ Huyện ủy Bác Ái (mẫu) (HU-BACAI): chưa bắt đầu" in lines[self_check:]
    clock.advance(days=14, hours=16)  # 2022-07-05 00:00 in Vietnam
    assert "(đã quá hạn 1 ngày)" in secretary.say("/status")


def test_secretariat_help_and_unknown(service, database, clock):
    secretary = link(service, database, clock, "sec", role="secretariat")
    assert secretary.say("/help") == HELP_TEXT
    assert secretary.say("xin chào") == HELP_TEXT
    assert secretary.say("/foo") == UNKNOWN_COMMAND_TEXT


def test_secretariat_invite_command(service, database, clock):
    secretary = link(service, database, clock, "sec", role="secretariat")
    text = secretary.say("/invite hu-nh")
    with database.transaction() as session:
        invite = session.exec(select(Invite).where(Invite.used_at.is_(None))).one()
        assert invite.unit_id == unit_by_code(session, "HU-NH").id
        assert invite.role == "officer"
        assert invite.expires_at == clock() + timedelta(days=30)
    prefix = "Mã mời cho Ban Thường vụ Huyện ủy Ninh Hải: "
    assert text.startswith(prefix)
    code = text[len(prefix) :].split()[0]
    assert invite.code_hash == invite_code_hash(code)
    assert f"https://t.me/baocao_test_bot?start={code}" in text
    assert secretary.say("/invite").startswith("Cần mã đơn vị")
    assert secretary.say("/invite XX") == "Không thực hiện được: không có đơn vị mã 'XX'."
    # The new code works.
    officer = Chat(service, "new")
    officer.send(f"/start {code}")
    assert officer.say("có").startswith("Đã liên kết với Ban Thường vụ Huyện ủy Ninh Hải.")


def test_returned_report_can_be_edited_and_resubmitted(service, database, clock):
    secretary = link(service, database, clock, "sec", role="secretariat")
    officer = link(service, database, clock, "anh")
    officer.send("Xong")
    officer.send("kad")
    officer.send("3")
    officer.send("nộp")
    assert "Đã nộp báo cáo" in officer.say("có")
    assert submission_status(database) == "submitted"
    assert "không sửa được nữa" in officer.say("câu 3")
    outbox_before = count(database, OutboxMessage)
    clock.advance(hours=1)
    reply = secretary.say("/tralai HU-NP Thiếu số liệu mục 4")
    assert reply == f"Đã trả lại báo cáo của {HU_NP}; các cán bộ đầu mối đã được báo."
    assert submission_status(database) == "returned"
    with database.transaction() as session:
        (latest,) = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "notice"))
        assert latest.status == "pending"
        assert latest.chat_id == "chat-anh"
        assert "để chỉnh sửa.\nLý do: Thiếu số liệu mục 4\n" in latest.payload["text"]
        submission = session.exec(select(Submission)).one()
        assert (submission.return_reason, submission.returned_at) == (
            "Thiếu số liệu mục 4",
            clock(),
        )
    assert count(database, OutboxMessage) == outbox_before + 2  # the notice and the reply
    assert secretary.say("/tralai HU-NP lần nữa").startswith(
        "Không thực hiện được: báo cáo chưa nộp"
    )
    # The officer edits and submits again.
    review = officer.say("xem")
    assert "Muốn sửa câu nào" in review
    officer.send("3")
    assert "XEM LẠI" in officer.say("7")
    assert stored_answers(database)["inspection_teams"] == ({"value": 7}, False)
    officer.send("nộp")
    assert "Đã nộp báo cáo" in officer.say("có")
    assert submission_status(database) == "submitted"
    with database.transaction() as session:
        submission = session.exec(select(Submission)).one()
        assert submission.submitted_at == clock()


def test_return_of_an_unsubmitted_report_is_refused(service, database, clock):
    secretary = link(service, database, clock, "sec", role="secretariat")
    assert secretary.say("/tralai HU-NP lý do").startswith(
        "Không thực hiện được: báo cáo chưa nộp nên không cần trả lại"
    )
    assert secretary.say("/tralai").startswith("Cần mã đơn vị")
    assert submission_status(database) == "not_started"


def _load_campaign_for(database, clock, tmp_path, code: str, deadline: str, units: list[str]):
    """A second campaign file (the bundled one with another code, deadline and participants)."""
    text = BUNDLED_CAMPAIGN.read_text(encoding="utf-8")
    text = text.replace("code: ct37-2022", f"code: {code}")
    text = text.replace('deadline: "2022-07-05T00:00:00+07:00"', f'deadline: "{deadline}"')
    text = text.replace("form: ct37_phuluc.yaml", f"form: {BUNDLED_FORMS / 'ct37_phuluc.yaml'}")
    text = text.replace(
        "participants:\n  groups: [kiem_tra_truc_tiep, tu_kiem_tra]",
        f"participants:\n  units: [{', '.join(units)}]",
    )
    path = tmp_path / f"{code}.yaml"
    path.write_text(text, encoding="utf-8")
    clock.advance(seconds=1)
    with database.transaction() as session:
        save_campaign(session, load_campaign(path), clock())


def test_an_officer_fills_the_latest_campaign_their_unit_takes_part_in(
    service, database, clock, tmp_path
):
    # A later campaign only for HU-NH: HU-NP keeps filling CT37 as before (one campaign, nothing
    # asked); HU-NH takes part in both, is asked which, and picks the new one by its number.
    _load_campaign_for(
        database, clock, tmp_path, "ct37-2023", "2023-07-05T00:00:00+07:00", ["HU-NH"]
    )
    ninh_phuoc = link(service, database, clock, "np", "HU-NP")
    ninh_hai = link(service, database, clock, "nh", "HU-NH")
    ninh_phuoc.send("/cau 3")
    assert "[Đợt:" not in ninh_phuoc.say("7")
    asked = ninh_hai.send("/cau 3")
    assert [choice.id for choice in asked[-1].choices] == ["ct37-2023", "ct37-2022"]
    assert ninh_hai.say("1").startswith("[Đợt: Kiểm tra việc thực hiện Chỉ thị 37-CT/TU]")
    ninh_hai.send("/cau 3")
    ninh_hai.send("9")
    with database.transaction() as session:
        rows = session.exec(
            select(Campaign.code, Unit.code, Answer.value)
            .join(Submission, Submission.id == Answer.submission_id)
            .join(Campaign, Campaign.id == Submission.campaign_id)
            .join(Unit, Unit.id == Submission.unit_id)
            .where(Answer.question_key == "inspection_teams")
        ).all()
    assert sorted(rows) == [
        ("ct37-2022", "HU-NP", {"value": 7}),
        ("ct37-2023", "HU-NH", {"value": 9}),
    ]


def test_a_unit_in_no_campaign_is_told_so_and_nothing_is_stored(service, database, clock, tmp_path):
    _load_campaign_for(database, clock, tmp_path, "only-nh", "2030-01-01T00:00:00+07:00", ["HU-NH"])
    with database.transaction() as session:
        bundled = session.exec(select(Campaign).where(Campaign.code == "ct37-2022")).one()
        bundled.spec_yaml = bundled.spec_yaml.replace(
            "groups: [kiem_tra_truc_tiep, tu_kiem_tra]", "units: [HU-NH]"
        )
        bundled.updated_at = clock.advance(seconds=1)
        session.add(bundled)
    chat = link(service, database, clock, "np", "HU-NP")
    assert "không có đợt báo cáo nào cần điền" in chat.say("5")
    assert count(database, Answer) == 0


def test_an_approved_report_is_locked_and_its_officers_told(service, database, clock):
    secretary = link(service, database, clock, "sec", role="secretariat")
    officer = link(service, database, clock, "anh")
    assert secretary.say("/duyet HU-NP").startswith(
        "Không thực hiện được: báo cáo chưa nộp nên chưa duyệt được"
    )
    assert secretary.say("/duyet").startswith("Cần mã đơn vị")
    officer.send("nộp")
    assert "Đã nộp báo cáo" in officer.say("có")
    notices_before = count(database, OutboxMessage)
    assert secretary.say("/duyet hu-np") == (
        f"Đã duyệt báo cáo của {HU_NP}; các cán bộ đầu mối đã được báo."
    )
    assert submission_status(database) == "approved"
    with database.transaction() as session:
        (notice,) = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "notice"))
        assert (notice.chat_id, notice.status) == ("chat-anh", "pending")
        assert "đã được Ban Dân vận Tỉnh ủy duyệt" in notice.payload["text"]
    assert count(database, OutboxMessage) == notices_before + 2  # the notice and the reply
    assert "không sửa được nữa" in officer.say("câu 3")
    assert secretary.say("/duyet HU-NP") == (
        "Không thực hiện được: báo cáo này đã được duyệt rồi — Báo cáo đã được Cán bộ sec duyệt"
        " lúc 08:00 ngày 20/6/2022.\nGõ /status để xem tình trạng hiện nay."
    )
    # A return opens an approved report again.
    assert secretary.say("/tralai HU-NP Sửa mục 4").startswith("Đã trả lại báo cáo")
    assert submission_status(database) == "returned"


def test_a_link_is_reported_as_a_role_change_once_committed(service, database, clock):
    changes: list[RoleChange] = []
    service.on_role_change = changes.append
    chat = Chat(service, "sec")
    chat.send(f"/start {new_invite(database, clock, None, 'secretariat')}")
    assert changes == []  # only offered, not linked yet
    chat.send("có")
    assert changes == [RoleChange("telegram", "sec", "chat-sec", "secretariat")]
    link(service, database, clock, "anh")
    assert changes[-1] == RoleChange("telegram", "anh", "chat-anh", "officer")


def test_control_characters_from_a_chat_never_reach_the_database(service, database, clock):
    """A NUL in a Telegram name made PostgreSQL refuse the update; a form feed split one typed
    line in two. Both are cleaned where messages enter, on every database."""
    chat = Chat(service, "nul-user", name="Nguyễn\x00 Văn\x0bA")
    code = new_invite(database, clock)
    chat.send(f"/start\x00 {code}")
    assert "Đã liên kết" in chat.say("có")
    chat.say("Công văn 245-CV/HU\x0cngày 30/6/2021 về dân vận\x00")
    with database.transaction() as session:
        contact = session.exec(select(Contact).where(Contact.external_id == "nul-user")).one()
        assert contact.display_name == "Nguyễn Văn A"
        (raw,) = session.exec(select(Answer.raw_text)).all()
    assert raw == "Công văn 245-CV/HU ngày 30/6/2021 về dân vận"


def test_secretariat_status_says_which_submitted_units_sent_their_signed_report(
    service, database, clock, tmp_path
):
    secretary = link(service, database, clock, "sec", role="secretariat")
    assert "Báo cáo có chữ ký" not in secretary.say("/status")  # nobody has submitted yet
    for user, unit in (("np", "HU-NP"), ("nh", "HU-NH")):
        officer = link(service, database, clock, user, unit)
        officer.send("nộp")
        assert "Đã nộp báo cáo" in officer.say("có")
    assert "Báo cáo có chữ ký: 0/2 đơn vị đã nộp số liệu đã gửi; chưa gửi: HU-NH, HU-NP." in (
        secretary.say("/status")
    )
    with database.transaction() as session:
        submission = submission_for(
            session, current_campaign(session), unit_by_code(session, "HU-NP")
        )
        store_signed_report(
            session, tmp_path, submission_id=submission.id, file_name="Bao cao.pdf",
            content_type="application/pdf", data=b"%PDF-1.7 signed", contact_id=None,
            channel="telegram", now=clock(),
        )  # fmt: skip
    assert "Báo cáo có chữ ký: 1/2 đơn vị đã nộp số liệu đã gửi; chưa gửi: HU-NH." in (
        secretary.say("/status")
    )
