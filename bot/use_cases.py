"""The secretariat's and the operator's actions, written once: status, invite, return, approve,
extend, remind, export and the web sign-in link. Chat commands (`bot.secretariat`), the command
line (`bot.cli.commands`) and the web page (`bot.web.staff`) call these; each takes the session
of the caller's transaction, the moment, and what else it needs, and raises a `DomainError` (with
its kind and a Vietnamese reason) for a refused action; a change of the report's status follows
`conversations.lifecycle` and is one conditional write (`storage.transitions`), so that of two
staff acting at once one wins and the other is told who did what, when.

Who acts is an `Actor`: its surface (chat, cli, web) goes into the staff action log, and its scope
is checked here, once: a district secretariat acts only on its unit and the units beneath it,
and a unit outside that scope is refused with the same words as a unit that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import event
from sqlmodel import Session, select

from bot.deadlines import campaign_deadlines
from bot.messaging import Outbound
from bot.notify import notify, officers_of
from bot.reminders.ticks import load_audience, remind_now
from bot.status import signed_reports_line, status_text, undelivered_line
from conversations.errors import BadValue, NotAllowedNow, NotFound, OutOfScope
from conversations.labels import status_title
from conversations.lifecycle import Event, after
from conversations.messages import format_deadline, format_moment, render
from conversations.reminder_plan import officer_summary
from conversations.statuses import CampaignState, ContactRole, SubmissionStatus
from storage.hot_path import QueuedMessage, Tx, mark_sent
from storage.models import Campaign, Contact, Unit
from storage.outbox_store import count_failed, redact_sent
from storage.progress import campaign_progress, participating_units
from storage.repository import (
    IssuedInvite,
    StorageError,
    campaign_by_code,
    campaign_spec,
    create_download_token,
    create_invite,
    current_campaign,
    find_contact,
    list_units,
    submission_for,
    unit_by_code,
)
from storage.signed_reports import campaign_signed_reports
from storage.staff_store import (
    SignedIn,
    create_session,
    create_sign_in,
    log_action,
    redeem_sign_in,
    set_unit_deadline,
)
from storage.transitions import current_status, last_move, move

DOWNLOAD_VALID_FOR = timedelta(hours=24)
SIGN_IN_VALID_FOR = timedelta(minutes=10)
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


@dataclass(frozen=True)
class Actor:
    """Who acts, from which surface, over which units (`scope_unit_id` None: the province)."""

    surface: str  # chat | cli | web
    name: str
    contact_id: int | None = None
    scope_unit_id: int | None = None


OPERATOR = Actor("cli", "dòng lệnh")


def contact_actor(contact: Contact | SignedIn, surface: str) -> Actor:
    """A secretariat member; a district secretariat's unit is its scope."""
    name = contact.display_name or f"#{contact.id}"
    return Actor(surface, name, contact.id, contact.unit_id)


# --- scope ------------------------------------------------------------------------------------


def scope_unit_ids(session: Session, actor: Actor) -> set[int] | None:
    """The ids of the units the actor may see and act on; None for the whole province."""
    if actor.scope_unit_id is None:
        return None
    children: dict[int | None, list[int]] = {}
    for unit_id, parent_id in session.exec(select(Unit.id, Unit.parent_id)).all():
        children.setdefault(parent_id, []).append(unit_id)
    seen: set[int] = set()
    stack = [actor.scope_unit_id]
    while stack:
        unit_id = stack.pop()
        if unit_id in seen:
            continue
        seen.add(unit_id)
        stack.extend(children.get(unit_id, []))
    return seen


def scoped_unit(session: Session, actor: Actor, code: str) -> Unit:
    """The unit with `code` if the actor may act on it; outside the scope it does not exist."""
    try:
        unit = unit_by_code(session, code)
    except StorageError:
        raise NotFound(f"không có đơn vị mã '{code.strip()}'") from None
    allowed = scope_unit_ids(session, actor)
    if allowed is not None and unit.id not in allowed:
        raise OutOfScope(f"không có đơn vị mã '{code.strip()}'")
    return unit


def _log(
    session: Session, now: datetime, actor: Actor, action: str, unit: Unit | None, detail=None
) -> None:
    log_action(
        session,
        now,
        surface=actor.surface,
        action=action,
        contact_id=actor.contact_id,
        actor=actor.name,
        unit_id=unit.id if unit else None,
        detail=detail,
    )


# --- status ------------------------------------------------------------------------------------


def status(
    session: Session, now: datetime, campaign_code: str | None = None, *, actor: Actor | None = None
) -> str:
    """The phone-readable progress summary of one campaign (the current one by default), of the
    actor's units only for a district secretariat."""
    campaign = current_campaign(session, campaign_code)
    progress = campaign_progress(session, campaign)
    allowed = scope_unit_ids(session, actor) if actor is not None else None
    if allowed is not None:
        progress = [item for item in progress if item.unit.id in allowed]
    text = status_text(campaign, progress, now, campaign_deadlines(session, campaign))
    sent = {row.unit_code for row in campaign_signed_reports(session, campaign)}
    extra = [signed_reports_line(progress, sent), undelivered_line(count_failed(session))]
    return "\n\n".join([text, *filter(None, extra)])


# --- invites -----------------------------------------------------------------------------------


def invite(
    session: Session,
    now: datetime,
    desk: Desk,
    *,
    role: str,
    unit_code: str | None,
    actor: Actor = OPERATOR,
) -> tuple[IssuedInvite, Unit | None]:
    """A single-use invite for a unit's officer or a secretariat member.

    A secretariat invite with a unit makes a district secretariat over that unit and the units
    beneath it; a district secretariat may invite only within its own scope."""
    if role == ContactRole.OFFICER and not unit_code:
        raise BadValue("mã mời cho cán bộ cần mã đơn vị")
    if role != ContactRole.OFFICER and not unit_code and actor.scope_unit_id is not None:
        raise OutOfScope("cán bộ tổng hợp cấp huyện chỉ mời được trong phạm vi của mình")
    unit = scoped_unit(session, actor, unit_code) if unit_code else None
    created = create_invite(session, role=role, unit=unit, now=now, valid_for=desk.invite_valid_for)
    _log(session, now, actor, "invite", unit, role)
    return created, unit


def telegram_link(desk: Desk, code: str) -> str | None:
    username = desk.bot_usernames.get("telegram")
    return f"https://t.me/{username}?start={code}" if username else None


def invite_card(session: Session, desk: Desk, invite: IssuedInvite, unit: Unit | None) -> str:
    """What the secretariat forwards to the invited person (chat and command line alike): the
    code, the Telegram link, and a two-line instruction."""
    link = telegram_link(desk, invite.code) or ""
    officer = invite.role == ContactRole.OFFICER
    if officer:
        who = unit.name
    elif unit is not None:
        who = f"cán bộ tổng hợp phụ trách {unit.name} và các đơn vị cấp dưới"
    else:
        who = "cán bộ tổng hợp của Ban Dân vận Tỉnh ủy"
    instruction = render(
        "invite_instruction",
        code=invite.code,
        link=link,
        unit_name=unit.name if officer else "",
        deadline=format_deadline(current_campaign(session).deadline) if officer else "",
    )
    return render(
        "invite_card",
        who=who,
        code=invite.code,
        expires=format_moment(invite.expires_at),
        link=link,
        instruction=instruction,
    )


# --- return and approve --------------------------------------------------------------------


def return_report(
    session: Session,
    now: datetime,
    desk: Desk,
    *,
    unit_code: str,
    reason: str,
    actor: Actor = OPERATOR,
    reason_required: bool = False,
    expected: str | None = None,
    campaign_code: str | None = None,
) -> Unit:
    """Open a submitted (or approved) report again for correction, and tell its officers.

    `expected` is the status the actor saw (the web page sends it): when the report has moved
    since, nothing is done and the refusal says who moved it and when."""
    unit = scoped_unit(session, actor, unit_code)
    if reason_required and not reason.strip():
        raise BadValue("cần ghi lý do trả lại để đơn vị biết cần sửa gì")
    values = {"returned_at": now, "return_reason": reason.strip() or None}
    _move(session, unit, Event.RETURN, values, expected, campaign_code)
    _log(session, now, actor, "return", unit, reason.strip() or None)
    text = render("returned", unit_name=unit.name, reason=reason.strip())
    notify_officers(session, unit, text + "\nGõ «xem» để sửa và nộp lại.", now, desk)
    return unit


def approve_report(
    session: Session,
    now: datetime,
    desk: Desk,
    *,
    unit_code: str,
    actor: Actor = OPERATOR,
    expected: str | None = None,
    campaign_code: str | None = None,
) -> Unit:
    """Accept a submitted report: it is locked for good (only a return opens it again)."""
    unit = scoped_unit(session, actor, unit_code)
    _move(session, unit, Event.APPROVE, {"last_activity_at": now}, expected, campaign_code)
    _log(session, now, actor, "approve", unit)
    notify_officers(session, unit, APPROVED_TEXT.format(unit=unit.name), now, desk)
    return unit


STAFF_MOVES = {"approve": "duyệt", "return": "trả lại"}  # logged action → the verb people read
MOVED_INTO = {SubmissionStatus.APPROVED: "approve", SubmissionStatus.RETURNED: "return"}


def _move(
    session: Session,
    unit: Unit,
    event: Event,
    values: dict,
    expected: str | None,
    campaign_code: str | None = None,
) -> None:
    """Apply a staff event to the unit's report in the campaign (named, else the only open one)
    as one conditional write; refused (nothing written, nobody told) when the table refuses it
    or someone moved it first."""
    campaign = current_campaign(session, campaign_code)
    submission = submission_for(session, campaign, unit, lock=True)
    found = submission.status
    if expected is not None and found != expected:
        raise moved_meanwhile(session, unit, found)
    try:
        if move(session, submission.id, found, event, values):
            return
    except NotAllowedNow as refused:
        raise _explained(session, unit, refused) from None
    raise moved_meanwhile(session, unit, current_status(session, submission.id))


def _moved_by(session: Session, unit: Unit, status: str) -> str:
    """«Báo cáo đã được Lan duyệt lúc 10:05 ngày 07/12/2026» when a staff action put the report
    in `status` (returned, approved); else ""."""
    if status not in MOVED_INTO:
        return ""
    last = last_move(session, unit.id, tuple(STAFF_MOVES))
    if last is None or last.action != MOVED_INTO[status]:
        return ""  # not put there by a logged staff action (or logged before this one)
    return f"Báo cáo đã được {last.actor} {STAFF_MOVES[last.action]} lúc {format_moment(last.at)}"


def _explained(session: Session, unit: Unit, refused: NotAllowedNow) -> NotAllowedNow:
    who = _moved_by(session, unit, refused.status or "")
    message = f"{refused} — {who}" if who else str(refused)
    return NotAllowedNow(message, status=refused.status)


def moved_meanwhile(session: Session, unit: Unit, status: str) -> NotAllowedNow:
    """The refusal of an action on a report that moved since its page was drawn: who moved it
    and when, when a logged staff action did."""
    who = _moved_by(session, unit, status) or f"Báo cáo vừa chuyển sang «{status_title(status)}»"
    return NotAllowedNow(f"{who}; xem lại rồi làm lại nếu vẫn cần", status=status)


def notify_officers(session: Session, unit: Unit, text: str, now: datetime, desk: Desk) -> int:
    """Queue `text` to every active officer of the unit (delivered after commit)."""
    queued = notify(session, officers_of(session, unit.id), Outbound(text), now)
    if queued:
        _wake_after_commit(session, desk)
    return len(queued)


# --- remind ----------------------------------------------------------------------------------


def remind(
    session: Session,
    now: datetime,
    desk: Desk,
    *,
    unit_code: str | None = None,
    actor: Actor = OPERATOR,
    campaign_code: str | None = None,
) -> int:
    """Queue a reminder now to the reachable officers of units that have not submitted, in
    the named campaign (by default the only open one).

    A district secretariat without a unit reminds the units of its scope."""
    campaign = current_campaign(session, campaign_code)
    allowed = scope_unit_ids(session, actor)
    unit = scoped_unit(session, actor, unit_code) if unit_code is not None else None
    if unit_code is not None and not _participates(session, campaign, unit_code):
        raise NotFound(f"đơn vị '{unit_code}' không có trong đợt báo cáo {campaign.code}")
    if unit is None and allowed is not None:
        codes = [u.code for u in participating_units(session, campaign) if u.id in allowed]
        count = sum(remind_now(session, campaign, now, unit_code=code) for code in codes)
    else:
        count = remind_now(session, campaign, now, unit_code=unit_code)
    _log(session, now, actor, "remind", unit, f"{count} tin")
    if count:
        _wake_after_commit(session, desk)
    return count


def remind_preview(
    session: Session,
    now: datetime,
    *,
    unit_code: str | None = None,
    campaign_code: str | None = None,
) -> tuple[Campaign, list[str]]:
    """What `remind` would queue, one line per officer, queuing nothing."""
    campaign = current_campaign(session, campaign_code)
    if unit_code is not None and not _participates(session, campaign, unit_code):
        raise NotFound(f"đơn vị '{unit_code}' không có trong đợt báo cáo {campaign.code}")
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


# --- a unit's own deadline -------------------------------------------------------------------


def extend_deadline(
    session: Session,
    now: datetime,
    *,
    unit_code: str,
    deadline: datetime,
    actor: Actor = OPERATOR,
    campaign_code: str | None = None,
) -> Unit:
    """Give a unit its own, later deadline in the campaign (Gia hạn)."""
    unit = scoped_unit(session, actor, unit_code)
    campaign = current_campaign(session, campaign_code)
    if not _participates(session, campaign, unit.code):
        raise NotFound(f"đơn vị '{unit.code}' không có trong đợt báo cáo {campaign.code}")
    if deadline <= campaign.deadline or deadline <= now:
        raise BadValue("hạn mới phải sau hạn chung của đợt báo cáo và sau lúc này")
    submission = submission_for(session, campaign, unit, lock=True)  # no approval meanwhile
    try:
        after(submission.status, Event.EXTEND)
    except NotAllowedNow as refused:
        raise _explained(session, unit, refused) from None
    set_unit_deadline(session, campaign.id, unit.id, deadline, now)
    zone = campaign_spec(campaign).zone
    _log(session, now, actor, "extend", unit, f"{deadline.astimezone(zone):%d/%m/%Y %H:%M}")
    return unit


def unit_deadline(session: Session, campaign: Campaign, unit: Unit) -> datetime:
    """The deadline that applies to a unit: its own when extended, else the campaign's."""
    return campaign_deadlines(session, campaign).of(unit.code)


# --- the web page's sign-in link ----------------------------------------------------------


def web_sign_in_link(
    session: Session, now: datetime, desk: Desk, *, contact: Contact, actor: Actor
) -> str:
    """A single-use link, valid 10 minutes, that opens a web session for a secretariat member."""
    if contact.role != ContactRole.SECRETARIAT or not contact.active:
        raise OutOfScope("chỉ cán bộ tổng hợp mới dùng được trang web")
    token = create_sign_in(session, contact.id, now, SIGN_IN_VALID_FOR)
    _log(session, now, actor, "web_link", None, contact.display_name or f"#{contact.id}")
    return f"{desk.public_url}/web/vao/{token}"


def open_web_session(
    session: Session, now: datetime, link_token: str, valid_for: timedelta
) -> str | None:
    """Use a sign-in link once: a new session token for its secretariat member, or None when the
    link is unknown, used, expired, or its member is no longer an active secretariat member."""
    contact_id = redeem_sign_in(session, link_token, now)
    contact = session.get(Contact, contact_id) if contact_id is not None else None
    if contact is None or not contact.active or contact.role != ContactRole.SECRETARIAT:
        return None
    token = create_session(session, contact.id, now, valid_for)
    _log(session, now, contact_actor(contact, "web"), "sign_in", None)
    return token


def secretariat_contact(session: Session, contact_id: int | None) -> Contact:
    """The active secretariat member with this id, or the only one when no id is given."""
    members = session.exec(
        select(Contact).where(Contact.role == ContactRole.SECRETARIAT, Contact.active)
    ).all()
    if contact_id is not None:
        chosen = [c for c in members if c.id == contact_id]
        if not chosen:
            raise NotFound(f"không có cán bộ tổng hợp mã số {contact_id}")
        return chosen[0]
    if not members:
        raise NotFound("chưa có cán bộ tổng hợp nào; tạo mã mời: baocao invite --role secretariat")
    if len(members) > 1:
        listed = ", ".join(f"{c.id} ({c.display_name or c.channel})" for c in members)
        raise BadValue(f"có nhiều cán bộ tổng hợp, chọn một bằng --contact: {listed}")
    return members[0]


# --- export ----------------------------------------------------------------------------------


def download_link(
    session: Session,
    now: datetime,
    desk: Desk,
    *,
    campaign_id: int,
    unit_id: int | None,
    contact_id: int | None,
    kind: str = "export",
) -> str:
    """A link to the web server serving one export or draft for 24 hours (for channels without
    files)."""
    token = create_download_token(
        session,
        campaign_id=campaign_id,
        unit_id=unit_id,
        contact_id=contact_id,
        now=now,
        valid_for=DOWNLOAD_VALID_FOR,
        kind=kind,
    )
    return f"{desk.public_url}/tai-ve/{token}"


def record_export(
    session: Session, now: datetime, actor: Actor, *, what: str, unit_code: str | None
) -> None:
    """Check that the actor may take this file and log it: a unit's Phụ lục within the scope;
    the province's files (consolidated workbook, per-unit zip, draft) for the province only."""
    unit = scoped_unit(session, actor, unit_code) if unit_code else None
    if unit is None and actor.scope_unit_id is not None:
        raise OutOfScope("bảng tổng hợp và dự thảo báo cáo là của cả tỉnh")
    _log(session, now, actor, "export", unit, what)


# --- the operator at the terminal (`baocao chat`) -------------------------------------------


def unit_choices(session: Session) -> list[tuple[str, str]]:
    """(code, name) of every unit, for the operator to pick from."""
    return [(unit.code, unit.name) for unit in list_units(session)]


def link_console_contact(
    session: Session,
    unit_code: str,
    operator: str,
    now: datetime,
    campaign_code: str | None = None,
) -> str:
    """Make (or re-point) the console contact of `operator` at the unit; return its user id.

    The operator on the server is trusted, so no invite is needed. With `campaign_code` the
    contact fills that campaign (it must be open and include the unit)."""
    user_id = f"{operator}@{unit_code.upper()}"
    unit = unit_by_code(session, unit_code)
    campaign = _fillable_campaign(session, campaign_code, unit) if campaign_code else None
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
    contact.removed_at = None  # the operator at the terminal needs no invite
    if campaign is not None:
        contact.campaign_id = campaign.id
    session.add(contact)
    return user_id


def _fillable_campaign(session: Session, code: str, unit: Unit) -> Campaign:
    campaign = campaign_by_code(session, code)
    if campaign.state != CampaignState.OPEN:
        raise StorageError(f"đợt báo cáo {campaign.code} không mở để điền ({campaign.state})")
    if not campaign_spec(campaign).participants.includes(unit.code, unit.group):
        raise StorageError(f"đơn vị '{unit.code}' không có trong đợt báo cáo {campaign.code}")
    return campaign


def mark_printed(tx: Tx, rows: list[QueuedMessage], now: datetime) -> None:
    """Printed on the terminal is delivered, at the first attempt (and its secrets hidden)."""
    mark_sent(tx, [(row.id, 1) for row in rows], now)
    for row in rows:
        if row.payload.get("secrets"):
            redacted = Outbound.from_payload(row.payload).redacted()
            redact_sent(tx.session, row.id, redacted.to_payload())
