"""Benchmark of delivery under faults: the real `baocao run` process against the fake Telegram
Bot API (tests/fakes), on SQLite and, when TEST_DATABASE_URL is set, PostgreSQL.

    .venv/bin/python bench/faults.py [--kills 3] [--officers 50] [--outage 10]

Prints, per database:
- silence after restart: from the restarted process's first getUpdates to its first reply (s);
  and until every reply stranded by the kill was delivered (s);
- replies resent per kill: sent twice because they were in flight at the SIGKILL (Telegram has
  no idempotency key), next to the rows still being sent at that instant; with the production
  pacing and with a stress pacing that keeps a send in flight in nearly every chat;
- delivery after an outage: every sendMessage answers 502 for `--outage` seconds while officers
  answer; how long after the outage ends the last reply arrives (s). Back-off doubles from 1 s,
  so an outage of 10 s is followed by a try at 15 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from storage.database import normalize_url  # noqa: E402
from tests.crash_harness import WatchedTelegram, crash_and_restart, outage  # noqa: E402

# (messages/s overall, seconds between two messages into one chat)
PACINGS = {
    "Telegram's limits (25/s, 1 s per chat)": (25.0, 1.0),
    "stress (1000/s, no per-chat spacing)": (1000.0, 0.0),
}


class Databases:
    """Fresh databases: SQLite files in a temporary folder, PostgreSQL databases dropped after."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        admin = os.environ.get("TEST_DATABASE_URL")
        self.admin = normalize_url(admin) if admin else None
        self.created: list[str] = []

    def kinds(self) -> list[str]:
        return ["sqlite", "postgresql"] if self.admin else ["sqlite"]

    def fresh(self, kind: str) -> str:
        name = f"baocao_faults_{uuid.uuid4().hex[:10]}"
        if kind == "sqlite":
            return f"sqlite:///{self.folder / (name + '.db')}"
        engine = create_engine(self.admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        self.created.append(name)
        return make_url(self.admin).set(database=name).render_as_string(hide_password=False)

    def drop(self) -> None:
        if not self.created:
            return
        engine = create_engine(self.admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


async def measure(kind: str, databases: Databases, args: argparse.Namespace) -> None:
    print(f"{kind}: {args.kills} kills per pacing with {args.officers} officers answering")
    for name, pacing in PACINGS.items():
        await kills(kind, databases, args, name, pacing)
    async with WatchedTelegram() as tg:
        after = await outage(
            tg, databases.fresh(kind), databases.folder, officers=args.officers, seconds=args.outage
        )
    print(f"  delivery after a {args.outage:g} s outage: last reply {after:.2f} s after its end")


async def kills(
    kind: str,
    databases: Databases,
    args: argparse.Namespace,
    name: str,
    pacing: tuple[float, float],
) -> None:
    silences, strandeds, resent, in_flight = [], [], [], []
    for _ in range(args.kills):
        async with WatchedTelegram() as tg:
            outcome = await crash_and_restart(
                tg, databases.fresh(kind), databases.folder, officers=args.officers, pacing=pacing
            )
        silences.append(outcome.silence_after_restart)
        strandeds.append(outcome.all_delivered_after_restart)
        resent.append(outcome.duplicates)
        in_flight.append(outcome.in_flight_at_kill)
    print(f"  {name}:")
    print(
        f"    silence after restart: first reply {_spread(silences)} s after the first poll; "
        f"all stranded replies {_spread(strandeds)} s"
    )
    print(
        f"    replies resent per kill: {resent} (rows still being sent at the kill: {in_flight}); "
        f"mean {statistics.mean(resent):.1f}"
    )


def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} (max {max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--officers", type=int, default=50)
    parser.add_argument("--outage", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="baocao-faults-") as folder:
        databases = Databases(Path(folder))
        try:
            for kind in databases.kinds():
                asyncio.run(measure(kind, databases, args))
        finally:
            databases.drop()


if __name__ == "__main__":
    main()
