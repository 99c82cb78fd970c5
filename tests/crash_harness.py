"""The real `baocao run` as a child process (`python -m bot.cli run`) against the fake Telegram
server running in the caller's event loop: start it, kill it with SIGKILL, start it again, and
read what officers received. Shared by the crash tests and bench/faults.py."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlmodel import func, select

from bot.app import build_app
from bot.clock import utc_now
from bot.settings import Settings
from conversations.campaigns import BUNDLED_CAMPAIGN, load_campaign
from conversations.forms import BUNDLED_FORMS
from storage.database import Database, open_database
from storage.models import Contact, OutboxMessage, ProcessedInbound, Unit
from storage.repository import save_campaign
from tests.fakes.telegram_server import FakeTelegramServer

TOKEN = "123456789:AAH-fake-token-for-tests_0123456789"
WEBHOOK_SECRET = "crash-test-secret_0123"
ROOT = Path(__file__).resolve().parent.parent
FIRST_OFFICER = 900_000
PUBLIC_WEBHOOK_ROOT = "https://baocao.example.org"


class WatchedTelegram(FakeTelegramServer):
    """The fake Bot API, noting when each getUpdates call arrived (a process's first poll), and
    able to fail every sendMessage for a while (`outage`, on the monotonic clock) with a
    proxy's 502 page, as when the Bot API or the network in between is down."""

    def __init__(self, **kwargs) -> None:
        super().__init__(token=TOKEN, **kwargs)
        self.polls: list[float] = []
        self.outage: tuple[float, float] = (0.0, 0.0)

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"].lower()
        if method == "getupdates":
            self.polls.append(time.monotonic())
        start, end = self.outage
        if method == "sendmessage" and start <= time.monotonic() < end:
            return web.Response(status=502, text="<html>502 Bad Gateway</html>")
        return await super()._handle(request)

    def replies(self) -> list:
        return [r for r in self.sent() if r.method == "sendMessage"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare(database_url: str, officers: int, *, reminder_in: Path | None = None) -> list[int]:
    """Create and seed the database; link `officers` Telegram officers to the bundled units;
    with `reminder_in` (a folder for the file), load a campaign whose reminder slot fell due
    minutes ago. Return the officers' user ids."""
    app = build_app(Settings(_env_file=None, baocao_database_url=database_url))
    try:
        if reminder_in is not None:
            campaign = load_campaign(campaign_due_now(reminder_in))
            with app.database.transaction() as session:
                save_campaign(session, campaign, utc_now())
        with app.database.transaction() as session:
            units = session.exec(select(Unit).order_by(Unit.id)).all()
            ids = [FIRST_OFFICER + n for n in range(officers)]
            for n, user_id in enumerate(ids):
                session.add(
                    Contact(
                        channel="telegram",
                        external_id=str(user_id),
                        chat_id=str(user_id),
                        display_name=f"Cán bộ {n}",
                        unit_id=units[n % len(units)].id,
                        created_at=utc_now(),
                    )
                )
        return ids
    finally:
        app.close()


def campaign_due_now(folder: Path) -> Path:
    """The bundled campaign under another code, due in five days, with a reminder every day at
    a time that passed at most 30 minutes ago (no quiet hours): a slot is due right now."""
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    now = datetime.now(zone)
    slot = max(now - timedelta(minutes=30), now.replace(hour=0, minute=0, second=0))
    deadline = (now + timedelta(days=5)).replace(hour=0, minute=0, second=0, microsecond=0)
    text = BUNDLED_CAMPAIGN.read_text(encoding="utf-8")
    text = text.replace("code: ct37-2022", "code: due-now")
    text = text.replace(
        'deadline: "2022-07-05T00:00:00+07:00"', f'deadline: "{deadline.isoformat()}"'
    )
    text = text.replace("form: ct37_phuluc.yaml", f"form: {BUNDLED_FORMS / 'ct37_phuluc.yaml'}")
    text = text.replace(
        "outline: ct37_decuong.yaml", f"outline: {BUNDLED_FORMS / 'ct37_decuong.yaml'}"
    )
    text = text.replace("days_before: [7, 3, 1, 0]", "days_before: [5, 4, 3, 2, 1, 0]")
    text = text.replace('hour: "08:00"', f'hour: "{slot:%H:%M}"')
    text = text.replace('quiet_hours: "21:00-07:00"', "quiet_hours: null")
    path = folder / "due-now.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class BotProcess:
    """One `baocao run` child process."""

    database_url: str
    api_url: str
    workdir: Path
    port: int = field(default_factory=free_port)
    webhook: bool = False
    scheduler: bool = False
    send_rate: float = 1000.0  # far above Telegram's limits unless told: a stress test
    chat_interval: float = 0.0
    process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "BAOCAO_DATABASE_URL": self.database_url,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": self.api_url,
            "BAOCAO_HTTP_HOST": "127.0.0.1",
            "BAOCAO_HTTP_PORT": str(self.port),
            "BAOCAO_SEND_RATE": str(self.send_rate),
            "BAOCAO_CHAT_INTERVAL": str(self.chat_interval),
            "BAOCAO_SCHEDULER": "true" if self.scheduler else "false",
        }
        if self.webhook:
            # One public address (a reverse proxy in front of every process).
            env["BAOCAO_WEBHOOK_URL"] = PUBLIC_WEBHOOK_ROOT
            env["BAOCAO_WEBHOOK_SECRET"] = WEBHOOK_SECRET
        log = (self.workdir / f"baocao-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=self.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as a crash or the OOM killer."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    async def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.process.wait, 20)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        path = self.workdir / f"baocao-{self.port}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def counts(database: Database) -> tuple[int, dict[str, int]]:
    """(updates applied, outbox rows by status)."""
    with database.transaction() as session:
        applied = session.exec(select(func.count()).select_from(ProcessedInbound)).one()
        statuses = Counter(session.exec(select(OutboxMessage.status)).all())
    return applied, dict(statuses)


def written_replies(database: Database) -> list[OutboxMessage]:
    with database.transaction() as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


def check(database: Database, *, updates: int, replies: Counter) -> list[OutboxMessage]:
    """Every update applied, every reply written was received (return the rows)."""
    rows = written_replies(database)
    written = Counter((row.chat_id, row.payload["text"]) for row in rows)
    missing = written - replies
    assert not missing, f"replies never delivered: {missing}"
    assert counts(database)[0] == updates
    return rows


async def wait_until(condition, *, timeout: float, what: str, every: float = 0.05) -> None:
    """Check `condition` (a database state the child processes reach) until it holds."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(every)


@dataclass
class CrashOutcome:
    updates: int
    replies_written: int
    replies_received: int
    duplicates: int
    in_flight_at_kill: int
    duplicates_per_chat_max: int
    silence_after_restart: float
    all_delivered_after_restart: float
    duplicate_rows_were_in_flight: bool


async def crash_and_restart(
    tg: WatchedTelegram,
    database_url: str,
    workdir: Path,
    *,
    officers: int,
    rounds: int = 4,
    pacing: tuple[float, float] = (1000.0, 0.0),
) -> CrashOutcome:
    """Officers answer in waves; the bot is killed with SIGKILL once part of the first waves'
    replies arrived, more answers come while it is down, then it is started again."""
    users = await asyncio.to_thread(prepare, database_url, officers)
    database = open_database(database_url, upgrade=False)
    try:
        return await _crash_and_restart(tg, database, database_url, workdir, users, rounds, pacing)
    finally:
        database.dispose()


async def _crash_and_restart(
    tg: WatchedTelegram,
    database: Database,
    database_url: str,
    workdir: Path,
    users: list[int],
    rounds: int,
    pacing: tuple[float, float],
) -> CrashOutcome:
    officers = len(users)
    first = BotProcess(
        database_url, tg.base_url, workdir, send_rate=pacing[0], chat_interval=pacing[1]
    )
    first.start()
    await tg.wait_for_calls("getUpdates", 1, timeout=30)
    for round_number in range(rounds - 1):
        for user in users:
            tg.inject_message(user, str(5 + round_number))
    await tg.wait_for_calls("sendMessage", officers, timeout=30)
    first.kill()
    in_flight = {
        row.id: row
        for row in await asyncio.to_thread(written_replies, database)
        if row.status == "sending"
    }
    for user in users:  # officers keep answering while the bot is down
        tg.inject_message(user, "9")
    polls_before = len(tg.polls)
    second = BotProcess(
        database_url, tg.base_url, workdir, send_rate=pacing[0], chat_interval=pacing[1]
    )
    second.start()
    try:
        await tg.wait_for_calls("getUpdates", tg.calls["getUpdates"] + 1, timeout=30)
        first_poll = tg.polls[polls_before]

        def replied_since(records: list) -> bool:
            return any(r.method == "sendMessage" and r.time >= first_poll for r in records)

        await tg.wait_for(replied_since, timeout=30)
        first_reply = min(r.time for r in tg.replies() if r.time >= first_poll)
        expected_updates = officers * rounds

        def settled() -> bool:
            applied, statuses = counts(database)
            return applied == expected_updates and set(statuses) == {"sent"}

        await wait_until(settled, timeout=60, what="every update applied and reply sent")
        last_reply = max(r.time for r in tg.replies())
    finally:
        await second.stop()
    received = Counter((str(r.chat_id), r.text) for r in tg.replies())
    rows = await asyncio.to_thread(check, database, updates=expected_updates, replies=received)
    applied, _ = await asyncio.to_thread(counts, database)
    extra = received - Counter((row.chat_id, row.payload["text"]) for row in rows)
    per_chat = Counter(chat for (chat, _), n in extra.items() for _ in range(n))
    in_flight_texts = {(row.chat_id, row.payload["text"]) for row in in_flight.values()}
    return CrashOutcome(
        updates=applied,
        replies_written=len(rows),
        replies_received=sum(received.values()),
        duplicates=sum(extra.values()),
        in_flight_at_kill=len(in_flight),
        duplicates_per_chat_max=max(per_chat.values(), default=0),
        silence_after_restart=first_reply - first_poll,
        all_delivered_after_restart=last_reply - first_poll,
        duplicate_rows_were_in_flight=set(extra) <= in_flight_texts,
    )


async def outage(
    tg: WatchedTelegram, database_url: str, workdir: Path, *, officers: int, seconds: float
) -> float:
    """Officers answer while every send fails for `seconds`; return how long after the end of
    the outage the last reply arrived."""
    users = await asyncio.to_thread(prepare, database_url, officers)
    database = open_database(database_url, upgrade=False)
    bot = BotProcess(database_url, tg.base_url, workdir)
    bot.start()
    try:
        await tg.wait_for_calls("getUpdates", 1, timeout=30)
        tg.outage = (time.monotonic(), time.monotonic() + seconds)
        for user in users:
            tg.inject_message(user, "5")

        def settled() -> bool:
            applied, statuses = counts(database)
            return applied == officers and set(statuses) == {"sent"}

        await wait_until(settled, timeout=seconds + 90, what="every reply after the outage")
        received = Counter((str(r.chat_id), r.text) for r in tg.replies())
        check(database, updates=officers, replies=received)
        return max(r.time for r in tg.replies()) - tg.outage[1]
    finally:
        await bot.stop()
        database.dispose()
