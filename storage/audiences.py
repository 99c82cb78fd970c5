"""Who is told about a unit: its officers, and its secretariat — one rule for the secretariat.

The secretariat of a unit is every active secretariat member of the province (no unit) plus
every active district secretariat whose unit is the unit itself or one above it. Something that
concerns no unit (the Zalo quota, an update set aside, the province-wide digest) has the
province's secretariat only: a district secretariat is scoped to its own units and asks
`/status` for them.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlmodel import Session, select

from conversations.statuses import ContactRole
from storage.models import Contact, Unit


class Recipient(NamedTuple):
    contact_id: int | None  # None: a chat that is no contact yet (an apology to a stranger)
    channel: str
    chat_id: str


def units_above(session: Session, unit_id: int | None) -> set[int]:
    """The unit and every unit above it (empty for no unit)."""
    parents = dict(session.exec(select(Unit.id, Unit.parent_id)).all()) if unit_id else {}
    chain: set[int] = set()
    while unit_id is not None and unit_id not in chain:
        chain.add(unit_id)
        unit_id = parents.get(unit_id)
    return chain


def serves(scope_unit_id: int | None, chain: set[int]) -> bool:
    """Whether a secretariat member scoped to `scope_unit_id` (None: the province) counts as the
    secretariat of a unit whose chain upwards is `chain` (empty: of nothing in particular)."""
    return scope_unit_id is None or scope_unit_id in chain


def secretariat_of(session: Session, unit_id: int | None) -> list[Recipient]:
    """The active secretariat members who count for the unit (None: the province's only)."""
    chain = units_above(session, unit_id)
    rows = session.exec(
        select(Contact.id, Contact.channel, Contact.chat_id, Contact.unit_id)
        .where(Contact.role == ContactRole.SECRETARIAT, Contact.active)
        .order_by(Contact.id)
    ).all()
    return [Recipient(i, channel, chat) for i, channel, chat, scope in rows if serves(scope, chain)]


def officers_of(session: Session, unit_id: int) -> list[Recipient]:
    """The active officers linked to the unit."""
    rows = session.exec(
        select(Contact.id, Contact.channel, Contact.chat_id)
        .where(Contact.unit_id == unit_id, Contact.active, Contact.role == ContactRole.OFFICER)
        .order_by(Contact.id)
    ).all()
    return [Recipient(*row) for row in rows]
