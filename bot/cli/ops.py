"""The operator's commands for running baocao for years: `backup`, `restore`, `db current |
upgrade | prune` and `doctor`.

They take the settings rather than a built application: each opens the database itself, without
the automatic migration and seeding every other command does (a restore needs an empty target,
`db current` must show the revision as it is, `db upgrade` migrates under its lock).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path

from bot.backup import BackupError, restore_backup, write_backup
from bot.clock import utc_now
from bot.settings import Settings
from storage.database import open_database
from storage.retention import prune
from storage.schema import require_current, schema_state, upgrade


def add_parser(commands: argparse._SubParsersAction) -> None:
    backup = commands.add_parser(
        "backup", help="sao lưu cơ sở dữ liệu và thư mục dữ liệu vào một tệp .tar.gz"
    )
    backup.add_argument("file", metavar="TỆP", help="tệp sao lưu sẽ ghi, ví dụ baocao.tar.gz")
    restore = commands.add_parser(
        "restore", help="khôi phục từ tệp sao lưu vào cơ sở dữ liệu trống (SQLite/PostgreSQL)"
    )
    restore.add_argument("file", metavar="TỆP", help="tệp sao lưu (baocao backup)")
    restore.add_argument(
        "--force", action="store_true", help="xóa dữ liệu đang có rồi ghi đè bằng bản sao lưu"
    )
    database = commands.add_parser("db", help="lược đồ cơ sở dữ liệu và dọn dữ liệu cũ")
    actions = database.add_actions()
    actions.add_parser("current", help="phiên bản lược đồ hiện tại và của mã chương trình")
    actions.add_parser("upgrade", help="nâng lược đồ lên phiên bản của mã chương trình")
    actions.add_parser(
        "prune", help="xóa nội dung tin đã gửi và mã cập nhật cũ hơn BAOCAO_RETENTION_DAYS"
    )
    commands.add_parser("doctor", help="kiểm tra cấu hình: token, webhook, CSDL, thư mục, đồng hồ")


def require_current_schema(settings: Settings) -> None:
    """Before `baocao run`: migrate an empty database, refuse an older or newer schema
    (`storage.schema.SchemaError`, saying to run `baocao db upgrade`)."""
    database = open_database(settings.baocao_database_url, upgrade=False)
    try:
        require_current(database.engine)
    finally:
        database.dispose()


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    database = open_database(settings.baocao_database_url, upgrade=False)
    try:
        summary = write_backup(
            database.engine, Path(settings.baocao_data_dir), Path(args.file), utc_now()
        )
    finally:
        database.dispose()
    print(
        f"Đã sao lưu vào {summary.path}: lược đồ {summary.revision}, {summary.tables} bảng, "
        f"{summary.rows} dòng, {summary.files} tệp trong thư mục dữ liệu."
    )
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    database = open_database(settings.baocao_database_url, upgrade=False)
    try:
        manifest = restore_backup(
            database.engine, Path(settings.baocao_data_dir), Path(args.file), force=args.force
        )
    finally:
        database.dispose()
    rows = sum(entry["rows"] for entry in manifest["tables"].values())
    print(
        f"Đã khôi phục bản sao lưu lúc {manifest['created_at']} (lược đồ "
        f"{manifest['schema_revision']}): {rows} dòng, {len(manifest['files'])} tệp."
    )
    return 0


def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    database = open_database(settings.baocao_database_url, upgrade=False)
    try:
        if args.action == "prune":
            done = prune(database, utc_now(), settings.baocao_retention_days)
            print(
                f"Đã xóa nội dung {done.payloads} tin đã gửi và {done.updates} mã cập nhật cũ hơn "
                f"{settings.baocao_retention_days} ngày."
            )
            return 0
        state = schema_state(database.engine)
        if args.action == "upgrade":
            if state.newer:
                raise BackupError(
                    f"lược đồ {state.current} mới hơn mã chương trình ({state.head}): "
                    "không nâng được, hãy cài bản baocao mới hơn"
                )
            if state.is_current:
                print(f"Lược đồ đã ở phiên bản {state.head}, không cần nâng.")
                return 0
            upgrade(database.engine)
            print(f"Đã nâng lược đồ từ {state.describe} lên {state.head}.")
            return 0
        print(f"Lược đồ cơ sở dữ liệu: {state.describe}")
        print(f"Mã chương trình cần: {state.head}")
        if state.newer:
            print("Cơ sở dữ liệu mới hơn mã chương trình: hãy cài bản baocao mới hơn.")
        elif not state.is_current:
            print("Cần nâng: baocao db upgrade")
        return 0 if state.is_current else 1
    finally:
        database.dispose()


def cmd_doctor(settings: Settings, args: argparse.Namespace) -> int:
    from bot.doctor import run_checks

    checks = asyncio.run(run_checks(settings, now=utc_now()))
    for check in checks:
        print(check.render())
    failed = sum(not check.ok for check in checks)
    print(
        f"{len(checks) - failed}/{len(checks)} mục đạt."
        + (" Cần sửa các mục LỖI." if failed else "")
    )
    return 1 if failed else 0


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "backup": cmd_backup,
    "restore": cmd_restore,
    "db": cmd_db,
    "doctor": cmd_doctor,
}
