"""The composition root: settings -> database -> service (and, in `run`, channels and scheduler).

Everything that needs wiring is wired here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import bot.reminders  # noqa: F401  (registers /remind)
from bot.clock import utc_now
from bot.messaging import ChannelTraits
from bot.service import Clock, Service
from bot.settings import Settings
from storage.database import Database, open_database
from storage.repository import seed_if_empty

CHANNEL_TRAITS = {
    "telegram": ChannelTraits("telegram", sends_files=True, text_limit=4096, buttons=True),
    "zalo": ChannelTraits("zalo", sends_files=False, text_limit=2000),
    "console": ChannelTraits("console", sends_files=False, text_limit=100_000),
}


@dataclass
class App:
    settings: Settings
    database: Database
    service: Service
    clock: Clock

    def close(self) -> None:
        self.database.dispose()


def build_app(settings: Settings, *, clock: Clock = utc_now) -> App:
    """Open (and upgrade) the database, seed a fresh one, and build the service."""
    database = open_database(settings.baocao_database_url)
    with database.transaction() as session:
        seed_if_empty(session, clock())
    service = Service(
        database,
        clock,
        CHANNEL_TRAITS,
        invite_valid_for=timedelta(days=settings.baocao_invite_days),
        bot_usernames=(
            {"telegram": settings.telegram_bot_username} if settings.telegram_bot_username else {}
        ),
        public_url=settings.public_url,
    )
    return App(settings, database, service, clock)
