"""Fixtures for the web page: the real aiohttp application on a test server, a seeded campaign
(statuses set as the service sets them), secretariat members of the province and of a district,
and a browser-like client that signs in with a single-use link."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot import use_cases
from bot.use_cases import Desk
from bot.web.server import build_web_app
from bot.web.staff.routes import StaffWeb
from storage.models import Contact, Submission
from storage.repository import current_campaign, submission_for, unit_by_code

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
# Seeded statuses: HU-NP and DU-TRIHAI submitted, DU-PHUOCDAN in progress, HU-NH approved,
# TU-PRTC returned; the other 8 units have not started.
STATUSES = {
    "HU-NP": "submitted",
    "DU-TRIHAI": "submitted",
    "DU-PHUOCDAN": "in_progress",
    "HU-NH": "approved",
    "TU-PRTC": "returned",
}


def add_contact(database, clock, name, *, role="secretariat", unit=None, channel="telegram"):
    with database.transaction() as session:
        unit_id = unit_by_code(session, unit).id if unit else None
        contact = Contact(
            channel=channel,
            external_id=f"user-{name}",
            chat_id=f"chat-{name}",
            display_name=name,
            role=role,
            unit_id=unit_id,
            created_at=clock(),
        )
        session.add(contact)
        session.flush()
        return contact.id


def set_status(database, clock, code, status):
    with database.transaction() as session:
        submission = submission_for(session, current_campaign(session), unit_by_code(session, code))
        submission.status = status
        submission.last_activity_at = clock()
        if status in ("submitted", "approved"):
            submission.submitted_at = clock()
        session.add(submission)


def status_of(database, code) -> str:
    with database.transaction() as session:
        unit = unit_by_code(session, code)
        return session.exec(select(Submission.status).where(Submission.unit_id == unit.id)).one()


@pytest.fixture
def seeded(database, clock):
    for code, status in STATUSES.items():
        set_status(database, clock, code, status)
    return {
        "province": add_contact(database, clock, "Lan"),
        "district": add_contact(database, clock, "Hùng", unit="HU-NP"),
        "officer_np": add_contact(database, clock, "Anh", role="officer", unit="HU-NP"),
        "officer_nh": add_contact(database, clock, "Bình", role="officer", unit="HU-NH"),
    }


class Browser:
    """A test client with its own cookie jar, signed in or not."""

    def __init__(self, client: TestClient, staff: StaffWeb) -> None:
        self.client, self.staff = client, staff
        self.csrf = ""

    def link_for(self, contact_id: int) -> str:
        with self.staff.database.transaction() as session:
            contact = session.get(Contact, contact_id)
            link = use_cases.web_sign_in_link(
                session,
                self.staff.clock(),
                self.staff.desk,
                contact=contact,
                actor=use_cases.OPERATOR,
            )
        return link.split("/web/vao/")[1]

    async def sign_in(self, contact_id: int) -> None:
        token = self.link_for(contact_id)
        response = await self.client.post(f"/web/vao/{token}", allow_redirects=False)
        assert response.status == 303, await response.text()
        page = await self.get("/web/")
        assert page.status == 200

    async def get(self, path: str, **kwargs):
        response = await self.client.get(path, **kwargs)
        if response.content_type == "text/html":
            found = CSRF.search(await response.text())
            if found:
                self.csrf = found.group(1)
        return response

    async def post(self, path: str, data: dict | None = None, *, csrf: str | None = None):
        fields = {"csrf": self.csrf if csrf is None else csrf, **(data or {})}
        return await self.client.post(path, data=fields, allow_redirects=False)


@pytest.fixture
async def web(database, clock, tmp_path):
    staff = StaffWeb(
        database,
        clock,
        Desk(bot_usernames={"telegram": "baocao_test_bot"}, public_url="http://baocao.test"),
        session_valid_for=timedelta(hours=12),
        data_dir=tmp_path / "data",
    )
    server = TestServer(build_web_app(database, clock, staff))
    clients = []

    async def new_browser() -> Browser:
        client = TestClient(server)
        await client.start_server()
        # A browser names the page a form was posted from (the sign-in checks it).
        client.session.headers["Origin"] = str(server.make_url("")).rstrip("/")
        clients.append(client)
        return Browser(client, staff)

    yield new_browser
    for client in clients:
        await client.close()
