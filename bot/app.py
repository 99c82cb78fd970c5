"""The composition root: the one place that builds the application and hands each part what it
needs. `build_app` makes what every command uses (database, clock, service); `assemble` adds
what `baocao run` starts (outbox, channel host, web server, channels, reminder scheduler), which
`bot.runner` then starts and stops in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

from aiohttp import web

from bot.attachments import ExportResolver
from bot.channels.base import Channel
from bot.channels.telegram import TelegramChannel
from bot.channels.zalo import ZaloChannel
from bot.clock import Clock, utc_now
from bot.dispatch import ChannelHost
from bot.messaging import ChannelTraits
from bot.metrics import Metrics
from bot.outbox import Outbox, Pacer
from bot.quota_gate import MonthlyQuotaGate
from bot.reminders.runner import ReminderRunner, start_scheduler
from bot.service import Service
from bot.settings import Settings
from bot.signed_intake import Uploads
from bot.use_cases import Desk
from bot.web.server import build_web_app
from bot.web.staff.routes import StaffWeb
from bot.web.upload_page import UploadDeps, add_upload_page
from storage.database import Database, open_database
from storage.repository import question_contexts, secretariat_chat_ids, seed_if_empty

CHANNEL_TRAITS = {
    "telegram": ChannelTraits(
        "telegram", sends_files=True, text_limit=4096, buttons=True, receives_files=True
    ),
    "zalo": ChannelTraits("zalo", sends_files=False, text_limit=2000),
    "console": ChannelTraits("console", sends_files=False, text_limit=100_000),
}
# Button contexts the engine and the linking dialogue produce besides «q:<question key>».
FIXED_CONTEXTS = frozenset({"link", "start", "review", "confirm", "locked", "paused"})


@dataclass
class App:
    settings: Settings
    database: Database
    service: Service
    clock: Clock
    desk: Desk

    def close(self) -> None:
        self.database.dispose()


def build_app(settings: Settings, *, clock: Clock = utc_now) -> App:
    """Open (and upgrade) the database, seed a fresh one, and build the service."""
    database = open_database(settings.baocao_database_url)
    with database.transaction() as session:
        seed_if_empty(session, clock())
    usernames = settings.telegram_bot_username
    desk = Desk(
        invite_valid_for=timedelta(days=settings.baocao_invite_days),
        bot_usernames={"telegram": usernames} if usernames else {},
        public_url=settings.public_url,
    )
    uploads = Uploads(settings.baocao_data_dir, settings.upload_limits)
    service = Service(database, clock, CHANNEL_TRAITS, desk, uploads=uploads)
    return App(settings, database, service, clock, desk)


def configured_channels(settings: Settings) -> list[Channel]:
    """One channel per configured token."""
    channels: list[Channel] = []
    if settings.telegram_bot_token is not None:
        channels.append(TelegramChannel(settings))
    if settings.zalo_bot_token is not None:
        channels.append(ZaloChannel(settings))
    return channels


@dataclass
class Assembly:
    """Everything `baocao run` starts, built and wired, not yet started."""

    app: App
    channels: list[Channel]
    host: ChannelHost
    outbox: Outbox
    web: web.Application
    start_reminders: Callable[[list[asyncio.Task]], ReminderRunner | None]


def assemble(app: App, channels: list[Channel]) -> Assembly:
    settings, database, clock = app.settings, app.database, app.clock
    pacer = Pacer(settings.baocao_send_rate, settings.baocao_chat_interval)
    outbox = Outbox(
        database,
        {c.name: c.sender for c in channels},
        pacer,
        clock,
        useful_for=timedelta(hours=settings.baocao_outbox_useful_hours),
    )
    staff = StaffWeb(
        database,
        clock,
        app.desk,
        session_valid_for=timedelta(hours=settings.baocao_web_session_hours),
        secure_cookie=settings.public_url.startswith("https://"),
        public_url=settings.baocao_public_url,
        data_dir=Path(settings.baocao_data_dir),
    )
    web_app = build_web_app(database, clock, staff)
    add_upload_page(web_app, UploadDeps(database, clock, app.service.uploads))
    host = ChannelHost(
        service=app.service,
        outbox=outbox,
        web=web_app,
        attachments=ExportResolver(database, clock, app.desk),
        secretariat_chats=partial(_secretariat_chats, database),
        button_contexts=partial(_button_contexts, database),
        meter=lambda channel, account: MonthlyQuotaGate(
            database, clock, channel, account, settings.baocao_zalo_monthly_cap, host.wake_outbox
        ),
        on_loop_thread=database.is_sqlite,
        channels={c.name: c for c in channels},
    )
    if settings.baocao_metrics:
        metrics = Metrics(database, host, outbox)
        metrics.install(web_app)
        outbox.observe_send = metrics.observe_send
    app.service.on_role_change = host.role_changed
    app.service.claimant = outbox.claimant
    app.desk.wake_outbox = host.wake_outbox
    if settings.baocao_scheduler:
        start_reminders = partial(
            start_scheduler, database, clock, outbox, send_rate=settings.baocao_send_rate
        )
    else:
        start_reminders = _no_reminders
    return Assembly(app, channels, host, outbox, web_app, start_reminders)


def _no_reminders(_background: list[asyncio.Task]) -> None:
    return None


def _secretariat_chats(database: Database, channel: str) -> list[str]:
    with database.transaction() as session:
        return secretariat_chat_ids(session, channel)


def _button_contexts(database: Database) -> set[str]:
    with database.transaction() as session:
        return set(FIXED_CONTEXTS) | question_contexts(session)
