"""The people linked to the bot (officers and secretariat members): listing them, and removing
one, which ends at once everything they hold.

Removing is one conditional write (`removed_at IS NULL`), so two removals at once record one;
then every web session, unused sign-in link and live download or upload link issued to the
member stops working, in the same transaction. A removed member stays in the table (their
answers and actions keep their author) with `active = false` and `removed_at`; writing to the
bot does not bring them back, a new invite does (`storage.hot_path.link_contact`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from storage.models import Contact, DownloadToken, Unit, WebSession, WebSignIn


@dataclass(frozen=True)
class Member:
    id: int
    name: str
    role: str
    channel: str
    unit_id: int | None
    unit_code: str | None  # an officer's unit, or a district secretariat's scope
    unit_name: str | None
    last_seen_at: datetime | None
    active: bool
    removed_at: datetime | None


@dataclass(frozen=True)
class Removal:
    """What removing a member ended."""

    member: Member
    sessions: int
    sign_in_links: int
    download_links: int


def list_members(session: Session, *, unit_ids: set[int] | None = None) -> list[Member]:
    """Everyone who ever linked, secretariat first, then by unit and id; `unit_ids` keeps only
    the people of those units."""
    query = select(Contact, Unit).join(Unit, col(Unit.id) == Contact.unit_id, isouter=True)
    if unit_ids is not None:
        query = query.where(col(Contact.unit_id).in_(unit_ids))
    rows = session.exec(query).all()
    members = [_member(contact, unit) for contact, unit in rows]
    return sorted(members, key=lambda m: (m.role != "secretariat", m.unit_code or "", m.id))


def find_member(session: Session, contact_id: int) -> Member | None:
    contact = session.get(Contact, contact_id)
    if contact is None:
        return None
    return _member(contact, session.get(Unit, contact.unit_id) if contact.unit_id else None)


def remove_member(session: Session, contact_id: int, now: datetime) -> Removal | None:
    """Remove a member and end their sessions and links; None when there is no such member or
    they were removed already (by this call's rival, too)."""
    contacts = Contact.__table__
    removed = session.execute(
        update(contacts)
        .where(contacts.c.id == contact_id, contacts.c.removed_at.is_(None))
        .values(active=False, removed_at=now, pending_invite_id=None)
        .returning(contacts.c.id)
    ).first()
    if removed is None:
        return None
    web_sessions, links, downloads = (
        WebSession.__table__,
        WebSignIn.__table__,
        DownloadToken.__table__,
    )
    ended = session.execute(
        update(web_sessions)
        .where(web_sessions.c.contact_id == contact_id, web_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    ).rowcount
    spent = session.execute(
        update(links)
        .where(links.c.contact_id == contact_id, links.c.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    revoked = session.execute(
        update(downloads)
        .where(downloads.c.contact_id == contact_id, downloads.c.expires_at > now)
        .values(expires_at=now)
    ).rowcount
    session.expire_all()
    return Removal(find_member(session, contact_id), ended, spent, revoked)


def _member(contact: Contact, unit: Unit | None) -> Member:
    return Member(
        id=contact.id,
        name=contact.display_name,
        role=contact.role,
        channel=contact.channel,
        unit_id=contact.unit_id,
        unit_code=unit.code if unit else None,
        unit_name=unit.name if unit else None,
        last_seen_at=contact.last_seen_at,
        active=contact.active,
        removed_at=contact.removed_at,
    )
