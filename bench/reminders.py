"""Benchmark of deadline reminders: deciding one slot for many units, then delivering them.

    /work/venv/bin/python bench/reminders.py [--units 10000] [--deliver 1000] [--db /tmp/x.db]

1. Decide and enqueue: a fresh SQLite database in /tmp with `--units` units (2 Telegram officer
   contacts each, 40 % submitted, 30 % half-way, 30 % not started) and one secretariat contact;
   one `tick()` at the before:7 slot must queue a reminder to every officer of the 60 % that have
   not submitted (2 × 60 % × units) plus the digest, in under 2 s (target). A second tick at the
   same moment, on a fresh memo, must queue nothing.
2. Deliver: `--deliver N` of those outbox rows (the rest stay pending) go through the real
   `Outbox` and `Pacer(25, 1.0)` to the fake Telegram Bot API server (tests/fakes) — through
   `bot.channels.telegram.TelegramChannel`'s sender when that module exists, otherwise through a
   minimal aiogram `Bot` sender defined here. Target: within 10 % of the pacing bound (N / 25 s),
   zero 429s; the fake server does not throttle, so the bench also checks the send times it
   recorded: the most messages in any one-second window and the closest two sends into one chat.

Measured and extrapolated figures are printed separately; delivering all 12,000 reminders of
10,000 units takes 8 minutes at 25/s by design (`--deliver 12001` measures it). Reminders are
staggered at 24/s when queued (bot.reminders.ticks.SPREAD_RATE), so the expected ratio to the 25/s
bound is about 25/24 ≈ 1.04 plus the outbox's wake-up lag (about a second).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from sqlalchemy import func, insert, select, update  # noqa: E402

from bot.messaging import Outbound  # noqa: E402
from bot.outbox import Outbox, Pacer, RetryLater, Undeliverable  # noqa: E402
from bot.reminders.runner import AlwaysHeld, ReminderRunner  # noqa: E402
from bot.reminders.ticks import SPREAD_RATE, load_audience, tick  # noqa: E402
from conversations.campaigns import BUNDLED_CAMPAIGN, load_campaign  # noqa: E402
from conversations.forms import BUNDLED_FORMS  # noqa: E402
from storage.database import open_database  # noqa: E402
from storage.models import (  # noqa: E402
    Answer,
    Campaign,
    Contact,
    OutboxMessage,
    ReminderLog,
    Submission,
    Unit,
)
from storage.repository import campaign_form, save_campaign  # noqa: E402

DEADLINE = "2030-03-15T00:00:00+07:00"
SLOT_TIME = datetime(2030, 3, 7, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam: before:7
SETUP_TIME = datetime(2030, 3, 1, tzinfo=UTC)
RATE, CHAT_INTERVAL = 25.0, 1.0
BENCH_TOKEN = "123456:" + "B" * 35


def build(db_path: Path, units: int):
    """Create the database: campaign, units, contacts, submissions and answers (bulk)."""
    for suffix in ("", "-wal", "-shm", ".scheduler.lock"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    database = open_database(f"sqlite:///{db_path}")
    raw = yaml.safe_load(BUNDLED_CAMPAIGN.read_text(encoding="utf-8"))
    raw.update(
        code="bench-2030",
        deadline=DEADLINE,
        form=str(BUNDLED_FORMS / "ct37_phuluc.yaml"),
        participants={},
    )
    spec_path = db_path.with_suffix(".yaml")
    spec_path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    now = SETUP_TIME
    with database.transaction() as session:
        campaign = save_campaign(session, load_campaign(spec_path), now)
        keys = [q.key for q in campaign_form(campaign).questions_for("huyen")]
        session.execute(
            insert(Unit.__table__),
            [
                {"code": f"U{i:05d}", "name": f"Đơn vị {i}", "level": "huyen", "group": None}
                for i in range(units)
            ],
        )
        unit_ids = list(session.execute(select(Unit.id).order_by(Unit.id)).scalars())
        contacts = []
        for index, unit_id in enumerate(unit_ids):
            for n in range(2):
                chat = 10_000_000 + index * 2 + n
                contacts.append(
                    {
                        "channel": "telegram",
                        "external_id": str(chat),
                        "chat_id": str(chat),
                        "display_name": f"Cán bộ {index}-{n}",
                        "role": "officer",
                        "unit_id": unit_id,
                        "active": True,
                        "created_at": now,
                    }
                )
        contacts.append(
            {
                "channel": "telegram",
                "external_id": "999",
                "chat_id": "999",
                "display_name": "Cán bộ tổng hợp",
                "role": "secretariat",
                "unit_id": None,
                "active": True,
                "created_at": now,
            }
        )
        session.execute(insert(Contact.__table__), contacts)
        submissions = []
        for index, unit_id in enumerate(unit_ids):
            share = index % 10
            status = "submitted" if share < 4 else "in_progress" if share < 7 else None
            if status:
                submissions.append(
                    {"campaign_id": campaign.id, "unit_id": unit_id, "status": status}
                )
        session.execute(insert(Submission.__table__), submissions)
        rows = session.execute(
            select(Submission.id, Submission.status).where(Submission.campaign_id == campaign.id)
        ).all()
        answers = []
        for submission_id, status in rows:
            count = len(keys) if status == "submitted" else len(keys) // 2
            for key in keys[:count]:
                answers.append(
                    {
                        "submission_id": submission_id,
                        "question_key": key,
                        "value": {"value": 1},
                        "not_applicable": False,
                        "updated_at": now,
                    }
                )
        session.execute(insert(Answer.__table__), answers)
        campaign_id = campaign.id
    return database, campaign_id


def decide_and_enqueue(database, campaign_id: int) -> dict:
    with database.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        started = time.perf_counter()
        audience = load_audience(session, campaign)
        audience_s = time.perf_counter() - started
        session.rollback()
    started = time.perf_counter()
    result = tick(database, SLOT_TIME)
    tick_s = time.perf_counter() - started
    started = time.perf_counter()
    again = tick(database, SLOT_TIME)  # a restart at the same moment: nothing new
    again_s = time.perf_counter() - started
    with database.transaction() as session:
        logged = session.execute(select(func.count()).select_from(ReminderLog)).scalar()
        pending = session.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
        ).scalar()
    return {
        "officers": len(audience.officers),
        "audience_s": audience_s,
        "tick_s": tick_s,
        "queued": result.queued,
        "again_queued": again.queued,
        "again_s": again_s,
        "logged": logged,
        "pending": pending,
    }


def telegram_sender(bot, base_url: str):
    """The real channel's sender when `bot.channels.telegram` is there, else the bench's own."""
    try:
        from bot.channels.telegram import TelegramChannel
        from bot.settings import Settings

        settings = Settings(telegram_bot_token=BENCH_TOKEN, telegram_api_base_url=base_url)
        channel = TelegramChannel(settings)
        channel.bot = bot  # transport only: no getMe, polling or commands needed to send
        return channel.sender, "bot.channels.telegram.TelegramChannel.sender (aiogram)"
    except ImportError:
        return AiogramSender(bot), "minimal aiogram Bot sender in this bench (no telegram.py)"


class AiogramSender:
    """Minimal stand-in for the Telegram channel's sender: aiogram `Bot.send_message`."""

    def __init__(self, bot) -> None:
        self.bot = bot

    async def send(self, chat_id: str, outbound: Outbound) -> None:
        from aiogram.exceptions import (
            TelegramForbiddenError,
            TelegramNetworkError,
            TelegramRetryAfter,
            TelegramServerError,
        )
        from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

        markup = None
        if outbound.choices:
            markup = InlineKeyboardMarkup(
                inline_keyboard=[
                    [
                        InlineKeyboardButton(
                            text=c.label, callback_data=f"{c.id}|{outbound.context}"[:64]
                        )
                        for c in outbound.choices
                    ]
                ]
            )
        try:
            await self.bot.send_message(int(chat_id), outbound.text, reply_markup=markup)
        except TelegramRetryAfter as error:
            raise RetryLater(error.retry_after, flood=True) from None
        except TelegramForbiddenError as error:
            raise Undeliverable(str(error), blocked=True) from None
        except (TelegramServerError, TelegramNetworkError) as error:
            raise RetryLater(1.0, reason=type(error).__name__) from None


async def deliver(database, limit: int) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    from tests.fakes.telegram_server import FakeTelegramServer

    with database.transaction() as session:  # keep only `limit` rows deliverable
        keep = list(
            session.execute(
                select(OutboxMessage.id)
                .where(OutboxMessage.kind == "reminder")
                .order_by(OutboxMessage.id)
                .limit(limit)
            ).scalars()
        )
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id.not_in(keep)).values(status="held")
        )
        due_until = session.execute(
            select(func.max(OutboxMessage.not_before)).where(OutboxMessage.id.in_(keep))
        ).scalar()
    origin = time.monotonic()

    def clock() -> datetime:  # real time, starting at the slot's moment
        return SLOT_TIME + timedelta(seconds=time.monotonic() - origin)

    async with FakeTelegramServer(token=BENCH_TOKEN) as server:
        api = TelegramAPIServer.from_base(server.base_url)
        bot = Bot(server.token, session=AiohttpSession(api=api))
        sender, how = telegram_sender(bot, server.base_url)
        outbox = Outbox(database, {"telegram": sender}, Pacer(RATE, CHAT_INTERVAL), clock)
        # what `baocao run` does after a tick: the outbox sweeps (every 5 s, or when woken) and
        # the reminder runner wakes it each second while the staggered rows fall due
        runner = ReminderRunner(database, clock, outbox, AlwaysHeld())
        started = time.monotonic()
        sweeping = asyncio.create_task(outbox.run())
        runner.keep_waking(due_until)
        await server.wait_for_calls("sendMessage", limit, timeout=limit / RATE * 2 + 60)
        elapsed = time.monotonic() - started
        await outbox.drain(timeout=30)
        runner.shutdown()
        sweeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeping
        await bot.session.close()
        times = sorted(r.time for r in server.sent() if r.method == "sendMessage")
        span = times[-1] - times[0] if times else 0.0
        first_after = times[0] - started if times else 0.0
        spread_s = (due_until - SLOT_TIME).total_seconds()
        by_chat: dict[int, list[float]] = {}
        for record in server.sent():
            by_chat.setdefault(record.chat_id, []).append(record.time)
        closest = min(
            (b - a for ts in by_chat.values() for a, b in zip(ts, ts[1:], strict=False)),
            default=None,
        )
        busiest = max(
            (bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)), default=0
        )
        calls = dict(server.calls)
    return {
        "how": how,
        "sent": len(times),
        "elapsed": elapsed,
        "span": span,
        "spread_s": spread_s,
        "first_after": first_after,
        "bound": max(len(times) - 1, 0) / RATE,
        "stats": outbox.stats,
        "busiest_second": busiest,
        "closest_same_chat": closest,
        "calls": calls,
    }


def _seconds(value: float | None) -> str:
    return "n/a (one message per chat)" if value is None else f"{value:.3f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--deliver", type=int, default=1_000, help="0 to skip delivery")
    parser.add_argument("--db", type=Path, default=None, help="SQLite file (default: in /tmp)")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="baocao-bench-", dir="/tmp"))
    db_path = args.db or folder / "bench.db"

    started = time.perf_counter()
    database, campaign_id = build(db_path, args.units)
    print(
        f"setup: {args.units:,} units, {2 * args.units:,} contacts in {db_path} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    figures = decide_and_enqueue(database, campaign_id)
    expected = 2 * (args.units - (args.units // 10) * 4 - min(args.units % 10, 4))
    print(
        f"decide + enqueue one slot: {figures['tick_s']:.2f} s for {figures['queued']:,} "
        f"messages ({figures['officers']:,} officer reminders expected {expected:,} + digest); "
        f"target < 2 s: {'OK' if figures['tick_s'] < 2 else 'MISSED'}"
    )
    print(f"  of which loading progress and contacts: {figures['audience_s']:.2f} s")
    print(
        f"  second tick at the same moment (restart): {figures['again_queued']} queued "
        f"in {figures['again_s']:.3f} s; reminder_log rows {figures['logged']:,}, "
        f"pending outbox rows {figures['pending']:,}"
    )
    if args.deliver:
        result = asyncio.run(deliver(database, args.deliver))
        ratio = result["elapsed"] / result["bound"] if result["bound"] else float("nan")
        print(f"deliver: {result['how']}")
        print(
            f"  measured: {result['sent']:,} messages in {result['elapsed']:.1f} s "
            f"(pacing bound {result['bound']:.1f} s, ratio {ratio:.3f}; "
            f"target within 10 %: {'OK' if ratio <= 1.10 else 'MISSED'})"
        )
        print(
            f"  rows fall due over {result['spread_s']:.1f} s (staggered at {SPREAD_RATE:.0f}/s); "
            f"first send {result['first_after']:.2f} s after start; first to last send "
            f"{result['span']:.1f} s"
        )
        print(
            f"  429s: {result['stats']['retried']} retried, {result['stats']['failed']} failed; "
            f"most sends in any 1 s window: {result['busiest_second']}; closest two sends into "
            f"one chat: {_seconds(result['closest_same_chat'])}"
        )
        total = figures["queued"]
        lag = result["elapsed"] - result["spread_s"]
        estimate = total / SPREAD_RATE + lag
        bound = total / RATE
        print(
            f"  extrapolated (not measured): all {total:,} messages of this slot fall due over "
            f"{total / SPREAD_RATE / 60:.1f} min; + measured lag {lag:.1f} s ≈ "
            f"{estimate / 60:.1f} min against the pacing bound {bound / 60:.1f} min "
            f"(ratio {estimate / bound:.3f})"
        )
    database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
