"""Benchmark: the web page's overview and unit list for a campaign of 10,000 units under 20
concurrent signed-in sessions, against the same server's /healthz in the same run.

A temporary SQLite database gets 10,000 units (100 districts × 99 communes and the district
itself, the groups alternating), submissions for about 70 % of them with every question
answered, and 20 secretariat members each with a live session. The real aiohttp application
(`bot.web.server.build_web_app` with the staff pages) listens on 127.0.0.1; 20 client sessions, each
with its own cookie, request one page after another (a closed loop) for a fixed number of
rounds. Like `baocao run`, the process settles its heap before it serves
(`bot.runner.settle_heap`: start-up objects frozen, young-generation threshold raised), so a full
garbage collection walks what the server keeps, not every imported module. Reported: p50/p95
latency and requests/s per page and for /healthz (the floor the server, the thread hop and one
database round trip set). Targets: overview p95 < 300 ms, the unit list (200 rows a page) p95
< 150 ms.

    python bench/web.py [--units 10000] [--sessions 20] [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from bot.clock import FakeClock  # noqa: E402
from bot.runner import settle_heap  # noqa: E402
from bot.use_cases import Desk  # noqa: E402
from bot.web.server import build_web_app  # noqa: E402
from bot.web.staff.guard import COOKIE  # noqa: E402
from bot.web.staff.routes import StaffWeb  # noqa: E402
from storage.database import open_database  # noqa: E402
from storage.models import Answer, Contact, Submission, Unit  # noqa: E402
from storage.repository import (  # noqa: E402
    UnitRow,
    campaign_form,
    current_campaign,
    replace_units,
    seed_if_empty,
)
from storage.staff_store import create_session  # noqa: E402

NOW = datetime(2022, 7, 4, 1, 30, tzinfo=UTC)
GROUPS = ("kiem_tra_truc_tiep", "tu_kiem_tra")
PAGES = {
    "healthz": "/healthz",
    "overview": "/web/",
    "unit_list": "/web/don-vi",
    "unit_list_search": "/web/don-vi?tim=xa+1&xep=ten",
}


def build_database(path: Path, units: int, sessions: int) -> tuple[object, list[str]]:
    database = open_database(f"sqlite:///{path}")
    rng = random.Random(131)
    with database.transaction() as session:
        seed_if_empty(session, NOW - timedelta(days=20))
        rows = []
        for index in range(units):
            district, place = divmod(index, 100)
            rows.append(
                UnitRow(
                    code=f"U{index:05d}",
                    name=f"Đảng ủy đơn vị số {index} (mẫu)",
                    level="huyen" if place == 0 else "xa",
                    parent_code=f"U{district * 100:05d}" if place else "",
                    group=GROUPS[district % 2],
                )
            )
        replace_units(session, rows)
    with database.transaction() as session:
        campaign = current_campaign(session)
        form = campaign_form(campaign)
        unit_ids = [
            unit_id
            for (unit_id,) in session.execute(Unit.__table__.select().with_only_columns(Unit.id))
        ]
        submissions = []
        for unit_id in unit_ids:
            if rng.random() < 0.3:
                continue
            status = rng.choice(["submitted", "approved", "in_progress", "returned", "submitted"])
            moment = NOW - timedelta(minutes=rng.randint(0, 20 * 24 * 60))
            submissions.append(
                {
                    "campaign_id": campaign.id,
                    "unit_id": unit_id,
                    "status": status,
                    "started_at": moment,
                    "submitted_at": moment if status in ("submitted", "approved") else None,
                    "last_activity_at": moment,
                }
            )
        session.execute(insert(Submission), submissions)
        keys = [q.key for q in form.questions]
        answers = [
            {
                "submission_id": submission_id,
                "question_key": key,
                "value": {"value": rng.randint(0, 50)},
                "not_applicable": False,
                "updated_at": NOW,
                "channel": "telegram",
            }
            for (submission_id,) in session.execute(
                Submission.__table__.select().with_only_columns(Submission.id)
            )
            for key in keys
        ]
        for start in range(0, len(answers), 20_000):
            session.execute(insert(Answer), answers[start : start + 20_000])
        tokens = []
        for number in range(sessions):
            contact = Contact(
                channel="telegram",
                external_id=f"sec-{number}",
                chat_id=f"sec-{number}",
                display_name=f"Cán bộ tổng hợp {number}",
                role="secretariat",
                created_at=NOW,
            )
            session.add(contact)
            session.flush()
            tokens.append(create_session(session, contact.id, NOW, timedelta(days=30)))
    return database, tokens


async def measure(base: str, tokens: list[str], path: str, rounds: int) -> dict:
    latencies: list[float] = []

    async def one_session(token: str) -> None:
        async with aiohttp.ClientSession(cookies={COOKIE: token}) as client:
            for _ in range(rounds):
                started = time.perf_counter()
                async with client.get(base + path) as response:
                    await response.read()
                    assert response.status == 200, (path, response.status)
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one_session(token) for token in tokens))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1),
        "requests_per_s": round(len(latencies) / elapsed, 1),
    }


async def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        setup = time.perf_counter()
        database, tokens = build_database(Path(folder) / "bench.db", args.units, args.sessions)
        setup = time.perf_counter() - setup
        settle_heap()  # what `baocao run` does before it starts
        clock = FakeClock(NOW)
        staff = StaffWeb(database, clock, Desk())
        runner = web.AppRunner(build_web_app(database, clock, staff), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            for path in PAGES.values():  # warm up: the snapshot and each page's first view
                await measure(base, tokens[:2], path, 1)
            results = {
                name: await measure(base, tokens, path, args.rounds) for name, path in PAGES.items()
            }
        finally:
            await runner.cleanup()
            database.dispose()
    return {
        "units": args.units,
        "sessions": args.sessions,
        "rounds": args.rounds,
        "setup_s": round(setup, 1),
        **results,
        "overview_target_met": results["overview"]["p95_ms"] < 300,
        "unit_list_target_met": results["unit_list"]["p95_ms"] < 150,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
