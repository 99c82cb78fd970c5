"""Upkeep of a long-running `baocao run`: the daily retention pass (with the uploads a crash cut
off) and the secrets to keep out of the logs."""

from __future__ import annotations

import asyncio
import logging

from bot.app import App
from bot.settings import Settings
from storage.retention import prune
from storage.staging import sweep_abandoned

log = logging.getLogger(__name__)
DAY = 24 * 3600.0


def configured_secrets(settings: Settings) -> tuple[str, ...]:
    values = (
        settings.telegram_bot_token,
        settings.zalo_bot_token,
        settings.baocao_webhook_secret,
    )
    return tuple(value.get_secret_value() for value in values if value is not None)


def prune_now(app: App):
    """One retention pass (`BAOCAO_RETENTION_DAYS`), as `baocao db prune` and the daily task do."""
    return prune(app.database, app.clock(), app.settings.baocao_retention_days)


async def retention_daily(app: App, *, every: float = DAY) -> None:
    """On start and then once a day, in a worker thread; a failure is logged and tried again
    the next day."""
    while True:
        try:
            swept = await asyncio.to_thread(
                sweep_abandoned, app.settings.baocao_data_dir, app.clock()
            )
            if swept:
                log.info("lưu trữ: đã xóa %d tệp tải lên dở dang do tiến trình bị dừng", swept)
            done = await asyncio.to_thread(prune_now, app)
            if done.payloads or done.updates:
                log.info(
                    "lưu trữ: đã xóa nội dung %d tin đã gửi và %d mã cập nhật cũ hơn %d ngày",
                    done.payloads,
                    done.updates,
                    app.settings.baocao_retention_days,
                )
        except Exception:
            log.exception("lưu trữ: chưa dọn được dữ liệu cũ, sẽ thử lại ngày mai")
        await asyncio.sleep(every)
