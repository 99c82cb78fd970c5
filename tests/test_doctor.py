"""`baocao doctor` against the fake Telegram and Zalo Bot API servers: every check passes with
tokens they accept, a webhook set where configured, https, a current database and a writable
data folder (exit 0); a token the platform refuses, a webhook set elsewhere, plain http or an old
schema each fail on their own line (exit 1), and no line shows a token.
"""

from __future__ import annotations

import pytest

import bot.cli.commands as cli
from storage.database import open_database
from storage.schema import downgrade
from tests.fakes.telegram_server import FakeTelegramServer
from tests.fakes.zalo_server import FakeZaloServer

TOKEN = "123456789:AAH-fake-token-for-tests_0123456789"
OTHER = "123456789:AAH-another-token-it-refuses_987"
ZALO = "1234567890:zalo-fake-secret_abcdef"
PUBLIC = "https://baocao.example.gov.vn"


@pytest.fixture
async def platforms():
    async with (
        FakeTelegramServer(token=TOKEN, bot_username="baocao_test_bot") as tg,
        FakeZaloServer(token=ZALO) as zalo,
    ):
        yield tg, zalo


@pytest.fixture
def doctor(monkeypatch, capsys, tmp_path, sqlite_url, platforms):
    tg, zalo = platforms
    open_database(sqlite_url).dispose()  # a current schema
    values = {
        "BAOCAO_DATABASE_URL": sqlite_url,
        "BAOCAO_DATA_DIR": str(tmp_path / "data"),
        "BAOCAO_PUBLIC_URL": PUBLIC,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "ZALO_BOT_TOKEN": ZALO,
        "ZALO_API_BASE_URL": zalo.base_url,
    }

    async def run(**changes: str | None) -> tuple[int, list[str]]:
        for name, value in (values | changes).items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        capsys.readouterr()
        import asyncio

        code = await asyncio.to_thread(cli.main, ["doctor"])
        out = capsys.readouterr().out
        for secret in (TOKEN, OTHER, ZALO):
            assert secret not in out
        return code, out.splitlines()

    return run


async def test_doctor_passes_a_good_configuration(doctor):
    code, lines = await doctor()
    assert code == 0, "\n".join(lines)
    assert lines[0] == "[ĐẠT] Telegram: mã bot hợp lệ (bot baocao_test_bot)"
    assert lines[1] == "[ĐẠT] Telegram: nhận tin bằng long polling, không đặt webhook"
    assert lines[2].startswith("[ĐẠT] Zalo: mã bot hợp lệ")
    assert lines[4] == f"[ĐẠT] Địa chỉ công khai dùng https: {PUBLIC}"
    assert lines[5].startswith("[ĐẠT] Cơ sở dữ liệu sqlite: kết nối được, lược đồ ")
    assert lines[6].startswith("[ĐẠT] Thư mục dữ liệu ") and lines[6].endswith(": ghi được")
    assert lines[7].startswith("[ĐẠT] Đồng hồ: ") and "giờ Việt Nam" in lines[7]
    assert lines[8].startswith("[ĐẠT] Dung lượng đĩa còn ")
    assert lines[-1] == "9/9 mục đạt."


async def test_doctor_fails_each_problem_on_its_own_line(doctor, platforms, sqlite_url):
    tg, _ = platforms
    tg.webhook_url = "https://elsewhere.example.org/telegram/webhook"
    database = open_database(sqlite_url, upgrade=False)
    downgrade(database.engine, "0008")
    database.dispose()
    code, lines = await doctor(
        ZALO_BOT_TOKEN=OTHER.replace("123456789", "9876543210"),
        BAOCAO_PUBLIC_URL="http://baocao.example.gov.vn",
        BAOCAO_WEBHOOK_URL=PUBLIC,
    )
    assert code == 1
    failed = [line for line in lines if line.startswith("[LỖI]")]
    assert failed[0] == (
        "[LỖI] Telegram: webhook là https://elsewhere.example.org/telegram/webhook, cấu hình là "
        f"{PUBLIC}/telegram/webhook (chạy baocao run)"
    )
    assert failed[1].startswith("[LỖI] Zalo: mã bot (token) bị từ chối: ")
    assert failed[2] == (
        "[LỖI] Địa chỉ công khai http://baocao.example.gov.vn không dùng https: "
        "đặt BAOCAO_PUBLIC_URL=https://…"
    )
    assert failed[3].startswith("[LỖI] Cơ sở dữ liệu sqlite: lược đồ 0008, mã chương trình cần ")
    assert failed[3].endswith("(chạy: baocao db upgrade)")
    assert lines[-1].endswith("mục đạt. Cần sửa các mục LỖI.")


async def test_a_refused_telegram_token_fails(doctor):
    code, lines = await doctor(TELEGRAM_BOT_TOKEN=OTHER, ZALO_BOT_TOKEN=None)
    assert code == 1
    assert lines[0] == "[LỖI] Telegram: mã bot (token) bị từ chối: Unauthorized"
