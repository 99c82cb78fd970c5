"""What one handling of an inbound message can see: its transaction, the moment, the message,
who sent it and what their channel can do. Shared by the service and the chat commands."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from bot.messaging import ChannelTraits, Inbound, RoleChange
from storage.hot_path import Correspondent, Tx


@dataclass
class Context:
    tx: Tx
    now: datetime
    inbound: Inbound
    contact: Correspondent | None
    traits: ChannelTraits
    role_changes: list[RoleChange] = field(default_factory=list)

    @property
    def session(self) -> Session:
        """An ORM session in the same transaction, for everything off the hot path."""
        return self.tx.session
