"""A removed secretariat member writes to the bot through the fake Telegram Bot API server
(`baocao run` as deployed): they are a stranger from then on and stay removed; the sign-in link
they got before is delivered, then hidden in the outbox row, and dead."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlmodel import select

from bot import members
from bot.service import STRANGER_TEXT
from bot.use_cases import OPERATOR, open_web_session
from storage.models import Contact, OutboxMessage
from tests.channels.test_telegram_e2e import SECRETARY, Person, deployment, link, tg  # noqa: F401

SIGN_IN = re.compile(r"/web/vao/([A-Za-z0-9_-]+)")


async def test_a_removed_member_writing_on_telegram_stays_removed(deployment, tg, clock):  # noqa: F811
    await deployment.start()
    secretary = Person(tg, SECRETARY, "Trần Thị Lan")
    await link(secretary, deployment.invite(role="secretariat", unit_code=None), deployment)
    (reply,) = await secretary.say("/web")
    token = SIGN_IN.search(reply.text).group(1)
    await deployment.settle()
    payloads = deployment.query(
        lambda s: [json.dumps(r.payload) for r in s.exec(select(OutboxMessage))]
    )
    assert not any(token in payload for payload in payloads)  # delivered, then hidden

    contact_id = deployment.query(
        lambda s: s.exec(select(Contact).where(Contact.external_id == str(SECRETARY))).one().id
    )
    with deployment.app.database.write_transaction() as session:
        members.remove(session, clock(), OPERATOR, contact_id)

    for text in ("/web", "/status", "/help", "xin chào"):
        clock.advance(hours=1)
        (reply,) = await secretary.say(text)
        assert reply.text == STRANGER_TEXT, text
    contact = deployment.query(lambda s: s.get(Contact, contact_id))
    assert (contact.active, contact.removed_at is not None) == (False, True)
    with deployment.app.database.write_transaction() as session:
        assert open_web_session(session, clock(), token, timedelta(hours=12)) is None
