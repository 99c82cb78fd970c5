"""`baocao run`: start the assembled parts in order (channels, web server, outbox, reminders),
and stop them all cleanly on SIGTERM/SIGINT: channels stop taking updates, updates being handled
finish, the outbox drains, then the web server closes. What the parts are and how they are wired
is `bot.app`'s business.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys

from aiohttp import web

from bot.app import App, Assembly, assemble, configured_channels
from bot.channels.base import ChannelStartError
from bot.logs import configure_logging
from bot.upkeep import configured_secrets, retention_daily

log = logging.getLogger(__name__)
YOUNG_GC_THRESHOLD = 10_000
__all__ = ["ChannelStartError", "run", "serve", "settle_heap"]


async def serve(
    parts: Assembly, stop: asyncio.Event, *, started: asyncio.Event | None = None
) -> None:
    """Run until `stop` is set; then finish in-flight updates and deliveries, and close."""
    settings, channels, host, outbox = parts.app.settings, parts.channels, parts.host, parts.outbox
    web_app = parts.web
    host.loop = asyncio.get_running_loop()
    started_channels = []
    try:
        for channel in channels:
            await channel.start(host)
            started_channels.append(channel)
    except BaseException:
        for channel in reversed(started_channels):
            await channel.stop()
        raise
    runner = web.AppRunner(web_app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.baocao_http_host, settings.baocao_http_port)
    try:
        await site.start()
    except OSError as error:
        for channel in channels:
            await channel.stop()
        await runner.cleanup()
        raise ChannelStartError(
            f"không mở được cổng web {settings.baocao_http_host}:{settings.baocao_http_port}"
            f" ({error.strerror})"
        ) from None
    background = [asyncio.create_task(outbox.run())]
    background.append(asyncio.create_task(retention_daily(parts.app)))
    scheduler = parts.start_reminders(background)
    names = ", ".join(c.name for c in channels) or "không có kênh nào"
    log.info("baocao đang chạy: %s; web %s", names, settings.public_url)
    if started is not None:
        started.set()
    try:
        await stop.wait()
    finally:
        for channel in channels:
            await channel.stop()
        if host.in_flight:
            await asyncio.gather(*host.in_flight, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await outbox.drain(timeout=10)
        await outbox.close()
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await runner.cleanup()


def settle_heap() -> None:
    """Tune the garbage collector for a long-running bot, once start-up is done.

    Start-up objects (aiogram's and pydantic's models, the forms) live as long as the process:
    frozen, full collections no longer rescan them. Each update makes thousands of short-lived
    container objects, so the youngest generation is collected less often (reference counting
    still frees almost everything at once); bench/telegram_e2e.py shows the effect.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])


def run(app: App) -> int:
    """The blocking entry point of `baocao run`."""
    configure_logging(app.settings.baocao_log_format, configured_secrets(app.settings))
    channels = configured_channels(app.settings)
    if not channels:
        print(
            "baocao: chưa cấu hình kênh nào. Đặt TELEGRAM_BOT_TOKEN và/hoặc ZALO_BOT_TOKEN "
            "(xem README), hoặc thử ngay trong cửa sổ dòng lệnh: baocao chat",
            file=sys.stderr,
        )
        return 1

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)
        await serve(assemble(app, channels), stop)

    settle_heap()
    try:
        asyncio.run(main())
    except ChannelStartError as error:
        print(f"baocao: {error}", file=sys.stderr)
        return 1
    return 0
