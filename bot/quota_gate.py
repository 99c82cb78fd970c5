"""The Zalo monthly quota as policy: every message sent on a metered channel is booked against
its month's counter (`storage.quota`) first; the secretariat is warned once at 80 % of the cap
and told once when it is reached, and past the cap nothing more is sent there that month.

The channel only asks `take(outbound)` before each message part it sends and `give_back()` when
the platform refused it for sure; the counting, the notices and their wording live here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.messaging import Outbound
from bot.notify import Recipient, notify, secretariat_of
from storage.database import Database
from storage.quota import QuotaTake, give_back, take, warn_threshold

log = logging.getLogger(__name__)

QUOTA_CONTEXT = "zalo-quota"  # marks the secretariat's quota notices, let through at the cap
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")  # Zalo's calendar month is Vietnam's


def month_of(moment: datetime) -> str:
    return moment.astimezone(ZONE).strftime("%Y-%m")


def _number(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def month_label(month: str) -> str:
    year, _, number = month.partition("-")
    return f"{int(number)}/{year}"


def warning_text(booked: QuotaTake, month: str) -> str:
    return (
        f"Cảnh báo hạn mức Zalo: trợ lý đã gửi {_number(booked.sent)}/{_number(booked.cap)} "
        f"tin nhắn Zalo trong tháng {month_label(month)} (đã đạt 80% hạn mức "
        "BAOCAO_ZALO_MONTHLY_CAP). Khi hết hạn mức, trợ lý ngừng gửi tin trên Zalo đến hết "
        "tháng. Đề nghị hướng dẫn các đơn vị chuyển sang Telegram, hoặc nâng hạn mức nếu gói "
        "Zalo cho phép."
    )


def cap_text(booked: QuotaTake, month: str) -> str:
    return (
        f"Đã hết hạn mức {_number(booked.cap)} tin nhắn Zalo của tháng {month_label(month)} "
        "(BAOCAO_ZALO_MONTHLY_CAP). Từ giờ đến hết tháng trợ lý không gửi tin trên Zalo nữa: "
        "số liệu cán bộ gửi qua Zalo vẫn được ghi nhận nhưng họ không nhận được phản hồi. "
        "Đề nghị hướng dẫn các đơn vị chuyển sang Telegram, hoặc nâng hạn mức nếu gói Zalo "
        "cho phép."
    )


@dataclass
class MonthlyQuotaGate:
    """The meter of one bot account on one channel."""

    database: Database
    clock: Clock
    channel: str
    account: str
    cap: int
    wake_outbox: Callable[[], None]
    stats: dict[str, int] = field(default_factory=lambda: {"refused": 0})

    async def take(self, outbound: Outbound) -> str | None:
        """Book one message: None when it may go, the reason past the cap. The quota notices
        themselves are booked and let through even then."""
        exempt = outbound.context == QUOTA_CONTEXT
        booked, month = await asyncio.to_thread(self._book, exempt)
        if booked.allowed:
            return None
        self.stats["refused"] += 1
        return f"quota: hết hạn mức {booked.cap} tin nhắn Zalo tháng {month_label(month)}"

    async def give_back(self) -> None:
        """The platform refused the message for sure: it does not count."""
        month = month_of(self.clock())
        await asyncio.to_thread(self._give_back, month)

    def _book(self, exempt: bool) -> tuple[QuotaTake, str]:
        now = self.clock()
        month = month_of(now)
        with self.database.transaction() as session:
            booked = take(
                session,
                channel=self.channel,
                account=self.account,
                month=month,
                cap=self.cap,
                now=now,
                force=exempt,
            )
            notified = 0
            if booked.capped:
                notified = self._notify_secretariat(session, cap_text(booked, month), now)
            elif booked.warn:
                notified = self._notify_secretariat(session, warning_text(booked, month), now)
        if booked.capped or booked.warn:
            cap = self.cap
            what = "đã hết hạn mức" if booked.capped else f"đã đạt {warn_threshold(cap)} tin (80%)"
            log.warning(
                "Zalo: %s tin nhắn tháng %s (%d/%d); đã báo %d cán bộ tổng hợp",
                what,
                month,
                booked.sent,
                cap,
                notified,
            )
            self.wake_outbox()
        return booked, month

    def _give_back(self, month: str) -> None:
        with self.database.transaction() as session:
            give_back(session, channel=self.channel, account=self.account, month=month)

    def _notify_secretariat(self, session, text: str, now: datetime) -> int:
        """The province's secretariat (the quota concerns no unit); on this channel the notice
        carries the context that lets it through at the cap."""

        def worded(person: Recipient) -> Outbound:
            return Outbound(text, context=QUOTA_CONTEXT if person.channel == self.channel else "")

        return len(notify(session, secretariat_of(session, None), worded, now))
