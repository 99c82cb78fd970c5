"""Benchmark: answers per second through the service layer (parse → engine → SQLite transaction).

500 simulated officers (one unit each) answer the whole Phụ lục, interleaved as real traffic
would be, through `Service.handle`. The baseline, in the same run and on the same kind of
database, performs the same commits with the same rows written (inbound id, answer, history,
conversation state, outbox, submission) straight on the sqlite3 driver, with no parsing, no
engine and no reads: the floor the database itself sets. For comparison with earlier runs, the
same commits are also made through SQLAlchemy Core (the hot path's layer until it moved to the
driver; see storage/hot_path.py). The figure that
matters is ours / baseline (target ≥ 0.5).

    python bench/engine.py [--officers 500]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, update  # noqa: E402
from sqlmodel import func, select  # noqa: E402

from bot.app import CHANNEL_TRAITS  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.messaging import Inbound  # noqa: E402
from bot.service import Service  # noqa: E402
from storage.database import open_database  # noqa: E402
from storage.models import (  # noqa: E402
    Answer,
    AnswerHistory,
    Contact,
    ConversationState,
    OutboxMessage,
    ProcessedInbound,
    Submission,
)
from storage.repository import (  # noqa: E402
    UnitRow,
    campaign_form,
    current_campaign,
    replace_units,
    seed_if_empty,
    unit_by_code,
)

ANSWERS = {
    "documents": ["12-KH/HU, ngày 05/6/2017, Kế hoạch triển khai Chỉ thị 37", "xong"],
    "integer": ["5"],
    "percent": ["85,5"],
    "pair": ["12/345"],
    "ratio": ["45/50"],
    "text": ["Không có"],
}


def prepare(url: str, officers: int, clock: FakeClock):
    database = open_database(url)
    with database.transaction() as session:
        seed_if_empty(session, clock())
        rows = [
            UnitRow(f"BENCH-{i:04d}", f"Đơn vị thử {i}", "huyen", group="tu_kiem_tra")
            for i in range(officers)
        ]
        replace_units(session, rows)
        campaign = current_campaign(session)
        form = campaign_form(campaign)
        for i in range(officers):
            unit = unit_by_code(session, f"BENCH-{i:04d}")
            session.add(
                Contact(
                    channel="bench",
                    external_id=f"u{i}",
                    chat_id=f"u{i}",
                    role="officer",
                    unit_id=unit.id,
                    created_at=clock(),
                )
            )
    return database, form


def script(form) -> list[str]:
    texts = ["/tiep"]
    for question in form.questions_for("huyen"):
        texts += ANSWERS[question.kind.value]
    return texts + ["nop", "co"]


def run_service(url: str, officers: int) -> tuple[int, float]:
    clock = FakeClock(datetime(2022, 6, 20, 1, 0, tzinfo=UTC))
    database, form = prepare(url, officers, clock)
    service = Service(database, clock, CHANNEL_TRAITS)
    texts = script(form)
    count = 0
    started = time.perf_counter()
    for step, text in enumerate(texts):
        for i in range(officers):
            service.handle(Inbound("bench", f"u{i}", f"u{i}", f"{i}:{step}", text=text))
            count += 1
    elapsed = time.perf_counter() - started
    with database.transaction() as session:
        submitted = session.exec(
            select(func.count()).select_from(Submission).where(Submission.status == "submitted")
        ).one()
    database.dispose()
    if submitted != officers:
        raise SystemExit(f"only {submitted}/{officers} officers submitted: the bench is wrong")
    return count, elapsed


def prepare_baseline(url: str, officers: int):
    """The rows the baselines update: one submission and one conversation state per officer."""
    clock = FakeClock(datetime(2022, 6, 20, 1, 0, tzinfo=UTC))
    database, _ = prepare(url, officers, clock)
    now = clock()
    with database.transaction() as session:
        campaign = current_campaign(session)
        for i in range(officers):
            session.add(Submission(campaign_id=campaign.id, unit_id=i + 1))
        session.flush()
        for i in range(officers):
            session.add(
                ConversationState(
                    contact_id=i + 1, campaign_id=campaign.id, submission_id=i + 1, updated_at=now
                )
            )
    return database, now


def run_baseline(url: str, officers: int, messages_per_officer: int) -> tuple[int, float]:
    """The same commits with the same rows written, without parsing, engine or reads."""
    database, now = prepare_baseline(url, officers)
    payload = json.dumps({"text": "x" * 400, "choices": [], "context": "q:x", "numbered": False})
    at = now.replace(tzinfo=None).isoformat(" ", "microseconds")  # as SQLAlchemy stores it
    count = 0
    started = time.perf_counter()
    connection = database.engine.raw_connection()  # the driver's own connection: the floor
    driver = connection.driver_connection
    for step in range(messages_per_officer):
        value = json.dumps({"value": step})
        state = json.dumps({"mode": "asking", "cursor": f"q{step}"})
        for i in range(officers):
            driver.execute(
                'INSERT INTO processed_inbound (channel, inbound_id, "at") VALUES (?, ?, ?)',
                ("bench", f"{i}:{step}", at),
            )
            driver.execute(
                "INSERT INTO answer_history (submission_id, question_key, new_value, "
                'new_not_applicable, raw_text, contact_id, channel, "at") '
                "VALUES (?, ?, ?, 0, ?, ?, 'bench', ?)",
                (i + 1, f"q{step}", value, str(step), i + 1, at),
            )
            driver.execute(
                "INSERT INTO answer (submission_id, question_key, value, not_applicable, "
                "raw_text, updated_at, updated_by, channel) VALUES (?, ?, ?, 0, ?, ?, ?, 'bench')",
                (i + 1, f"q{step}", value, str(step), at, i + 1),
            )
            driver.execute(
                "INSERT INTO outbox (channel, chat_id, contact_id, kind, payload, status, "
                "attempts, claimed_at, not_before, created_at) "
                "VALUES ('bench', ?, ?, 'reply', ?, 'sending', 0, ?, ?, ?)",
                (f"u{i}", i + 1, payload, at, at, at),
            )
            driver.execute(
                "UPDATE submission SET status = 'in_progress', last_activity_at = ? WHERE id = ?",
                (at, i + 1),
            )
            driver.execute(
                "UPDATE conversation_state SET state = ?, updated_at = ? WHERE id = ?",
                (state, at, i + 1),
            )
            driver.commit()
            count += 1
    connection.close()
    elapsed = time.perf_counter() - started
    database.dispose()
    return count, elapsed


def run_core_baseline(url: str, officers: int, messages_per_officer: int) -> tuple[int, float]:
    """The same commits through SQLAlchemy Core, as the service wrote them before the hot path
    moved to the driver (kept to compare with earlier figures)."""
    database, now = prepare_baseline(url, officers)
    payload = {"text": "x" * 400, "choices": [], "context": "q:x", "numbered": False}
    count = 0
    started = time.perf_counter()
    engine = database.engine
    for step in range(messages_per_officer):
        for i in range(officers):
            with engine.begin() as connection:
                connection.execute(
                    insert(ProcessedInbound).values(
                        channel="bench", inbound_id=f"{i}:{step}", at=now
                    )
                )
                connection.execute(
                    insert(AnswerHistory).values(
                        submission_id=i + 1,
                        question_key=f"q{step}",
                        new_value={"value": step},
                        new_not_applicable=False,
                        raw_text=str(step),
                        contact_id=i + 1,
                        channel="bench",
                        at=now,
                    )
                )
                connection.execute(
                    insert(Answer).values(
                        submission_id=i + 1,
                        question_key=f"q{step}",
                        value={"value": step},
                        not_applicable=False,
                        raw_text=str(step),
                        updated_at=now,
                        updated_by=i + 1,
                        channel="bench",
                    )
                )
                connection.execute(
                    insert(OutboxMessage).values(
                        channel="bench",
                        chat_id=f"u{i}",
                        contact_id=i + 1,
                        kind="reply",
                        payload=payload,
                        status="sending",
                        attempts=0,
                        claimed_at=now,
                        not_before=now,
                        created_at=now,
                    )
                )
                connection.execute(
                    update(Submission)
                    .where(Submission.id == i + 1)
                    .values(status="in_progress", last_activity_at=now)
                )
                connection.execute(
                    update(ConversationState)
                    .where(ConversationState.id == i + 1)
                    .values(state={"mode": "asking", "cursor": f"q{step}"}, updated_at=now)
                )
            count += 1
    elapsed = time.perf_counter() - started
    database.dispose()
    return count, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--officers", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ours_count, ours_time = run_service(f"sqlite:///{folder}/ours.db", args.officers)
        per_officer = ours_count // args.officers
        base_count, base_time = run_baseline(
            f"sqlite:///{folder}/base.db", args.officers, per_officer
        )
        core_count, core_time = run_core_baseline(
            f"sqlite:///{folder}/core.db", args.officers, per_officer
        )
    ours_rate = ours_count / ours_time
    base_rate = base_count / base_time
    print(f"officers: {args.officers}, messages per officer: {per_officer}")
    print(
        f"service (parse → engine → SQLite transaction): {ours_count} answers in {ours_time:.2f} s"
        f" = {ours_rate:,.0f} answers/s"
    )
    print(
        f"baseline (same commits, same rows, no logic): {base_count} commits in {base_time:.2f} s"
        f" = {base_rate:,.0f} commits/s"
    )
    core_rate = core_count / core_time
    print(
        f"same commits through SQLAlchemy Core: {core_count} commits in {core_time:.2f} s"
        f" = {core_rate:,.0f} commits/s"
    )
    print(f"ratio service/baseline (sqlite3 driver): {ours_rate / base_rate:.2f} (target ≥ 0.5)")
    print(f"ratio service/SQLAlchemy Core commits: {ours_rate / core_rate:.2f}")


if __name__ == "__main__":
    main()
