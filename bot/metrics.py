"""`GET /metrics` in Prometheus' text format (served when `BAOCAO_METRICS=1`).

The hot path only bumps counters it already keeps (`ChannelHost.counts`, `Outbox.stats`) or
observes one number (a send's latency, a transaction's time); everything that needs the database
(outbox rows by status, reminders, units by status per campaign) is read when Prometheus scrapes,
in a worker thread. A private `CollectorRegistry`: nothing global, so two applications in one
process (the tests) do not mix.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter as Tally
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import event, func, select

from conversations.statuses import CampaignState, SubmissionStatus
from storage.database import Database
from storage.models import Campaign, OutboxMessage, ReminderLog, Submission
from storage.progress import participating_units

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30)
_STARTED = "baocao_tx_started"


class Metrics:
    def __init__(self, database: Database, host=None, outbox=None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.database, self.host, self.outbox = database, host, outbox
        self.send_seconds = Histogram(
            "baocao_send_seconds",
            "Thời gian gửi một tin nhắn tới nền tảng",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.web_requests = Counter(
            "baocao_web_requests",
            "Yêu cầu tới máy chủ web theo đường dẫn và mã trạng thái",
            ["route", "status"],
            registry=self.registry,
        )
        self.db_seconds = Histogram(
            "baocao_db_transaction_seconds",
            "Thời gian mỗi giao dịch cơ sở dữ liệu (từ lúc bắt đầu đến commit/rollback)",
            buckets=DB_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_StateCollector(self))
        self._watch_transactions()

    # --- hooks ---------------------------------------------------------------------------

    def observe_send(self, channel: str, seconds: float) -> None:
        self.send_seconds.labels(channel).observe(seconds)

    def _watch_transactions(self) -> None:
        engine = self.database.engine
        histogram = self.db_seconds

        def began(connection) -> None:
            connection.info[_STARTED] = time.perf_counter()

        def ended(connection) -> None:
            started = connection.info.pop(_STARTED, None)
            if started is not None:
                histogram.observe(time.perf_counter() - started)

        event.listen(engine, "begin", began)
        event.listen(engine, "commit", ended)
        event.listen(engine, "rollback", ended)

    @web.middleware
    async def middleware(self, request: web.Request, handler) -> web.StreamResponse:
        route = request.match_info.route.resource
        name = route.canonical if route is not None else "(không khớp)"
        try:
            response = await handler(request)
        except web.HTTPException as error:
            self.web_requests.labels(name, str(error.status)).inc()
            raise
        except Exception:
            self.web_requests.labels(name, "500").inc()
            raise
        self.web_requests.labels(name, str(response.status)).inc()
        return response

    async def handle(self, request: web.Request) -> web.Response:
        body = await asyncio.to_thread(generate_latest, self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def install(self, web_app: web.Application) -> None:
        web_app.middlewares.append(self.middleware)
        web_app.router.add_get("/metrics", self.handle)


class _StateCollector:
    """What is read at scrape time: in-process counters and the database's current state."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator:
        host, outbox = self.metrics.host, self.metrics.outbox
        updates = CounterMetricFamily(
            "baocao_updates",
            "Cập nhật nhận từ các kênh: received, applied, set_aside, not_applied",
            labels=["channel", "outcome"],
        )
        for (channel, outcome), count in sorted(getattr(host, "counts", {}).items()):
            updates.add_metric([channel, outcome], count)
        yield updates
        deliveries = CounterMetricFamily(
            "baocao_outbox_deliveries",
            "Lần gửi của tiến trình này: sent, failed, retried, held_429",
            labels=["outcome"],
        )
        for outcome, count in sorted(getattr(outbox, "stats", {}).items()):
            deliveries.add_metric([outcome], count)
        yield deliveries
        yield from _database_state(self.metrics.database)


def _database_state(database: Database) -> Iterator:
    rows = GaugeMetricFamily(
        "baocao_outbox_messages",
        "Tin trong hộp thư đi theo trạng thái",
        labels=["channel", "status"],
    )
    reminders = GaugeMetricFamily(
        "baocao_reminders",
        "Tin nhắc hạn: queued (đã xếp), sent (đã gửi)",
        labels=["campaign", "state"],
    )
    units = GaugeMetricFamily(
        "baocao_campaign_units", "Đơn vị theo trạng thái nộp báo cáo", labels=["campaign", "status"]
    )
    with database.transaction() as session:
        for channel, status, count in session.exec(
            select(OutboxMessage.channel, OutboxMessage.status, func.count()).group_by(
                OutboxMessage.channel, OutboxMessage.status
            )
        ):
            rows.add_metric([channel, status], count)
        queued = (
            select(Campaign.code, func.count())
            .join(ReminderLog, ReminderLog.campaign_id == Campaign.id)
            .where(ReminderLog.status == "queued")
        )
        for code, count in session.exec(queued.group_by(Campaign.code)):
            reminders.add_metric([code, "queued"], count)
        sent = queued.join(OutboxMessage, OutboxMessage.id == ReminderLog.outbox_id).where(
            OutboxMessage.status == "sent"
        )
        for code, count in session.exec(sent.group_by(Campaign.code)):
            reminders.add_metric([code, "sent"], count)
        by_status: dict[str, Tally] = {}
        for code, status, count in session.exec(
            select(Campaign.code, Submission.status, func.count())
            .join(Submission, Submission.campaign_id == Campaign.id)
            .group_by(Campaign.code, Submission.status)
        ):
            by_status.setdefault(code, Tally())[status] += count
        # An open campaign's units that never wrote have no submission row: not started.
        for campaign in session.scalars(
            select(Campaign).where(Campaign.state == CampaignState.OPEN)
        ):
            tally = by_status.setdefault(campaign.code, Tally())
            unseen = len(participating_units(session, campaign)) - sum(tally.values())
            tally[SubmissionStatus.NOT_STARTED] += max(unseen, 0)
        for code, tally in by_status.items():
            for status, count in tally.items():
                units.add_metric([code, str(status)], count)
    yield rows
    yield reminders
    yield units
