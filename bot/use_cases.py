"""The secretariat's and the operator's actions, written once: status, invite, return, approve,
remind and export. Chat commands (`bot.secretariat`), the command line (`bot.cli`) and, later,
the web page call these; each takes the session of the caller's transaction, the moment, and
what else it needs, and raises `StorageError` with a Vietnamese reason for a refused action.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import event
from sqlmodel import Session, select

from bot.messaging import Outbound
from bot.reminders import load_audience, remind_now
from bot.status import status_text, undelivered_line
from conversations.messages import format_deadline, format_moment, render
from conversations.reminder_plan import officer_summary
from conversations.statuses import ContactRole
from storage.hot_path import QueuedMessage, Tx, enqueue, mark_sent
from storage.models import Campaign, Contact, Invite, Unit
from storage.outbox_store import count_failed
from storage.progress import campaign_progress, participating_units
from storage.repository import (
    StorageError,
    approve_submission,
    campaign_spec,
    create_download_token,
    create_invite,
    current_campaign,
    find_contact,
    list_units,
    return_submission,
    submission_for,
    unit_by_code,
)

DOWNLOAD_VALID_FOR = timedelta(hours=24)
CONSOLE = "console"
APPROVED_TEXT = "Báo cáo của {unit} đã được Ban Dân vận Tỉnh ủy duyệt. Cảm ơn đồng chí."


@dataclass
class Desk:
    """What the actions need beyond a session and a moment, set once by the composition root.

    `bot_usernames` is filled in as channels learn their names; `wake_outbox` lets queued
    messages leave at once after commit (a no-op outside `baocao run`).
    """

    invite_valid_for: timedelta = timedelta(days=30)
    bot_usernames: dict[str, str] = field(default_factory=dict)
    public_url: str = ""
    wake_outbox: Callable[[], None] = lambda: None


# --- status ------------------------------------------------------------------------------------


def status(session: Session, now: datetime, campaign_code: str | None = None) -> str:
    """The phone-readable progress summary of one campaign (the current one by default)."""
    campaign = current_campaign(session, campaign_code)
    text = status_text(campaign, campaign_progress(session, campaign), now)
    warning = undelivered_line(count_failed(session))
    return f"{text}\n\n{warning}" if warning else text


# --- invites -----------------------------------------------------------------------------------


def invite(
    session: Session, now: datetime, desk: Desk, *, role: str, unit_code: str | None
) -> tuple[Invite, Unit | None]:
    """A single-use invite for a unit's officer or a secretariat member."""
    if role == ContactRole.OFFICER and not unit_code:
        raise StorageError("mã mời cho cán bộ cần mã đơn vị")
    unit = unit_by_code(session, unit_code) if unit_code else None
    if role != ContactRole.OFFICER:
        unit = None
    created = create_invite(session, role=role, unit=unit, now=now, valid_for=desk.invite_valid_for)
    return created, unit


def telegram_link(desk: Desk, code: str) -> str | None:
    username = desk.bot_usernames.get("telegram")
    return f"https://t.me/{username}?start={code}" if username else None


def invite_card(session: Session, desk: Desk, invite: Invite, unit: Unit | None) -> str:
    """What the secretariat forwards to the new officer (chat and command line alike): the code,
    the Telegram link, and a two-line instruction."""
    link = telegram_link(desk, invite.code) or ""
    deadline = format_deadline(current_campaign(session).deadline) if unit else ""
    instruction = render(
        "invite_instruction",
        code=invite.code,
        link=link,
        unit_name=unit.name if unit else "",
        deadline=deadline,
    )
    return render(
        "invite_card",
        who=unit.name if unit else "cán bộ tổng hợp của Ban Dân vận Tỉnh ủy",
        code=invite.code,
        expires=format_moment(invite.expires_at),
        link=link,
        instruction=instruction,
    )


# --- return and approve --------------------------------------------------------------------


def return_report(
    session: Session, now: datetime, desk: Desk, *, unit_code: str, reason: str
) -> Unit:
    """Open a submitted (or approved) report again for correction, and tell its officers."""
    unit = unit_by_code(session, unit_code)
    submission = submission_for(session, current_campaign(session), unit, lock=True)
    return_submission(session, submission, reason.strip(), now)
    text = render("returned", unit_name=unit.name, reason=reason.strip())
    notify_officers(session, unit, text + "\nGõ «xem» để sửa và nộp lại.", now, desk)
    return unit


def approve_report(session: Session, now: datetime, desk: Desk, *, unit_code: str) -> Unit:
    """Accept a submitted report: it is locked for good (only a return opens it again)."""
    unit = unit_by_code(session, unit_code)
    submission = submission_for(session, current_campaign(session), unit, lock=True)
    approve_submission(session, submission, now)
    notify_officers(session, unit, APPROVED_TEXT.format(unit=unit.name), now, desk)
    return unit


def notify_officers(session: Session, unit: Unit, text: str, now: datetime, desk: Desk) -> int:
    """Queue `text` to every active officer of the unit (delivered after commit)."""
    contacts = session.exec(
        select(Contact).where(
            Contact.unit_id == unit.id, Contact.active, Contact.role == ContactRole.OFFICER
        )
    ).all()
    for contact in contacts:
        enqueue(
            session,
            channel=contact.channel,
            chat_id=contact.chat_id,
            payload=Outbound(text).to_payload(),
            now=now,
            contact_id=contact.id,
            kind="notice",
            claimed=False,
        )
    if contacts:
        _wake_after_commit(session, desk)
    return len(contacts)


# --- remind ----------------------------------------------------------------------------------


def remind(session: Session, now: datetime, desk: Desk, *, unit_code: str | None = None) -> int:
    """Queue a reminder now to the reachable officers of units that have not submitted."""
    campaign = current_campaign(session)
    if unit_code is not None and not _participates(session, campaign, unit_code):
        raise StorageError(f"đơn vị '{unit_code}' không có trong đợt báo cáo {campaign.code}")
    count = remind_now(session, campaign, now, unit_code=unit_code)
    if count:
        _wake_after_commit(session, desk)
    return count


def remind_preview(
    session: Session, now: datetime, *, unit_code: str | None = None
) -> tuple[Campaign, list[str]]:
    """What `remind` would queue, one line per officer, queuing nothing."""
    campaign = current_campaign(session)
    if unit_code is not None and not _participates(session, campaign, unit_code):
        raise StorageError(f"đơn vị '{unit_code}' không có trong đợt báo cáo {campaign.code}")
    zone = campaign_spec(campaign).zone
    lines = []
    for person in load_audience(session, campaign, unit_code).officers:
        unit = person.unit
        assert unit is not None
        summary = officer_summary(unit, campaign.deadline, now, zone)
        name = person.name or f"#{person.contact_id}"
        lines.append(f"{unit.code} | {name} | {person.channel} | {summary}")
    return campaign, lines


def _participates(session: Session, campaign: Campaign, unit_code: str) -> bool:
    unit = unit_by_code(session, unit_code)
    return any(u.id == unit.id for u in participating_units(session, campaign))


def _wake_after_commit(session: Session, desk: Desk) -> None:
    """Let the outbox sweep as the transaction commits instead of at its next round.

    Listened for on the connection: a session joined to the hot path's transaction is never
    committed itself."""
    event.listen(session.connection(), "commit", lambda _connection: desk.wake_outbox(), once=True)


# --- export ----------------------------------------------------------------------------------


def download_link(
    session: Session,
    now: datetime,
    desk: Desk,
    *,
    campaign_id: int,
    unit_id: int | None,
    contact_id: int | None,
) -> str:
    """A link to the web server serving one export for 24 hours (for channels without files)."""
    token = create_download_token(
        session,
        campaign_id=campaign_id,
        unit_id=unit_id,
        contact_id=contact_id,
        now=now,
        valid_for=DOWNLOAD_VALID_FOR,
    )
    return f"{desk.public_url}/tai-ve/{token}"


# --- the operator at the terminal (`baocao chat`) -------------------------------------------


def unit_choices(session: Session) -> list[tuple[str, str]]:
    """(code, name) of every unit, for the operator to pick from."""
    return [(unit.code, unit.name) for unit in list_units(session)]


def link_console_contact(session: Session, unit_code: str, operator: str, now: datetime) -> str:
    """Make (or re-point) the console contact of `operator` at the unit; return its user id.

    The operator on the server is trusted, so no invite is needed."""
    user_id = f"{operator}@{unit_code.upper()}"
    unit = unit_by_code(session, unit_code)
    contact = find_contact(session, CONSOLE, user_id)
    if contact is None:
        contact = Contact(
            channel=CONSOLE,
            external_id=user_id,
            chat_id=user_id,
            display_name=f"{operator} (dòng lệnh)",
            created_at=now,
        )
    contact.unit_id, contact.role, contact.active = unit.id, ContactRole.OFFICER, True
    session.add(contact)
    return user_id


def mark_printed(tx: Tx, rows: list[QueuedMessage], now: datetime) -> None:
    """Printed on the terminal is delivered, at the first attempt."""
    mark_sent(tx, [(row.id, 1) for row in rows], now)
