"""`baocao doctor`: check a configuration before (or while) running it, one Vietnamese line per
check, for whoever looks after the server.

Checks: each configured token is accepted by its platform (`getMe`); the webhook is set to the
configured address (or none is, when polling) and the platform reports no delivery error; the
public address is https; the database answers and its schema is the code's; the data folder is
writable; the system clock agrees with the platform's (the `Date` header) and the Vietnamese time
zone is known; there is disk space. Tokens never appear in a line.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp

from bot.channels.base import redact
from bot.channels.telegram_wire import WEBHOOK_PATH as TELEGRAM_WEBHOOK
from bot.channels.zalo import WEBHOOK_PATH as ZALO_WEBHOOK
from bot.settings import Settings
from storage.database import open_database
from storage.schema import schema_state

MIN_FREE_BYTES = 1024**3
MAX_CLOCK_SKEW = 60.0
TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass(frozen=True)
class Check:
    ok: bool
    line: str

    def render(self) -> str:
        return f"[{'ĐẠT' if self.ok else 'LỖI'}] {self.line}"


async def run_checks(
    settings: Settings, *, now: datetime, min_free_bytes: int = MIN_FREE_BYTES
) -> list[Check]:
    checks: list[Check] = []
    platform_dates: list[datetime] = []
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        for name, token, base, path in _platforms(settings):
            checks += await _platform(settings, http, name, token, base, path, platform_dates)
    if not _platforms(settings):
        checks.append(
            Check(False, "Chưa đặt TELEGRAM_BOT_TOKEN hay ZALO_BOT_TOKEN: baocao run không có kênh")
        )
    checks.append(_public_url(settings))
    checks.append(_database(settings))
    checks.append(_data_folder(Path(settings.baocao_data_dir)))
    checks.append(_clock(now, platform_dates))
    checks.append(_disk(Path(settings.baocao_data_dir), min_free_bytes))
    return checks


def _platforms(settings: Settings) -> list[tuple[str, str, str, str]]:
    found = []
    if settings.telegram_bot_token is not None:
        token = settings.telegram_bot_token.get_secret_value()
        found.append(("Telegram", token, settings.telegram_api_base_url, TELEGRAM_WEBHOOK))
    if settings.zalo_bot_token is not None:
        token = settings.zalo_bot_token.get_secret_value()
        found.append(("Zalo", token, settings.zalo_api_base_url, ZALO_WEBHOOK))
    return found


async def _call(http: aiohttp.ClientSession, base: str, token: str, method: str, dates: list):
    async with http.post(f"{base}/bot{token}/{method}", json={}) as response:
        stamp = response.headers.get("Date")
        if stamp:
            with contextlib.suppress(TypeError, ValueError):
                dates.append(parsedate_to_datetime(stamp).astimezone(UTC))
        try:
            body = await response.json(content_type=None)
        except ValueError:
            body = {}
        return response.status, body if isinstance(body, dict) else {}


async def _platform(settings, http, name, token, base, path, dates) -> list[Check]:
    try:
        status, body = await _call(http, base, token, "getMe", dates)
    except (aiohttp.ClientError, TimeoutError) as error:
        reason = redact(str(error) or type(error).__name__, (token,))
        return [Check(False, f"{name}: không kết nối được máy chủ {base} ({reason})")]
    if not body.get("ok"):
        described = redact(body.get("description") or f"HTTP {status}", (token,))
        return [Check(False, f"{name}: mã bot (token) bị từ chối: {described}")]
    me = body.get("result") or {}
    who = me.get("username") or me.get("account_name") or me.get("id") or "?"
    checks = [Check(True, f"{name}: mã bot hợp lệ (bot {who})")]
    try:
        _, info = await _call(http, base, token, "getWebhookInfo", dates)
    except (aiohttp.ClientError, TimeoutError):
        return checks + [Check(False, f"{name}: không đọc được thông tin webhook")]
    result = info.get("result") or {}
    actual = result.get("url") or ""
    if settings.baocao_webhook_url:
        wanted = settings.baocao_webhook_url + path
        if actual != wanted:
            shown = actual or "chưa đặt"
            checks.append(
                Check(False, f"{name}: webhook là {shown}, cấu hình là {wanted} (chạy baocao run)")
            )
        elif result.get("last_error_message"):
            error = redact(result["last_error_message"], (token,))
            checks.append(Check(False, f"{name}: webhook {wanted} chưa gọi tới được: {error}"))
        else:
            checks.append(Check(True, f"{name}: webhook đặt đúng {wanted}, không có lỗi gửi"))
    elif actual:
        checks.append(
            Check(False, f"{name}: đang đặt webhook {actual} nhưng cấu hình là long polling")
        )
    else:
        checks.append(Check(True, f"{name}: nhận tin bằng long polling, không đặt webhook"))
    return checks


def _public_url(settings: Settings) -> Check:
    url = settings.public_url
    if url.startswith("https://"):
        return Check(True, f"Địa chỉ công khai dùng https: {url}")
    return Check(
        False, f"Địa chỉ công khai {url} không dùng https: đặt BAOCAO_PUBLIC_URL=https://…"
    )


def _database(settings: Settings) -> Check:
    try:
        database = open_database(settings.baocao_database_url, upgrade=False)
    except ValueError as error:
        return Check(False, f"Cơ sở dữ liệu: {error}")
    try:
        state = schema_state(database.engine)
    except Exception as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        return Check(
            False, f"Cơ sở dữ liệu {database.engine.dialect.name}: không kết nối được ({reason})"
        )
    finally:
        database.dispose()
    kind = database.engine.dialect.name
    if state.is_current:
        return Check(
            True, f"Cơ sở dữ liệu {kind}: kết nối được, lược đồ {state.current} đúng phiên bản"
        )
    return Check(
        False,
        f"Cơ sở dữ liệu {kind}: lược đồ {state.describe}, mã chương trình cần {state.head}"
        + (" (cài bản baocao mới hơn)" if state.newer else " (chạy: baocao db upgrade)"),
    )


def _data_folder(folder: Path) -> Check:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-") as probe:
            probe.write(b"ok")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        return Check(False, f"Thư mục dữ liệu {folder}: không ghi được ({error.strerror})")
    return Check(True, f"Thư mục dữ liệu {folder.resolve()}: ghi được")


def _clock(now: datetime, platform_dates: list[datetime]) -> Check:
    try:
        zone = ZoneInfo("Asia/Ho_Chi_Minh")
    except ZoneInfoNotFoundError:
        return Check(False, "Múi giờ Asia/Ho_Chi_Minh không có trên máy (cài gói tzdata)")
    local = now.astimezone(zone).strftime("%H:%M %d/%m/%Y")
    if not platform_dates:
        return Check(True, f"Đồng hồ: {local} giờ Việt Nam (không có máy chủ để đối chiếu)")
    skew = max(abs((now - stamp).total_seconds()) for stamp in platform_dates)
    if skew > MAX_CLOCK_SKEW:
        return Check(
            False, f"Đồng hồ máy lệch {skew:.0f} giây so với máy chủ nền tảng (bật NTP/timesyncd)"
        )
    return Check(True, f"Đồng hồ: {local} giờ Việt Nam, lệch {skew:.0f} giây so với nền tảng")


def _disk(folder: Path, min_free_bytes: int) -> Check:
    target = folder if folder.exists() else Path.cwd()
    free = shutil.disk_usage(target).free
    shown = f"{free / 1024**3:.1f} GB"
    if free < min_free_bytes:
        need = f"{min_free_bytes / 1024**3:.1f} GB"
        return Check(False, f"Dung lượng đĩa còn {shown}, dưới mức tối thiểu {need}")
    return Check(True, f"Dung lượng đĩa còn {shown}")
