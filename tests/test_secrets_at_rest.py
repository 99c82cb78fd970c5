"""No live secret at rest (issue #19), on SQLite and PostgreSQL: once the outbox has delivered a
message, its stored row no longer holds the sign-in link, the upload link, the download link or
the invite code it carried; invite codes are kept only as hashes, and migration 0010 hashes the
plain codes an older database holds (they keep working)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlalchemy import create_engine, text
from sqlmodel import select

from bot.app import CHANNEL_TRAITS
from bot.messaging import REDACTED, Outbound
from bot.outbox import Outbox, Pacer
from bot.service import Service
from bot.signed_intake import Uploads
from bot.use_cases import Desk
from conversations.uploads import UploadLimits
from storage.database import normalize_url, open_database
from storage.hot_path import usable_invite
from storage.models import Invite, OutboxMessage
from storage.repository import create_invite, unit_by_code
from storage.tokens import invite_code_hash
from tests.fakes.virtual_time import VirtualTime
from tests.storage.test_answer_note import migrate
from tests.test_service import Chat, link

LINK = re.compile(r"http://bot\.test/\S+/([A-Za-z0-9_-]{20,})")
CODE = re.compile(r"Mã mời cho [^:]+: ([A-Z0-9]{8})")


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, chat_id: str, outbound: Outbound) -> None:
        self.sent.append(outbound.text)


def stored_payloads(database) -> list[tuple[str, str]]:
    with database.transaction() as session:
        rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        return [(row.status, json.dumps(row.payload, ensure_ascii=False)) for row in rows]


async def test_delivered_rows_keep_no_link_and_no_invite_code(database, clock, tmp_path):
    uploads = Uploads(tmp_path / "data", UploadLimits(max_bytes=8 * 1024))
    service = Service(
        database, clock, CHANNEL_TRAITS, Desk(public_url="http://bot.test"), uploads=uploads
    )
    secretary = link(service, database, clock, "sec", channel="zalo", role="secretariat")
    officer = link(service, database, clock, "zu", channel="zalo")
    web = secretary.say("/web")  # sign-in link
    export = secretary.say("/export HU-NP")  # Zalo cannot carry files: a download link
    card = secretary.say("/invite HU-NH")  # invite code and t.me link
    upload = officer.say("gửi báo cáo")  # the single-use upload link
    tokens = [LINK.search(reply).group(1) for reply in (web, export, upload)]
    code = CODE.search(card).group(1)
    secrets = [*tokens, code]
    assert any(secret in payload for secret in secrets for _, payload in stored_payloads(database))

    sender = RecordingSender()
    virtual = VirtualTime()
    outbox = Outbox(
        database,
        {"zalo": sender, "telegram": sender},
        Pacer(25, 0.0),
        clock,
        monotonic=virtual.monotonic,
        sleep=virtual.sleep,
    )
    with database.transaction() as session:
        outbox.submit(list(session.exec(select(OutboxMessage))))
    await outbox.drain(timeout=5)

    delivered = "\n".join(sender.sent)
    assert all(secret in delivered for secret in secrets)  # the people got the live links
    payloads = stored_payloads(database)
    assert {status for status, _ in payloads} == {"sent"}
    for _, payload in payloads:
        for secret in secrets:
            assert secret not in payload
        assert '"secrets"' not in payload
    redacted = [payload for _, payload in payloads if REDACTED in payload]
    assert len(redacted) == 4
    assert any("Mở trang web của Ban Dân vận: [đã ẩn sau khi gửi]" in p for p in redacted)


def test_a_message_without_secrets_is_stored_as_it_was_sent():
    assert "secrets" not in Outbound("Tổng quan: 3/13 đơn vị đã nộp.").to_payload()
    message = Outbound("Liên kết: http://x/abc, mã ABCD2345", secrets=("http://x/abc", "ABCD2345"))
    assert message.redacted().text == f"Liên kết: {REDACTED}, mã {REDACTED}"
    assert Outbound.from_payload(message.to_payload()) == message


def test_the_invite_table_holds_no_plain_code(service, database, clock):
    codes = []
    with database.transaction() as session:
        for role, unit in (("officer", "HU-NP"), ("secretariat", None), ("secretariat", "HU-NH")):
            unit_row = unit_by_code(session, unit) if unit else None
            invite = create_invite(
                session, role=role, unit=unit_row, now=clock(), valid_for=timedelta(days=30)
            )
            codes.append(invite.code)
    chat = Chat(service, "new")
    chat.send(f"/start {codes[0].lower()}")
    assert chat.say("có").startswith("Đã liên kết với Ban Thường vụ Huyện ủy Ninh Phước.")
    with database.transaction() as session:
        rows = session.exec(select(Invite)).all()
        dumped = json.dumps([row.model_dump(mode="json") for row in rows])
        assert {row.code_hash for row in rows} == {invite_code_hash(code) for code in codes}
    for code in codes:
        assert code not in dumped and code.lower() not in dumped


def test_migration_0010_hashes_the_plain_codes_of_an_older_database(database, database_url, clock):
    database.dispose()
    migrate(database_url, "0009", down=True)
    engine = create_engine(normalize_url(database_url))
    now = clock().replace(tzinfo=None).isoformat(" ")
    later = (clock() + timedelta(days=30)).replace(tzinfo=None).isoformat(" ")
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO invite (code, role, unit_id, created_at, expires_at) "
                    "VALUES ('PLAIN234', 'secretariat', NULL, :now, :later)"
                ),
                {"now": now, "later": later},
            )
    finally:
        engine.dispose()
    migrate(database_url, "head")
    upgraded = open_database(database_url)
    try:
        with upgraded.transaction() as session:
            (row,) = session.exec(select(Invite)).all()
            assert row.code_hash == invite_code_hash("PLAIN234")
            assert usable_invite(session, "plain-234", clock()).role == "secretariat"
    finally:
        upgraded.dispose()
